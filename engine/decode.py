"""The fast header decoder behind the packet list: one frame in, one summary out.

It runs once per captured packet on the capture thread, so it reads the headers
with precompiled :class:`struct.Struct` objects and byte slicing only: no
classes per packet, no scapy, no regular expressions. It never raises: every
read is bounds-checked, so a truncated or garbage frame still gets the best
summary its bytes allow ("[truncated]", "Malformed DNS (...)"). The
``try``/``except`` in :func:`decode` is a last resort that the tests require to
stay unused (:data:`decoder_errors` stays 0 over all their fuzz input).

Formats follow Wireshark's Info column closely, e.g.
``"51000 → 443 [SYN, ACK] Seq=0 Ack=1 Win=65535 Len=0"``.
"""

from __future__ import annotations

from collections.abc import Callable
from socket import AF_INET6, inet_ntoa, inet_ntop

from engine import linktypes
from engine.events import HeaderSummary
from engine.packet.app import (
    DNS_ANSWERS_SHOWN,
    DNS_OPCODES,
    DNS_RCODES,
    DNS_SHOWN_TYPES,
    DNS_TYPES,
    HTTP_FIRST_BYTES,
    HTTP_STARTS,
    Malformed,
    client_hello_sni,
    dns_name,
    http_line,
    skip_dns_name,
)
from engine.packet.structs import (
    ARP,
    ARPHRD_NETLINK,
    DNS,
    ETHERNET_IPV4,
    ICMP_ECHO,
    IP4,
    IP6,
    NULL_AF_INET6,
    RR,
    SLL,
    TCP,
    TLS_RECORD,
    TWO_U16,
    U16,
    U32,
    U32LE,
    UDP,
    VLAN_TAGS,
)

decoder_errors: int = 0
"""How often :func:`decode` had to fall back on its exception guard (a decoder bug)."""

# A summary is built with tuple.__new__: half the cost of the named tuple's __new__.
_new = tuple.__new__
_HS = HeaderSummary


_ETHERNET = linktypes.ETHERNET
_ETH_IPV4, _ETH_IPV6, _ETH_ARP = 0x0800, 0x86DD, 0x0806
_IPV6_EXTENSIONS = frozenset({0, 43, 44, 60})  # hop-by-hop, routing, fragment, destination
_IP_PROTOCOLS = {2: "IGMP", 47: "GRE", 50: "ESP", 51: "AH", 89: "OSPF", 132: "SCTP"}

_TCP_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")
_TCP_FLAGS = tuple(
    ", ".join(n for bit, n in enumerate(_TCP_FLAG_NAMES) if flags >> bit & 1) or "<None>"
    for flags in range(256)
)
"""The bracketed flag list for every value of the TCP flags byte, precomputed."""

_ICMP_UNREACHABLE = {
    0: "Network unreachable",
    1: "Host unreachable",
    2: "Protocol unreachable",
    3: "Port unreachable",
    4: "Fragmentation needed",
    13: "Communication administratively filtered",
}
_ICMPV6_NAMES = {
    1: "Destination unreachable",
    3: "Time exceeded",
    133: "Router Solicitation",
    134: "Router Advertisement",
    143: "Multicast Listener Report Message v2",
}

_DNS_PORTS = frozenset({53, 5353, 5355})

_TLS_CONTENT = {20: "Change Cipher Spec", 21: "Alert", 23: "Application Data"}
_TLS_HANDSHAKES = {
    0: "Hello Request",
    1: "Client Hello",
    2: "Server Hello",
    4: "New Session Ticket",
    8: "Encrypted Extensions",
    11: "Certificate",
    12: "Server Key Exchange",
    13: "Certificate Request",
    14: "Server Hello Done",
    15: "Certificate Verify",
    16: "Client Key Exchange",
    20: "Finished",
}
_TLS_ENCRYPTED = "Encrypted Handshake Message"
_TLS_MAX_RECORDS = 64
_TLS_MAX_SPANNING = 0xFFFF  # longest handshake message believed to continue in later records


