"""Find, marks, ignores, ranges and "save which" in the engine (Wireshark's Ctrl+F/M/D)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from engine import linktypes
from engine.errors import UsageError
from engine.file_ring import FileRing
from engine.find import FindError, PacketFinder, parse_find
from engine.packet_marks import PacketMarks, UnignoredRows
from engine.packet_range import parse_range
from engine.pcapio import PcapRecord, open_pcap, write_pcap_file
from engine.replay import open_file_source
from engine.ring import PacketRing
from engine.session import CaptureSession
from engine.view import DisplayView
from tui.widgets.packet_rows import RingRows

MAC_SRC, MAC_DST = "02:00:00:00:00:01", "02:00:00:00:00:02"


def frame(number: int) -> bytes:
    """Packet ``number``: UDP to port 1000+n with a payload naming it; every 10th is TCP."""
    payload = f"packet {number} Hello".encode()
    if number % 10 == 0:
        layer: Packet = TCP(sport=40000, dport=80) / Raw(payload + b"\xde\xad\xbe\xef")
    else:
        layer = UDP(sport=5000, dport=1000 + number) / Raw(payload)
    return bytes(Ether(src=MAC_SRC, dst=MAC_DST) / IP(src="10.0.0.1", dst="10.0.0.2") / layer)


def filled(count: int, capacity: int | None = None) -> PacketRing:
    ring = PacketRing(capacity or count)
    for number in range(1, count + 1):
        ring.add(float(number), len(frame(number)), linktypes.ETHERNET, frame(number))
    return ring


def test_parse_find_reads_the_kind_from_the_text() -> None:
    assert parse_find("tcp.port == 80").kind == "filter"
    assert parse_find("de ad be ef").pattern == b"\xde\xad\xbe\xef"
    assert parse_find("deadbeef").pattern == b"\xde\xad\xbe\xef"
    assert parse_find("0xdeadbeef").kind == "hex"
    text = parse_find("HELLO world")
    assert (text.kind, text.pattern, text.case_sensitive) == ("text", b"hello world", False)
    assert parse_find("text:cafe").kind == "text"  # cafe alone would be hex bytes
    exact = parse_find("case:Hello")
    assert (exact.pattern, exact.case_sensitive) == (b"Hello", True)
    assert parse_find('"tcp"').kind == "text"
    with pytest.raises(FindError, match="not hex"):
        parse_find("hex:xyz")
    with pytest.raises(FindError, match="display filter"):
        parse_find("filter:tcp.port ==")
    with pytest.raises(FindError, match="type what"):
        parse_find("  ")


def test_find_goes_forward_and_back_and_wraps() -> None:
    ring = filled(50)
    rows = RingRows(ring)
    finder = PacketFinder(ring, parse_find("tcp"))
    assert finder.search(rows, None).index == 10
    assert finder.search(rows, 10).index == 20
    assert finder.search(rows, 45).index == 50
    found = finder.search(rows, 50)
    assert (found.index, found.wrapped) == (10, True)
    back = finder.search(rows, 25, forward=False)
    assert (back.index, back.wrapped) == (20, False)
    back = finder.search(rows, 5, forward=False)
    assert (back.index, back.wrapped) == (50, True)
    assert PacketFinder(ring, parse_find("tcp.port == 81")).search(rows, 5).index is None
    assert PacketFinder(ring, parse_find("de ad be ef")).search(rows, 30).index == 40
    assert PacketFinder(ring, parse_find("PACKET 7 hello")).search(rows, 1).index == 7
    assert PacketFinder(ring, parse_find("case:PACKET 7")).search(rows, 1).index is None
    alone = PacketFinder(ring, parse_find("udp.dstport == 1033")).search(rows, 33)
    assert (alone.index, alone.wrapped) == (33, True)  # the start itself, tested last


def test_find_walks_the_rows_shown_only() -> None:
    ring = filled(50)
    compiled = parse_find("udp").display_filter
    assert compiled is not None
    view = DisplayView(ring, compiled)
    view.scan()
    marks = PacketMarks()
    marks.toggle_ignore(3)
    rows = UnignoredRows(view, marks)
    finder = PacketFinder(ring, parse_find("udp.dstport in {1003 1004}"))
    assert finder.search(rows, 1).index == 4  # 3 is ignored
    assert PacketFinder(ring, parse_find("tcp")).search(rows, 1).index is None  # not shown


def test_ignored_rows_leave_the_list_and_come_back() -> None:
    ring = filled(10)
    marks = PacketMarks()
    rows = UnignoredRows(RingRows(ring), marks)
    for index in (1, 4, 5, 10):
        marks.toggle_ignore(index)
    shown = [rows.index_at(row) for row in range(len(rows))]
    assert shown == [2, 3, 6, 7, 8, 9]
    assert [rows.row_of(i) for i in (2, 4, 6, 9)] == [0, None, 2, 5]
    assert rows.index_at(len(rows)) is None
    assert rows.rows_up_to(7) == 4
    marks.clear_ignored()
    assert len(rows) == 10 and rows.index_at(0) == 1


def test_marks_go_round_and_are_forgotten_when_evicted() -> None:
    marks = PacketMarks()
    for index in (5, 9, 2):
        assert marks.toggle_mark(index)
    assert not marks.toggle_mark(9)
    assert marks.next_marked(None) == 2
    assert marks.next_marked(2) == 5
    assert marks.next_marked(5) == 2  # round the end
    assert marks.next_marked(2, forward=False) == 5
    marks.forget_before(3)
    assert marks.marked == frozenset({5})


def test_parse_range() -> None:
    packets = parse_range("250, 1-100,90-120,300-")
    assert packets.spans == ((1, 120), (250, 250), (300, None))
    assert 120 in packets and 121 not in packets and 10**6 in packets
    assert list(parse_range("3-5,8").indices(4, 100)) == [4, 5, 8]
    assert list(parse_range("-3").indices(1, 10)) == [1, 2, 3]
    for bad in ("", "a-b", "5-2", "0"):
        with pytest.raises(UsageError):
            parse_range(bad)


def read_back(path: Path) -> list[PcapRecord]:
    with open_pcap(path) as reader:
        return reader.read_batch(100_000)


def write_frames(path: Path, count: int) -> list[PcapRecord]:
    """Frames 1..count (see :func:`frame`), one a second, written to ``path``."""
    records = [
        PcapRecord(1_700_000_000 + n, len(frame(n)), linktypes.ETHERNET, frame(n))
        for n in range(1, count + 1)
    ]
    write_pcap_file(path, records)
    return records


def test_save_which_writes_exactly_those_packets(tmp_path: Path) -> None:
    source_path = tmp_path / "in.pcap"
    records = write_frames(source_path, 60)
    session = CaptureSession(open_file_source(source_path))
    with session:
        assert session.wait_finished(30)
        for index in (7, 3, 42, 60):
            session.marks.toggle_mark(index)
        session.marks.toggle_ignore(42)
        marked = session.save_packets(tmp_path / "marked.pcap", "marked")
        assert (marked.packets, marked.ignored) == (3, 1)
        assert [r.data for r in read_back(tmp_path / "marked.pcap")] == [
            records[i - 1].data for i in (3, 7, 60)
        ]
        ranged = session.save_packets(tmp_path / "r.pcapng", "range", parse_range("1-5,40-45"))
        assert (ranged.packets, ranged.ignored) == (10, 1)
        assert [r.data for r in read_back(tmp_path / "r.pcapng")] == [
            records[i - 1].data for i in (1, 2, 3, 4, 5, 40, 41, 43, 44, 45)
        ]
        session.set_display_filter("tcp").scan()  # type: ignore[union-attr]
        shown = session.save_packets(tmp_path / "shown.pcap", "displayed")
        assert (shown.packets, shown.ignored) == (6, 0)
        every = session.save_packets(tmp_path / "all.pcap", "all")
        assert (every.packets, every.ignored) == (59, 1)
    tshark = subprocess.run(
        ["tshark", "-r", str(tmp_path / "marked.pcap"), "-T", "fields", "-e", "udp.dstport"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert tshark.stdout.split() == ["1003", "1007"]  # 60 is TCP: no UDP port


def test_a_file_is_searched_in_blocks_read_at_once(tmp_path: Path) -> None:
    path = tmp_path / "blocks.pcap"
    records = write_frames(path, 1200)
    session = CaptureSession(open_file_source(path))
    with session:
        assert session.wait_finished(30)
        ring = session.ring
        assert isinstance(ring, FileRing)
        block = ring.record_block(500, 1300)
        assert [r.data if r else None for r in block] == [r.data for r in records[499:]]
        rows = RingRows(ring)
        finder = PacketFinder(ring, parse_find("udp.dstport == 2111"))  # packet 1111
        assert finder.search(rows, 1200, forward=False).index == 1111
        assert finder.search(rows, 1).index == 1111
        assert PacketFinder(ring, parse_find("packet 1199 hello")).search(rows, 1).index == 1199


def test_a_long_search_reports_progress_and_can_be_cancelled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import engine.find

    monkeypatch.setattr(engine.find, "PROGRESS_EVERY", 0.0)
    ring = filled(3000)
    rows = RingRows(ring)
    finder = PacketFinder(ring, parse_find("hex:ca fe ba be"))
    reports: list[tuple[int, int]] = []
    result = finder.search(rows, 1, progress=lambda done, total: reports.append((done, total)))
    assert result.index is None and result.searched == 3000
    assert reports[:2] == [(512, 3000), (1024, 3000)]
    stopped = finder.search(rows, 1, cancelled=lambda: True)
    assert stopped.cancelled and stopped.index is None and stopped.searched == 512
