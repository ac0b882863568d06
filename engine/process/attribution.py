"""Which process sent a packet: resolved once per flow, then a dictionary lookup.

The first packet of a flow asks the kernel for the socket (:mod:`.sockdiag`), finds the
process holding it (:mod:`.procfs`) and keeps the answer for the flow, so a connection
whose socket closes (TIME_WAIT, an exited ``curl``) keeps the name learnt while it was
open. The local end of a packet is its sender when the sender is this host (both ends
are, on ``lo``: the packet is its sender's), else its receiver.

Never a wrong name: a cached pid is checked against its start time, a new TCP
connection (a SYN sent after the answer was learnt) on a reused four-tuple is resolved
again, and what cannot be resolved is an unknown with the reason.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.packet.model import Packet
from engine.packet.walk import UDP_TUNNEL_PORTS as UDP_TUNNELS
from engine.process.kernel_connects import KernelConnects
from engine.process.local import LocalAddresses
from engine.process.netns import Namespaces
from engine.process.procfs import (
    InodeOwners,
    ProcessInfo,
    read_process,
    unknown,
    user_name,
)
from engine.process.sockdiag import LISTEN, TIME_WAIT, Endpoint, SockDiag, SocketEntry

TCP, UDP = socket.IPPROTO_TCP, socket.IPPROTO_UDP
SYN, RST, ACK = 0x02, 0x04, 0x10
FLOW_IDLE_SECONDS = 120.0
"""A flow not seen for this long is forgotten (its four-tuple may be reused)."""
RETRY_SECONDS = 1.0
"""An unknown that may resolve later (a process not yet readable) is asked again after this."""
MAX_FLOWS = 100_000
SINCE_SLACK = 0.01
"""Two packet sockets may stamp the same SYN a little apart; a four-tuple is not reused
within this long (TCP keeps it in TIME_WAIT for a minute)."""
UDP_GAP = 1.0
"""Without the kernel's record of UDP sends, a UDP flow silent for this long is asked
again at its next packet: its four-tuple may be a new socket's (UDP has no SYN to say so)."""
UDP_CHECK_GAP = 0.005
"""With that record, a UDP flow silent for this long has its port's record checked at its
next packet (a few map lookups): a socket that first sent after the flow's first packet is a
new one (another program's, perhaps), and the flow is asked again."""
UDP_RELEARN = 10.0
"""A UDP flow the watcher knows is asked again after this long (its next DNS query)."""

NOT_TCP_UDP = unknown("not TCP or UDP")
NOT_LOCAL = unknown("not this host's packet")
OTHER_NAMESPACE = "other network namespace"
CLOSED = "the connection closed before livetap looked, its process is gone"
TIME_WAIT_REASON = "the connection had closed (TIME_WAIT) before livetap looked"
EXITED = "the process exited"
KERNEL = "no socket: the kernel answered (closed port)"
_GONE = frozenset({CLOSED, TIME_WAIT_REASON, EXITED})
"""Reasons the kernel's record of the connect (or of a UDP socket's sends) may answer instead."""
KERNEL_SLACK = 1.0
"""A connect recorded this long after a flow's first packet is a later connection's."""
UDP_KERNEL_SLACK = 0.02
"""A UDP socket's first send is recorded microseconds after its datagram left (the capture
stamps it as it leaves); one recorded later than this is another socket's on that port."""
_TICKS = os.sysconf("SC_CLK_TCK")

FlowKey = tuple[int, bytes, int, bytes, int]
"""Protocol, local address, local port, remote address, remote port."""


_FINAL = frozenset({NOT_TCP_UDP.reason, NOT_LOCAL.reason, OTHER_NAMESPACE})
"""Reasons that will not change for the flow: not worth asking again."""


def _endpoints(packet: Packet) -> tuple[int, Endpoint, Endpoint] | None:
    """(protocol, source, destination) of a TCP or UDP packet (innermost header)."""
    layers = packet.layers
    protocol = packet.transport()
    if protocol not in (TCP, UDP) or layers.sport < 0:
        return None
    size = 4 if layers.family == 4 else 16
    pair = layers.pair
    return protocol, (pair[:size], layers.sport), (pair[size:], layers.dport)


