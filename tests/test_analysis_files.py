"""Broken, odd and interrupted files: partial reports, typed errors, never a traceback."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest

from engine.analysis import analyze_file, follow_stream
from engine.analysis import reader as reader_module
from engine.errors import BadInputError, ExitCode, NotFoundError
from engine.pcapio import PcapRecord, write_pcap_file
from tests.analysis_data import mixed_frames, write_frames, write_mixed


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mixed(tmp_path_factory.mktemp("files") / "mixed.pcap")


def _packets(path: Path) -> int:
    result = analyze_file(path, ["summary"])
    packets: int = result.reports["summary"]["packets"]
    return packets


def test_a_file_cut_mid_record_gives_the_report_so_far(mixed: Path, tmp_path: Path) -> None:
    data = mixed.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:-20])  # the last record loses its end
    result = analyze_file(cut)
    assert result.truncated and result.exit_code == ExitCode.PARTIAL
    assert any("ends in the middle of a record" in w for w in result.warnings)
    total = len(mixed_frames())
    assert result.reports["summary"]["packets"] == total - 1
    assert result.reports["conversations"]["ipv4"]  # every report is there
    document = result.document()
    assert document["complete"] is False and document["truncated"] is True
    # also when the cut falls inside a record header
    header_cut = tmp_path / "header.pcap"
    header_cut.write_bytes(data[: 24 + 16 + 42 + 8])
    assert analyze_file(header_cut).exit_code == ExitCode.PARTIAL


def test_a_truncated_pcapng(tmp_path: Path) -> None:
    frames = [bytes(f) for f in mixed_frames()[:10]]
    path = tmp_path / "ten.pcapng"
    write_pcap_file(path, [PcapRecord(1.0 + i, len(f), 1, f) for i, f in enumerate(frames)])
    cut = tmp_path / "cut.pcapng"
    cut.write_bytes(path.read_bytes()[:-30])
    result = analyze_file(cut, ["summary"])
    assert result.exit_code == ExitCode.PARTIAL and result.packets == 9


def test_corruption_stops_the_reading_with_a_partial_report(mixed: Path, tmp_path: Path) -> None:
    data = bytearray(mixed.read_bytes())
    # the third record claims four gigabytes
    position = 24
    for _ in range(2):
        (caplen,) = struct.unpack_from("<I", data, position + 8)
        position += 16 + caplen
    struct.pack_into("<I", data, position + 8, 0xFFFFFFF0)
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(bytes(data))
    result = analyze_file(broken, ["summary", "protocols"])
    assert result.exit_code == ExitCode.PARTIAL and not result.truncated
    assert result.reports["summary"]["packets"] == 2
    assert any("reading stopped" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x00\x01", "too short"),
        (b"GIF89a" + bytes(40), "not a pcap or pcapng file"),
        (gzip.compress(b"x" * 100), "gzip-compressed"),
    ],
)
def test_files_that_are_no_captures(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    with pytest.raises(BadInputError, match=message) as raised:
        analyze_file(path)
    assert raised.value.exit_code == ExitCode.BAD_INPUT
    with pytest.raises(BadInputError):
        follow_stream(path, stream=0)


def test_missing_files_and_directories(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        analyze_file(tmp_path / "nope.pcap")
    with pytest.raises(BadInputError, match="directory"):
        analyze_file(tmp_path)


def test_odd_frames_are_counted_not_fatal(tmp_path: Path) -> None:
    frames = [
        b"",  # nothing captured
        b"\x02\x00\x00\x00\x00\x02",  # half an Ethernet header
        bytes(14) + b"\x45",  # an IPv4 header of one byte
        b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + b"\x35" + bytes(70),
        b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x86\xdd" + b"\x60" + bytes(10),
    ]
    path = write_frames(tmp_path / "odd.pcap", frames)
    result = analyze_file(path)
    assert result.exit_code == ExitCode.SUCCESS
    assert result.reports["summary"]["packets"] == 5
    assert result.reports["conversations"]["ipv4"] == []
    unknown = tmp_path / "unknown.pcap"
    write_pcap_file(unknown, [PcapRecord(1.0, 3, 12345, b"abc")])
    summary = analyze_file(unknown, ["summary", "protocols"]).reports
    assert summary["summary"]["unknown_link_type_packets"] == 1
    assert summary["summary"]["link_types"] == {"linktype 12345": 1}
    assert summary["protocols"]["tree"][0]["protocol"] == "linktype-12345"


def test_ctrl_c_stops_with_the_partial_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = bytes(mixed_frames()[2])
    path = tmp_path / "many.pcap"
    write_pcap_file(path, [PcapRecord(1.0 + i, len(frame), 1, frame) for i in range(10_000)])
    monkeypatch.setattr(reader_module, "PROGRESS_INTERVAL", 0.0)
    seen: list[tuple[int, int]] = []

    def interrupt(done: int, total: int) -> None:
        seen.append((done, total))
        raise KeyboardInterrupt

    result = analyze_file(path, ["summary"], progress=interrupt)
    assert result.interrupted and result.exit_code == ExitCode.INTERRUPTED
    assert 0 < result.reports["summary"]["packets"] < 10_000
    assert seen and seen[0][1] == path.stat().st_size
    assert result.document()["interrupted"] is True


def test_progress_reaches_the_end(mixed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader_module, "PROGRESS_INTERVAL", 0.0)
    seen: list[tuple[int, int]] = []
    analyze_file(mixed, ["summary"], progress=lambda done, total: seen.append((done, total)))
    size = mixed.stat().st_size
    assert seen[-1] == (size, size)
