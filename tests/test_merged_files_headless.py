"""``livetap analyze A B`` and ``livetap filter A B``: files merged by time, as mergecap.

tshark reads one file, so each answer is compared with tshark's on ``mergecap -w M A B``
(the same merge: oldest packet first). The two files are built here and interleaved in
time (B's packets fall between A's); one is pcap, the other pcapng. Nothing is sent
anywhere: the frames only go into files.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine import linktypes
from engine.analysis import analyze_file
from engine.analysis.hierarchy import flatten
from engine.errors import ExitCode
from engine.pcapio import PcapRecord, open_pcap, write_pcap_file
from tests.analysis_data import (
    START,
    STEP,
    follow_frames,
    mixed_frames,
    tshark,
    tshark_conversations,
    tshark_phs,
    tshark_size,
)

LIVETAP = str(Path(sys.executable).parent / "livetap")
B_OFFSET = STEP / 2
"""B's packets are half a step after A's: the merge interleaves them."""

pytestmark = pytest.mark.skipif(
    shutil.which("tshark") is None or shutil.which("mergecap") is None,
    reason="tshark and mergecap are needed",
)


def _write(path: Path, frames: list[Any], start: float) -> Path:
    return _write_timed(path, frames, start, STEP)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A (pcap), B (pcapng) and M, mergecap's merge of the two."""
    folder = tmp_path_factory.mktemp("merged")
    a = _write(folder / "a.pcap", mixed_frames(), START)
    b = _write(folder / "b.pcapng", follow_frames(), START + B_OFFSET)
    merged = folder / "m.pcapng"
    subprocess.run(["mergecap", "-w", str(merged), str(a), str(b)], check=True, timeout=60)
    return a, b, merged


