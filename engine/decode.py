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
    DNS_PORTS,
    DNS_RCODES,
    DNS_SHOWN_TYPES,
    DNS_TYPES,
    HTTP_FIRST_BYTES,
    HTTP_STARTS,
    Malformed,
    client_hello_sni,
    dns_heuristic,
    dns_name,
    http_line,
    skip_dns_name,
)
from engine.packet.ports import udp_label
from engine.packet.structs import (
    ARP,
    DNS,
    ICMP_ECHO,
    IP4,
    RR,
    SLL,
    TLS_RECORD,
    TWO_U16,
    U16,
    U32,
    U32LE,
)
from engine.packet.walk import Raw, walk_ethernet_raw, walk_raw

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
        layers = walk_ethernet_raw(data) if linktype == _ETHERNET else walk_raw(linktype, data)
        return _summary(layers, data, linktype)
    except Exception as error:
        global decoder_errors  # noqa: PLW0603 - a process-wide bug counter, by design
        decoder_errors += 1
        info = f"decoder error: {type(error).__name__}"
        return HeaderSummary("", "", None, None, "Malformed", info)


def _summary(layers: Raw, data: bytes, linktype: int) -> HeaderSummary:
    """The list row of a walked frame: the innermost IP packet's, or its link layer's."""
    (
        _c,
        family,
        pair,
        proto,
        sport,
        dport,
        flags,
        seq,
        ack,
        start,
        end,
        length,
        fragment,
        _o,
        _n,
        l4,
    ) = layers
    if not family:
        return _without_ip(layers, data, linktype)
    if family == 4:
        addresses = _IPV4_PAIRS.get(pair) or _remember_pair(_IPV4_PAIRS, pair, _ipv4_pair)
    else:
        addresses = _IPV6_PAIRS.get(pair) or _remember_pair(_IPV6_PAIRS, pair, _ipv6_pair)
    if fragment is not None:
        if fragment[1]:
            return _later_fragment(family, proto, fragment[1], addresses)
        length = fragment[3] + fragment[4] - start  # a first fragment: its own length
    if proto == 6:
        if sport < 0:
            return _bad_tcp(data, l4, end, addresses)
        src, dst = addresses
        if start < end:
            application = _tcp_application(data, start, end, sport, dport)
            if application is not None:
                return _new(_HS, (src, dst, sport, dport, application[0], application[1]))
        (window,) = U16(data, l4 + 14)
        if flags & 0x10:
            info = (
                f"{sport} → {dport} [{_TCP_FLAGS[flags]}] Seq={seq} Ack={ack} Win={window}"
                f" Len={length}"
            )
        else:
            info = f"{sport} → {dport} [{_TCP_FLAGS[flags]}] Seq={seq} Win={window} Len={length}"
        return _new(_HS, (src, dst, sport, dport, "TCP", info))
    if proto == 17:
        if sport < 0:
            return _ports_only(data, l4, end, addresses, "UDP")
        src, dst = addresses
        if sport in DNS_PORTS or dport in DNS_PORTS:
            if start < end:  # (an empty datagram is plain UDP, as in tshark)
                protocol, info = _dns(data, start, end, _dns_protocol(sport, dport))
                return _new(_HS, (src, dst, sport, dport, protocol, info))
        elif (
            end - start > 12
            and not data[start + 2] & 0x78  # opcode 0: rules out most payloads at once
            and udp_label(sport, dport) is None
            and dns_heuristic(data, start, end)
        ):  # DNS on another port, found as tshark's heuristic finds it
            protocol, info = _dns(data, start, end, "DNS")
            return _new(_HS, (src, dst, sport, dport, protocol, info))
        return _new(_HS, (src, dst, sport, dport, "UDP", f"{sport} → {dport} Len={layers[11]}"))
    if proto in {1, 58}:
        if l4 < 0:
            return _truncated("ICMP" if proto == 1 else "ICMPv6", addresses)
        if proto == 1:
            return _icmp(data, l4, end, addresses)
        return _icmpv6(data, l4, end, addresses)
    if proto == -2:
        return _tunnel_end(layers, data, addresses)
    name = _IP_PROTOCOLS.get(proto) or ("IPv4" if family == 4 else "IPv6")
    return HeaderSummary(*addresses, None, None, name, f"IP protocol {proto}")


def _later_fragment(family: int, proto: int, offset: int, addresses: _Addresses) -> HeaderSummary:
    """A fragment after the first: its data only, as Wireshark says before reassembly."""
    info = f"Fragmented IP protocol (proto={proto}, off={offset})"
    return HeaderSummary(*addresses, None, None, "IPv4" if family == 4 else "IPv6", info)


# -- text helpers ----------------------------------------------------------------------


def _mac(data: bytes, offset: int) -> str:
    """Six bytes as aa:bb:cc:dd:ee:ff."""
    return data[offset : offset + 6].hex(":")


_NO_ADDRESSES: _Addresses = ("", "")


def _truncated(protocol: str, addresses: _Addresses = _NO_ADDRESSES) -> HeaderSummary:
    """The summary for a header cut off by the snap length or a short frame."""
    return HeaderSummary(*addresses, None, None, protocol, "[truncated]")


