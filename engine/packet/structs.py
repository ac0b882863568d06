"""The precompiled header layouts every reader of frames shares.

One place for the :class:`struct.Struct` readers and the protocol numbers, so the
walker (:mod:`engine.packet.walk`), the Info column (:mod:`engine.decode`) and the
application readers (:mod:`engine.packet.app`) read a header the same way.
"""

from __future__ import annotations

from struct import Struct

U8 = Struct("!B").unpack_from
U16 = Struct("!H").unpack_from
U16LE = Struct("<H").unpack_from
U32 = Struct("!I").unpack_from
U32LE = Struct("<I").unpack_from
TWO_U16 = Struct("!HH").unpack_from
SLL = Struct("!2xHH").unpack_from
"""Linux cooked v1: ARPHRD type, link-layer address length."""
IP4 = Struct("!BxHxxHxB").unpack_from
"""IPv4: version/IHL, total length, flags/fragment offset, protocol."""
ETHERNET_IPV4 = Struct("!12xHBxHxxHxB").unpack_from
"""An Ethernet header's ethertype, then the :data:`IP4` fields: one unpack for both."""
IP6 = Struct("!B3xHB").unpack_from
"""IPv6: version (high nibble), payload length, next header."""
TCP = Struct("!HHIIBBH").unpack_from
"""TCP: ports, sequence, acknowledgement, data offset, flags, window."""
UDP = Struct("!HHH").unpack_from
"""UDP: ports, length."""
ICMP_ECHO = Struct("!BB2xHH").unpack_from
"""ICMP echo: type, code, identifier, sequence."""
ARP = Struct("!HHBBH").unpack_from
"""ARP: hardware, protocol, their address lengths, opcode."""
DNS = Struct("!HHHH").unpack_from
DNS_COUNTS = Struct("!HHHHH").unpack_from
"""A DNS header's flags and its four counts (from offset 2)."""
"""DNS: identifier, flags, question and answer counts."""
RR = Struct("!H6xH").unpack_from
"""A DNS resource record: type, rdata length (class and TTL skipped)."""
DNS_ANSWER = Struct("!HHIH").unpack_from
"""A DNS resource record after its name: type, class, TTL, rdata length."""
TLS_RECORD = Struct("!BBBH").unpack_from
"""A TLS record: content type, version, length."""

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_ARP = 0x0806
VLAN_TAGS = frozenset({0x8100, 0x88A8, 0x9100})
"""802.1Q, 802.1ad (QinQ service tag) and the older 0x9100 QinQ tag."""
NULL_AF_INET6 = frozenset({24, 28, 30})
"""AF_INET6 as BSD, FreeBSD and macOS write it in a loopback (null) header."""
ARPHRD_NETLINK = 824

Layout = dict[str, tuple[int, int]]
"""Display-filter field name → (offset from its header's start, length in bytes)."""

ETHERNET_LAYOUT: Layout = {"eth.dst": (0, 6), "eth.src": (6, 6)}
IP4_LAYOUT: Layout = {
    "ip.hdr_len": (0, 1),
    "ip.dsfield": (1, 1),
    "ip.len": (2, 2),
    "ip.id": (4, 2),
    "ip.flags.df": (6, 1),
    "ip.flags.mf": (6, 1),
    "ip.frag_offset": (6, 2),
    "ip.ttl": (8, 1),
    "ip.proto": (9, 1),
    "ip.checksum": (10, 2),
    "ip.src": (12, 4),
    "ip.dst": (16, 4),
}
"""Where :data:`IP4`'s fields and the addresses lie in an IPv4 header."""
IP6_LAYOUT: Layout = {
    "ipv6.plen": (4, 2),
    "ipv6.nxt": (6, 1),
    "ipv6.hlim": (7, 1),
    "ipv6.src": (8, 16),
    "ipv6.dst": (24, 16),
}
TCP_LAYOUT: Layout = {
    "tcp.srcport": (0, 2),
    "tcp.dstport": (2, 2),
    "tcp.seq_raw": (4, 4),
    "tcp.ack_raw": (8, 4),
    "tcp.hdr_len": (12, 1),
    "tcp.flags": (13, 1),
    "tcp.window_size_value": (14, 2),
    "tcp.checksum": (16, 2),
    "tcp.urgent_pointer": (18, 2),
    **{f"tcp.flags.{name}": (13, 1) for name in ("fin", "syn", "reset", "push", "ack", "urg")},
}
"""Where :data:`TCP`'s fields lie in a TCP header."""
UDP_LAYOUT: Layout = {
    "udp.srcport": (0, 2),
    "udp.dstport": (2, 2),
    "udp.length": (4, 2),
    "udp.checksum": (6, 2),
}
ICMP_LAYOUT: Layout = {
    "icmp.type": (0, 1),
    "icmp.code": (1, 1),
    "icmpv6.type": (0, 1),
    "icmpv6.code": (1, 1),
}
ARP_LAYOUT: Layout = {
    "arp.opcode": (6, 2),
    "arp.src.hw_mac": (8, 6),
    "arp.src.proto_ipv4": (14, 4),
    "arp.dst.hw_mac": (18, 6),
    "arp.dst.proto_ipv4": (24, 4),
}
"""Where :data:`ARP`'s opcode and the Ethernet/IPv4 addresses lie in an ARP header."""
DNS_LAYOUT: Layout = {
    "dns.id": (0, 2),
    "dns.flags.response": (2, 1),
    "dns.flags.rcode": (3, 1),
    "dns.count.answers": (6, 2),
}
"""Where :data:`DNS`'s header fields lie in a DNS message."""