_Addresses = tuple[str, str]
_Transport = Callable[[bytes, int, int, int, _Addresses], HeaderSummary]


def decode(linktype: int, data: bytes) -> HeaderSummary:
    """Summarise one captured frame of the given pcap link type; never raises."""
    try:
        if linktype == _ETHERNET:  # by far the most common: one call fewer
            return _ethernet(data)
        return _decode(linktype, data)
    except Exception as error:
        global decoder_errors  # noqa: PLW0603 - a process-wide bug counter, by design
        decoder_errors += 1
        info = f"decoder error: {type(error).__name__}"
        return HeaderSummary("", "", None, None, "Malformed", info)


def _decode(linktype: int, data: bytes) -> HeaderSummary:
    """Dispatch on the link type."""
    link = _LINKS.get(linktypes.normalise(linktype))
    if link is None:
        return HeaderSummary("", "", None, None, "Unknown", f"linktype {linktype}")
    return link(data)


# -- text helpers ----------------------------------------------------------------------


def _mac(data: bytes, offset: int) -> str:
    """Six bytes as aa:bb:cc:dd:ee:ff."""
    return data[offset : offset + 6].hex(":")


_NO_ADDRESSES: _Addresses = ("", "")


def _truncated(protocol: str, addresses: _Addresses = _NO_ADDRESSES) -> HeaderSummary:
    """The summary for a header cut off by the snap length or a short frame."""
    return HeaderSummary(*addresses, None, None, protocol, "[truncated]")


# -- link layers -----------------------------------------------------------------------


def _ethernet(data: bytes) -> HeaderSummary:
    """Ethernet II; untagged IP skips the generic path and formats MACs only when needed.

    The most common frame of all, untagged IPv4 without options or fragments,
    has its Ethernet and IPv4 fields read by a single unpack and goes straight
    to the transport (what :func:`_ipv4_transport` does, inlined: ~5% faster).
    """
    size = len(data)
    if size >= 34:
        ethertype, version_ihl, total, fragment, protocol = ETHERNET_IPV4(data, 0)
        if ethertype == _ETH_IPV4 and version_ihl == 0x45 and total >= 20 and not fragment & 0x1FFF:
            key = data[26:34]
            addresses = _IPV4_PAIRS.get(key) or _remember_pair(_IPV4_PAIRS, key, _ipv4_pair)
            wire = 14 + total
            if protocol == 6:
                return _tcp(data, 34, wire if wire < size else size, wire, addresses)
            if protocol == 17:
                return _udp(data, 34, wire if wire < size else size, wire, addresses)
            return _ip_payload(data, 34, wire, addresses, protocol, family="IPv4")
    elif size < 14:
        if len(data) >= 12:
            return _truncated("Ethernet", (_mac(data, 6), _mac(data, 0)))
        return _truncated("Ethernet")
    (ethertype,) = U16(data, 12)
    if ethertype == _ETH_IPV4:
        summary = _ipv4(data, 14)
    elif ethertype == _ETH_IPV6:
        summary = _ipv6(data, 14)
    else:
        return _link_payload(ethertype, data, 14, (_mac(data, 6), _mac(data, 0)), "Ethernet")
    if summary[0]:
        return summary
    return summary._replace(src=_mac(data, 6), dst=_mac(data, 0))


def _link_payload(
    ethertype: int, data: bytes, offset: int, addresses: _Addresses, link: str
) -> HeaderSummary:
    """What follows an ethertype: VLAN tags, IP, ARP or something only named.

    ``addresses`` are the link layer's, used when there is no readable IP header.
    """
    size = len(data)
    while ethertype in VLAN_TAGS:
        if offset + 4 > size:
            return _truncated("802.1Q", addresses)
        (ethertype,) = U16(data, offset + 2)
        offset += 4
    if ethertype == _ETH_IPV4:
        summary = _ipv4(data, offset)
    elif ethertype == _ETH_IPV6:
        summary = _ipv6(data, offset)
    elif ethertype == _ETH_ARP:
        return _arp(data, offset, addresses)
    else:
        protocol = "LLC" if ethertype <= 1500 else link
        return HeaderSummary(*addresses, None, None, protocol, f"Ethertype 0x{ethertype:04x}")
    if summary[0]:
        return summary
    src, dst = addresses
    return summary._replace(src=src, dst=dst)


