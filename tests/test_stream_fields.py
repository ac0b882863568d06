"""Stateful display filter fields (tcp.stream, udp.stream, relative numbers, tcp.analysis.*)
against tshark 4.0 on a capture built for each situation Wireshark's TCP analysis names.

The capture (:mod:`tests.tcp_scenarios`) is written to a file only; nothing is sent.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.display_filter import compile_display_filter
from engine.display_filter.fields import FIELDS
from engine.display_filter.packet_fields import PacketView
from engine.file_ring import FileRing
from engine.filter_file import SequentialTimes, filter_file, record_predicate, summarize
from engine.packet.tcp_analysis import FLAG_FIELDS
from engine.pcapio import PcapRecord, open_pcap
from engine.ring import PacketRing
from engine.view import DisplayView
from tests.analysis_data import tshark
from tests.tcp_scenarios import analysis_frames, unseen_frames, write_timed

NOTES = re.compile(r"(\[TCP [^\]]*\] )+")
LIVETAP = str(Path(sys.executable).parent / "livetap")

ANALYSIS = [f"tcp.analysis.{name}" for name in FLAG_FIELDS] + ["tcp.analysis.flags"]
EXPRESSIONS = [
    *ANALYSIS,
    "tcp.analysis.duplicate_ack_num == 2",
    "tcp.analysis.duplicate_ack_frame == 10",
    "tcp.stream == 0",
    "tcp.stream == 1",
    "tcp.stream >= 2",
    "udp.stream == 0",
    "udp.stream == 3",
    "udp.stream in {1, 2}",
    "tcp.seq == 1",
    "tcp.seq > 4294960000",
    "tcp.ack == 401",
    "tcp.ack == 555",
    "tcp.nxtseq == 402",
    "tcp.window_size == 300",
    "tcp.len == 100 and tcp.analysis.retransmission",
    'frame.protocols == "eth:ethertype:ip:tcp"',
    'frame.protocols contains "vxlan"',
    'frame.protocols == "eth:ethertype:ipv6:tcp:data"',
    "frame.time_delta_displayed == 0 or tcp.stream == 1",
    "tcp.stream == 1 or frame.time_delta_displayed > 0.5",
    "udp.length == 28",
]
VALUES = [
    "tcp.stream",
    "udp.stream",
    "tcp.seq",
    "tcp.ack",
    "tcp.nxtseq",
    "tcp.window_size",
    "tcp.analysis.duplicate_ack_num",
    "tcp.analysis.duplicate_ack_frame",
    "frame.protocols",
]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_timed(tmp_path_factory.mktemp("streams") / "analysis.pcap", analysis_frames())


def tshark_numbers(path: Path, expression: str) -> list[int]:
    output = tshark(path, "-Y", expression, "-T", "fields", "-e", "frame.number")
    return [int(n) for n in output.split()]


def ours(path: Path, expression: str) -> list[int]:
    result = filter_file(path, compile_display_filter(expression))
    return [frame.number for frame in result.frames]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_each_field_matches_the_frames_tshark_matches(capture: Path, expression: str) -> None:
    assert ours(capture, expression) == tshark_numbers(capture, expression)


def test_every_analysis_note_occurs_in_the_capture(capture: Path) -> None:
    """The capture really holds each situation (else the agreement above proves little)."""
    for expression in ANALYSIS:
        assert tshark_numbers(capture, expression), expression


def test_values_are_tsharks(capture: Path) -> None:
    fields = [arg for name in VALUES for arg in ("-e", name)]
    rows = [
        line.split("\t")
        for line in tshark(capture, "-T", "fields", "-E", "aggregator=,", *fields).splitlines()
    ]
    getters = [FIELDS[name].getter for name in VALUES]
    times = SequentialTimes(track=True)
    mine = []
    with open_pcap(capture) as reader:
        for number, record in enumerate(reader, 1):
            times.advance(number, record)
            view = PacketView(summarize(number, record), times)
            mine.append([",".join(str(v) for v in get(view)) for get in getters if get])
    assert mine == rows


def _notes(info: str) -> str:
    """The bracketed TCP analysis notes at the front of an Info text."""
    found = NOTES.match(info)
    return found.group(0) if found else ""


def test_the_info_column_carries_the_notes(capture: Path) -> None:
    theirs = tshark(capture, "-T", "fields", "-e", "_ws.col.Info").splitlines()
    result = filter_file(capture, compile_display_filter(""))
    mine = [_notes(frame.info) for frame in result.frames]
    assert mine == [_notes(line) for line in theirs]
    assert "[TCP Dup ACK 10#3] " in mine


def test_the_command_line_gives_the_same_frames(capture: Path) -> None:
    for expression in ("tcp.analysis.retransmission", "udp.stream == 1"):
        result = subprocess.run(
            [LIVETAP, "filter", str(capture), "-Y", expression, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        data: dict[str, Any] = json.loads(result.stdout)["data"]
        assert [f["number"] for f in data["frames"]] == tshark_numbers(capture, expression)


def test_the_record_predicate_sees_every_packet_in_order(capture: Path) -> None:
    """``analyze -Y`` and ``capture pcap -Y``: the same answers as the file filter."""
    test = record_predicate(compile_display_filter("tcp.analysis.duplicate_ack"))
    with open_pcap(capture) as reader:
        found = [number for number, record in enumerate(reader, 1) if test(number, record)]
    assert found == tshark_numbers(capture, "tcp.analysis.duplicate_ack")


def _ring_of(capture: Path, capacity: int) -> PacketRing:
    ring = PacketRing(capacity)
    with open_pcap(capture) as reader:
        for record in reader:
            ring.add(*record)
    return ring


@pytest.mark.parametrize("expression", ["tcp.analysis.flags", "udp.stream == 1", "tcp.seq == 1"])
def test_the_display_view_over_the_ring_agrees(capture: Path, expression: str) -> None:
    """The TUI's view: a scan of what was buffered, then packets added one by one."""
    ring = _ring_of(capture, 1000)
    half = ring.last_index // 2
    late = PacketRing(1000)
    for index in range(1, half + 1):
        late.add(*ring.record(index))  # type: ignore[misc]
    view = DisplayView(late, compile_display_filter(expression))
    for index in range(half + 1, ring.last_index + 1):
        late.add(*ring.record(index))  # type: ignore[misc]
        summary = late.get(index)
        assert summary is not None
        view.add(summary)
    view.scan()
    rows = [view.index_at(row) for row in range(len(view))]
    assert rows == tshark_numbers(capture, expression)


