"""The packet model's lazy fields, and the display filter that reads them, against tshark.

Each case is a frame this test builds; tshark's ``-Y`` on the same pcap is the answer.
"""

from __future__ import annotations

import ipaddress
import tempfile
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.layers.ntp import NTP
from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS

from engine.analysis import analyze_file
from engine.correlate import tcp_segment
from engine.decode import decode
from engine.display_filter import compile_display_filter
from engine.events import PacketSummary
from engine.packet.model import Packet
from engine.pcapio import PcapRecord, write_pcap_file
from tests.analysis_data import tshark
from tests.test_packet_walk import ETHERNET_FRAMES, OTHER_LINKS

MAC_SRC, MAC_DST = "02:00:00:00:00:01", "02:00:00:00:00:02"


def _eth() -> Ether:
    return Ether(src=MAC_SRC, dst=MAC_DST)


def _client_hello(server_name: bytes) -> Any:
    """A TLS record holding a ClientHello that names a server (scapy's TLS is untyped)."""
    extension: Any = TLS_Ext_ServerName
    hello: Any = TLSClientHello
    record: Any = TLS
    return record(msg=[hello(ext=[extension(servernames=[ServerName(servername=server_name)])])])


QUIC_REST = b"\x04abcd\x00\x44\xd0" + bytes(1232)
"""A QUIC Initial after its destination id: source id, no token, a length, the payload."""

FRAMES: list[tuple[int, bytes]] = [
    (1, bytes(_eth() / IP(src="10.1.0.1", dst="10.1.0.2", flags="MF") / TCP() / (b"x" * 40))),
    (1, bytes(_eth() / IP(src="10.1.0.1", dst="10.1.0.2", frag=3) / (b"y" * 40))),
    (1, bytes(_eth() / IP(src="10.1.0.1", dst="10.1.0.2") / UDP(sport=40000, dport=53))),
    (
        1,
        bytes(
            _eth()
            / IP(src="10.1.0.1", dst="10.1.0.2")
            / UDP(sport=40001, dport=53)
            / DNS(qd=DNSQR(qname="model.example"))
        ),
    ),
    (
        1,
        bytes(
            _eth()
            / IP(src="10.1.0.3", dst="10.1.0.4")
            / TCP(sport=40002, dport=8080, flags="PA")
            / b"GET /x HTTP/1.1\r\nHost: model.example\r\nUser-Agent: t\r\n\r\n"
        ),
    ),
    (
        1,
        bytes(
            _eth()
            / IP(src="10.1.0.3", dst="10.1.0.4")
            / TCP(sport=40003, dport=443, flags="PA")
            / _client_hello(b"sni.example")
        ),
    ),
    (
        1,
        bytes(
            _eth()
            / IP(src="10.1.0.2", dst="10.1.0.1")
            / UDP(sport=53, dport=40001)
            / DNS(
                qr=1,
                rcode=3,
                qd=DNSQR(qname="model.example"),
                an=DNSRR(rrname="model.example", type="A", rdata="10.7.7.7", ttl=300)
                / DNSRR(rrname="model.example", type="AAAA", rdata="fd00::7", ttl=60),
            )
        ),
    ),
    (1, bytes(_eth() / ARP(op=2, psrc="10.1.0.9", pdst="10.1.0.8", hwsrc=MAC_SRC, hwdst=MAC_DST))),
    (
        1,
        bytes(
            Ether(src=MAC_SRC, dst="ff:ff:ff:ff:ff:ff")
            / IP(src="0.0.0.0", dst="255.255.255.255")
            / UDP(sport=68, dport=67)
            / BOOTP(chaddr=bytes.fromhex("020000000001"))
            / DHCP(options=[("message-type", "discover"), "end"])
        ),
    ),
    (
        1,
        bytes(
            _eth()
            / IP(src="10.1.0.5", dst="10.1.0.6")
            / UDP(sport=123, dport=123)
            / NTP(version=4, mode=3, stratum=2)
        ),
    ),
    (
        1,
        bytes(
            _eth()
            / IP(src="10.1.0.5", dst="10.1.0.6")
            / UDP(sport=50000, dport=443)
            / (
                b"\xc3\x00\x00\x00\x01\x08"
                + bytes(range(8))
                + b"\x04abcd\x00\x44\xd0"
                + bytes(1232)
            )
        ),
    ),
    (1, ETHERNET_FRAMES["vxlan"]),
    (1, ETHERNET_FRAMES["qinq-9100"]),
    (1, ETHERNET_FRAMES["qinq-88a8"]),
    (1, ETHERNET_FRAMES["mpls-two-labels"]),
    (1, ETHERNET_FRAMES["gre-teb"]),
    (1, ETHERNET_FRAMES["vxlan-arp"]),
    (1, ETHERNET_FRAMES["pppoe"]),
]
FILTERS = [
    "tcp",
    "udp",
    "ip",
    "dns",
    "http",
    'http.request.method == "GET"',
    'http.host == "model.example"',
    'tls.handshake.extensions_server_name == "sni.example"',
    "ip.addr == 127.0.0.1",
    "ip.addr == 10.9.0.1",
    "ip.src == 10.9.0.1 and tcp",
    "tcp.port == 80",
    "udp.port == 4789",
    "vlan.id == 10",
    "vlan.id == 20",
    "arp",
    "ip.ttl == 64",
    "ip.proto == 17",
    'dns.qry.name == "model.example"',
    "not tcp",
    "frame.len > 100",
    "dns.flags.rcode == 3",
    "dns.count.answers == 2",
    "dns.a == 10.7.7.7",
    "dns.aaaa == fd00::7",
    "dns.resp.ttl == 60",
    "tls.handshake.type == 1",
    "tls.handshake.ciphersuite == 0x1301",
    "arp.src.proto_ipv4 == 10.1.0.9",
    "arp.dst.proto_ipv4 == 10.1.0.8",
    "arp.src.hw_mac == 02:00:00:00:00:01",
    "dhcp",
    "dhcp.option.dhcp == 1",
    "dhcp.hw.mac_addr == 02:00:00:00:00:01",
    "ntp",
    "ntp.flags.mode == 3",
    "ntp.stratum == 2",
    "quic",
    "quic.version == 1",
    'quic.dcid contains "\\x03\\x04"',
    'quic.scid contains "abcd"',
]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "model.pcap"
    write_pcap_file(path, [PcapRecord(1.0 + i, len(f), lt, f) for i, (lt, f) in enumerate(FRAMES)])
    return path


