"""``livetap analyze`` and ``livetap follow`` as a user runs them: output, JSON, exit codes."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from engine.analysis import REPORTS
from engine.errors import ExitCode
from tests.analysis_data import (
    Tcp,
    credentials_frames,
    http_request,
    http_response,
    tshark,
    tshark_conversations,
    tshark_phs,
    tshark_size,
    write_follow,
    write_frames,
    write_mixed,
)
from tui.commands.analyze import ProgressBar

LIVETAP = str(Path(sys.executable).parent / "livetap")


def livetap(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed console script, without a terminal."""
    return subprocess.run(
        [LIVETAP, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mixed(tmp_path_factory.mktemp("cli") / "mixed.pcap")


def test_analyze_prints_every_report_as_tables(mixed: Path) -> None:
    result = livetap("analyze", str(mixed))
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    assert result.stderr == ""  # no progress bar without a terminal, no warnings
    for title in (
        "Summary",
        "Protocol hierarchy",
        "Conversations",
        "Top talkers",
        "HTTP",
        "DNS",
        "Patterns",
        "Threats",
        "Credentials",
    ):
        assert f"\n{title}" in result.stdout
    assert "93.184.216.34 (example.com)" in result.stdout  # passive names in the tables


def test_analyze_json_document(mixed: Path) -> None:
    result = livetap("analyze", str(mixed), "--json", "--top-n", "3")
    assert result.returncode == ExitCode.SUCCESS
    document = json.loads(result.stdout)
    assert document["success"] is True
    data = document["data"]
    assert data["file"] == str(mixed) and data["format"] == "pcap"
    assert data["complete"] is True and data["warnings"] == []
    assert list(data["reports"]) == list(REPORTS)
    assert len(data["reports"]["talkers"]["by_bytes"]) == 3
    assert data["reports"]["summary"]["packets"] == 75
    only = json.loads(livetap("analyze", str(mixed), "--json", "--report", "http,dns").stdout)
    assert list(only["data"]["reports"]) == ["http", "dns"]
    repeated = livetap("analyze", str(mixed), "--report", "summary", "--report", "talkers")
    assert "Summary" in repeated.stdout and "Top talkers" in repeated.stdout
    assert "Conversations" not in repeated.stdout


def test_analyze_credentials_masked_unless_asked(tmp_path: Path) -> None:
    path = write_frames(tmp_path / "logins.pcap", credentials_frames())
    masked = livetap("analyze", str(path), "--report", "credentials")
    assert "hunter2" not in masked.stdout and "h***" in masked.stdout
    shown = livetap("analyze", str(path), "--report", "credentials", "--show-secrets")
    assert "hunter2" in shown.stdout and "letmein" in shown.stdout


def test_text_from_the_wire_cannot_drive_the_terminal(tmp_path: Path) -> None:
    """Escape sequences in a Host, path or user agent are printed as \\xNN, not obeyed."""
    web = Tcp("10.2.0.1", 45000, "10.2.0.80", 80).open()
    web.exchange(
        http_request("GET", "evil\x1b]0;pwned\x07.example", "/\x1b[2J", agent="agent\x9b31m\x07"),
        http_response("text/html", b"ok"),
    )
    web.close()
    path = write_frames(tmp_path / "escapes.pcap", web.frames)
    result = livetap("analyze", str(path), "--report", "http")
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    assert "evil\\x1b]0;pwned\\x07.example" in result.stdout
    assert not any((ord(c) < 0x20 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in result.stdout)


def test_a_password_in_a_url_is_masked_unless_asked(tmp_path: Path) -> None:
    web = Tcp("10.2.0.1", 45000, "10.2.0.80", 80).open()
    web.exchange(
        http_request("GET", "intranet.example", "/login?user=bob&password=hunter2&next=%2F"),
        http_response("text/html", b"ok"),
    )
    web.close()
    path = write_frames(tmp_path / "get-login.pcap", web.frames)
    for report in ("http", "credentials"):
        masked = livetap("analyze", str(path), "--report", report, "--json")
        assert "hunter2" not in masked.stdout, report
        assert "password=h***&next=%2F" in masked.stdout, report
        shown = livetap("analyze", str(path), "--report", report, "--json", "--show-secrets")
        assert "password=hunter2&next=%2F" in shown.stdout, report


def test_analyze_threats_with_a_blocklist(mixed: Path, tmp_path: Path) -> None:
    blocklist = tmp_path / "block.txt"
    blocklist.write_text("cdn.example.net\n8.8.8.8\n")
    result = livetap(
        "analyze", str(mixed), "--report", "threats", "--blocklist", str(blocklist), "--json"
    )
    matches = json.loads(result.stdout)["data"]["reports"]["threats"]["matches"]
    assert {(m["kind"], m["indicator"]) for m in matches} >= {
        ("host", "cdn.example.net"),
        ("address", "8.8.8.8"),
    }


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("analyze",), ExitCode.USAGE_ERROR, "needs a FILE"),
        (("analyze", "{mixed}", "--report", "bogus"), ExitCode.USAGE_ERROR, "no report 'bogus'"),
        (("analyze", "{mixed}", "--top-n", "0"), ExitCode.USAGE_ERROR, "--top-n"),
        (("analyze", "/nonexistent/x.pcap"), ExitCode.NOT_FOUND, "does not exist"),
        (
            ("analyze", "{mixed}", "--blocklist", "/nonexistent/b.txt"),
            ExitCode.NOT_FOUND,
            "blocklist",
        ),
        (("analyze", "{notpcap}"), ExitCode.BAD_INPUT, "not a pcap or pcapng file"),
        (("follow", "{mixed}", "--stream", "99"), ExitCode.NOT_FOUND, "no TCP stream 99"),
        (("follow", "{mixed}", "--conv", "1.2.3.4"), ExitCode.USAGE_ERROR, "two endpoints"),
        (("follow", "{mixed}"), ExitCode.USAGE_ERROR, "--stream"),
    ],
)
def test_errors_are_one_sentence_and_a_documented_code(
    mixed: Path, tmp_path: Path, args: tuple[str, ...], code: ExitCode, message: str
) -> None:
    notpcap = tmp_path / "notes.txt"
    notpcap.write_text("not a capture\n")
    argv = [a.format(mixed=mixed, notpcap=notpcap) for a in args]
    result = livetap(*argv)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    if code != ExitCode.USAGE_ERROR or "--report" in argv:
        document = json.loads(livetap(*argv, "--json").stdout)
        assert document["success"] is False and document["error"]["code"] == code.name