def _cooked_address(data: bytes, offset: int, length: int) -> _Addresses:
    """A cooked header's source address (at most 8 bytes) as hex; it has no destination."""
    return data[offset : offset + min(length, 8)].hex(":"), ""


def _sll(data: bytes) -> HeaderSummary:
    """Linux cooked capture v1: 16 bytes, protocol at offset 14."""
    if len(data) < 16:
        return _truncated("SLL")
    hatype, halen = SLL(data, 0)
    (protocol,) = U16(data, 14)
    if hatype == ARPHRD_NETLINK:
        return HeaderSummary("", "", None, None, "Netlink", f"Netlink family {protocol}")
    return _link_payload(protocol, data, 16, _cooked_address(data, 6, halen), "SLL")


def _sll2(data: bytes) -> HeaderSummary:
    """Linux cooked capture v2: 20 bytes, protocol at offset 0."""
    if len(data) < 20:
        return _truncated("SLL2")
    (protocol,) = U16(data, 0)
    (hatype,) = U16(data, 8)
    if hatype == ARPHRD_NETLINK:
        return HeaderSummary("", "", None, None, "Netlink", f"Netlink family {protocol}")
    return _link_payload(protocol, data, 20, _cooked_address(data, 12, data[11]), "SLL2")


def _null(data: bytes) -> HeaderSummary:
    """BSD loopback: the address family is in the writer's byte order, so try both."""
    if len(data) < 4:
        return _truncated("Null")
    (little,) = U32LE(data, 0)
    (big,) = U32(data, 0)
    if little == 2 or big == 2:
        return _ipv4(data, 4)
    if little in NULL_AF_INET6 or big in NULL_AF_INET6:
        return _ipv6(data, 4)
    return HeaderSummary("", "", None, None, "Null", f"Address family {min(little, big)}")


def _loop(data: bytes) -> HeaderSummary:
    """OpenBSD loopback: the address family in network byte order."""
    if len(data) < 4:
        return _truncated("Loopback")
    (family,) = U32(data, 0)
    if family == 2:
        return _ipv4(data, 4)
    if family in NULL_AF_INET6:
        return _ipv6(data, 4)
    return HeaderSummary("", "", None, None, "Loopback", f"Address family {family}")


def _raw(data: bytes) -> HeaderSummary:
    """Raw IP: IPv4 or IPv6, told apart by the version nibble."""
    if not data:
        return _truncated("Raw IP")
    version = data[0] >> 4
    if version == 4:
        return _ipv4(data, 0)
    if version == 6:
        return _ipv6(data, 0)
    return HeaderSummary("", "", None, None, "Raw IP", f"[malformed: IP version {version}]")


def _raw_ipv4(data: bytes) -> HeaderSummary:
    """LINKTYPE_IPV4: nothing but an IPv4 packet."""
    return _ipv4(data, 0)


def _raw_ipv6(data: bytes) -> HeaderSummary:
    """LINKTYPE_IPV6: nothing but an IPv6 packet."""
    return _ipv6(data, 0)


_LINKS: dict[int, Callable[[bytes], HeaderSummary]] = {
    linktypes.ETHERNET: _ethernet,
    linktypes.LINUX_SLL: _sll,
    linktypes.LINUX_SLL2: _sll2,
    linktypes.RAW: _raw,
    linktypes.IPV4: _raw_ipv4,
    linktypes.IPV6: _raw_ipv6,
    linktypes.NULL: _null,
    linktypes.LOOP: _loop,
}