def _summaries() -> list[PacketSummary]:
    return [
        PacketSummary(i + 1, 1.0 + i, len(frame), lt, *decode(lt, frame), frame)
        for i, (lt, frame) in enumerate(FRAMES)
    ]


@pytest.mark.parametrize("expression", FILTERS)
def test_the_display_filter_matches_the_frames_tshark_matches(
    capture: Path, expression: str
) -> None:
    theirs = [
        int(n)
        for n in tshark(capture, "-Y", expression, "-T", "fields", "-e", "frame.number").split()
    ]
    check = compile_display_filter(expression)
    ours = [s.index for s in _summaries() if check.matches_packet(s)]
    assert ours == theirs


def test_fields_are_read_only_when_asked() -> None:
    packet = Packet(1, ETHERNET_FRAMES["vxlan"])
    assert packet._layers is None
    assert packet.vlan_ids() == ()
    assert packet.addresses(4, "src") == (0x7F000001, 0x0A090001)  # outer, then inner
    assert packet.ports() == (1234, 80)


@pytest.mark.parametrize(
    ("linktype", "frame"),
    [(1, f) for f in ETHERNET_FRAMES.values()] + list(OTHER_LINKS.values()),
)
def test_every_layer_stack_reads_the_same_everywhere(linktype: int, frame: bytes) -> None:
    """The list row, the filter's fields, the analysis flow key and correlation agree."""
    packet = Packet(linktype, frame)
    layers = packet.layers
    summary = PacketSummary(1, 1.0, len(frame), linktype, *decode(linktype, frame), frame)
    ports = packet.ports()
    if ports is not None:
        assert (summary.sport, summary.dport) == ports  # the list row shows the inner packet
        check = compile_display_filter(
            f"{'tcp' if packet.transport() == 6 else 'udp'}.port == {ports[1]}"
        )
        assert check.matches_packet(summary)
        segment = tcp_segment(summary)
        assert (segment is not None) == (packet.transport() == 6)
        if segment is not None:
            assert segment.payload == packet.payload()
    if layers.family and layers.proto != -2:
        half = len(layers.pair) // 2
        assert summary.src == str(ipaddress.ip_address(layers.pair[:half]))
        assert summary.dst == str(ipaddress.ip_address(layers.pair[half:]))
        size = 4 if layers.family == 4 else 16
        assert int.from_bytes(layers.pair[:size], "big") in packet.addresses(layers.family, "src")
        flows = analyze_file_records([(linktype, frame)])
        key = "ipv4" if layers.family == 4 else "ipv6"
        rows = {(row["a"], row["b"]) for row in flows[key]}
        assert (summary.src, summary.dst) in rows or (summary.dst, summary.src) in rows


def analyze_file_records(frames: list[tuple[int, bytes]]) -> dict[str, Any]:
    """The conversations report of a capture holding these frames."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "one.pcap"
        write_pcap_file(path, [PcapRecord(1.0, len(f), lt, f) for lt, f in frames])
        report: dict[str, Any] = analyze_file(path, ["conversations"]).reports["conversations"]
        return report