def test_the_live_state_stays_bounded() -> None:
    """A ring that evicts: conversations that left it are forgotten, answers are bounded."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    from engine.ring_analysis import FORGET_EVERY, RingAnalysis

    ring = PacketRing(64)
    analysis = RingAnalysis(ring)
    for number in range(1, 3 * FORGET_EVERY):
        frame = bytes(
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="10.1.0.1", dst="10.1.0.2")
            / TCP(sport=1024 + number % 30000, dport=80, flags="S")
        )
        ring.add(float(number), len(frame), 1, frame)
        found = analysis.analysis_of(ring.last_index)
        assert found is not None and found.tcp is not None
    assert len(analysis._tracker) < FORGET_EVERY + 64
    assert analysis.analysis_of(1) is None  # evicted long ago


async def test_the_tui_shows_the_notes_the_stream_and_filters_by_them(
    capture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list's Info carries the notes (analysed in the background), the detail the
    stream and relative numbers, and a stateful display filter narrows the list."""
    from engine.replay import open_file_source
    from engine.session import CaptureSession
    from tests.test_filters_app import main_of, until
    from tui.app import LivetapApp

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    app = LivetapApp(CaptureSession(open_file_source(capture)))
    async with app.run_test(size=(160, 45)) as pilot:
        main = main_of(app)
        assert main.session is not None
        ring = main.session.ring
        await until(pilot, lambda: main.packet_list.row_count == ring.last_index > 30)
        pane = main.packets
        assert pane is not None
        await until(pilot, lambda: pane._notes(15) == "[TCP Fast Retransmission] ")
        line = main.packet_list._render_row(15, 160, False).text
        assert "[TCP Fast Retransmission] " in line
        main.apply_display_filter("tcp.analysis.duplicate_ack")
        await until(pilot, lambda: main.packet_list.row_count == 3)
        detail = dissect_of(ring, 13)
        assert "TCP stream index: 0" in detail
        assert "SEQ/ACK analysis: [TCP Dup ACK 10#2]" in detail