# -- network layer ---------------------------------------------------------------------

_IPV4_PAIRS: dict[bytes, _Addresses] = {}
_IPV6_PAIRS: dict[bytes, _Addresses] = {}
_PAIR_CACHE_SIZE = 4096
"""Formatted (src, dst) pairs by their raw bytes: flows repeat, and inet_ntoa/ntop are slow."""


def _remember_pair(
    cache: dict[bytes, _Addresses], key: bytes, format_pair: Callable[[bytes], _Addresses]
) -> _Addresses:
    """Format an address pair and cache it; a full cache starts afresh (cheap, bounded)."""
    if len(cache) >= _PAIR_CACHE_SIZE:
        cache.clear()
    pair = cache[key] = format_pair(key)
    return pair


def _ipv4_pair(key: bytes) -> _Addresses:
    """Two IPv4 addresses, dotted."""
    return inet_ntoa(key[:4]), inet_ntoa(key[4:])


def _ipv6_pair(key: bytes) -> _Addresses:
    """Two IPv6 addresses, compressed as ipaddress writes them.

    inet_ntop is over 10x faster than ipaddress and agrees with it except on the
    IPv4-mapped and -compatible ranges, which it writes dotted, as Wireshark does.
    """
    return inet_ntop(AF_INET6, key[:16]), inet_ntop(AF_INET6, key[16:])


def _ipv4(data: bytes, offset: int) -> HeaderSummary:
    """IPv4: addresses, then the transport within the declared total length.

    The common case (no options, a sane length, not a fragment) is handled
    here; everything else goes to :func:`_ipv4_unusual`. An empty ``src`` in
    the result means the header itself was unreadable, so the link layer may
    put its own addresses in.
    """
    size = len(data)
    if size - offset < 20:
        return _truncated("IPv4")
    version_ihl, total, fragment, protocol = IP4(data, offset)
    if version_ihl != 0x45 or total < 20 or fragment & 0x1FFF:
        return _ipv4_unusual(data, offset)
    return _ipv4_transport(data, offset, total, protocol)


def _ipv4_transport(data: bytes, offset: int, total: int, protocol: int) -> HeaderSummary:
    """The transport inside an IPv4 header of 20 bytes that is not a later fragment."""
    key = data[offset + 12 : offset + 20]
    addresses = _IPV4_PAIRS.get(key) or _remember_pair(_IPV4_PAIRS, key, _ipv4_pair)
    wire = offset + total
    size = len(data)
    if protocol == 6:
        return _tcp(data, offset + 20, wire if wire < size else size, wire, addresses)
    if protocol == 17:
        return _udp(data, offset + 20, wire if wire < size else size, wire, addresses)
    return _ip_payload(data, offset + 20, wire, addresses, protocol, family="IPv4")


def _ipv4_unusual(data: bytes, offset: int) -> HeaderSummary:
    """IPv4 with options, a zero or bogus length, a bad version or a fragment offset."""
    version_ihl, total, fragment, protocol = IP4(data, offset)
    if version_ihl >> 4 != 4:
        return HeaderSummary(
            "", "", None, None, "IPv4", f"[malformed IPv4: version {version_ihl >> 4}]"
        )
    key = data[offset + 12 : offset + 20]
    addresses = _IPV4_PAIRS.get(key) or _remember_pair(_IPV4_PAIRS, key, _ipv4_pair)
    header = (version_ihl & 15) << 2
    if header < 20 or 0 < total < header:
        info = f"[malformed IPv4: header length {header}, total length {total}]"
        return HeaderSummary(*addresses, None, None, "IPv4", info)
    start = offset + header
    if start > len(data):
        return _truncated("IPv4", addresses)
    fragment_offset = (fragment & 0x1FFF) << 3
    if fragment_offset:
        info = f"Fragmented IP protocol (proto={protocol}, off={fragment_offset})"
        return HeaderSummary(*addresses, None, None, "IPv4", info)
    wire = offset + total if total else len(data)  # TSO captures may say 0
    return _ip_payload(data, start, wire, addresses, protocol, family="IPv4")


