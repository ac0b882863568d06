"""Expert info (engine/expert.py) against ``tshark -q -z expert`` for the items both know."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet as ScapyPacket
from scapy.packet import Raw

from engine.expert import CHAT, ERROR, NOTE, WARNING, ExpertInfo, expert_info
from engine.pcapio import PcapRecord, open_pcap
from engine.ring_analysis import RingAnalysis
from tests.analysis_data import tshark
from tests.tcp_scenarios import (
    CLIENT_MAC,
    SERVER_MAC,
    Conversation,
    analysis_frames,
    unseen_frames,
    write_timed,
)

SECTIONS = {"Errors": ERROR, "Warns": WARNING, "Notes": NOTE, "Chats": CHAT}
_LINE = re.compile(r"^\s+(\d+)\s+(\S+)\s+(\S+)\s+(.+?)\s*$")
KNOWN = (
    "This frame is a (suspected)",
    "A new tcp session",
    "Previous segment(s) not captured",
    "ACKed segment that wasn't captured",
    "TCP window",
    "TCP keep-alive",
    "ACK to a TCP",
    "TCP Zero Window",
    "Duplicate ACK",
    "Connection establish",
    "Connection finish (FIN)",
    "Connection reset (RST)",
)
"""The TCP summaries livetap makes (it does not know which side closes a connection)."""


class Frames:
    """A list of records as the buffer expert_info reads (numbered from 1)."""

    def __init__(self, records: list[PcapRecord]) -> None:
        self.records = records
        self.first_index = 1
        self.last_index = len(records)

    def record(self, index: int) -> PcapRecord | None:
        return self.records[index - 1] if 1 <= index <= len(self.records) else None


def more_frames() -> list[tuple[float, ScapyPacket]]:
    """A reset connection, good and malformed DNS over UDP."""
    a = Conversation("10.0.1.1", "10.0.1.2", 41000, 443)
    eth = Ether(src=CLIENT_MAC, dst=SERVER_MAC)
    back = Ether(src=SERVER_MAC, dst=CLIENT_MAC)
    query = DNS(id=9, rd=1, qd=DNSQR(qname="example.com"))
    answer = DNS(
        id=9,
        qr=1,
        qd=DNSQR(qname="example.com"),
        an=DNSRR(rrname="example.com", type="A", rdata="10.1.2.3"),
    )
    frames = [
        a.frame(True, "S", 100, 0),
        a.frame(False, "SA", 900, 101),
        a.frame(True, "A", 101, 901),
        a.frame(False, "RA", 901, 101),
        eth / IP(src="10.0.1.1", dst="10.0.1.53") / UDP(sport=5555, dport=53) / query,
        back / IP(src="10.0.1.53", dst="10.0.1.1") / UDP(sport=53, dport=5555) / answer,
        back
        / IP(src="10.0.1.53", dst="10.0.1.1")
        / UDP(sport=53, dport=5555)
        / Raw(bytes(answer)[:-3]),  # the answer's address cut short
        eth / IP(src="10.0.1.1", dst="10.0.1.53") / UDP(sport=5556, dport=53) / Raw(b"\x00" * 5),
    ]
    return [(5.0 + n / 100, frame) for n, frame in enumerate(frames)]


def tshark_expert(path: Path) -> dict[tuple[str, str, str], int]:
    """``tshark -q -z expert``: (severity, protocol, summary) → frequency."""
    found: dict[tuple[str, str, str], int] = {}
    severity = ""
    for line in tshark(path, "-q", "-z", "expert").splitlines():
        heading = line.split(" (")[0].strip()
        if heading in SECTIONS:
            severity = SECTIONS[heading]
            continue
        match = _LINE.match(line)
        if match and severity:
            count, _group, protocol, summary = match.groups()
            found[(severity, protocol, summary)] = int(count)
    return found


def ours(path: Path) -> ExpertInfo:
    with open_pcap(path) as reader:
        frames = Frames(list(reader))
    return expert_info(frames, RingAnalysis(frames))


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frames = analysis_frames() + [(3.0 + t, f) for t, f in unseen_frames()] + more_frames()
    return write_timed(tmp_path_factory.mktemp("expert") / "expert.pcap", frames)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
def test_counts_agree_with_tshark(capture: Path) -> None:
    """Every item livetap knows has tshark's count, and tshark has no other of them."""
    theirs = {
        key: count
        for key, count in tshark_expert(capture).items()
        if (key[1] == "TCP" and key[2].startswith(KNOWN)) or key[1:] == ("DNS", MALFORMED)
    }
    mine = ours(capture).counts()
    assert mine == theirs
    severities = {key[0] for key in mine}
    assert severities == {ERROR, WARNING, NOTE, CHAT}
    assert mine[(WARNING, "TCP", "Connection reset (RST)")] == 1
    assert mine[(ERROR, "DNS", MALFORMED)] >= 2 + 5  # ours here and the scenarios' fake DNS


MALFORMED = "Malformed Packet (Exception occurred)"


def test_groups_hold_their_frames(capture: Path) -> None:
    """Grouped by severity (most severe first), then by summary, each with its frames."""
    info = ours(capture)
    grouped = info.by_severity()
    assert [severity for severity, _groups in grouped] == [ERROR, WARNING, NOTE, CHAT]
    for _severity, groups in grouped:
        sizes = [len(group.frames) for group in groups]
        assert sizes == sorted(sizes, reverse=True)
        for group in groups:
            assert group.frames == sorted(set(group.frames))
    retransmitted = info.groups[
        next(k for k in info.groups if k.summary.endswith(") retransmission"))
    ]
    assert 15 in retransmitted.frames  # the fast retransmission is one too, as in Wireshark
    assert info.packets == len(analysis_frames()) + len(unseen_frames()) + len(more_frames())
