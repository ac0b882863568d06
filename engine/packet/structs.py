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
