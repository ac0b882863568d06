"""Conversation tables: IP address pairs, TCP streams and UDP flows, counted both ways.

The tables give the same totals as ``tshark -q -z conv,ip`` (``conv,ipv6``,
``conv,tcp``, ``conv,udp``): side A is the source of a conversation's first packet,
frames and bytes (frame lengths on the wire) are counted per direction, and the rows
sort by total frames, ties in order of first appearance.

TCP streams are numbered as Wireshark numbers ``tcp.stream``: by first appearance of
the 4-tuple; a SYN (without ACK) whose sequence number differs from the first one seen
in that direction starts a new stream on the same 4-tuple (tshark 4.0's rule for
reused ports). Records are flat lists or slotted objects: they are updated once per
packet on the capture thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from mypy_extensions import mypyc_attr

from engine.analysis.addresses import format_address
from engine.packet.walk import Raw

# A flat conversation record (list) and the meaning of its slots.
FRAMES_AB, BYTES_AB, FRAMES_BA, BYTES_BA, FIRST, LAST, ADDR_A, ADDR_B = range(8)
PORT_A, PORT_B, LABEL, EVENTS = 8, 9, 10, 11
"""UDP records add the ports, the port-based protocol name and beacon event times."""

SEQ_MASK: Final = 0xFFFFFFFF
SEQ_HALF: Final = 0x80000000
MAX_EVENTS: Final = 64
"""Session start times kept per flow for beacon detection."""


def seq_before(a: int, b: int) -> bool:
    """Whether sequence number a comes before b, modulo 2**32 (Wireshark's LT_SEQ)."""
    return ((a - b) & SEQ_MASK) >= SEQ_HALF


class IpTable:
    """IPv4 and IPv6 address pairs; each record is reachable by both directions' key."""

    def __init__(self, limit: int) -> None:
        self.keys: dict[bytes, tuple[list[Any], int]] = {}
        self.records: list[list[Any]] = []
        self.limit = limit
        self.untracked_packets = 0

    def open(self, pair: bytes, timestamp: float) -> tuple[list[Any], int] | None:
        """Start the record of a new pair (direction 0 is the first packet's); None when full."""
        if len(self.records) >= self.limit:
            return None
        half = len(pair) // 2
        record: list[Any] = [0, 0, 0, 0, timestamp, timestamp, pair[:half], pair[half:]]
        self.records.append(record)
        forward = (record, 0)
        self.keys[pair[half:] + pair[:half]] = (record, 2)
        self.keys[pair] = forward  # both ends equal: one key, every frame A to B (as tshark)
        return forward


class UdpTable:
    """UDP flows by 4-tuple, with the port-based protocol name and session start times."""

    def __init__(self, limit: int) -> None:
        self.keys: dict[tuple[bytes, int, int], tuple[list[Any], int]] = {}
        self.records: list[list[Any]] = []
        self.limit = limit
        self.untracked_packets = 0

    def open(
        self, pair: bytes, sport: int, dport: int, timestamp: float, label: str | None
    ) -> tuple[list[Any], int] | None:
        """Start a flow; the first packet's source is side A. None when the table is full."""
        if len(self.records) >= self.limit:
            return None
        half = len(pair) // 2
        a, b = pair[:half], pair[half:]
        events = [timestamp]  # session starts; the newest MAX_EVENTS (a deque costs more)
        record: list[Any] = [0, 0, 0, 0, timestamp, timestamp, a, b, sport, dport, label, events]
        self.records.append(record)
        forward = (record, 0)
        self.keys[(b + a, dport, sport)] = (record, 2)
        self.keys[(pair, sport, dport)] = forward  # both ends equal: every frame A to B
        return forward


@mypyc_attr(serializable=True)  # a shard's streams cross to the parent pickled
class TcpStream:
    """One TCP stream (Wireshark's ``tcp.stream``): counters, handshake and app state."""

    __slots__ = (
        "a",
        "aport",
        "app",
        "b",
        "base",
        "bport",
        "completed",
        "counts",
        "data_segments",
        "fins",
        "first",
        "index",
        "label",
        "last",
        "next_seq",
        "resets",
        "retransmissions",
        "syn",
        "synack",
    )

    def __init__(
        self, index: int, pair: bytes, ports: tuple[int, int], timestamp: float, label: str | None
    ) -> None:
        half = len(pair) // 2
        self.index = index
        self.a, self.b = pair[:half], pair[half:]
        self.aport, self.bport = ports
        self.counts = [0, 0, 0, 0]
        """Frames and bytes from A, then frames and bytes from B."""
        self.first = self.last = timestamp
        self.base: list[int | None] = [None, None]
        """Each direction's base sequence number (tshark's base_seq)."""
        self.next_seq: list[int | None] = [None, None]
        """The highest sequence number seen so far per direction, for retransmissions."""
        self.syn = False
        """A opened the stream with a SYN (no ACK)."""
        self.synack = False
        self.completed = False
        """A acknowledged B's SYN-ACK: the three-way handshake finished."""
        self.resets = [0, 0]
        self.fins = 0
        self.retransmissions = 0
        self.data_segments = 0
        self.label = label
        """The protocol tshark would dissect on these ports (``http``, ``tls``...)."""
        self.app: list[Any] = [None, None]
        """Per-direction state of the application-layer reader (HTTP, TLS, logins)."""


class TcpStreams:
    """Every TCP stream, numbered as tshark numbers them; shared by reports and follow."""

    def __init__(self, limit: int, labeler: Any = None) -> None:
        self.keys: dict[tuple[bytes, int, int], tuple[TcpStream, int]] = {}
        self.streams: list[TcpStream] = []
        self.limit = limit
        self.untracked_packets = 0
        self._labeler = labeler

    def lookup(self, fields: Raw, timestamp: float) -> tuple[TcpStream, int] | None:
        """The stream and direction (0: from A, 2: from B) of a segment; None when full.

        Also keeps each direction's base sequence number, which decides when a SYN
        on a known 4-tuple starts a new stream.
        """
        pair, sport, dport, flags, seq = fields[2], fields[4], fields[5], fields[6], fields[7]
        key = (pair, sport, dport)
        entry = self.keys.get(key)
        if entry is not None:
            bases = entry[0].base
            side = entry[1] >> 1
            base = bases[side]
            if base is None:
                bases[side] = seq if flags & 0x02 else (seq - 1) & SEQ_MASK
                return entry
            if flags & 0x12 != 0x02 or base == seq:
                return entry
        if len(self.streams) >= self.limit:
            return None
        label = self._labeler(sport, dport) if self._labeler is not None else None
        stream = TcpStream(len(self.streams), pair, (sport, dport), timestamp, label)
        stream.base[0] = seq if flags & 0x02 else (seq - 1) & SEQ_MASK
        self.streams.append(stream)
        half = len(pair) // 2
        entry = (stream, 0)
        self.keys[(pair[half:] + pair[:half], dport, sport)] = (stream, 2)
        self.keys[key] = entry  # both ends equal: every segment A to B
        return entry


@dataclass(frozen=True, slots=True)
class Conversation:
    """One row of a conversation report, as tshark's conv tables show it."""

    kind: str
    """"ipv4", "ipv6", "tcp" or "udp"."""
    a: str
    b: str
    a_port: int | None
    b_port: int | None
    frames_ab: int
    bytes_ab: int
    frames_ba: int
    bytes_ba: int
    first: float
    last: float
    stream: int | None = None
    """The tcp.stream index of a TCP conversation."""
    protocol: str | None = None
    """The application protocol tshark would dissect on its ports, if any."""

    @property
    def frames(self) -> int:
        """Frames both ways."""
        return self.frames_ab + self.frames_ba

    @property
    def bytes(self) -> int:
        """Bytes both ways."""
        return self.bytes_ab + self.bytes_ba


def _ranked(records: list[Any], limit: int | None) -> list[Any]:
    """Records in tshark's order (frames, most first; then first seen), the first ``limit``."""
    ranked = sorted(records, key=lambda r: -(r[FRAMES_AB] + r[FRAMES_BA]))
    return ranked if limit is None else ranked[:limit]


def ip_conversations(records: list[list[Any]], limit: int | None = None) -> list[Conversation]:
    """IP conversation rows, in tshark's order (frames, most first; then first seen).

    Only the first ``limit`` rows are built: addresses are formatted for the rows a
    report shows, once per conversation, never per packet.
    """
    return [
        Conversation(
            "ipv4" if len(r[ADDR_A]) == 4 else "ipv6",
            format_address(r[ADDR_A]),
            format_address(r[ADDR_B]),
            None,
            None,
            r[FRAMES_AB],
            r[BYTES_AB],
            r[FRAMES_BA],
            r[BYTES_BA],
            r[FIRST],
            r[LAST],
        )
        for r in _ranked(records, limit)
    ]


def udp_conversations(records: list[list[Any]], limit: int | None = None) -> list[Conversation]:
    """UDP conversation rows, in tshark's order (the first ``limit``)."""
    return [
        Conversation(
            "udp",
            format_address(r[ADDR_A]),
            format_address(r[ADDR_B]),
            r[PORT_A],
            r[PORT_B],
            r[FRAMES_AB],
            r[BYTES_AB],
            r[FRAMES_BA],
            r[BYTES_BA],
            r[FIRST],
            r[LAST],
            protocol=r[LABEL],
        )
        for r in _ranked(records, limit)
    ]


def tcp_conversations(streams: list[TcpStream], limit: int | None = None) -> list[Conversation]:
    """TCP conversation rows (one per stream, as tshark 4.0 lists them), in tshark's order.

    A stream with no frame counted (only headers cut short) has no row, as in tshark.
    """
    ranked = sorted(
        (s for s in streams if s.counts[0] or s.counts[2]),
        key=lambda s: -(s.counts[0] + s.counts[2]),
    )
    rows = []
    for s in ranked if limit is None else ranked[:limit]:
        counts = s.counts
        rows.append(
            Conversation(
                "tcp",
                format_address(s.a),
                format_address(s.b),
                s.aport,
                s.bport,
                counts[0],
                counts[1],
                counts[2],
                counts[3],
                s.first,
                s.last,
                stream=s.index,
                protocol=s.label,
            )
        )
    return rows
