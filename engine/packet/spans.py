"""Where a field's bytes lie in the frame, for the detail's hex-dump highlight.

The offsets come from the walk (:class:`~engine.packet.walk.Layers`: where each IP
header, the transport header and the payload start) and the header layouts declared
beside the struct readers (:mod:`engine.packet.structs`); nothing is walked again.
:func:`field_spans` gives one span per value the display filter reads for the field, in
the same order (``ip.src`` of a tunnelled frame: the outer header's, then the inner's),
or none when the model cannot say where a value lies.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.packet.app import Malformed, skip_dns_name
from engine.packet.model import SERVICE_TPIDS, VLAN_TPIDS, Packet
from engine.packet.structs import (
    ARP_LAYOUT,
    DNS_LAYOUT,
    ETHERNET_LAYOUT,
    ICMP_LAYOUT,
    IP4_LAYOUT,
    IP6_LAYOUT,
    TCP_LAYOUT,
    U16,
    UDP_LAYOUT,
    Layout,
)

Span = tuple[int, int]
"""Where a field starts in the frame and how many bytes it has."""

_WHOLE_FRAME = frozenset({"frame", "frame.len", "frame.cap_len", "frame.number"})


def field_spans(packet: Packet, name: str) -> tuple[Span, ...]:
    """The bytes of each value of display-filter field ``name`` in this frame (or ``()``)."""
    data = packet.data
    if name in _WHOLE_FRAME:
        return ((0, len(data)),)
    protocol = name.partition(".")[0]
    found = _protocol_spans(packet, name) if protocol == name else _field(packet, name)
    size = len(data)
    return tuple((start, min(length, size - start)) for start, length in found if start < size)


def _field(packet: Packet, name: str) -> tuple[Span, ...]:
    """A field below a protocol: its header(s), then its place in the layout."""
    if name.endswith(".port") or name.endswith(".addr"):
        return _both_ends(packet, name)
    if name in ("vlan.id", "ieee8021ad.id"):
        tpids = VLAN_TPIDS if name == "vlan.id" else SERVICE_TPIDS
        _type, _payload, tags = packet.link_fields()
        data = packet.data
        return tuple((tag + 2, 2) for tag in tags if U16(data, tag)[0] in tpids)
    if name == "eth.type":
        return ((12, 2),) if packet.eth_type() is not None else ()
    if name == "vlan.etype":
        _type, _payload, tags = packet.link_fields()
        data = packet.data
        return tuple((tag + 4, 2) for tag in tags if U16(data, tag)[0] in VLAN_TPIDS)
    if name in ("dns.qry.name", "dns.qry.type"):
        return _dns_question(packet, name)
    for layout, bases in _LAYOUTS:
        place = layout.get(name)
        if place is not None:
            offset, length = place
            return tuple((base + offset, length) for base in bases(packet, name))
    return ()


def _both_ends(packet: Packet, name: str) -> tuple[Span, ...]:
    """``ip.addr``, ``tcp.port`` & co: the source then the destination of each header."""
    protocol = name.partition(".")[0]
    source = "srcport" if name.endswith(".port") else "src"
    destination = "dstport" if name.endswith(".port") else "dst"
    sources = _field(packet, f"{protocol}.{source}")
    destinations = _field(packet, f"{protocol}.{destination}")
    if len(sources) != len(destinations):
        return ()
    return tuple(span for pair in zip(sources, destinations, strict=True) for span in pair)


def _ethernet(packet: Packet, _name: str) -> tuple[int, ...]:
    return (0,) if packet.ethernet() is not None else ()


def _ip4(packet: Packet, _name: str) -> tuple[int, ...]:
    return packet.ip_headers(4)


def _ip6(packet: Packet, _name: str) -> tuple[int, ...]:
    return packet.ip_headers(6)


def _tcp(packet: Packet, name: str) -> tuple[int, ...]:
    """Ports: the frame's TCP header, then an ICMP error's quoted one; the rest: the frame's."""
    start = packet.tcp_header()
    found = [start] if start >= 0 else []
    if name in ("tcp.srcport", "tcp.dstport"):
        quoted = packet.quoted()
        if quoted is not None and quoted[3] == 6 and quoted[4] + 4 <= len(packet.data):
            found.append(quoted[4])
    return tuple(found)


