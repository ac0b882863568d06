"""Per-process traffic, like nethogs or bandwhich: what ``livetap top`` and a view show.

Every packet counts for the local process that sent it (out) and, when the receiver is
local too (``lo``), for the one that received it (in). Remote hosts are named from the
DNS answers seen in the same capture. Rates are over the last second.
"""

from __future__ import annotations

import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from engine.packet.model import Packet
from engine.pcapio import PcapRecord
from engine.process.attribution import Attributor
from engine.process.procfs import ProcessInfo
from engine.process.program import ProgramMatcher
from engine.process.sockdiag import Endpoint

RATE_WINDOW = 1.0
BUCKET = 0.1
HISTORY_SECONDS = 60
"""Seconds of per-second byte counts kept per process (the view's sparkline)."""
SPARK = " ▁▂▃▄▅▆▇█"
JSON_HISTORY = 10
"""Seconds of ``rate_history`` in ``top --json``."""


def sparkline(values: list[int]) -> str:
    """Block characters, one a value, scaled to the largest (a blank for nothing)."""
    peak = max(values, default=0)
    if peak <= 0:
        return " " * len(values)
    top = len(SPARK) - 1
    return "".join(SPARK[0 if v <= 0 else max(1, round(v * top / peak))] for v in values)


FIN_OR_RST = 0x05
SYN, SYN_OR_ACK = 0x02, 0x12
MAX_CLOSED = 10_000
CATCH_UP_LIMIT = 20_000
"""Packets a view counts per refresh (about 0.1 s of work): a flood is caught up over
several refreshes, and the capture thread keeps the CPU it needs."""


def _address(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)


@dataclass(slots=True)
class ProcessTraffic:
    """One process's counters."""

    owner: ProcessInfo
    bytes_in: int = 0
    bytes_out: int = 0
    packets_in: int = 0
    packets_out: int = 0
    flows: set[tuple[int, bytes, int, bytes, int]] = field(default_factory=set)
    """Connections (and UDP flows) seen and not closed by a FIN or RST."""
    closed: set[tuple[int, bytes, int, bytes, int]] = field(default_factory=set)
    """Connections that ended (a FIN or RST seen)."""
    remotes: set[bytes] = field(default_factory=set)
    window: deque[list[float]] = field(default_factory=deque)
    """[bucket start, bytes] of the last second, in tenths of a second, for the rate."""
    seconds: deque[list[int]] = field(default_factory=deque)
    """[whole second, bytes] of the last minute, for the rate's sparkline."""

    def count(self, when: float, size: int) -> None:
        """Add a packet's bytes (captured at ``when``) to its tenth of a second and second."""
        bucket = when - when % BUCKET
        if self.window and self.window[-1][0] == bucket:
            self.window[-1][1] += size
        else:
            self.window.append([bucket, float(size)])
        second = int(when)
        if self.seconds and self.seconds[-1][0] == second:
            self.seconds[-1][1] += size
        elif not self.seconds or second > self.seconds[-1][0]:
            self.seconds.append([second, size])
            while self.seconds[0][0] <= second - HISTORY_SECONDS:
                self.seconds.popleft()
        else:  # a packet of an earlier second (several inputs): into its bucket
            for entry in self.seconds:
                if entry[0] == second:
                    entry[1] += size
                    break

    def history(self, now: float, width: int) -> list[int]:
        """Bytes in each of the last ``width`` seconds, oldest first, the current one last."""
        last = int(now)
        per_second = {second: size for second, size in self.seconds}  # noqa: C416 (pairs are lists)
        return [per_second.get(second, 0) for second in range(last - width + 1, last + 1)]

    def rate(self, now: float) -> float:
        """Bytes per second, in and out, over the last second."""
        horizon = now - RATE_WINDOW
        while self.window and self.window[0][0] < horizon:
            self.window.popleft()
        return sum(size for _when, size in self.window) / RATE_WINDOW