def _ip_payload(
    data: bytes, start: int, wire: int, addresses: _Addresses, protocol: int, *, family: str
) -> HeaderSummary:
    """The transport layer by IP protocol number; others are only named."""
    transport = _TRANSPORTS.get(protocol)
    if transport is not None:
        size = len(data)
        return transport(data, start, wire if wire < size else size, wire, addresses)
    name = _IP_PROTOCOLS.get(protocol, family)
    return HeaderSummary(*addresses, None, None, name, f"IP protocol {protocol}")


def _ipv6(data: bytes, offset: int) -> HeaderSummary:
    """IPv6: addresses, extension headers walked, then the transport."""
    size = len(data)
    if size - offset < 40:
        return _truncated("IPv6")
    version, length, protocol = IP6(data, offset)
    if version >> 4 != 6:
        return HeaderSummary(
            "", "", None, None, "IPv6", f"[malformed IPv6: version {version >> 4}]"
        )
    key = data[offset + 8 : offset + 40]
    addresses = _IPV6_PAIRS.get(key) or _remember_pair(_IPV6_PAIRS, key, _ipv6_pair)
    start = offset + 40
    wire = start + length if length else size  # 0: jumbogram or TSO
    end = wire if wire < size else size
    while protocol in _IPV6_EXTENSIONS:  # each pass moves on by 8 bytes or more
        if start + 8 > end:
            return _truncated("IPv6", addresses)
        if protocol == 44:
            fragment_offset = U16(data, start + 2)[0] & 0xFFF8
            protocol = data[start]
            if fragment_offset:
                info = f"Fragmented IP protocol (proto={protocol}, off={fragment_offset})"
                return HeaderSummary(*addresses, None, None, "IPv6", info)
            start += 8
        else:
            protocol = data[start]
            start += (data[start + 1] + 1) << 3
    if start > end:
        return _truncated("IPv6", addresses)
    if protocol == 6:
        return _tcp(data, start, end, wire, addresses)
    if protocol == 17:
        return _udp(data, start, end, wire, addresses)
    return _ip_payload(data, start, wire, addresses, protocol, family="IPv6")


def _arp(data: bytes, offset: int, addresses: _Addresses) -> HeaderSummary:
    """ARP for Ethernet/IPv4 in words; other hardware/protocol pairs only named.

    The addresses are the link layer's; a cooked capture lacks the destination,
    so the ARP target's hardware address stands in.
    """
    if len(data) - offset < 8:
        return _truncated("ARP", addresses)
    hardware, protocol, hardware_size, protocol_size, opcode = ARP(data, offset)
    if (hardware, protocol, hardware_size, protocol_size) != (1, _ETH_IPV4, 6, 4):
        info = f"hw={hardware} proto=0x{protocol:04x}"
        return HeaderSummary(*addresses, None, None, "ARP", info)
    if len(data) - offset < 28:
        return _truncated("ARP", addresses)
    sender_mac = _mac(data, offset + 8)
    sender = inet_ntoa(data[offset + 14 : offset + 18])
    target = inet_ntoa(data[offset + 24 : offset + 28])
    src, dst = addresses
    if opcode == 1:
        info = (
            f"Gratuitous ARP for {sender} (Request)"
            if sender == target
            else f"Who has {target}? Tell {sender}"
        )
    elif opcode == 2:
        info = (
            f"Gratuitous ARP for {sender} (Reply)"
            if sender == target
            else f"{sender} is at {sender_mac}"
        )
    else:
        info = f"ARP opcode {opcode}"
    return _new(_HS, (src or sender_mac, dst or _mac(data, offset + 18), None, None, "ARP", info))


# -- transport layer -------------------------------------------------------------------
#
# Each takes (data, start of its header, end of the captured bytes it may read,
# end of the packet as the IP header declares it, IP addresses).


