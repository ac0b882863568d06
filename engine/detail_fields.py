"""Which display-filter field each node of the detail's layer tree shows, its value and bytes.

The tree's labels come from scapy (:mod:`engine.dissect`); the field a node stands for,
the value a filter tests and the bytes the hex dump highlights come from the packet
model, read through the display filter's own getters (:data:`FIELDS`) and
:func:`~engine.packet.spans.field_spans`, so a filter made from a node matches the packet
it came from (Wireshark's "Apply as Filter").

scapy's n-th layer of a protocol (the outer or the inner IP header of a tunnel, the IP
header an ICMP error quotes) is the field's n-th value in the model; when scapy shows a
value the model does not have there, the model's value at that place is used for fields
scapy writes in other units (IHL words, fragment blocks), and none for the others.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Any

from engine.display_filter.fields import FIELDS, INT, IPV4, IPV6, MAC, PROTOCOL, STR
from engine.display_filter.packet_fields import PacketView
from engine.display_filter.prepare import literal
from engine.events import PacketSummary
from engine.packet.spans import Span, field_spans

_IP = {
    "ihl": "ip.hdr_len",
    "tos": "ip.dsfield",
    "len": "ip.len",
    "id": "ip.id",
    "flags": "ip.flags.df",
    "frag": "ip.frag_offset",
    "ttl": "ip.ttl",
    "proto": "ip.proto",
    "chksum": "ip.checksum",
    "src": "ip.src",
    "dst": "ip.dst",
}
_IPV6 = {"plen": "ipv6.plen", "nh": "ipv6.nxt", "hlim": "ipv6.hlim"}
_IPV6 |= {"src": "ipv6.src", "dst": "ipv6.dst"}
_TCP = {
    "sport": "tcp.srcport",
    "dport": "tcp.dstport",
    "seq": "tcp.seq_raw",
    "ack": "tcp.ack_raw",
    "dataofs": "tcp.hdr_len",
    "flags": "tcp.flags",
    "window": "tcp.window_size_value",
    "chksum": "tcp.checksum",
    "urgptr": "tcp.urgent_pointer",
}
_UDP = {"sport": "udp.srcport", "dport": "udp.dstport", "len": "udp.length"}
_UDP["chksum"] = "udp.checksum"

LAYERS: dict[str, tuple[str, dict[str, str]]] = {
    "Ether": ("eth", {"dst": "eth.dst", "src": "eth.src", "type": "eth.type"}),
    "Dot1Q": ("vlan", {"vlan": "vlan.id", "type": "vlan.etype"}),
    "Dot1AD": ("ieee8021ad", {"vlan": "ieee8021ad.id"}),  # tshark has no etype there
    "CookedLinux": ("sll", {}),
    "CookedLinuxV2": ("sll", {}),
    "IP": ("ip", _IP),
    "IPerror": ("ip", _IP),
    "IPv6": ("ipv6", _IPV6),
    "IPerror6": ("ipv6", _IPV6),
    "TCP": ("tcp", _TCP),
    "TCPerror": ("tcp", _TCP),
    "UDP": ("udp", _UDP),
    "UDPerror": ("udp", _UDP),
    "ICMP": ("icmp", {"type": "icmp.type", "code": "icmp.code"}),
    "ARP": (
        "arp",
        {
            "op": "arp.opcode",
            "hwsrc": "arp.src.hw_mac",
            "psrc": "arp.src.proto_ipv4",
            "hwdst": "arp.dst.hw_mac",
            "pdst": "arp.dst.proto_ipv4",
        },
    ),
    "DNS": (
        "dns",
        {
            "id": "dns.id",
            "qr": "dns.flags.response",
            "rcode": "dns.flags.rcode",
            "ancount": "dns.count.answers",
        },
    ),
    "DNSQR": ("", {"qname": "dns.qry.name", "qtype": "dns.qry.type"}),
    "DNSRR": ("", {"ttl": "dns.resp.ttl"}),
    "VXLAN": ("vxlan", {}),
    "GRE": ("gre", {}),
    "MPLS": ("mpls", {}),
}
"""scapy layer class → (the protocol's filter name, scapy field → display-filter field)."""

_OTHER_UNITS = frozenset({"ip.hdr_len", "ip.flags.df", "ip.frag_offset", "tcp.hdr_len"})
"""Fields scapy shows in other units than the display filter (words, 8-byte blocks, flags)."""
_DNS_RDATA = {1: "dns.a", 28: "dns.aaaa"}


class FieldRef:
    """A node's display-filter field, its value as filter text, and its bytes."""

    __slots__ = ("field", "span", "value")

    def __init__(self, field: str, value: str, span: Span | None) -> None:
        self.field = field
        self.value = value
        """The literal (``10.0.0.5``, ``"example.com"``); "" for a protocol."""
        self.span = span


class DetailFields:
    """Answers, layer by layer in the order scapy shows them, what each node stands for."""

    def __init__(self, summary: PacketSummary) -> None:
        self.view = PacketView(summary)
        self._seen: dict[str, int] = {}
        self._values: dict[str, tuple[Any, ...]] = {}

    def _values_of(self, name: str) -> tuple[Any, ...]:
        found = self._values.get(name)
        if found is None:
            getter = FIELDS[name].getter
            found = self._values[name] = getter(self.view) if getter is not None else ()
        return found

    def layer(self, layer: Any) -> tuple[FieldRef | None, int]:
        """The protocol a scapy layer is (its filter and header bytes) and which occurrence
        of it this is (0 for the outermost); call once per layer, outermost first."""
        try:
            return self._layer(layer)
        except Exception:  # hostile bytes: the node is shown without a filter
            return None, 0

    def field(self, layer: Any, occurrence: int, field: str, value: Any) -> FieldRef | None:
        """The display-filter field a scapy field shows, with the model's value for it."""
        try:
            return self._field(layer, occurrence, field, value)
        except Exception:  # hostile bytes: the node is shown without a filter
            return None

    def _layer(self, layer: Any) -> tuple[FieldRef | None, int]:
        name = type(layer).__name__
        protocol = LAYERS.get(name, ("", {}))[0]
        if name.startswith("ICMPv6") and "Opt" not in name:
            protocol = "icmpv6"
        if not protocol:
            return None, 0
        occurrence = self._seen.get(protocol, 0)
        self._seen[protocol] = occurrence + 1
        if protocol not in FIELDS or not self._values_of(protocol):
            return None, occurrence
        spans = field_spans(self.view.packet, protocol)
        span = spans[occurrence] if occurrence < len(spans) else None
        return FieldRef(protocol, "", span), occurrence

    def _field(self, layer: Any, occurrence: int, field: str, value: Any) -> FieldRef | None:
        kind_name = type(layer).__name__
        fields = LAYERS.get(kind_name, ("", {}))[1]
        name = fields.get(field)
        if kind_name.startswith("ICMPv6") and "Opt" not in kind_name and field in ("type", "code"):
            name = f"icmpv6.{field}"
        if kind_name == "DNSRR" and field == "rdata":
            name = _DNS_RDATA.get(getattr(layer, "type", -1))
        if name is None:
            return None
        values = self._values_of(name)
        shown = _normalise(FIELDS[name].kind, value)
        if occurrence < len(values) and values[occurrence] == shown:
            index = occurrence
        elif shown is not None and shown in values:
            index = values.index(shown)
        elif name in _OTHER_UNITS and occurrence < len(values):
            index = occurrence
        else:
            return None
        written = literal(FIELDS[name].kind, values[index])
        if written is None:
            return None
        spans = field_spans(self.view.packet, name)
        span = spans[index] if len(spans) == len(values) else None
        return FieldRef(name, written, span)


def _normalise(kind: str, value: Any) -> Any:
    """scapy's value as the display filter's getter gives it (an address as an integer)."""
    try:
        if kind == INT:
            return int(value)
        if kind == IPV4:
            return int(IPv4Address(str(value)))
        if kind == IPV6:
            return int(IPv6Address(str(value)))
        if kind == MAC:
            return bytes.fromhex(str(value).replace(":", ""))
        if kind == STR:
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            return text.removesuffix(".") if text != "." else text
    except (TypeError, ValueError):
        return None
    return None if kind != PROTOCOL else True