# -- frames without IP ----------------------------------------------------------------

_LINK_NAMES = {"eth": "Ethernet", "null": "Null", "raw": "Raw IP", "sll": "SLL"}
_LAYER_NAMES = {
    "arp": "ARP",
    "chdlc": "Cisco HDLC",
    "eth": "Ethernet",
    "erspan": "ERSPAN",
    "fr": "Frame Relay",
    "geneve": "GENEVE",
    "gre": "GRE",
    "ieee8021ad": "802.1ad",
    "ip": "IPv4",
    "ipv6": "IPv6",
    "llc": "LLC",
    "lldp": "LLDP",
    "macsec": "MACsec",
    "mpls": "MPLS",
    "nflog": "NFLOG",
    "nsh": "NSH",
    "pim": "PIM",
    "ppp": "PPP",
    "pppoed": "PPPoED",
    "pppoes": "PPPoES",
    "pktap": "PKTAP",
    "radiotap": "802.11",
    "stp": "STP",
    "udp": "UDP",
    "vlan": "802.1Q",
    "vxlan": "VXLAN",
    "wlan": "802.11",
    "wlan.mgt": "802.11",
    "wlan_radio": "802.11",
}
_TUNNEL_NUMBERS = {"gre": 47, "ip": 4, "ipv6": 41, "pim": 103}
_ADDRESS_LAYERS = frozenset({"ip", "ipv6"})


def _link_name(first: str, linktype: int) -> str:
    """How the Protocol column names a link layer that carries nothing livetap reads."""
    if first == "sll" and linktype == linktypes.LINUX_SLL2:
        return "SLL2"
    if first == "null" and linktype == linktypes.LOOP:
        return "Loopback"
    return _LINK_NAMES.get(first) or _LAYER_NAMES.get(first) or first.upper()


def _link_addresses(first: str, data: bytes, linktype: int) -> _Addresses:
    """The link layer's own addresses: MACs, or a cooked capture's source."""
    if first == "eth":
        return (_mac(data, 6), _mac(data, 0)) if len(data) >= 12 else _NO_ADDRESSES
    if first == "isl":  # Cisco ISL: the frame it carries starts at 26
        return (_mac(data, 32), _mac(data, 26)) if len(data) >= 38 else _NO_ADDRESSES
    if first == "sll":
        if linktype == linktypes.LINUX_SLL2:
            return _cooked_address(data, 12, data[11]) if len(data) >= 20 else _NO_ADDRESSES
        if len(data) >= 16:
            return _cooked_address(data, 6, SLL(data, 0)[1])
    return _NO_ADDRESSES


def _cooked_address(data: bytes, offset: int, length: int) -> _Addresses:
    """A cooked header's source address (at most 8 bytes) as hex; it has no destination."""
    return data[offset : offset + min(length, 8)].hex(":"), ""


def _without_ip(layers: Raw, data: bytes, linktype: int) -> HeaderSummary:
    """A frame whose walk found no readable IP header: ARP, a bad IP header, a link only."""
    chain = layers[0]
    net = layers[14]
    first, last = chain[0], chain[-1]
    if first.startswith(("linktype-", "user_dlt")):
        return HeaderSummary("", "", None, None, "Unknown", f"linktype {linktype}")
    addresses = _link_addresses(first, data, linktype)
    if last == "ip" and net >= 0:
        return _bad_ipv4(data, net, addresses)
    if last == "ipv6" and net >= 0:
        return _bad_ipv6(data, net, addresses)
    if last == "arp" and net >= 0:
        return _arp(data, net, addresses)
    if len(chain) == 1:
        return _truncated(_link_name(first, linktype), addresses)
    if last == "netlink":
        (family,) = U16(data, 0 if linktype == linktypes.LINUX_SLL2 else 14)
        return HeaderSummary("", "", None, None, "Netlink", f"Netlink family {family}")
    if last in ("vlan", "ieee8021ad"):
        return _truncated("802.1Q", addresses)
    if first == "null" and len(chain) == 2:
        (little,) = U32LE(data, 0)
        (big,) = U32(data, 0)
        family = big if linktype == linktypes.LOOP else min(little, big)
        return HeaderSummary(
            "", "", None, None, _link_name(first, linktype), f"Address family {family}"
        )
    if first == "raw" and len(chain) == 2:
        info = f"[malformed: IP version {data[0] >> 4}]"
        return HeaderSummary("", "", None, None, "Raw IP", info)
    if net >= 2 and first in ("eth", "sll") and chain[1] not in _ADDRESS_LAYERS:
        (ethertype,) = U16(data, net - 2)
        protocol = "LLC" if ethertype <= 1500 else _link_name(first, linktype)
        return HeaderSummary(*addresses, None, None, protocol, f"Ethertype 0x{ethertype:04x}")
    named = [name for name in chain[1:] if name != "data"] or [first]
    protocol = _LAYER_NAMES.get(named[-1]) or named[-1].upper()
    info = " / ".join(_LAYER_NAMES.get(name) or name.upper() for name in named)
    return HeaderSummary(*addresses, None, None, protocol, info)


