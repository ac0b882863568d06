"""The packet side of the display filter: each field's values, read from the packet model.

A getter takes a :class:`PacketView` and returns the field's values as a tuple (empty
when the packet lacks the field; several for a field with several occurrences, such as
``ip.addr`` or the ``ip.src`` of each header of a tunnelled frame).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from engine.events import PacketSummary
from engine.packet.model import Packet
from engine.packet.stack import protocol_stack
from engine.packet.streams import FrameAnalysis, TcpFrame

_DIGITS = re.compile(r"[0-9]{1,19}")
"""ASCII digits only: str.isdigit() also takes '³', which int() refuses."""


class FrameTimes(Protocol):
    """Where a packet stands in its capture, for the time fields Wireshark counts from others."""

    @property
    def first_time(self) -> float | None:
        """The timestamp of the capture's first packet (what frame.time_relative counts from)."""
        ...

    def time_of(self, index: int) -> float | None:
        """The timestamp of the packet with this number, if it is still known."""
        ...

    @property
    def displayed_time(self) -> float | None:
        """The timestamp of the last packet the filter passed (frame.time_delta_displayed)."""
        ...

    def analysis_of(self, index: int) -> FrameAnalysis | None:
        """The stateful fields of this packet (stream numbers, TCP analysis), if tracked."""
        ...


ProtocolPath = tuple[tuple[str, ...], str | None, tuple[str, ...]]
"""A frame's protocols after reassembly: (layers to IP, transport, application layers)."""

REASSEMBLED = frozenset({"http", "tcp", "udp", "icmp", "icmpv6", "dns"})
"""Protocols whose presence tshark decides after reassembly (see :class:`PacketView`)."""


class PacketView:
    """One packet as the filter reads it: summary fields at once, the model on first use.

    ``path`` is what a reader that reassembles in capture order (the analysis, fed by
    the file filter) found in this frame. With it, the protocols of :data:`REASSEMBLED`
    follow tshark: ``http`` is on the segment that completes a message (none before),
    ``tcp``/``udp``/``icmp`` on the fragment that completes a datagram, ``dns`` over TCP
    on the segment that completes a message. Without it (a live view, which filters
    packets one by one as they are shown) they are read from the frame alone.
    """

    __slots__ = ("_packet", "path", "summary", "times")

    def __init__(
        self,
        summary: PacketSummary,
        times: FrameTimes | None = None,
        path: ProtocolPath | None = None,
    ) -> None:
        self.summary = summary
        self.times = times
        """Where to look up other packets' times; None: the time fields have no value."""
        self.path = path
        self._packet: Packet | None = None

    @property
    def packet(self) -> Packet:
        if self._packet is None:
            self._packet = Packet(self.summary.linktype, self.summary.data)
        return self._packet

    @property
    def analysis(self) -> FrameAnalysis | None:
        """What earlier packets say about this one; None when no one tracks it."""
        times = self.times
        return None if times is None else times.analysis_of(self.summary.index)


def _present(flag: bool) -> tuple[bool, ...]:
    return (True,) if flag else ()


def _one(value: Any) -> tuple[Any, ...]:
    return () if value is None else (value,)


def _tcp_flag(bit: int) -> Callable[[PacketView], tuple[Any, ...]]:
    def get(view: PacketView) -> tuple[Any, ...]:
        packet = view.packet
        return ((packet.layers.flags >> bit) & 1,) if packet.tcp_header() >= 0 else ()

    return get


def _ports(protocol: int, which: str) -> Callable[[PacketView], tuple[Any, ...]]:
    def get(view: PacketView) -> tuple[Any, ...]:
        found = view.packet.all_ports(protocol)
        if which == "src":
            return tuple(ports[0] for ports in found)
        if which == "dst":
            return tuple(ports[1] for ports in found)
        return tuple(port for ports in found for port in ports)

    return get


def _addresses(family: int, which: str) -> Callable[[PacketView], tuple[Any, ...]]:
    return lambda view: view.packet.addresses(family, which)


def _macs(which: str) -> Callable[[PacketView], tuple[Any, ...]]:
    def get(view: PacketView) -> tuple[Any, ...]:
        eth = view.packet.ethernet()
        if eth is None:
            return ()
        return (eth[0],) if which == "src" else (eth[1],) if which == "dst" else eth

    return get