_PORTS = struct.Struct("!HH")
_LINK_OFFSETS = {1: 14, 101: 0}
"""Where IP starts for Ethernet (without VLAN tags) and raw IP frames."""


def _fast_endpoints(linktype: int, data: bytes) -> tuple[int, Endpoint, Endpoint, int] | None:
    """(protocol, source, destination, TCP flags) at fixed offsets; None: use the walk."""
    net = _LINK_OFFSETS.get(linktype)
    if net is None:
        return None
    if net and data[12:14] not in (b"\x08\x00", b"\x86\xdd"):
        return None
    if len(data) < net + 40:
        return None
    version = data[net] >> 4
    if version == 4:
        protocol = data[net + 9]
        if data[net + 6] & 0x3F or data[net + 7]:  # more fragments, or an offset
            return None
        l4 = net + (data[net] & 15) * 4
        src_address, dst_address = data[net + 12 : net + 16], data[net + 16 : net + 20]
    elif version == 6:
        protocol = data[net + 6]
        l4 = net + 40
        src_address, dst_address = data[net + 8 : net + 24], data[net + 24 : net + 40]
    else:
        return None
    if protocol not in (TCP, UDP) or len(data) < l4 + (14 if protocol == TCP else 4):
        return None
    sport, dport = _PORTS.unpack_from(data, l4)
    if protocol == UDP and dport in UDP_TUNNELS:
        return None  # the walk reads the tunnelled packet inside
    flags = data[l4 + 13] if protocol == TCP else 0
    return protocol, (src_address, sport), (dst_address, dport), flags


@dataclass(slots=True)
class _Flow:
    owner: ProcessInfo
    learnt: float
    """Wall-clock time the answer was learnt (compared with packet timestamps)."""
    seen: float
    """Monotonic time of the last packet."""
    since: float
    """Timestamp of the flow's first packet: an earlier packet on the same four-tuple
    was another connection's, and is not given this answer."""


_NOT_LOCAL_FLOW = _Flow(NOT_LOCAL, 0.0, 0.0, 0.0)
"""What a packet with no local end gets (never stored)."""


@dataclass(slots=True)
class Counters:
    """What attribution cost, for the benchmark and the status bar."""

    packets: int = 0
    lookups: int = 0
    """Flows resolved through the kernel (sock_diag + /proc)."""
    lookup_seconds: float = 0.0
    """Time spent in those lookups (thread CPU, not wall time)."""


