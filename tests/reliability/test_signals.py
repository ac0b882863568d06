"""SIGINT and SIGTERM at any moment: files flushed and valid, the browser stopped.

``livetap capture pcap`` is signalled while it starts, once it announces the
capture, and under traffic; the background process of ``livetap capture ndjson``
is signalled under traffic and with a launched Chromium. Whatever the moment, a
file that exists is a valid capture ending on a whole record, and once the
capture has started the exit code is 130 with the report.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from engine.errors import ExitCode
from engine.pcapio import open_pcap
from tests.conftest import free_udp_port, wait_for
from tests.reliability.support import (
    LIVETAP,
    STARTED,
    Sender,
    document,
    livetap,
    ndjson_lines,
    wait_for_line,
)

SIGNALS = [signal.SIGINT, signal.SIGTERM]


def pcap_packets(path: Path) -> int:
    with open_pcap(path) as reader:
        count = sum(1 for _ in reader)
        assert not reader.truncated and not reader.warnings, reader.warnings
    return count


@pytest.mark.root
@pytest.mark.parametrize("sig", SIGNALS, ids=lambda sig: sig.name)
@pytest.mark.parametrize("moment", ["starting", "started", "under-traffic"])
def test_capture_pcap_at_any_moment(sig: signal.Signals, moment: str, tmp_path: Path) -> None:
    port = free_udp_port()
    path = tmp_path / "sig.pcap"
    process = subprocess.Popen(
        [
            LIVETAP,
            "capture",
            "pcap",
            "-i",
            "lo",
            "-f",
            f"udp port {port}",
            "-w",
            str(path),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with Sender(port) as sender:
        if moment == "starting":
            time.sleep(0.1)
        else:
            wait_for_line(process.stderr, STARTED)
        if moment == "under-traffic":
            assert wait_for(lambda: path.stat().st_size > 50_000, timeout=10)
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=20)
    if moment == "starting":  # before livetap's handlers: Python's default (or 130)
        assert process.returncode in (ExitCode.INTERRUPTED, -sig)
    else:
        assert process.returncode == ExitCode.INTERRUPTED, stderr
        assert "Traceback" not in stderr
    if path.exists():
        written = pcap_packets(path)
        if stdout.strip():
            report = document(stdout)["data"]
            assert report["stop_reason"] == "stopped"
            assert report["packets"] == written <= sender.sent


@pytest.fixture
def runtime(tmp_path: Path) -> dict[str, str]:
    """An environment with a runtime directory of its own (where the capture's state lives)."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    return {**os.environ, "XDG_RUNTIME_DIR": str(folder)}


def daemon_pid(environment: dict[str, str]) -> int:
    state = Path(environment["XDG_RUNTIME_DIR"]) / "livetap" / "ndjson-capture.json"
    pid: int = json.loads(state.read_text())["pid"]
    return pid


def wait_gone(pid: int, timeout: float = 15) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(timeout)


@pytest.mark.root
def test_ndjson_capture_process_under_sigterm_leaves_whole_lines(
    runtime: dict[str, str], tmp_path: Path
) -> None:
    port = free_udp_port()
    out = tmp_path / "pk.ndjson"
    started = livetap(
        "capture", "ndjson", "start", "--file", str(out), "--no-browser", "--packets"
        , "-i", "lo", "-f", f"udp port {port}", env=runtime,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    pid = daemon_pid(runtime)
    with Sender(port):
        assert wait_for(lambda: out.stat().st_size > 20_000, timeout=10)
        os.kill(pid, signal.SIGTERM)
        wait_gone(pid)
    lines = ndjson_lines(out)
    assert len(lines) > 100 and {line["type"] for line in lines} == {"packet"}
    assert not (Path(runtime["XDG_RUNTIME_DIR"]) / "livetap" / "ndjson-capture.json").exists()
    assert livetap("capture", "ndjson", "stop", env=runtime).returncode == ExitCode.NOT_FOUND


def test_ndjson_capture_process_under_sigint_stops_its_browser(
    runtime: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "browser.ndjson"
    started = livetap(
        "capture", "ndjson", "start", "--file", str(out), "--open", "about:blank", env=runtime
    )
    assert started.returncode == 0, started.stderr
    pid = daemon_pid(runtime)
    browsers = [
        child
        for child in psutil.Process(pid).children(recursive=True)
        if "chrom" in child.name().lower()
    ]
    assert browsers, "the capture launched no browser"
    profiles = {
        arg.split("=", 1)[1]
        for child in browsers
        for arg in child.cmdline()
        if arg.startswith("--user-data-dir=")
    }
    os.kill(pid, signal.SIGINT)
    wait_gone(pid)
    _gone, alive = psutil.wait_procs(browsers, timeout=10)
    assert not alive, f"browser processes outlived the capture: {alive}"
    assert profiles and not any(Path(profile).exists() for profile in profiles)
    ndjson_lines(out)  # whatever it holds is whole lines
