"""The detail tree's display-filter fields: each node's filter matches its packet, and its
bytes are where the hex dump highlights them (engine/detail_fields.py, packet/spans.py)."""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet as ScapyPacket

from engine.detail_fields import LAYERS
from engine.display_filter import FIELDS, INT, IPV4, IPV6, MAC, compile_display_filter
from engine.display_filter.prepare import COMBINATIONS, combine, field_filter, quote
from engine.dissect import FieldNode, dissect
from engine.events import PacketSummary
from engine.filter_file import SequentialTimes, summarize
from engine.pcapio import open_pcap
from tests.tcp_scenarios import CLIENT_MAC, SERVER_MAC, analysis_frames, write_timed

PLAIN = frozenset({"eth", "vlan", "ip", "ipv6", "tcp", "udp", "arp"})
BIT_FIELDS = frozenset(
    {"ip.hdr_len", "ip.flags.df", "ip.flags.mf", "ip.frag_offset", "tcp.hdr_len"}
    | {"dns.flags.response", "dns.flags.rcode", "tcp.flags", "frame.number"}
)
"""Fields that are part of the bytes they highlight (a nibble, a bit, flags; the frame)."""


def more_frames() -> list[tuple[float, ScapyPacket]]:
    """DNS, ICMP (with an error quoting UDP), ARP, VLAN and ICMPv6 beside the TCP scenarios."""
    frames: list[ScapyPacket] = [
        Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / IP(src="10.0.0.1", dst="10.0.0.53")
        / UDP(sport=5353, dport=53)
        / DNS(id=7, rd=1, qd=DNSQR(qname="example.com", qtype="AAAA")),
        Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / IP(src="10.0.0.53", dst="10.0.0.1")
        / UDP(sport=53, dport=5353)
        / DNS(
            id=7,
            qr=1,
            qd=DNSQR(qname="example.com"),
            an=[
                DNSRR(rrname="example.com", type="A", rdata="93.184.216.34", ttl=300),
                DNSRR(rrname="example.com", type="AAAA", rdata="2606::1", ttl=60),
            ],
        ),
        Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / ICMP(type=8, id=3, seq=4)
        / b"ping",
        Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / IP(src="10.0.0.2", dst="10.0.0.1")
        / ICMP(type=3, code=3)
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / UDP(sport=1234, dport=999),
        Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / ARP(op=1, hwsrc=CLIENT_MAC, psrc="10.0.0.1", pdst="10.0.0.2"),
        Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / Dot1Q(vlan=42)
        / IP(src="10.0.0.1", dst="10.0.0.2", ttl=9, flags="DF")
        / TCP(sport=1, dport=2, flags="S"),
        Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / IPv6(src="fd00::1", dst="fd00::2")
        / ICMPv6EchoRequest(id=1, seq=2),
    ]
    return [(3.0 + n / 10, frame) for n, frame in enumerate(frames)]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pcap of every TCP analysis situation, tunnels, DNS, ICMP, ARP and VLAN frames."""
    path = tmp_path_factory.mktemp("detail") / "fields.pcap"
    return write_timed(path, analysis_frames() + more_frames())


def walk(nodes: tuple[FieldNode, ...]) -> Iterator[FieldNode]:
    """Every node of a tree, depth first."""
    for node in nodes:
        yield node
        yield from walk(node.children)


def trees(path: Path) -> Iterator[tuple[PacketSummary, SequentialTimes, tuple[FieldNode, ...]]]:
    """Each packet of the file with its tracked times and its detail tree, in order."""
    times = SequentialTimes(track=True)
    with open_pcap(path) as reader:
        for number, record in enumerate(reader, 1):
            analysis = times.advance(number, record)
            summary = summarize(number, record)
            yield summary, times, dissect(summary, analysis=analysis).layers


def test_every_field_filter_matches_its_packet(capture: Path) -> None:
    """Apply as Filter on any field of any packet shows that packet (stateful ones too)."""
    seen: set[str] = set()
    for summary, times, layers in trees(capture):
        filters = [node for node in walk(layers) if node.filter]
        assert len(filters) >= 5, (summary.index, [n.label for n in walk(layers)])
        for node in filters:
            compiled = compile_display_filter(node.filter)
            assert compiled.matches_packet(summary, times), (summary.index, node.label, node.filter)
            negated = compile_display_filter(combine("", node.filter, "not"))
            assert not negated.matches_packet(summary, times), (summary.index, node.filter)
            seen.add(node.field)
    wanted = {"eth.src", "ip.src", "ipv6.dst", "tcp.srcport", "udp.dstport", "tcp.stream"}
    wanted |= {"udp.stream", "tcp.analysis.retransmission", "tcp.analysis.duplicate_ack"}
    wanted |= {"dns.qry.name", "dns.a", "dns.aaaa", "icmp.type", "icmpv6.type", "arp.opcode"}
    wanted |= {"vlan.id", "frame.number", "tcp.seq_raw", "tcp", "dns", "vxlan"}
    assert wanted <= seen, wanted - seen


def test_every_known_scapy_field_gets_one(capture: Path) -> None:
    """In the headers every packet has (Ethernet, VLAN, IP, IPv6, TCP, UDP, ARP), a field the
    display filter knows is never shown without its filter (a quoted header's may be: the
    model reads only its addresses and ports, as Wireshark's taps; so may a tunnel's outer
    UDP header: the model reads its ports, and the length and checksum of the inner one)."""
    mapped = {protocol: fields for protocol, fields in LAYERS.values() if protocol}
    checked = 0
    for summary, _times, layers in trees(capture):
        last = {layer.field: layer for layer in layers}
        for layer in layers:
            fields = mapped.get(layer.field, {})
            if layer.field not in PLAIN or " in " in layer.label:
                continue
            for node in layer.children:
                name = node.label.split(":", 1)[0]
                outer = layer is not last[layer.field] and layer.field in ("tcp", "udp")
                if name in fields and not (outer and name not in ("sport", "dport")):
                    assert node.field == fields[name], (summary.index, layer.label, node.label)
                    checked += 1
    assert checked > 300


def test_spans_hold_the_value(capture: Path) -> None:
    """The highlighted bytes are the field's: read back, they give the filter's value."""
    checked = 0
    for summary, _times, layers in trees(capture):
        for node in walk(layers):
            if node.span is None or not node.value or node.field in BIT_FIELDS:
                continue
            start, length = node.span
            raw = summary.data[start : start + length]
            kind = FIELDS[node.field].kind
            if kind == INT:
                assert int.from_bytes(raw, "big") == int(node.value), (summary.index, node.label)
            elif kind == IPV4:
                assert raw == IPv4Address(node.value).packed, (summary.index, node.label)
            elif kind == IPV6:
                assert raw == IPv6Address(node.value).packed, (summary.index, node.label)
            elif kind == MAC:
                assert raw.hex(":") == node.value, (summary.index, node.label)
            else:
                continue
            checked += 1
    assert checked > 500


def test_a_tunnel_gives_the_inner_header_its_own_values(capture: Path) -> None:
    """The VXLAN frame's second IP layer filters on the inner address, and points at it."""
    for summary, _times, layers in trees(capture):
        ip_layers = [node for node in layers if node.field == "ip"]
        if len(ip_layers) != 2 or summary.data[-5:] != b"inner":
            continue
        outer, inner = ([n for n in layer.children if n.field == "ip.src"] for layer in ip_layers)
        assert outer[0].filter == "ip.src == 10.0.0.1"
        assert inner[0].filter == "ip.src == 10.9.0.1"
        assert outer[0].span is not None and inner[0].span is not None
        assert inner[0].span[0] > outer[0].span[0] + 20
        return
    pytest.fail("no VXLAN frame")