_TRANSPORT_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}


def _transport_is(protocol: int) -> Callable[[PacketView], tuple[Any, ...]]:
    name = _TRANSPORT_NAMES[protocol]

    def get(view: PacketView) -> tuple[Any, ...]:
        packet = view.packet
        path = view.path
        layers = packet.layers
        if path is not None and layers.fragment is not None:
            return _present(path[1] == name)  # the fragment that completes the datagram
        if protocol == 1 and layers.proto == 1 and (layers.l4 < 0 or layers.end - layers.l4 < 6):
            return ()  # tshark reads 6 bytes of the header before it adds icmp
        return _present(packet.carries(protocol))

    return get


def _layer(name: str) -> Callable[[PacketView], tuple[Any, ...]]:
    return lambda view: _present(view.packet.has(name))


def _arp(view: PacketView) -> tuple[Any, ...]:
    """ARP (and RARP) where tshark's dissector adds it (:meth:`Packet.arp_dissected`)."""
    return _present(view.packet.arp_dissected())


def _dns(view: PacketView) -> tuple[Any, ...]:
    """DNS as tshark finds it (:meth:`Packet.dns_kind`: port 53, or its heuristic on other
    ports); over TCP or in fragments, where the message completes (with a path)."""
    packet = view.packet
    path = view.path
    if path is not None and (packet.layers.fragment is not None or packet.transport() == 6):
        return _present("dns" in path[2])
    return _present(packet.dns_kind() == "dns")


def _dns_kind(kind: str) -> Callable[[PacketView], tuple[Any, ...]]:
    """mDNS or LLMNR: DNS messages on their ports (tshark's own protocols)."""
    return lambda view: _present(view.packet.dns_kind() == kind)


def _tls(view: PacketView) -> tuple[Any, ...]:
    return _present(view.packet.is_tls())


def _dns_part(index: int) -> Callable[[PacketView], tuple[Any, ...]]:
    def get(view: PacketView) -> tuple[Any, ...]:
        packet = view.packet
        if packet.dns_kind() is None:
            return ()
        dns = packet.dns_question()
        if dns is None or (index == 3 and dns[3] < 0) or (index == 2 and not dns[2]):
            return ()
        return (dns[index],)

    return get


def _http_part(index: int, status: bool) -> Callable[[PacketView], tuple[Any, ...]]:
    def get(view: PacketView) -> tuple[Any, ...]:
        line = view.packet.http_start_line()
        if line is None or (line[0] == "") != status:
            return ()
        value = line[index]
        if status:
            return (int(value),) if _DIGITS.fullmatch(value) else ()
        return (value,)

    return get


def _http_kind(request: bool) -> Callable[[PacketView], tuple[Any, ...]]:
    def get(view: PacketView) -> tuple[Any, ...]:
        line = view.packet.http_start_line()
        return _present(line is not None and bool(line[0]) == request)

    return get


def _http_header(name: str) -> Callable[[PacketView], tuple[Any, ...]]:
    return lambda view: _one(view.packet.http_headers().get(name))


def _http(view: PacketView) -> tuple[Any, ...]:
    path = view.path
    if path is not None:
        return _present("http" in path[2])
    return _present(view.packet.http_start_line() is not None)


def _sni(view: PacketView) -> tuple[Any, ...]:
    return _one(view.packet.tls_server_name())


def _value(read: Callable[[Packet], Any]) -> Callable[[PacketView], tuple[Any, ...]]:
    return lambda view: _one(read(view.packet))


def _icmp_part(protocol: int, index: int) -> Callable[[PacketView], tuple[Any, ...]]:
    def get(view: PacketView) -> tuple[Any, ...]:
        packet = view.packet
        icmp = packet.icmp()
        return (icmp[index],) if icmp is not None and packet.transport() == protocol else ()

    return get


def _payload(protocol: int) -> Callable[[PacketView], tuple[Any, ...]]:
    def get(view: PacketView) -> tuple[Any, ...]:
        packet = view.packet
        payload = packet.payload()
        return (payload,) if payload and packet.transport() == protocol else ()

    return get