class ProcessTable:
    """Packets in, per-process rows out (sorted by rate)."""

    def __init__(self, attributor: Attributor, only: ProgramMatcher | None = None) -> None:
        self._attributor = attributor
        self._only = only
        """With ``--process``: rows for that program (and its children) only."""
        self._rows: dict[tuple[int, int], ProcessTraffic] = {}
        self.names: dict[bytes, str] = {}
        """Address → the name a DNS answer gave it."""
        self.unattributed = 0
        """This host's TCP/UDP packets whose sender's process is unknown."""

    def add(
        self, packet: Packet, timestamp: float, length: int, owner: ProcessInfo | None = None
    ) -> None:
        """Count one captured packet (``length`` as on the wire).

        ``owner``: the answer stored with the packet when it was captured (its local
        end's process); else the attributor is asked.
        """
        self._learn_names(packet)
        if owner is None:
            owner = self._attributor.for_packet(packet, timestamp)
        ends = self._ends(packet)
        if ends is None:
            return
        protocol, src, dst, flags = ends
        if not owner.known and owner.reason != "not this host's packet":
            self.unattributed += 1
        if not self._attributor.is_local(src[0]):  # from elsewhere: the owner received it
            self._count(
                owner, protocol, dst, src, flags, length=length, when=timestamp, outgoing=False
            )
            return
        self._count(owner, protocol, src, dst, flags, length=length, when=timestamp, outgoing=True)
        if self._attributor.is_local(dst[0]):  # on lo the receiver is local too
            receiver = self._attributor.for_endpoints(protocol, dst, src, timestamp)
            self._count(
                receiver, protocol, dst, src, flags, length=length, when=timestamp, outgoing=False
            )

    @staticmethod
    def _ends(packet: Packet) -> tuple[int, Endpoint, Endpoint, int] | None:
        layers = packet.layers
        protocol = packet.transport()
        if protocol not in (6, 17) or layers.sport < 0:
            return None
        size = 4 if layers.family == 4 else 16
        flags = layers.flags if protocol == 6 else 0
        src, dst = (layers.pair[:size], layers.sport), (layers.pair[size:], layers.dport)
        return protocol, src, dst, flags

    def _count(
        self,
        owner: ProcessInfo,
        protocol: int,
        local: Endpoint,
        remote: Endpoint,
        flags: int,
        *,
        length: int,
        when: float,
        outgoing: bool,
    ) -> None:
        if not owner.known or (self._only is not None and not self._only.matches(owner)):
            return
        row = self._rows.get((owner.pid, owner.start))
        if row is None:
            row = self._rows[(owner.pid, owner.start)] = ProcessTraffic(owner)
        if outgoing:
            row.bytes_out += length
            row.packets_out += 1
        else:
            row.bytes_in += length
            row.packets_in += 1
        row.count(when, length)
        flow = (protocol, local[0], local[1], remote[0], remote[1])
        if flags & FIN_OR_RST:
            row.flows.discard(flow)
            row.closed.add(flow)
        elif flags & SYN_OR_ACK == SYN:  # a new connection, perhaps on a reused four-tuple
            row.closed.discard(flow)
            row.flows.add(flow)
        elif flow not in row.closed:  # the last ACK after the FINs does not reopen it
            row.flows.add(flow)
        if len(row.closed) > MAX_CLOSED:
            row.closed.clear()
        row.remotes.add(remote[0])

    def _learn_names(self, packet: Packet) -> None:
        if packet.dns_kind() is None:
            return
        question = packet.dns_question()
        if question is None or not question[1] or not question[2]:
            return
        for kind, _ttl, rdata in packet.dns_answers():
            if (kind, len(rdata)) in ((1, 4), (28, 16)):
                self.names[rdata] = question[2]

    def remote_names(self, row: ProcessTraffic) -> list[str]:
        """A row's remote hosts, by the names DNS answers gave them where there was one."""
        return sorted(self.names.get(address, _address(address)) for address in row.remotes)

    def ranked(self) -> list[tuple[ProcessTraffic, float]]:
        """Every process's row with its rate (bytes/s), fastest first, then by total bytes.

        Rates count packets by their capture time, over the second before now.
        """
        now = time.time()
        found = [(row, row.rate(now)) for row in self._rows.values()]
        found.sort(key=lambda item: (-item[1], -(item[0].bytes_in + item[0].bytes_out)))
        return found

    def rows(self) -> list[dict[str, object]]:
        """One dict per process, fastest first: what ``top --json`` prints
        (``rate_history``: bytes in each of the last seconds, oldest first)."""
        now = time.time()
        return [
            {
                **row.owner.as_dict(),
                "rate": round(rate, 1),
                "bytes_in": row.bytes_in,
                "bytes_out": row.bytes_out,
                "packets_in": row.packets_in,
                "packets_out": row.packets_out,
                "connections": len(row.flows),
                "remote_hosts": self.remote_names(row),
                "rate_history": row.history(now, JSON_HISTORY),
            }
            for row, rate in self.ranked()
        ]


class CapturedRecords(Protocol):
    """A capture session's buffer, as :meth:`CapturedProcesses.catch_up` reads it."""

    @property
    def first_index(self) -> int: ...

    @property
    def last_index(self) -> int: ...

    def record(self, index: int) -> PcapRecord | None: ...


class CapturedProcesses(ProcessTable):
    """A :class:`ProcessTable` of a capture session's packets, counted from its buffer.

    What the TUI's Processes view shows: it catches up with the packets captured since
    it last counted, a bounded number at a time (it runs beside the capture, not in its
    loop), each with the answer stored when it was captured.
    """

    def __init__(self, attributor: Attributor) -> None:
        super().__init__(attributor)
        self.counted_to = 0
        """Index of the last packet counted."""
        self.missed = 0
        """Packets that left the buffer before they were counted."""

    def catch_up(
        self,
        records: CapturedRecords,
        owner_of: Callable[[int], ProcessInfo | None],
        limit: int = CATCH_UP_LIMIT,
    ) -> int:
        """Count up to ``limit`` new packets; returns how many are still to count."""
        first = records.first_index
        if first > self.counted_to + 1:
            self.missed += first - self.counted_to - 1
            self.counted_to = first - 1
        last = min(records.last_index, self.counted_to + limit)
        for index in range(self.counted_to + 1, last + 1):
            record = records.record(index)
            owner = owner_of(index)
            if record is not None and owner is not None:
                packet = Packet(record.linktype, record.data)
                self.add(packet, record.timestamp, record.length, owner)
        self.counted_to = max(self.counted_to, last)
        return records.last_index - self.counted_to