def test_a_truncated_file_gives_a_partial_report_and_code_7(mixed: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(mixed.read_bytes()[:-25])
    result = livetap("analyze", str(cut), "--json")
    assert result.returncode == ExitCode.PARTIAL
    assert "ends in the middle of a record" in result.stderr
    data = json.loads(result.stdout)["data"]
    assert data["complete"] is False and data["truncated"] is True
    assert data["reports"]["summary"]["packets"] == 74
    text = livetap("analyze", str(cut), "--report", "summary")
    assert text.returncode == ExitCode.PARTIAL and "partial" in text.stdout


@pytest.mark.parametrize("mode", ["ascii", "hex", "raw"])
def test_follow_prints_what_tshark_prints(tmp_path: Path, mode: str) -> None:
    path = write_follow(tmp_path / "streams.pcap")
    for stream in ("0", "1"):
        result = subprocess.run(
            [LIVETAP, "follow", str(path), "--stream", stream, "--format", mode],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == ExitCode.SUCCESS
        expected = tshark(path, "-q", "-z", f"follow,tcp,{mode},{stream}")
        assert result.stdout.decode() == expected  # bytes: a text pipe would eat the \r


def test_follow_json_and_conv(tmp_path: Path) -> None:
    path = write_follow(tmp_path / "streams.pcap")
    result = livetap("follow", str(path), "--conv", "[2001:db8::1]:5555 [2001:db8::2]:80", "--json")
    assert result.returncode == ExitCode.SUCCESS
    data = json.loads(result.stdout)["data"]
    assert data["node0"] == "[2001:db8::1]:5555" and data["complete"] is True
    assert [(c["node"], c["text"]) for c in data["chunks"]] == [
        (0, "hello over six\n"),
        (1, "and back\n"),
    ]
    assert bytes.fromhex(data["chunks"][0]["hex"]) == b"hello over six\n"


def test_list_protocols_of_both_modes() -> None:
    result = livetap("analyze", "--list-protocols", "--json")
    assert result.returncode == ExitCode.SUCCESS
    data = json.loads(result.stdout)["data"]
    assert {"eth", "ip", "tcp", "http", "tls", "dns", "wlan", "tcp.segments"} <= set(
        data["fast"]["protocols"]
    )
    assert len(data["deep"]["protocols"]) > 1000 and "tcp" in data["deep"]["protocols"]
    text = livetap("analyze", "--list-protocols")
    assert "fast path" in text.stdout and "deep mode" in text.stdout


def test_deep_mode_uses_wiresharks_dissectors(mixed: Path) -> None:
    result = livetap("analyze", str(mixed), "--deep", "--report", "protocols", "--json")
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    reports = json.loads(result.stdout)["data"]["reports"]
    assert reports["protocols"]["source"] == "tshark"
    deep = reports["deep"]
    assert deep["tool"].startswith("TShark") and deep["packets"] == 75
    assert deep["protocols"]["HTTP"] >= 6 and "TLSv1.2" in deep["protocols"]

    def rows(nodes: list[dict[str, object]], depth: int = 0) -> list[tuple[int, str, int, int]]:
        out = []
        for node in nodes:
            out.append((depth, str(node["protocol"]), int(node["frames"]), int(node["bytes"])))  # type: ignore[call-overload]
            out += rows(node["children"], depth + 1)  # type: ignore[arg-type]
        return out

    assert rows(reports["protocols"]["tree"]) == tshark_phs(mixed)


def _interrupt(mixed: Path, tmp_path: Path, signum: int) -> subprocess.CompletedProcess[str]:
    """Analyze a pipe that stops mid-file, then send the signal: the report so far comes out."""
    fifo = tmp_path / "capture.pcap"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [LIVETAP, "analyze", str(fifo), "--json", "--report", "summary"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    data = mixed.read_bytes()
    writer_done = threading.Event()

    def write() -> None:
        with fifo.open("wb") as pipe:  # blocks until livetap opens the pipe
            pipe.write(data[: len(data) // 2])
            pipe.flush()
            writer_done.set()
            time.sleep(30)  # hold the pipe open: livetap waits for more

    threading.Thread(target=write, daemon=True).start()
    assert writer_done.wait(30)
    time.sleep(1.0)  # let livetap read what is there
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_print_the_partial_report(
    mixed: Path, tmp_path: Path, signum: int
) -> None:
    result = _interrupt(mixed, tmp_path, signum)
    assert result.returncode == ExitCode.INTERRUPTED, result.stderr
    assert "interrupted" in result.stderr and "Traceback" not in result.stderr
    data = json.loads(result.stdout)["data"]
    assert data["interrupted"] is True and data["complete"] is False
    assert 0 < data["reports"]["summary"]["packets"] < 75


def test_progress_bar_draws_and_clears() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, delay=0.0)
    bar(50, 100)
    assert "50%" in stream.getvalue() and "[###############" in stream.getvalue()
    bar.clear()
    assert stream.getvalue().endswith("\r")
    quiet = io.StringIO()
    slow = ProgressBar(quiet, delay=60.0)
    slow(50, 100)  # a file read in under the delay shows no bar
    slow.clear()
    assert quiet.getvalue() == ""


# -- analyze -Y -----------------------------------------------------------------------------

TAP_FILTERS = [
    "tcp.port == 80",
    "ip.addr == 10.0.0.5 and tcp",
    "ipv6",
    "not tcp",
    "tcp.flags.syn == 1",
    "ip.dst == 10.0.0.9",
]
"""Filters whose conversations tshark and livetap count alike (see the README for the rest)."""


def _filtered(path: Path, expression: str, *extra: str) -> dict[str, Any]:
    result = livetap("analyze", str(path), "-Y", expression, "--json", *extra)
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)["data"]
    return data


def _side(address: str, port: int | None) -> str:
    return address if port is None else f"{address}:{port}"


@pytest.mark.parametrize("expression", TAP_FILTERS)
def test_analyze_y_conversations_are_tsharks_tap_filter(mixed: Path, expression: str) -> None:
    """tshark 4.0 applies -Y to what it prints, not to -z statistics: the reference for
    "conversations of the matching packets" is the tap's own filter, -z conv,KIND,FILTER."""
    data = _filtered(mixed, expression, "--report", "conversations,summary")
    matched = len(tshark(mixed, "-Y", expression, "-T", "fields", "-e", "frame.number").split())
    assert data["filter"] == expression and data["packets"] == 75
    assert data["matched"] == matched == data["reports"]["summary"]["packets"]
    conversations = data["reports"]["conversations"]
    compared = 0
    for kind, key in (("tcp", "tcp"), ("udp", "udp"), ("ip", "ipv4"), ("ipv6", "ipv6")):
        theirs = tshark_conversations(mixed, f"{kind},{expression}")
        ours = conversations[key]
        assert len(theirs) == len(ours), f"{kind}: tshark {len(theirs)}, livetap {len(ours)}"
        for row, mine in zip(theirs, ours, strict=True):
            assert row["a"] == _side(mine["a"], mine.get("a_port"))
            assert row["b"] == _side(mine["b"], mine.get("b_port"))
            assert int(row["f"]) == mine["frames"]
            assert int(row["tf"]) == mine["frames_a_to_b"]
            assert row["by"] == tshark_size(mine["bytes"])
            # relative times still count from the file's first packet, matching or not
            assert float(row["start"]) == pytest.approx(mine["relative_start"], abs=1e-6)
            assert float(row["duration"]) == pytest.approx(mine["duration"], abs=1e-4)
            compared += 1
    assert compared, "the filter should leave some conversations"


def test_analyze_y_tracks_tcp_over_the_matching_packets_only(mixed: Path) -> None:
    """A filter that drops the SYNs: a reused 4-tuple is one conversation (README)."""
    expression = "frame.len > 100"
    ours = _filtered(mixed, expression, "--report", "conversations")["reports"]["conversations"]
    theirs = tshark_conversations(mixed, f"tcp,{expression}")
    reused = [row for row in theirs if row["a"] == "10.0.0.5:42000"]
    assert len(reused) == 2  # tshark numbers streams over every packet, SYNs included
    assert [row["a_port"] for row in ours["tcp"]].count(42000) == 1


def test_analyze_y_text_and_errors(mixed: Path) -> None:
    text = livetap("analyze", str(mixed), "-Y", "dns", "--report", "dns")
    assert text.returncode == ExitCode.SUCCESS, text.stderr
    assert "75 packets, 4 matching 'dns'" in text.stdout.splitlines()[0]
    bad = livetap("analyze", str(mixed), "-Y", "dns.qry.nam contains x")
    assert bad.returncode == ExitCode.BAD_INPUT and "column 1" in bad.stderr
    assert "Traceback" not in bad.stderr
    document = json.loads(livetap("analyze", str(mixed), "-Y", "tcp.port ==", "--json").stdout)
    assert document["success"] is False and document["error"]["code"] == "BAD_INPUT"
    deep = livetap("analyze", str(mixed), "-Y", "tcp", "--deep")
    assert deep.returncode == ExitCode.USAGE_ERROR and "-Y" in deep.stderr
    unfiltered = json.loads(livetap("analyze", str(mixed), "--json", "--report", "summary").stdout)
    assert "matched" not in unfiltered["data"] and "filter" not in unfiltered["data"]
