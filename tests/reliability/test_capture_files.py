"""Broken and hostile pcap/pcapng files: a clear error, or the partial result and exit 7.

Files are built byte by byte; ``livetap analyze`` runs as a user runs it, and the
reader is also driven directly under tracemalloc to show that no allocation
follows a length read from the file.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
from pathlib import Path

import pytest

from engine.errors import BadInputError, ExitCode, NotFoundError
from engine.pcapio import PcapReader, open_pcap
from engine.replay import open_file_source
from tests.reliability.support import (
    document,
    livetap,
    pcap_bytes,
    pcapng_block,
    pcapng_bytes,
    udp_frame,
)

FRAMES = [udp_frame(bytes([n]) * (20 + n)) for n in range(5)]
WHOLE = 24 + 16 + len(FRAMES[0])
"""Where the second record of ``pcap_bytes(FRAMES)`` starts."""


def analyze(path: Path) -> tuple[int, dict[str, object]]:
    result = livetap("analyze", str(path), "--report", "summary", "--json")
    return result.returncode, document(result.stdout)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "is empty"),
        (b"\xd4\xc3", "too short"),
        (b"GIF89a" + bytes(40), "not a pcap or pcapng file"),
        (b"\x1f\x8b\x08\x00" + bytes(40), "gzip-compressed"),
        (pcap_bytes([])[:20], "ends inside the 24-byte pcap file header"),
        (b"\x0a\x0d\x0d\x0a" + bytes(4), "section header"),
        (b"\x0a\x0d\x0d\x0a" + struct.pack("<I", 0xFFFFFFF0) + b"\x4d\x3c\x2b\x1a", "impossible"),
    ],
    ids=[
        "zero-length",
        "4-bytes-short",
        "wrong-magic",
        "gzip",
        "cut-header",
        "cut-shb",
        "huge-shb",
    ],
)
def test_a_file_that_is_no_capture_is_bad_input_with_a_sentence(
    tmp_path: Path, content: bytes, says: str
) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    code, report = analyze(path)
    assert code == ExitCode.BAD_INPUT
    error = report["error"]
    assert isinstance(error, dict)
    assert error["code"] == "BAD_INPUT" and says in error["message"]
    with pytest.raises(BadInputError, match=says):
        open_file_source(path)


def test_a_missing_file_and_a_directory(tmp_path: Path) -> None:
    assert livetap("analyze", str(tmp_path / "none.pcap")).returncode == ExitCode.NOT_FOUND
    with pytest.raises(NotFoundError):
        open_pcap(tmp_path / "none.pcap")
    with pytest.raises(BadInputError, match="directory"):
        open_pcap(tmp_path)


@pytest.mark.parametrize(
    ("cut", "why"),
    [
        (lambda data: data[:-7], "ends in the middle of a record"),
        (
            lambda data: data[:WHOLE] + struct.pack("<IIII", 1, 0, 0xFFFFFFF0, 60) + data[WHOLE:],
            "declares",
        ),
    ],
    ids=["cut-mid-record", "huge-record-length"],
)
def test_a_file_cut_or_corrupt_mid_way_gives_the_partial_report_and_exit_7(
    tmp_path: Path, cut: object, why: str
) -> None:
    path = tmp_path / "partial.pcap"
    path.write_bytes(cut(pcap_bytes(FRAMES)))  # type: ignore[operator]
    code, report = analyze(path)
    assert code == ExitCode.PARTIAL
    data = report["data"]
    assert isinstance(data, dict)
    assert data["complete"] is False
    assert any(why in warning for warning in data["warnings"])
    packets = data["reports"]["summary"]["packets"]
    assert 0 < packets < len(FRAMES)


def test_snaplen_zero_is_read_as_no_limit(tmp_path: Path) -> None:
    path = tmp_path / "snap0.pcap"
    path.write_bytes(pcap_bytes(FRAMES, snaplen=0))
    code, report = analyze(path)
    assert code == ExitCode.SUCCESS
    data = report["data"]
    assert isinstance(data, dict)
    assert data["reports"]["summary"]["packets"] == len(FRAMES)


def test_pcapng_with_unknown_blocks_and_several_interfaces(tmp_path: Path) -> None:
    raw_ip = [frame[14:] for frame in FRAMES]
    packets = [(n % 2, FRAMES[n] if n % 2 == 0 else raw_ip[n]) for n in range(len(FRAMES))]
    packets.append((7, FRAMES[0]))  # an interface that was never described
    path = tmp_path / "multi.pcapng"
    path.write_bytes(pcapng_bytes(packets, [1, 101]))
    with open_pcap(path) as reader:
        records = list(reader)
        warnings = list(reader.warnings)
    assert [r.linktype for r in records] == [1, 101, 1, 101, 1]
    assert [r.data for r in records] == [data for _, data in packets[:-1]]
    assert any("undefined interface 7" in warning for warning in warnings)
    code, report = analyze(path)
    assert code in (ExitCode.SUCCESS, ExitCode.PARTIAL)
    data = report["data"]
    assert isinstance(data, dict)
    assert data["reports"]["summary"]["link_types"] == {"ethernet": 3, "raw IP": 2}


def test_truncation_at_every_offset_is_an_error_or_a_prefix(tmp_path: Path) -> None:
    data = pcapng_bytes([(0, frame) for frame in FRAMES], [1])
    expected = list(FRAMES)
    for offset in range(len(data)):
        try:
            reader = PcapReader(io.BytesIO(data[:offset]), name="cut")
        except BadInputError:
            assert offset < 64  # only a cut inside the headers is refused outright
            continue
        got = [record.data for record in reader]
        assert got == expected[: len(got)]
        assert reader.truncated or reader.warnings or offset in _block_ends(data)


def _block_ends(data: bytes) -> set[int]:
    ends, position = set(), 0
    while position + 8 <= len(data):
        position += struct.unpack_from("<I", data, position + 4)[0]
        ends.add(position)
    return ends


@pytest.mark.parametrize(
    "content",
    [
        pcap_bytes([])[:24] + struct.pack("<IIII", 1, 0, 200_000, 200_000) + bytes(100),
        pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
        + pcapng_block(1, struct.pack("<HHI", 1, 0, 0))
        + struct.pack("<II", 6, 16 * 1024 * 1024 - 4)
        + bytes(100),
    ],
    ids=["pcap-record-claims-200k", "pcapng-block-claims-16M"],
)
def test_memory_follows_the_file_not_a_declared_length(content: bytes) -> None:
    tracemalloc.start()
    try:
        reader = PcapReader(io.BytesIO(content), name="liar")
        records = list(reader)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert records == []
    assert reader.truncated or reader.warnings
    assert peak < 1 << 20  # the reader asks for CHUNK at most: never the 16 MiB it was told