def _bad_ipv4(data: bytes, offset: int, addresses: _Addresses) -> HeaderSummary:
    """An IPv4 header the walk could not read: cut short, a bad version or bad lengths."""
    if len(data) - offset < 20:
        return _truncated("IPv4", addresses)
    version_ihl, total, _fragment, _protocol = IP4(data, offset)
    if version_ihl >> 4 != 4:
        info = f"[malformed IPv4: version {version_ihl >> 4}]"
        return HeaderSummary(*addresses, None, None, "IPv4", info)
    ip_addresses = _ipv4_pair(data[offset + 12 : offset + 20])
    header = (version_ihl & 15) << 2
    if header < 20 or 0 < total < header:
        info = f"[malformed IPv4: header length {header}, total length {total}]"
        return HeaderSummary(*ip_addresses, None, None, "IPv4", info)
    return _truncated("IPv4", ip_addresses)


def _bad_ipv6(data: bytes, offset: int, addresses: _Addresses) -> HeaderSummary:
    """An IPv6 header the walk could not read: cut short or a bad version."""
    if len(data) - offset < 40:
        return _truncated("IPv6", addresses)
    info = f"[malformed IPv6: version {data[offset] >> 4}]"
    return HeaderSummary(*addresses, None, None, "IPv6", info)


def _tunnel_end(layers: Raw, data: bytes, addresses: _Addresses) -> HeaderSummary:
    """A frame whose innermost readable layer is a tunnel with no IP packet inside it.

    The addresses are the tunnel's IP header's; a tunnel header cut short reads as
    Wireshark's "IP protocol N", anything the tunnel carries is named layer by layer.
    """
    chain = layers[0]
    if chain[-1] in _ADDRESS_LAYERS:  # IPv6 extension headers cut short
        return _truncated("IPv6" if chain[-1] == "ipv6" else "IPv4", addresses)
    last_ip = max(i for i, name in enumerate(chain) if name in _ADDRESS_LAYERS)
    inner = [name for name in chain[last_ip + 1 :] if name != "data"]
    sport = layers[4] if layers[4] >= 0 else None
    dport = layers[5] if layers[4] >= 0 else None
    if not inner:
        return HeaderSummary(*addresses, sport, dport, "IPv4", "[no payload]")
    protocol = _LAYER_NAMES.get(inner[-1]) or inner[-1].upper()
    if len(inner) == 1 and inner[0] in _TUNNEL_NUMBERS:
        info = f"IP protocol {_TUNNEL_NUMBERS[inner[0]]}"
    else:
        info = " / ".join(_LAYER_NAMES.get(name) or name.upper() for name in inner)
    return HeaderSummary(*addresses, sport, dport, protocol, info)


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
    elif opcode in _RARP_OPCODES:  # tshark's words and Protocol column for RARP
        target_mac = _mac(data, offset + 18)
        info = (
            f"Who is {target_mac}? Tell {sender_mac}"
            if opcode == 3
            else f"{target_mac} is at {target}"
        )
        return _new(_HS, (src or sender_mac, dst or target_mac, None, None, "RARP", info))
    else:
        info = f"ARP opcode {opcode}"
    return _new(_HS, (src or sender_mac, dst or _mac(data, offset + 18), None, None, "ARP", info))


_RARP_OPCODES = frozenset({3, 4})
"""Reverse ARP request and reply (RFC 903), carried in ARP's own format."""


# -- transport layer -------------------------------------------------------------------
#
# Each takes (data, start of its header, end of the captured bytes it may read,
# end of the packet as the IP header declares it, IP addresses).


def _ports_only(
    data: bytes, offset: int, end: int, addresses: _Addresses, name: str
) -> HeaderSummary:
    """A TCP or UDP header cut short: the ports when at least they were captured."""
    if offset < 0 or end - offset < 4:
        return _truncated(name, addresses)
    sport, dport = TWO_U16(data, offset)
    return HeaderSummary(*addresses, sport, dport, name, f"{sport} → {dport} [truncated]")


def _bad_tcp(data: bytes, offset: int, end: int, addresses: _Addresses) -> HeaderSummary:
    """A TCP header cut short, or one whose header length does not fit."""
    if offset < 0 or end - offset < 20:
        return _ports_only(data, offset, end, addresses, "TCP")
    sport, dport = TWO_U16(data, offset)
    info = f"{sport} → {dport} [malformed TCP: header length {(data[offset + 12] >> 4) << 2}]"
    return HeaderSummary(*addresses, sport, dport, "TCP", info)


def _tcp_application(
    data: bytes, start: int, end: int, sport: int, dport: int
) -> tuple[str, str] | None:
    """DNS, TLS or HTTP at the start of a TCP payload, else None (plain TCP)."""
    if (sport in DNS_PORTS or dport in DNS_PORTS) and end - start >= 14:
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


def _icmp(data: bytes, offset: int, end: int, addresses: _Addresses) -> HeaderSummary:
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


def _icmpv6(data: bytes, offset: int, end: int, addresses: _Addresses) -> HeaderSummary:
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