def _ports_only(
    data: bytes, offset: int, end: int, addresses: _Addresses, name: str
) -> HeaderSummary:
    """A TCP or UDP header cut short: the ports when at least they were captured."""
    if end - offset < 4:
        return _truncated(name, addresses)
    sport, dport = TWO_U16(data, offset)
    return HeaderSummary(*addresses, sport, dport, name, f"{sport} → {dport} [truncated]")


def _tcp(data: bytes, offset: int, end: int, wire: int, addresses: _Addresses) -> HeaderSummary:
    """TCP in Wireshark's words, or the application protocol its payload starts."""
    if end - offset < 20:
        return _ports_only(data, offset, end, addresses, "TCP")
    src, dst = addresses
    sport, dport, seq, ack, data_offset, flags, window = TCP(data, offset)
    start = offset + ((data_offset >> 4) << 2)
    if start < offset + 20 or start > wire:
        info = f"{sport} → {dport} [malformed TCP: header length {(data_offset >> 4) << 2}]"
        return _new(_HS, (src, dst, sport, dport, "TCP", info))
    if start < end:
        application = _tcp_application(data, start, end, sport, dport)
        if application is not None:
            return _new(_HS, (src, dst, sport, dport, application[0], application[1]))
    if flags & 0x10:
        info = (
            f"{sport} → {dport} [{_TCP_FLAGS[flags]}] Seq={seq} Ack={ack} Win={window}"
            f" Len={wire - start}"
        )
    else:
        info = f"{sport} → {dport} [{_TCP_FLAGS[flags]}] Seq={seq} Win={window} Len={wire - start}"
    return _new(_HS, (src, dst, sport, dport, "TCP", info))


def _tcp_application(
    data: bytes, start: int, end: int, sport: int, dport: int
) -> tuple[str, str] | None:
    """DNS, TLS or HTTP at the start of a TCP payload, else None (plain TCP)."""
    if (sport in _DNS_PORTS or dport in _DNS_PORTS) and end - start >= 14:
        (length,) = U16(data, start)
        message_end = start + 2 + length
        return _dns(data, start + 2, min(message_end, end), _dns_protocol(sport, dport))
    first = data[start]
    if 20 <= first <= 23:
        if end - start >= 5 and data[start + 1] == 3 and data[start + 2] <= 4:
            return "TLS", _tls(data, start, end)
    elif first in HTTP_FIRST_BYTES and data.startswith(HTTP_STARTS, start):
        line = http_line(data, start, end)
        if line is not None:
            return "HTTP", line
    return None


def _udp(data: bytes, offset: int, end: int, wire: int, addresses: _Addresses) -> HeaderSummary:
    """UDP, or DNS/mDNS/LLMNR on their ports; length from the header when it is sane."""
    if end - offset < 8:
        return _ports_only(data, offset, end, addresses, "UDP")
    src, dst = addresses
    sport, dport, length = UDP(data, offset)
    if 8 <= length <= wire - offset:
        payload = length - 8
        end = min(end, offset + length)
    else:
        payload = max(wire - offset - 8, 0)
    if sport in _DNS_PORTS or dport in _DNS_PORTS:
        protocol, info = _dns(data, offset + 8, end, _dns_protocol(sport, dport))
        return _new(_HS, (src, dst, sport, dport, protocol, info))
    return _new(_HS, (src, dst, sport, dport, "UDP", f"{sport} → {dport} Len={payload}"))


def _icmp(data: bytes, offset: int, end: int, wire: int, addresses: _Addresses) -> HeaderSummary:
    """ICMP (v4): echo with id and sequence, the common errors by name."""
    if end - offset < 4:
        return _truncated("ICMP", addresses)
    kind, code = data[offset], data[offset + 1]
    if kind in (0, 8):
        name = "Echo (ping) request" if kind == 8 else "Echo (ping) reply"
        info = _echo(data, offset, end, name)
    elif kind == 3:
        reason = _ICMP_UNREACHABLE.get(code) or f"code {code}"
        info = f"Destination unreachable ({reason})"
    elif kind == 11:
        info = "Time-to-live exceeded"
    elif kind == 5:
        info = "Redirect"
    else:
        info = f"Type {kind} code {code}"
    return _new(_HS, (addresses[0], addresses[1], None, None, "ICMP", info))


