"""Correlation reads TCP through the packet model: every stack the walker knows."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from scapy.packet import Packet

from engine.correlate import find_connection, request_line, tcp_segment
from engine.decode import decode
from engine.events import PacketSummary

MAC_SRC, MAC_DST = "02:00:00:00:00:01", "02:00:00:00:00:02"
LINE = request_line("GET", "http://127.0.0.1:8080/page?x=1")


def _summary(index: int, frame: bytes, linktype: int = 1, time: float = 1.0) -> PacketSummary:
    header = decode(linktype, frame)
    return PacketSummary(index, time, len(frame), linktype, *header, frame)


def _request(network: Packet) -> Packet:
    return network / TCP(sport=41000, dport=8080, flags="PA", seq=7) / LINE


@pytest.mark.parametrize(
    "frame",
    [
        Ether(src=MAC_SRC, dst=MAC_DST) / _request(IP(src="127.0.0.1", dst="127.0.0.2")),
        Ether(src=MAC_SRC, dst=MAC_DST)
        / Dot1AD(vlan=1)
        / Dot1Q(vlan=2)
        / _request(IP(src="127.0.0.1", dst="127.0.0.2")),
        Ether(src=MAC_SRC, dst=MAC_DST)
        / _request(IPv6(src="::1", dst="::2") / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt()),
    ],
    ids=["ipv4", "qinq", "ipv6-extension-headers"],
)
def test_the_request_line_is_found_behind_any_header_stack(frame: Packet) -> None:
    segment = tcp_segment(_summary(1, bytes(frame)))
    assert segment is not None
    assert segment.payload == LINE
    assert segment.seq == 7


def test_a_request_over_ipv6_extension_headers_is_tied_to_its_connection() -> None:
    ipv6 = IPv6(src="::1", dst="::2") / IPv6ExtHdrHopByHop()
    other = IPv6(src="::1", dst="::2")
    packets = [
        _summary(
            1,
            bytes(
                Ether(src=MAC_SRC, dst=MAC_DST)
                / other
                / TCP(sport=41001, dport=8080, flags="PA")
                / b"x"
            ),
        ),
        _summary(2, bytes(Ether(src=MAC_SRC, dst=MAC_DST) / _request(ipv6))),
    ]
    found = find_connection(packets, "::2", 8080, 1.0, LINE)
    assert found is not None
    assert found.local_port == 41000
    assert found.carries_request


def test_a_frame_without_tcp_has_no_segment() -> None:
    frame = (
        Ether(src=MAC_SRC, dst=MAC_DST)
        / IP(src="127.0.0.1", dst="127.0.0.2", proto=17)
        / (b"\0" * 8)
    )
    assert tcp_segment(_summary(1, bytes(frame))) is None