def _livetap(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LIVETAP, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _json(*args: str) -> dict[str, Any]:
    result = _livetap(*args, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)["data"]
    return data


def _side(address: str, port: int | None) -> str:
    return address if port is None else f"{address}:{port}"


def _conversation_rows(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [
        (
            _side(row["a"], row.get("a_port")),
            _side(row["b"], row.get("b_port")),
            str(row["frames_a_to_b"]),
            tshark_size(row["bytes_a_to_b"]),
            str(row["frames_b_to_a"]),
            tshark_size(row["bytes_b_to_a"]),
            f"{row['relative_start']:.6f}",
        )
        for row in rows
    ]


def _theirs(path: Path, kind: str) -> list[tuple[str, ...]]:
    return [
        (r["a"], r["b"], r["tf"], r["tb"], r["rf"], r["rb"], f"{float(r['start']):.6f}")
        for r in tshark_conversations(path, kind)
    ]


def _tshark_numbers(path: Path, expression: str) -> list[int]:
    out = tshark(path, "-Y", expression, "-T", "fields", "-e", "frame.number")
    return [int(line) for line in out.split()]


def test_analyze_of_two_files_is_tsharks_on_their_merge(files: tuple[Path, Path, Path]) -> None:
    a, b, merged = files
    data = _json("analyze", str(a), str(b), "--report", "conversations,protocols")
    assert data["files"] == [str(a), str(b)] and data["complete"] is True
    conversations = data["reports"]["conversations"]
    for kind, key in (("ip", "ipv4"), ("ipv6", "ipv6"), ("tcp", "tcp"), ("udp", "udp")):
        theirs = _theirs(merged, kind)
        assert theirs, f"the files should have {kind} conversations"
        assert _conversation_rows(conversations[key]) == theirs, kind
    ours = [
        (depth, row["protocol"], row["frames"], row["bytes"])
        for depth, row in flatten(data["reports"]["protocols"]["tree"])
    ]
    assert ours == tshark_phs(merged)
    # both files are in it: the merged frame count is the sum, and B's streams are there
    count = len(tshark(merged, "-T", "fields", "-e", "frame.number").split())
    assert data["reports"]["protocols"]["frames"] == count
    assert any(row["a"] == "10.1.0.1" for row in conversations["tcp"])  # from B
    assert any(row["b"] == "10.0.0.80" for row in conversations["tcp"])  # from A


def test_analyze_in_python_takes_several_paths(files: tuple[Path, Path, Path]) -> None:
    a, b, merged = files
    both = analyze_file([a, b], ["conversations"])
    alone = analyze_file(merged, ["conversations"])
    assert both.exit_code == ExitCode.SUCCESS and both.files == (str(a), str(b))
    assert both.packets == alone.packets
    assert both.reports == alone.reports


def test_filter_of_two_files_is_tsharks_on_their_merge(files: tuple[Path, Path, Path]) -> None:
    a, b, merged = files
    for expression in ("tcp", "udp", "dns", "http", "ipv6", "tcp.port == 80", "not tcp"):
        data = _json("filter", str(a), str(b), "-Y", expression)
        numbers = [frame["number"] for frame in data["frames"]]
        assert numbers == _tshark_numbers(merged, expression), expression
        assert data["packets"] == len(tshark(merged, "-T", "fields", "-e", "frame.number").split())


def _numbers_from_b(merged: Path) -> list[int]:
    """The merged file's frames that came from B: those half a step off A's times."""
    out = tshark(merged, "-T", "fields", "-e", "frame.number", "-e", "frame.time_epoch")
    numbers = []
    for line in out.splitlines():
        number, epoch = line.split()
        steps = (float(epoch) - START) / STEP
        if abs(steps - round(steps)) > 0.25:
            numbers.append(int(number))
    return numbers


def test_each_match_names_its_file_and_frame_source_filters_by_it(
    files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    a, b, merged = files
    from_b = _numbers_from_b(merged)
    assert from_b and len(from_b) == sum(1 for _ in open_pcap(b))
    for field in ("frame.source", "frame.interface_name"):
        data = _json("filter", str(a), str(b), "-Y", f'{field} == "b.pcapng"')
        assert [frame["number"] for frame in data["frames"]] == from_b, field
        assert {frame["source"] for frame in data["frames"]} == {"b.pcapng"}
    lines = _livetap("filter", str(a), str(b), "-Y", "tcp.port == 80").stdout.splitlines()
    assert lines and all(" a.pcap " in line or " b.pcapng " in line for line in lines)
    assert any(" b.pcapng " in line for line in lines) and any(" a.pcap " in line for line in lines)
    # -w: one pcapng interface per input file, named after it (tshark's frame.interface_name)
    out = tmp_path / "web.pcapng"
    written = _livetap("filter", str(a), str(b), "-Y", "tcp.port == 80", "-w", str(out))
    assert written.returncode == 0, written.stderr
    names = tshark(out, "-T", "fields", "-e", "frame.interface_name").split()
    assert set(names) == {"a.pcap", "b.pcapng"} and len(names) == len(lines)


def test_analyze_display_filter_on_frame_source(files: tuple[Path, Path, Path]) -> None:
    a, b, _merged = files
    data = _json("analyze", str(a), str(b), "-Y", 'frame.source == "a.pcap"', "--report", "talkers")
    alone = _json("analyze", str(a), "--report", "talkers")
    assert data["matched"] == sum(1 for _ in open_pcap(a))
    assert data["reports"]["talkers"] == alone["reports"]["talkers"]


def test_deep_refuses_several_files(files: tuple[Path, Path, Path]) -> None:
    a, b, _merged = files
    result = _livetap("analyze", str(a), str(b), "--deep")
    assert result.returncode == ExitCode.USAGE_ERROR
    assert "--deep decodes one file" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_second_file_is_named(files: tuple[Path, Path, Path], tmp_path: Path) -> None:
    a, _b, _merged = files
    missing = tmp_path / "nope.pcap"
    for command in ("analyze", "filter"):
        extra = ["-Y", "tcp"] if command == "filter" else []
        result = _livetap(command, str(a), str(missing), *extra)
        assert result.returncode == ExitCode.NOT_FOUND, (command, result.stderr)
        assert "nope.pcap" in result.stderr and "Traceback" not in result.stderr


def test_a_truncated_file_among_several_gives_the_rest_and_exit_7(
    files: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    a, b, _merged = files
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(a.read_bytes()[:-10])  # the last record of A ends too soon
    whole_b = sum(1 for _ in open_pcap(b))
    for command in ("analyze", "filter"):
        extra = ["-Y", 'frame.source == "b.pcapng"', "--count-only"] if command == "filter" else []
        result = _livetap(command, str(cut), str(b), *extra, "--json")
        assert result.returncode == ExitCode.PARTIAL, (command, result.stderr)
        assert "cut.pcap ends in the middle of a record" in result.stderr
        data = json.loads(result.stdout)["data"]
        assert data["complete"] is False and data["truncated"] is True
        if command == "filter":
            assert data["matched"] == whole_b  # every packet of the other file was read
        else:
            assert (
                data["reports"]["summary"]["packets"] == sum(1 for _ in open_pcap(a)) - 1 + whole_b
            )


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The follow streams dealt alternately into A (pcap) and B (pcapng), and their merge.

    Every stream has packets in both files, interleaved in time: no file alone holds a
    whole stream, so following either one alone gives something else.
    """
    folder = tmp_path_factory.mktemp("split")
    frames = follow_frames()
    a = _write_timed(folder / "a.pcap", frames[0::2], START, 2 * STEP)
    b = _write_timed(folder / "b.pcapng", frames[1::2], START + STEP, 2 * STEP)
    merged = folder / "m.pcapng"
    subprocess.run(["mergecap", "-w", str(merged), str(a), str(b)], check=True, timeout=60)
    return a, b, merged


def _write_timed(path: Path, frames: list[Any], start: float, step: float) -> Path:
    records = []
    for i, frame in enumerate(frames):
        raw = bytes(frame)
        records.append(PcapRecord(start + i * step, len(raw), linktypes.ETHERNET, raw))
    write_pcap_file(path, records)
    return path


def _follow_bytes(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([LIVETAP, "follow", *args], capture_output=True, timeout=120, check=False)


def _tshark_follow(path: Path, mode: str, which: str) -> bytes:
    return tshark(path, "-q", "-z", f"follow,tcp,{mode},{which}").encode()


@pytest.mark.parametrize("mode", ["ascii", "hex", "raw"])
def test_follow_of_a_stream_split_over_two_files_is_tsharks_on_their_merge(
    split: tuple[Path, Path, Path], mode: str
) -> None:
    a, b, merged = split
    for stream in range(5):
        ours = _follow_bytes(str(a), str(b), "--stream", str(stream), "--format", mode)
        assert ours.returncode == 0, ours.stderr
        theirs = _tshark_follow(merged, mode, str(stream))
        assert ours.stdout == theirs, (stream, mode)
        alone = _follow_bytes(str(a), "--stream", str(stream), "--format", mode)
        assert alone.stdout != theirs  # the test needs both files: each holds half
    conv = "10.1.0.1:33000,10.1.0.2:80"
    by_ends = _follow_bytes(str(b), str(a), "--conv", conv, "--format", mode)
    assert by_ends.returncode == 0, by_ends.stderr
    assert by_ends.stdout == _tshark_follow(merged, mode, conv)  # the order of FILEs is free


def test_follow_numbers_streams_over_the_merge(files: tuple[Path, Path, Path]) -> None:
    """A's and B's streams interleave in time: tshark's numbers count over both."""
    a, b, merged = files
    total = len(set(tshark(merged, "-T", "fields", "-e", "tcp.stream").split()))
    assert total > 5  # A's web streams and B's follow streams
    for stream in range(total):
        ours = _follow_bytes(str(a), str(b), "--stream", str(stream))
        assert ours.stdout == _tshark_follow(merged, "ascii", str(stream)), stream
    data = json.loads(_follow_bytes(str(a), str(b), "--stream", "0", "--json").stdout)["data"]
    assert data["complete"] is True and data["stream"] == 0
    assert data["files"] == [str(a), str(b)]
    beyond = _follow_bytes(str(a), str(b), "--stream", str(total))
    assert beyond.returncode == ExitCode.NOT_FOUND
    assert f"the files have {total} streams (0-{total - 1})".encode() in beyond.stderr


def test_follow_names_a_missing_or_broken_file(
    split: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    a, b, _merged = split
    missing = tmp_path / "nope.pcap"
    result = _follow_bytes(str(a), str(missing), "--stream", "0")
    assert result.returncode == ExitCode.NOT_FOUND
    assert b"nope.pcap" in result.stderr and b"Traceback" not in result.stderr
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture file at all\n" * 4)
    result = _follow_bytes(str(junk), str(b), "--stream", "0")
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert b"junk.pcap" in result.stderr and b"Traceback" not in result.stderr
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(a.read_bytes()[:-10])  # A's last record ends too soon
    result = _follow_bytes(str(cut), str(b), "--stream", "4", "--json")
    assert result.returncode == ExitCode.PARTIAL, result.stderr
    assert b"cut.pcap ends in the middle of a record" in result.stderr
    data = json.loads(result.stdout)["data"]
    assert data["complete"] is False and data["packets"] > 0
