"""A disk that fills up, and one that turns read-only under open files, in the middle of a capture.

Real file systems: a tmpfs that runs out of space (ENOSPC) and an ext4 image that
the kernel makes read-only after a file-system error (EROFS on the descriptors
already open, as with a failing disk). For pcap (``livetap capture pcap``) and
NDJSON (the engine's capture, with the packet session it reads from): the files
hold only whole records, the error has its exit code, and the packet capture
that feeds the NDJSON file keeps running.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import ExitCode, PermissionDeniedError, ResourceError
from engine.live import LiveSource
from engine.ndjson.capture import NdjsonCapture, NdjsonOptions
from engine.pcapio import open_pcap
from engine.session import CaptureSession
from tests.conftest import free_udp_port, wait_for
from tests.reliability.support import (
    LIVETAP,
    STARTED,
    Ext4,
    Sender,
    document,
    ndjson_lines,
    tmpfs,
    wait_for_line,
)

pytestmark = pytest.mark.root("mounts a file system")


@pytest.fixture
def ext4(tmp_path: Path) -> Iterator[Ext4]:
    disk = Ext4(tmp_path)
    try:
        yield disk
    finally:
        disk.close()


def whole_pcap(path: Path) -> int:
    """Packets in a capture file that must end on a whole record (ours and tcpdump agree)."""
    with open_pcap(path) as reader:
        count = sum(1 for _ in reader)
        assert not reader.truncated and not reader.warnings, reader.warnings
    tcpdump = subprocess.run(
        ["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, check=False
    )
    assert tcpdump.returncode == 0 and "truncated" not in tcpdump.stderr, tcpdump.stderr
    assert len(tcpdump.stdout.splitlines()) == count
    return count


def test_pcap_capture_on_a_disk_that_turns_read_only_mid_way(ext4: Ext4) -> None:
    port = free_udp_port()
    path = ext4.mount / "ro.pcap"
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
    with Sender(port):
        wait_for_line(process.stderr, STARTED)
        assert wait_for(lambda: path.stat().st_size > 10_000, timeout=10)
        ext4.fail()
        stdout, _ = process.communicate(timeout=20)
    assert process.returncode == ExitCode.PERMISSION_DENIED
    report = document(stdout)
    assert report["error"]["code"] == "PERMISSION_DENIED"
    assert "Read-only file system" in report["error"]["message"]
    assert report["data"]["stop_reason"] == "error"
    assert whole_pcap(path) == report["data"]["packets"] > 0


@pytest.fixture
def packets() -> Iterator[tuple[CaptureSession, int]]:
    port = free_udp_port()
    session = CaptureSession(LiveSource("lo", expression=f"udp port {port}"))
    session.start()
    try:
        yield session, port
    finally:
        session.stop()


def run_ndjson_until_it_fails(
    session: CaptureSession, port: int, path: Path, fail: object = None
) -> NdjsonCapture:
    """Stream packet lines to ``path`` under traffic until the capture stops on its own."""
    capture = NdjsonCapture(NdjsonOptions(path, browser=False, packets=True), packets=session)
    capture.start()
    with Sender(port):
        if callable(fail):
            assert wait_for(lambda: capture.stats().events > 200, timeout=10)
            fail()
        assert wait_for(lambda: not capture.running, timeout=20)
    return capture


def test_ndjson_on_a_full_disk(packets: tuple[CaptureSession, int], tmp_path: Path) -> None:
    session, port = packets
    with tmpfs(tmp_path / "small", "64k") as disk:
        capture = run_ndjson_until_it_fails(session, port, disk / "full.ndjson")
        error = capture.error
        assert isinstance(error, ResourceError) and error.exit_code == ExitCode.RESOURCE_ERROR
        assert "No space left on device" in error.message
        lines = ndjson_lines(disk / "full.ndjson")  # whole lines only, each real JSON
        report = capture.stop()
        assert report["eventsWritten"] == len(lines) > 100
        assert capture.stats().error == error.message
        before = session.stats().packets
        with Sender(port, limit=100):
            assert wait_for(lambda: session.stats().packets >= before + 100)
        assert session.running and session.stats().error is None  # the pane keeps capturing


def test_ndjson_on_a_disk_that_turns_read_only_mid_way(
    packets: tuple[CaptureSession, int], ext4: Ext4
) -> None:
    session, port = packets
    path = ext4.mount / "ro.ndjson"
    capture = run_ndjson_until_it_fails(session, port, path, ext4.fail)
    error = capture.error
    assert isinstance(error, PermissionDeniedError)
    assert error.exit_code == ExitCode.PERMISSION_DENIED
    lines = ndjson_lines(path)
    assert capture.stop()["eventsWritten"] == len(lines) > 200
    assert all(line["type"] == "packet" for line in lines)
    time.sleep(0.2)
    assert session.running


def test_ndjson_rotating_onto_a_disk_that_turned_read_only(
    packets: tuple[CaptureSession, int], ext4: Ext4
) -> None:
    """Every line starts a new file here, so the failure meets the rotation (rename, reopen)."""
    session, port = packets
    path = ext4.mount / "rot.ndjson"
    options = NdjsonOptions(path, max_size_mb=0.0001, browser=False, packets=True)
    capture = NdjsonCapture(options, packets=session)
    capture.start()
    with Sender(port):
        assert wait_for(lambda: capture.stats().files > 20, timeout=10)
        ext4.fail()
        assert wait_for(lambda: not capture.running, timeout=10)
    error = capture.error
    assert isinstance(error, PermissionDeniedError), error
    assert "Read-only file system" in error.message
    report = capture.stop()
    files = sorted(ext4.mount.glob("rot*.ndjson"))
    assert report["eventsWritten"] == sum(len(ndjson_lines(file)) for file in files)
    assert session.running