def _icmpv6(data: bytes, offset: int, end: int, wire: int, addresses: _Addresses) -> HeaderSummary:
    """ICMPv6: echo, neighbour discovery with its target, the common errors by name."""
    if end - offset < 4:
        return _truncated("ICMPv6", addresses)
    kind, code = data[offset], data[offset + 1]
    if kind in (128, 129):
        name = "Echo (ping) request" if kind == 128 else "Echo (ping) reply"
        info = _echo(data, offset, end, name)
    elif kind in (135, 136):
        name = "Neighbor Solicitation for" if kind == 135 else "Neighbor Advertisement"
        if end - offset < 24:
            info = f"{name} [truncated]"
        else:
            info = f"{name} {inet_ntop(AF_INET6, data[offset + 8 : offset + 24])}"
    else:
        info = _ICMPV6_NAMES.get(kind) or f"Type {kind} code {code}"
    return _new(_HS, (addresses[0], addresses[1], None, None, "ICMPv6", info))


def _echo(data: bytes, offset: int, end: int, name: str) -> str:
    """An echo request or reply with its identifier and sequence number."""
    if end - offset < 8:
        return f"{name} [truncated]"
    _kind, _code, ident, seq = ICMP_ECHO(data, offset)
    return f"{name} id=0x{ident:04x}, seq={seq}"


_TRANSPORTS: dict[int, _Transport] = {6: _tcp, 17: _udp, 1: _icmp, 58: _icmpv6}


# -- DNS -------------------------------------------------------------------------------


def _dns_protocol(sport: int, dport: int) -> str:
    """DNS, MDNS or LLMNR by port; plain DNS wins when both kinds of port appear."""
    if sport == 53 or dport == 53:
        return "DNS"
    if sport == 5353 or dport == 5353:
        return "MDNS"
    return "LLMNR"


def _dns(data: bytes, start: int, end: int, protocol: str) -> tuple[str, str]:
    """A DNS message between start and end, as (protocol, info); malformed ones say why."""
    try:
        return protocol, _dns_info(data, start, end)
    except Malformed as error:
        return protocol, f"Malformed DNS ({error})"


def _dns_info(data: bytes, start: int, end: int) -> str:
    """The info line: kind, id, first question, rcode and the first few answers."""
    if end - start < 12:
        raise Malformed("short header")
    ident, flags, questions, answers = DNS(data, start)
    opcode = (flags >> 11) & 15
    kind = "Standard query" if not opcode else DNS_OPCODES.get(opcode) or f"Opcode {opcode}"
    response = flags & 0x8000
    info = f"{kind} response 0x{ident:04x}" if response else f"{kind} 0x{ident:04x}"
    position = start + 12
    if questions:
        name, position = dns_name(data, position, start, end)
        if position + 4 > end:
            raise Malformed("truncated question")
        (qtype,) = U16(data, position)
        info = f"{info} {DNS_TYPES.get(qtype) or f'TYPE{qtype}'} {name}"
        position += 4
        for _ in range(questions - 1):  # each question uses 5 bytes or more
            position = skip_dns_name(data, position, end) + 4
    if not response:
        return info
    if position > end:
        raise Malformed("truncated question")
    rcode = flags & 15
    if rcode:
        info = f"{info} {DNS_RCODES.get(rcode) or f'rcode {rcode}'}"
    if answers:
        shown = _dns_answers(data, position, start, end, answers)
        if shown:
            info = f"{info} {' '.join(shown)}"
    return info


