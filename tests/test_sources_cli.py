"""Several inputs from the command line: capture pcap (pcapng read back by tshark), NDJSON -Y."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import linktypes
from engine.errors import ExitCode
from engine.pcapio import PcapRecord, open_pcap, write_pcap_file
from tests.conftest import free_udp_port, send_udp
from tests.test_sources_merged import A_MAC, B_MAC, udp_frame, write_file

LIVETAP = str(Path(sys.executable).parent / "livetap")
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def livetap(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LIVETAP, *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
        env=env,
    )


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    a = write_file(tmp_path / "a.pcap", A_MAC, [100.0, 100.2, 100.4], 5001)
    b = write_file(tmp_path / "b.pcap", B_MAC, [100.1, 100.3], 5002)
    return a, b


def tshark_fields(path: Path, *fields: str) -> list[list[str]]:
    args = ["tshark", "-r", str(path), "-T", "fields"]
    for name in fields:
        args += ["-e", name]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    return [line.split("\t") for line in out.splitlines()]


@needs_tshark
def test_two_commands_into_pcapng_one_interface_each(
    two_files: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = two_files
    out = tmp_path / "both.pcapng"
    result = livetap(
        "capture", "pcap", "--source-cmd", f"cat {a}", "--source-cmd", f"cat {b}",
        "-w", str(out), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["data"]["packets"] == 5
    rows = tshark_fields(out, "frame.interface_id", "frame.interface_name", "eth.src")
    assert len(rows) == 5
    names = {row[2]: row[1] for row in rows}
    assert names == {A_MAC: f"cat {a}", B_MAC: f"cat {b}"}
    assert {row[0] for row in rows if row[2] == A_MAC} != {
        row[0] for row in rows if row[2] == B_MAC
    }


@needs_tshark
def test_merged_files_into_pcapng_in_time_order(
    two_files: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = two_files
    out = tmp_path / "merged.pcapng"
    result = livetap("capture", "pcap", "-r", str(a), "-r", str(b), "-w", str(out))
    assert result.returncode == 0, result.stderr
    rows = tshark_fields(out, "frame.time_epoch", "frame.interface_name")
    assert [row[1] for row in rows] == ["a.pcap", "b.pcap", "a.pcap", "b.pcap", "a.pcap"]
    times = [float(row[0]) for row in rows]
    assert times == sorted(times)


def test_a_display_filter_on_frame_source_in_capture_pcap(
    two_files: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = two_files
    out = tmp_path / "b-only.pcap"
    result = livetap(
        "capture", "pcap", "-r", str(a), "-r", str(b), "-Y", 'frame.source == "b.pcap"',
        "-w", str(out), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)["data"]
    assert (data["captured"], data["matched"]) == (5, 2)
    with open_pcap(out) as reader:
        assert [r.data[6:12] for r in reader] == [bytes.fromhex("020000000b01")] * 2


def test_plain_pcap_refuses_inputs_of_different_link_types(
    two_files: tuple[Path, Path], tmp_path: Path
) -> None:
    a, _b = two_files
    raw = tmp_path / "raw.pcap"
    frame = udp_frame(A_MAC, 5003, b"raw")[14:]  # the IP packet alone
    write_pcap_file(raw, [PcapRecord(100.05, len(frame), linktypes.RAW, frame)])
    result = livetap(
        "capture", "pcap", "-r", str(a), "-r", str(raw), "-w", str(tmp_path / "x.pcap")
    )
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert "write a .pcapng file instead" in result.stderr
    assert "a.pcap is ethernet, raw.pcap is raw IP" in result.stderr
    assert not (tmp_path / "x.pcap").exists()  # refused before any file was made
    good = livetap(
        "capture", "pcap", "-r", str(a), "-r", str(raw), "-w", str(tmp_path / "x.pcapng")
    )
    assert good.returncode == 0, good.stderr


def test_files_mixed_with_an_interface_is_a_usage_error(two_files: tuple[Path, Path]) -> None:
    a, _b = two_files
    result = livetap("capture", "pcap", "-i", "lo", "-r", str(a), "-w", "/tmp/never.pcap")
    assert result.returncode == ExitCode.USAGE_ERROR
    assert "-r cannot be mixed with -i" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.root
def test_ndjson_packets_from_lo_and_a_command_through_a_display_filter(
    two_files: tuple[Path, Path], tmp_path: Path
) -> None:
    a, _b = two_files
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    port = free_udp_port()
    out = tmp_path / "packets.ndjson"
    start = livetap(
        "capture", "ndjson", "start", "--file", str(out), "--no-browser", "--packets",
        "-i", "lo", "--source-cmd", f"sh -c 'head -c 24 {a}; sleep 2; tail -c +25 {a}; sleep 30'",
        "-f", f"udp port {port} or udp port 5001 or udp port 5002",
        "-Y", f'udp.dstport == {port} or frame.source contains "head -c"',
        env=env,
    )  # fmt: skip
    assert start.returncode == 0, start.stderr + start.stdout
    try:
        time.sleep(0.3)
        send_udp(port, [b"ndjson-merged"] * 4)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            text = out.read_text() if out.exists() else ""
            if text.count('"type": "packet"') + text.count('"type":"packet"') >= 7:
                break
            time.sleep(0.1)
    finally:
        stop = livetap("capture", "ndjson", "stop", env=env)
    assert stop.returncode == 0, stop.stderr
    report = json.loads(stop.stdout)["data"]
    assert report["displayFilter"].startswith("udp.dstport")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    packets = [line for line in lines if line["type"] == "packet"]
    assert len([p for p in packets if p.get("input") == "lo"]) == 4
    assert len([p for p in packets if str(p.get("input", "")).startswith("sh -c")]) == 3
    assert report["packetsMatched"] == 7


def test_ndjson_refuses_a_bad_display_filter(tmp_path: Path) -> None:
    result = livetap(
        "capture", "ndjson", "start", "--file", str(tmp_path / "x.ndjson"), "--no-browser",
        "--packets", "-i", "lo", "-Y", "tcp.port ==",
    )  # fmt: skip
    assert result.returncode == ExitCode.BAD_INPUT
    assert "invalid display filter" in result.stdout + result.stderr


def test_ndjson_packets_from_merged_files_all_written(
    two_files: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = two_files
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    out = tmp_path / "files.ndjson"
    start = livetap(
        "capture", "ndjson", "start", "--file", str(out), "--no-browser", "--packets",
        "-r", str(a), "-r", str(b), "-Y", "udp.dstport == 5002 or frame.number == 1",
        env=env,
    )  # fmt: skip
    assert start.returncode == 0, start.stderr + start.stdout
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 3):
            time.sleep(0.1)
    finally:
        stop = livetap("capture", "ndjson", "stop", env=env)
    assert stop.returncode == 0, stop.stderr
    packets = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(p["index"], p["input"]) for p in packets] == [
        (1, "a.pcap"),
        (2, "b.pcap"),
        (4, "b.pcap"),
    ]