PacketGetter = Callable[[PacketView], tuple[Any, ...]]
"""Reads one field's values from a packet."""


def _dns_answer_values(kind: int, size: int) -> PacketGetter:
    """The A (kind 1) or AAAA (28) addresses of a DNS message's answers, as integers."""

    def get(view: PacketView) -> tuple[Any, ...]:
        packet = view.packet
        if packet.dns_kind() is None:
            return ()
        return tuple(
            int.from_bytes(rdata, "big")
            for rtype, _ttl, rdata in packet.dns_answers()
            if rtype == kind and len(rdata) == size
        )

    return get


def _dns_ttls(view: PacketView) -> tuple[Any, ...]:
    packet = view.packet
    if packet.dns_kind() is None:
        return ()
    return tuple(ttl for _rtype, ttl, _rdata in packet.dns_answers())


def _dns_flags(read: Callable[[int, int], int]) -> PacketGetter:
    """A value of a DNS message's header: read(flags, answer count)."""

    def get(view: PacketView) -> tuple[Any, ...]:
        packet = view.packet
        header = packet.dns_header() if packet.dns_kind() is not None else None
        return () if header is None else (read(header[1], header[3]),)

    return get


def _tls_types(view: PacketView) -> tuple[Any, ...]:
    return tuple(kind for kind, _start, _end in view.packet.tls_handshakes())


def _tls_suites(view: PacketView) -> tuple[Any, ...]:
    return view.packet.tls_cipher_suites()


def _quic_part(index: int) -> PacketGetter:
    def get(view: PacketView) -> tuple[Any, ...]:
        header = view.packet.quic_long_header()
        return () if header is None else (header[index],)

    return get


def _arp_part(index: int) -> PacketGetter:
    def get(view: PacketView) -> tuple[Any, ...]:
        found = view.packet.arp_addresses()
        return () if found is None else (found[index],)

    return get


def _dhcp_part(index: int) -> PacketGetter:
    def get(view: PacketView) -> tuple[Any, ...]:
        found = view.packet.dhcp()
        return () if found is None or found[index] is None else (found[index],)

    return get


def _ntp_part(index: int) -> PacketGetter:
    def get(view: PacketView) -> tuple[Any, ...]:
        found = view.packet.ntp()
        return () if found is None else (found[index],)

    return get


def _time_relative(view: PacketView) -> tuple[Any, ...]:
    times = view.times
    first = times.first_time if times is not None else None
    return () if first is None else (view.summary.timestamp - first,)


def _time_delta(view: PacketView) -> tuple[Any, ...]:
    times = view.times
    index = view.summary.index
    if times is None or index <= 1:
        return (0.0,) if times is not None and index == 1 else ()
    previous = times.time_of(index - 1)
    return () if previous is None else (view.summary.timestamp - previous,)


def _time_delta_displayed(view: PacketView) -> tuple[Any, ...]:
    """Since the last packet the filter passed; 0 before any (tshark's answer under -Y)."""
    times = view.times
    if times is None:
        return ()
    shown = times.displayed_time
    return (0.0,) if shown is None else (view.summary.timestamp - shown,)


def _tcp_state(read: Callable[[TcpFrame], Any]) -> PacketGetter:
    """A TCP field that depends on earlier segments (stream, relative numbers, analysis)."""

    def get(view: PacketView) -> tuple[Any, ...]:
        analysis = view.analysis
        if analysis is None or analysis.tcp is None:
            return ()
        return _one(read(analysis.tcp))

    return get


def _analysis_flag(mask: int) -> PacketGetter:
    """A ``tcp.analysis.*`` note: present when one of these flags is set."""
    return _tcp_state(lambda tcp: True if tcp.flags & mask else None)


def _udp_streams(view: PacketView) -> tuple[Any, ...]:
    analysis = view.analysis
    return () if analysis is None else analysis.udp_streams


def _protocols(view: PacketView) -> tuple[Any, ...]:
    return (protocol_stack(view.packet),)


def _source_name(view: PacketView) -> tuple[Any, ...]:
    """The input the packet came from (an interface, a file, a command), when it is known."""
    name = view.summary.source
    return (name,) if name else ()
