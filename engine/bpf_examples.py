"""The reference table of BPF capture filters: what to type, and what it matches.

Data only, shown by ``livetap bpf --examples`` and browsable from the filter
prompt. Every expression is compiled by libpcap in the tests, so the table
cannot teach a filter that does not work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal["basic", "advanced"]


@dataclass(frozen=True, slots=True)
class BpfExample:
    """One filter with a one-line explanation."""

    expression: str
    description: str
    category: Category

    def to_dict(self) -> dict[str, str]:
        return {
            "expression": self.expression,
            "description": self.description,
            "category": self.category,
        }


def _basic(expression: str, description: str) -> BpfExample:
    return BpfExample(expression, description, "basic")


def _advanced(expression: str, description: str) -> BpfExample:
    return BpfExample(expression, description, "advanced")


EXAMPLES: tuple[BpfExample, ...] = (
    _basic("host 10.0.0.5", "to or from one IPv4 host"),
    _basic("host 2001:db8::1", "to or from one IPv6 host"),
    _basic("src host 10.0.0.5", "sent by one host"),
    _basic("dst host 10.0.0.5", "sent to one host"),
    _basic("net 192.168.0.0/16", "to or from a network (CIDR)"),
    _basic("src net 10.0.0.0/8 and not dst net 10.0.0.0/8", "leaving the 10/8 network"),
    _basic("port 53", "TCP or UDP port 53, either direction"),
    _basic("tcp port 443", "TCP port 443 (HTTPS)"),
    _basic("udp dst port 123", "UDP sent to port 123 (NTP)"),
    _basic("portrange 8000-8080", "any port from 8000 to 8080"),
    _basic("tcp", "TCP only"),
    _basic("udp", "UDP only"),
    _basic("icmp", "ICMP (IPv4) only"),
    _basic("icmp6", "ICMPv6 only"),
    _basic("arp", "ARP only"),
    _basic("ip6", "IPv6 only"),
    _basic("not port 22", "everything except SSH (handy over an SSH session)"),
    _basic("host 10.0.0.5 and not port 22", "one host, without SSH"),
    _basic("tcp port 80 or tcp port 443", "web traffic"),
    _basic("ether host 02:00:00:00:00:01", "to or from one MAC address"),
    _basic("ether broadcast", "Ethernet broadcast frames"),
    _basic("ether multicast", "Ethernet multicast frames (broadcast included)"),
    _basic("vlan", "802.1Q VLAN-tagged frames"),
    _basic("vlan 100 and tcp port 80", "VLAN 100, then HTTP inside it (vlan comes first)"),
    _basic("greater 1000", "frames of 1000 bytes or more"),
    _basic("less 64", "frames of 64 bytes or fewer"),
    _advanced("len > 1000", "frames longer than 1000 bytes"),
    _advanced("tcp[tcpflags] & tcp-syn != 0", "TCP with SYN set (SYN and SYN-ACK)"),
    _advanced("tcp[tcpflags] == tcp-syn", "TCP with only SYN set: new connection attempts"),
    _advanced("tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", "SYN without ACK (ignores ECN bits)"),
    _advanced(
        "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)", "SYN-ACK: connection accepted"
    ),
    _advanced("tcp[tcpflags] & tcp-rst != 0", "TCP resets"),
    _advanced("tcp[tcpflags] & (tcp-fin|tcp-rst) != 0", "TCP connection ends (FIN or RST)"),
    _advanced("tcp[tcpflags] & tcp-push != 0", "TCP segments with PSH (data pushed)"),
    _advanced("ip[8] < 10", "IPv4 TTL below 10 (traceroute, routing loops)"),
    _advanced("ip6[7] < 10", "IPv6 hop limit below 10"),
    _advanced("ip[6:2] & 0x3fff != 0", "IPv4 fragments (more-fragments bit or an offset)"),
    _advanced("ip[6] & 0x40 != 0", "IPv4 with don't-fragment set"),
    _advanced("ip[1] & 0xfc != 0", "IPv4 with a DSCP mark (QoS)"),
    _advanced("icmp[icmptype] == icmp-echo", "ping requests"),
    _advanced("icmp[icmptype] == icmp-echoreply", "ping replies"),
    _advanced("icmp[icmptype] == icmp-unreach", "ICMP destination unreachable"),
    _advanced("icmp[icmptype] == icmp-timxceed", "ICMP time exceeded (traceroute hops)"),
    _advanced("icmp6 and ip6[40] == 135", "IPv6 neighbour solicitations"),
    _advanced(
        "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
        "HTTP GET requests (payload starts with 'GET ')",
    ),
    _advanced(
        "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x504f5354",
        "HTTP POST requests (payload starts with 'POST')",
    ),
    _advanced(
        "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x48545450",
        "HTTP responses (payload starts with 'HTTP')",
    ),
    _advanced(
        "tcp port 443 and tcp[((tcp[12:1] & 0xf0) >> 2)] = 0x16",
        "TLS handshake records (ClientHello, ServerHello ...)",
    ),
    _advanced(
        "tcp and (((ip[2:2] - ((ip[0] & 0xf) << 2)) - ((tcp[12] & 0xf0) >> 2)) != 0)",
        "IPv4 TCP segments that carry data (no bare ACKs)",
    ),
    _advanced("udp port 53 and udp[10] & 0x80 != 0", "DNS responses (QR bit set)"),
    _advanced("udp port 53 and udp[10] & 0x80 = 0", "DNS queries (QR bit clear)"),
    _advanced("udp port 67 or udp port 68", "DHCP"),
    _advanced("ether[0] & 1 != 0", "multicast or broadcast destination MAC"),
    _advanced("ip multicast", "IPv4 multicast destinations (224.0.0.0/4)"),
    _advanced("ether proto 0x88cc", "LLDP (link-layer discovery)"),
    _advanced("ip proto gre", "GRE tunnels"),
    _advanced("esp or ah", "IPsec"),
    _advanced("stp", "spanning-tree BPDUs"),
)
"""Common filters first, then byte-offset tricks; kept in the order shown."""


def examples(category: Category | None = None) -> tuple[BpfExample, ...]:
    """The table, or one category of it."""
    if category is None:
        return EXAMPLES
    return tuple(example for example in EXAMPLES if example.category == category)