def _dns_answers(data: bytes, position: int, start: int, end: int, count: int) -> list[str]:
    """The A/AAAA/CNAME answers as "TYPE value" (three at most, then "...")."""
    shown: list[str] = []
    for _ in range(count):  # each answer uses 11 bytes or more, so this ends quickly
        if position < end and data[position] >= 0xC0:
            position += 2  # the usual owner name: a pointer to the question
        else:
            position = skip_dns_name(data, position, end)
        if position + 10 > end:
            raise Malformed("truncated answer")
        rtype, length = RR(data, position)
        rdata = position + 10
        position = rdata + length
        if position > end:
            raise Malformed("truncated answer")
        if rtype not in DNS_SHOWN_TYPES:
            continue
        if len(shown) == DNS_ANSWERS_SHOWN:
            shown.append("...")
            break
        shown.append(_dns_rdata(data, rtype, rdata, position, start))
    return shown


def _dns_rdata(data: bytes, rtype: int, rdata: int, rdata_end: int, start: int) -> str:
    """An A, AAAA or CNAME answer as "TYPE value" (a CNAME may point back into the message)."""
    length = rdata_end - rdata
    if rtype == 1:
        if length != 4:
            raise Malformed(f"A record of {length} bytes")
        return "A " + inet_ntoa(data[rdata:rdata_end])
    if rtype == 28:
        if length != 16:
            raise Malformed(f"AAAA record of {length} bytes")
        return "AAAA " + inet_ntop(AF_INET6, data[rdata:rdata_end])
    return "CNAME " + dns_name(data, rdata, start, rdata_end)[0]


# -- TLS -------------------------------------------------------------------------------


def _tls(data: bytes, position: int, end: int) -> str:
    """What the TLS records in a segment are (the caller checked the first header)."""
    content, _major, _minor, length = TLS_RECORD(data, position)
    if content == 23 and position + 5 + length >= end:
        return "Application Data"  # the usual case: one record fills the segment
    return _tls_records(data, position, end)


def _tls_records(data: bytes, position: int, end: int) -> str:
    """The distinct record and handshake names in a segment, in order, joined by ", "."""
    names: list[str] = []
    encrypted = False  # handshake records after a Change Cipher Spec are encrypted
    for _ in range(_TLS_MAX_RECORDS):
        if position + 5 > end:
            break
        content, major, minor, length = TLS_RECORD(data, position)
        if not (20 <= content <= 23 and major == 3 and minor <= 4):
            break
        body = position + 5
        position = body + length
        if content != 22:
            found = [_TLS_CONTENT[content]]
            encrypted = encrypted or content == 20
        elif encrypted:
            found = [_TLS_ENCRYPTED]
        else:
            found = _tls_handshakes(data, body, position, end)
        for name in found:
            if name not in names:
                names.append(name)
    return ", ".join(names)


def _tls_handshakes(data: bytes, position: int, record_end: int, end: int) -> list[str]:
    """The handshake messages in one record; random-looking ones are encrypted."""
    names: list[str] = []
    stop = min(record_end, end)
    while position + 4 <= stop:
        (word,) = U32(data, position)
        kind, length = word >> 24, word & 0xFFFFFF
        message_end = position + 4 + length
        name = _TLS_HANDSHAKES.get(kind)
        if name is None or (message_end > record_end and length > _TLS_MAX_SPANNING):
            if not names:
                names.append(_TLS_ENCRYPTED)
            break
        if kind == 1:
            name = _client_hello(data, position + 4, min(message_end, end))
        names.append(name)
        position = message_end
    if not names:
        names.append("Handshake [truncated]" if stop < record_end else _TLS_ENCRYPTED)
    return names


def _client_hello(data: bytes, position: int, end: int) -> str:
    """Name the ClientHello, with the server name when the SNI extension was captured."""
    server_name = client_hello_sni(data, position, end)
    return "Client Hello" if server_name is None else f"Client Hello (SNI={server_name})"


# -- HTTP ------------------------------------------------------------------------------