def _udp(packet: Packet, name: str) -> tuple[int, ...]:
    """Ports: tunnels' UDP headers, the frame's, an ICMP error's quoted one (as
    :meth:`Packet.all_ports`); length and checksum: the innermost header's."""
    layers = packet.layers
    plain = packet.transport() == 17 and layers.sport >= 0
    if name not in ("udp.srcport", "udp.dstport"):
        return (layers.l4,) if plain else ()
    data = packet.data
    found: list[int] = []
    for outer in layers.outer:
        if outer.sport < 0:
            continue
        if len(outer.pair) == 8:
            found.append(outer.net + (data[outer.net] & 15) * 4)
        elif data[outer.net + 6] == 17:
            found.append(outer.net + 40)
        else:
            return ()  # behind IPv6 extension headers: not known here
    if layers.proto == -2 and layers.sport >= 0:
        found.append(layers.l4)
    if plain:
        found.append(layers.l4)
    quoted = packet.quoted()
    if quoted is not None and quoted[3] == 17 and quoted[4] + 4 <= len(data):
        found.append(quoted[4])
    return tuple(found)


def _icmp(packet: Packet, name: str) -> tuple[int, ...]:
    wanted = 1 if name.startswith("icmp.") else 58
    return (packet.layers.l4,) if packet.icmp() is not None and packet.transport() == wanted else ()


def _arp(packet: Packet, name: str) -> tuple[int, ...]:
    _type, start, _tags = packet.link_fields()
    if name == "arp.opcode":
        return (start,) if packet.arp_opcode() is not None else ()
    return (start,) if packet.arp_addresses() is not None else ()


def _dns(packet: Packet, _name: str) -> tuple[int, ...]:
    """Where the DNS message starts (after the length prefix over TCP)."""
    if packet.dns_kind() is None or packet.dns_header() is None:
        return ()
    return (packet.layers.start + (2 if packet.transport() == 6 else 0),)


def _dns_question(packet: Packet, name: str) -> tuple[Span, ...]:
    """The first question's name (as written, compression included) or its type."""
    bases = _dns(packet, name)
    header = packet.dns_header()
    if not bases or header is None or header[2] == 0:
        return ()
    data = packet.data
    start = bases[0] + 12
    try:
        end = skip_dns_name(data, start, packet.layers.end)
    except Malformed:
        return ()
    if name == "dns.qry.name":
        return ((start, end - start),)
    return ((end, 2),) if end + 2 <= packet.layers.end else ()


def _protocol_spans(packet: Packet, name: str) -> tuple[Span, ...]:
    """A protocol's headers: each IP header, the TCP header with its options, ..."""
    layers = packet.layers
    data = packet.data
    if name == "eth":
        return ((0, 14),) if packet.ethernet() is not None else ()
    if name in ("vlan", "ieee8021ad"):
        return tuple((start - 2, 4) for start, _length in _field(packet, f"{name}.id"))
    if name == "ip":
        return tuple((start, (data[start] & 15) * 4) for start in packet.ip_headers(4))
    if name == "ipv6":
        return tuple((start, 40) for start in packet.ip_headers(6))
    if name == "tcp":
        start = packet.tcp_header()
        return ((start, layers.start - start),) if start >= 0 else ()
    if name == "udp":
        return tuple((start, 8) for start in _udp(packet, "udp.srcport"))
    if name in ("icmp", "icmpv6"):
        return tuple((start, layers.end - start) for start in _icmp(packet, name + "."))
    if name == "arp":
        return tuple((start, 28) for start in _arp(packet, "arp.src.hw_mac"))
    if name == "dns":
        return tuple((start, layers.end - start) for start in _dns(packet, name))
    return ()


_LAYOUTS: tuple[tuple[Layout, Callable[[Packet, str], tuple[int, ...]]], ...] = (
    (ETHERNET_LAYOUT, _ethernet),
    (IP4_LAYOUT, _ip4),
    (IP6_LAYOUT, _ip6),
    (TCP_LAYOUT, _tcp),
    (UDP_LAYOUT, _udp),
    (ICMP_LAYOUT, _icmp),
    (ARP_LAYOUT, _arp),
    (DNS_LAYOUT, _dns),
)