def test_combinations() -> None:
    """Wireshark's six ways of joining a field's filter to the one applied."""
    selected = "ip.src == 10.0.0.5"
    results = {how: combine("tcp", selected, how) for how in COMBINATIONS}
    assert results == {
        "": "ip.src == 10.0.0.5",
        "not": "!(ip.src == 10.0.0.5)",
        "and": "(tcp) && ip.src == 10.0.0.5",
        "or": "(tcp) || ip.src == 10.0.0.5",
        "and not": "(tcp) && !(ip.src == 10.0.0.5)",
        "or not": "(tcp) || !(ip.src == 10.0.0.5)",
    }
    assert combine("  ", selected, "and not") == "!(ip.src == 10.0.0.5)"
    for text in results.values():
        compile_display_filter(text)
    with pytest.raises(ValueError, match="unknown combination"):
        combine("tcp", selected, "xor")


def test_literals_read_back() -> None:
    """Strings with quotes, escapes and control characters survive the round trip."""
    odd = 'a"b\\c\x01\x7fé\u2028'
    text = field_filter("dns.qry.name", odd)
    assert text == f"dns.qry.name == {quote(odd)}"
    assert field_filter("tcp", None) == "tcp"
    assert field_filter("frame.time_epoch", 1.5) is None  # a float: no exact literal
    assert field_filter("no.such.field", 1) is None
    assert field_filter("url", "x") is None  # request-only
    compile_display_filter(text)
