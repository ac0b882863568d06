"""A conversation whose two ends are the same address (and port) counts as tshark counts it.

Loopback DNS, NTP, RADIUS or QUIC to itself: tshark counts every frame A to B. livetap
used to count the first A to B and the rest B to A (the reverse key overwrote the forward
one), in the IP and the UDP tables.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether

from engine.analysis import analyze_file
from engine.pcapio import PcapRecord, write_pcap_file
from tests.analysis_data import tshark_conversations

MAC_SRC, MAC_DST = "02:00:00:00:00:01", "02:00:00:00:00:02"


def _frames() -> list[bytes]:
    ends = [IP(src="127.0.0.1", dst="127.0.0.1"), IPv6(src="::1", dst="::1")]
    frames = []
    for network in ends:
        for ident in range(4):
            dns = DNS(id=ident, qd=DNSQR(qname="same.example"))
            frame = Ether(src=MAC_SRC, dst=MAC_DST) / network / UDP(sport=53, dport=53) / dns
            frames.append(bytes(frame))
    return frames


def test_both_ends_equal_count_every_frame_a_to_b(tmp_path: Path) -> None:
    path = tmp_path / "same.pcap"
    frames = _frames()
    write_pcap_file(path, [PcapRecord(1.0 + i / 10, len(f), 1, f) for i, f in enumerate(frames)])
    ours = analyze_file(path, ["conversations"]).reports["conversations"]
    for kind, key in (("ip", "ipv4"), ("ipv6", "ipv6"), ("udp", "udp")):
        theirs = tshark_conversations(path, kind)
        rows = ours[key]
        assert len(rows) == len(theirs), kind
        for row, mine in zip(theirs, rows, strict=True):
            assert int(row["tf"]) == mine["frames_a_to_b"], kind  # tshark's "->" is A to B
            assert int(row["rf"]) == mine["frames_b_to_a"], kind
        assert all(mine["frames_b_to_a"] == 0 for mine in rows), kind