def dissect_of(ring: PacketRing | FileRing, index: int) -> str:
    """The detail tree's labels of one buffered packet, as one text."""
    from engine.dissect import FieldNode, dissect

    packet = ring.get(index)
    assert packet is not None
    detail = dissect(packet, analysis=ring.analysis.analysis_of(index))

    def labels(nodes: tuple[FieldNode, ...]) -> list[str]:
        return [text for node in nodes for text in (node.label, *labels(node.children))]

    return "\n".join(labels(detail.layers))


_TCP_HEADER = bytes.fromhex("02000000000202000000000108004500003c00010000400600000a0000010a000002")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), min_size=1, max_size=20))
def test_hostile_segments_never_break_the_tracker(tails: list[bytes]) -> None:
    """Random TCP headers and options (and cut frames) in one conversation: no exception."""
    times = SequentialTimes(track=True)
    getters = [spec.getter for spec in FIELDS.values() if spec.stateful and spec.getter]
    for number, tail in enumerate(tails, 1):
        frame = _TCP_HEADER + b"\x9c\x40\x00\x50" + tail
        record = PcapRecord(1.0 + number / 1000, len(frame), 1, frame)
        analysis = times.advance(number, record)
        view = PacketView(summarize(number, record), times)
        for get in getters:
            get(view)
        if analysis is not None and analysis.tcp is not None:
            analysis.tcp.info_prefix()


def test_frame_protocols_names_common_stacks_as_tshark_does(tmp_path: Path) -> None:
    """DNS, HTTP with bodies, TLS, ICMP, ARP, IPv6 and plain UDP data, frame by frame."""
    from tests.analysis_data import write_frames
    from tests.test_filter_cli import agreeing_frames

    path = write_frames(tmp_path / "stacks.pcap", agreeing_frames())
    theirs = tshark(path, "-T", "fields", "-e", "frame.protocols").splitlines()
    get = FIELDS["frame.protocols"].getter
    assert get is not None
    with open_pcap(path) as reader:
        mine = [
            get(PacketView(summarize(number, record)))[0] for number, record in enumerate(reader, 1)
        ]
    assert mine == theirs
    assert "eth:ethertype:ip:tcp:http:data-text-lines" in mine


def test_the_background_analysis_skips_ahead_when_far_behind(capture: Path) -> None:
    """Under load the list's notes jump to the newest packets; an older one asked about
    is computed again from the oldest buffered packet, so the answer stays right."""
    ring = _ring_of(capture, 1000)
    analysis = ring.analysis
    assert analysis.advance(5, behind=10) == 5
    assert analysis.observed == ring.last_index  # jumped to the newest five
    assert analysis.peek(15) is None
    found = analysis.analysis_of(15)  # the fast retransmission, computed again in order
    assert found is not None and found.tcp is not None
    assert found.tcp.info_prefix() == "[TCP Fast Retransmission] "


def test_acked_unseen_segments_are_reported_as_tshark_4_does(tmp_path: Path) -> None:
    path = write_timed(tmp_path / "unseen.pcap", unseen_frames())
    for expression in ("tcp.analysis.ack_lost_segment", "tcp.analysis.flags"):
        theirs = tshark_numbers(path, expression)
        assert ours(path, expression) == theirs
    assert tshark_numbers(path, "tcp.analysis.ack_lost_segment")