class Attributor:
    """Packets and four-tuples → the local process, with a per-flow cache.

    Thread-safe: the capture loop and a :class:`~engine.process.watch.SynWatcher` may
    both resolve flows; the per-packet path is a lock-free dictionary lookup.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._diag = SockDiag()
        self._owners = InodeOwners()
        self._local = LocalAddresses()
        self._namespaces = Namespaces()
        self._flows: dict[FlowKey, _Flow] = {}
        self._lock = threading.Lock()
        self._swept = time.monotonic()
        self._memo: tuple[tuple[int, Endpoint, Endpoint], _Flow] | None = None
        """The last frame's flow and its known owner (cleared when any answer changes)."""
        self.counters = Counters()
        self.before_lookup: Callable[[], None] | None = None
        """Called before the capture path resolves a flow itself: a watcher process
        hands over the answers already in its pipe (one may be this flow's)."""
        self.kernel: KernelConnects | None = None
        """The kernel's record of who connected each TCP socket and first sent from each
        UDP one (BPF hooks), asked when the socket closed before it was looked up; None
        where it could not be loaded."""
        self.kernel_missing = ""
        """Why :attr:`kernel` is None (no privilege, no BTF, refused by the verifier):
        added to the reason of a flow it could have named."""

    def close(self) -> None:
        """Release the netlink socket."""
        self._diag.close()

    def is_local(self, address: bytes) -> bool:
        """Whether a packed address is this host's."""
        return self._local.is_local(address)

    @property
    def scans(self) -> int:
        """How many /proc scans the lookups needed."""
        return self._owners.scans

    # -- packets -------------------------------------------------------------------------

    def for_packet(self, packet: Packet, timestamp: float | None = None) -> ProcessInfo:
        """The process that sent this packet if this host did, else the one receiving it."""
        self.counters.packets += 1
        ends = _endpoints(packet)
        if ends is None:
            return NOT_TCP_UDP
        protocol, src, dst = ends
        flags = packet.layers.flags if protocol == TCP else 0
        return self.for_endpoints(protocol, src, dst, timestamp, flags)

    def for_endpoints(
        self,
        protocol: int,
        src: Endpoint,
        dst: Endpoint,
        timestamp: float | None = None,
        tcp_flags: int = 0,
    ) -> ProcessInfo:
        """The local process of a packet from ``src`` to ``dst`` (cached per flow)."""
        return self._flow(protocol, src, dst, timestamp, tcp_flags).owner

    def _flow(
        self, protocol: int, src: Endpoint, dst: Endpoint, timestamp: float | None, tcp_flags: int
    ) -> _Flow:
        key = self._key(protocol, src, dst)
        if key is None:
            return _NOT_LOCAL_FLOW
        flow = self._flows.get(key)
        now = time.monotonic()
        if flow is not None:
            owner = flow.owner
            if tcp_flags & (SYN | ACK) == SYN and timestamp is not None and timestamp > flow.learnt:
                pass  # a new connection on a reused four-tuple: ask again
            elif (
                owner.reason
                and owner.reason not in _FINAL
                and self._clock() - flow.learnt > RETRY_SECONDS
            ):
                pass  # an unknown that may have become known (asked at most once a second)
            elif protocol == UDP and self._udp_port_changed(key, flow, now):
                return self._relearn_udp(key, flow, now, timestamp)
            else:
                flow.seen = now
                return flow
        if self.before_lookup is not None:
            self.before_lookup()
            handed = self._flows.get(key)
            if (
                handed is not None
                and handed is not flow
                and handed.owner.known
                and (timestamp is None or timestamp >= handed.since - SINCE_SLACK)
            ):
                handed.seen = now
                return handed
        return self._learn(key, now, tcp_flags, timestamp)

    def for_frame(self, linktype: int, data: bytes, timestamp: float) -> ProcessInfo:
        """:meth:`for_packet` for a raw frame, reading common shapes without the walk.

        Ethernet or raw IP, IPv4 (not a fragment) or IPv6 straight to TCP/UDP: the
        ports are at fixed offsets, so the capture loop pays ~1 µs instead of the
        packet model's full walk; anything else takes the walk.
        """
        ends = _fast_endpoints(linktype, data)
        if ends is None:
            return self.for_packet(Packet(linktype, data), timestamp)
        self.counters.packets += 1
        protocol, src, dst, flags = ends
        memo = self._memo
        if memo is not None and not flags & SYN and memo[0] == (protocol, src, dst):
            flow = memo[1]  # the same flow as the last packet: a bulk transfer, a flood
            now = time.monotonic()
            if protocol != UDP or now - flow.seen <= UDP_CHECK_GAP:
                flow.seen = now
                return flow.owner
        flow = self._flow(protocol, src, dst, timestamp, flags)
        self._memo = ((protocol, src, dst), flow) if flow.owner.known else None
        return flow.owner

    def _udp_port_changed(self, key: FlowKey, flow: _Flow, now: float) -> bool:
        """Whether a UDP flow back after a pause may be another socket's now: with the
        kernel's record of UDP sends, when a socket first sent from its port after the
        flow's first packet (a few map lookups); without it, after a second's silence."""
        pause = now - flow.seen
        if pause <= UDP_CHECK_GAP:
            return False
        kernel = self.kernel
        if kernel is None or not kernel.records_udp:
            return pause > UDP_GAP
        found = kernel.sender((key[1], key[2]))
        return found is not None and found.connected > flow.since + UDP_KERNEL_SLACK

    def _relearn_udp(self, key: FlowKey, flow: _Flow, now: float, timestamp: float | None) -> _Flow:
        """A UDP flow back after a pause: the same ports may be another socket's now (a
        program that sent a datagram and exited, then another given the same port), so
        it is asked again; an unknown answer keeps the old one (it cannot tell)."""
        fresh = self._learn(key, now, 0, timestamp)
        if fresh.owner.known or flow.owner.reason:
            return fresh
        with self._lock:
            self._flows[key] = flow  # the kept answer, as it was
            flow.seen = now
        return flow

    def _key(self, protocol: int, src: Endpoint, dst: Endpoint) -> FlowKey | None:
        """The flow's key: its local end first (the sender's when both are local)."""
        if self._local.is_local(src[0]):
            return (protocol, src[0], src[1], dst[0], dst[1])
        if self._local.is_local(dst[0]):
            return (protocol, dst[0], dst[1], src[0], src[1])
        return None

    def cached(self, packet: Packet, timestamp: float) -> ProcessInfo | None:
        """The answer learnt for this packet's flow while it was captured; never a lookup.

        For the display filter and reports over packets already captured: asking the
        kernel now could name whoever holds the four-tuple today. None when the flow
        was not seen (or forgotten), or the answer is a later connection's.
        """
        ends = _endpoints(packet)
        if ends is None:
            return NOT_TCP_UDP
        key = self._key(*ends)
        if key is None:
            return NOT_LOCAL
        flow = self._flows.get(key)
        if flow is None or timestamp < flow.since - SINCE_SLACK:
            return None
        return flow.owner

    def learn_connection(
        self, packet: Packet, timestamp: float | None = None
    ) -> list[tuple[FlowKey, ProcessInfo]]:
        """Resolve both local ends of a new connection now, from its SYN (the watcher's call).

        The sender's socket is in SYN_SENT; a local receiver has only its listener yet,
        whose process will accept the connection. Both answers are kept for their flows,
        and returned (a watcher process sends them to livetap's).
        """
        ends = _endpoints(packet)
        if ends is None:
            return []
        protocol, src, dst = ends
        keys: list[FlowKey] = []
        if self._local.is_local(src[0]):
            keys.append((protocol, src[0], src[1], dst[0], dst[1]))
        if self._local.is_local(dst[0]):
            keys.append((protocol, dst[0], dst[1], src[0], src[1]))
        return [(key, self._learn_once(key, timestamp)) for key in keys]

    def _learn_once(self, key: FlowKey, timestamp: float | None) -> ProcessInfo:
        """Learn a new connection's end, unless learnt since its SYN was sent (on "any",
        a SYN on lo is read twice, as it leaves and as it arrives)."""
        flow = self._flows.get(key)
        if flow is not None and timestamp is not None:
            if flow.learnt >= timestamp:
                return flow.owner
            if key[0] == UDP and flow.owner.known and timestamp - flow.learnt < UDP_RELEARN:
                return flow.owner  # the next query of a resolver's socket
        return self._learn(key, timestamp=timestamp).owner

    def remember(self, key: FlowKey, owner: ProcessInfo, learnt: float, since: float) -> None:
        """Keep an answer learnt elsewhere (a watcher process) unless one is known already."""
        if not owner.known:
            owner = self._from_kernel(key, owner, since)
        with self._lock:
            flow = self._flows.get(key)
            if flow is None or not flow.owner.known or flow.learnt < learnt:
                self._flows[key] = _Flow(owner, learnt, time.monotonic(), since)
                self._memo = None

    def _learn(
        self,
        key: FlowKey,
        now: float | None = None,
        tcp_flags: int = 0,
        timestamp: float | None = None,
    ) -> _Flow:
        with self._lock:
            started = time.thread_time()
            learnt = self._clock()
            protocol, local_address, local_port, remote_address, remote_port = key
            local, remote = (local_address, local_port), (remote_address, remote_port)
            owner = self.resolve(protocol, local, remote)
            since = learnt if timestamp is None else timestamp
            if not owner.known and tcp_flags & RST and owner.reason == CLOSED:
                owner = unknown(KERNEL)
            elif not owner.known:
                owner = self._from_kernel(key, owner, since)
            self.counters.lookups += 1
            self.counters.lookup_seconds += time.thread_time() - started
            self._memo = None
            flow = _Flow(owner, learnt, time.monotonic() if now is None else now, since)
            self._flows[key] = flow
            self._sweep()
            return flow

    def _sweep(self) -> None:
        """Forget idle flows (every few seconds, or when there are too many)."""
        now = time.monotonic()
        if now - self._swept < 5.0 and len(self._flows) < MAX_FLOWS:
            return
        self._swept = now
        horizon = now - FLOW_IDLE_SECONDS
        self._flows = {key: flow for key, flow in self._flows.items() if flow.seen > horizon}
        if len(self._flows) >= MAX_FLOWS:
            self._flows.clear()

    def _from_kernel(self, key: FlowKey, owner: ProcessInfo, since: float) -> ProcessInfo:
        """The process the kernel recorded connecting this TCP socket (or first sending
        from this UDP port), for a socket gone before it was looked up; ``owner`` (the
        unknown) when there is no such record, or the record is a later socket's."""
        kernel = self.kernel
        if key[0] not in (TCP, UDP) or owner.reason not in _GONE:
            return owner
        missing = self.kernel_missing if kernel is None else ""
        if kernel is not None and key[0] == UDP and not kernel.records_udp:
            missing = kernel.udp_missing
        if kernel is None or missing:
            if not missing:
                return owner
            return unknown(f"{owner.reason} (no kernel record: {missing})", owner.uid)
        if key[0] == TCP:
            found, slack = kernel.owner((key[1], key[2]), (key[3], key[4])), KERNEL_SLACK
        else:
            found, slack = kernel.sender((key[1], key[2])), UDP_KERNEL_SLACK
        if found is None or found.connected > since + slack:
            return owner
        if found.foreign:
            return unknown(OTHER_NAMESPACE)  # the hook sees every namespace's connects
        alive = read_process(found.pid)
        if alive.known and alive.name == found.name and alive.start / _TICKS <= found.since_boot:
            return alive  # still running: its command line, parent and unit too
        return ProcessInfo(pid=found.pid, name=found.name, user=user_name(found.uid), uid=found.uid)

    # -- sockets -------------------------------------------------------------------------

    def resolve(self, protocol: int, local: Endpoint, remote: Endpoint) -> ProcessInfo:
        """The process holding the local socket of this four-tuple now (no cache)."""
        entry = self._diag.lookup(protocol, local, remote)
        if entry is None:
            namespace = self._namespaces.holding(protocol, local, remote)
            return unknown(OTHER_NAMESPACE if namespace else CLOSED)
        if entry.inode == 0:
            # No file holds it: not yet accept()ed, or closed (TIME_WAIT, an orphan).
            # On a listening port it is the listener's connection (nothing else can
            # bind a port in LISTEN), so it is the listener's process's; else unknown.
            anywhere = (bytes(len(remote[0])), 0)
            listener = self._diag.lookup(protocol, local, anywhere)
            if listener is None or listener.inode == 0 or listener.state != LISTEN:
                closed = TIME_WAIT_REASON if entry.state == TIME_WAIT else CLOSED
                return unknown(closed, entry.uid)
            entry = listener
        return self._process_of(entry)

    def _process_of(self, entry: SocketEntry) -> ProcessInfo:
        found = self._owners.owner(entry.inode)
        if found is None:
            if entry.uid in self._owners.denied_uids or (
                os.geteuid() != 0 and entry.uid != os.geteuid()
            ):
                return unknown(
                    f"no permission to read the processes of user {user_name(entry.uid)} "
                    "(needs root or CAP_SYS_PTRACE)",
                    entry.uid,
                )
            return unknown(EXITED, entry.uid)
        pid, start = found
        return read_process(pid, start)
