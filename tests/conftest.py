"""Shared fixtures: real loopback traffic, real capture sessions, real pcap files.

Traffic goes to 127.0.0.1 only. Every packet is built with explicit Ethernet
addresses (a bare scapy ``Ether()`` would send ARP on the real network).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine import native
from engine.live import LiveSource
from engine.session import CaptureSession
from tests.own_processes import own_processes, remove_own_temp, use_own_temp

use_own_temp()  # before any test makes a temporary file or starts livetap

LOOPBACK = "127.0.0.1"


def wait_for(condition: Callable[[], bool], timeout: float = 5.0, step: float = 0.01) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes; return whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def free_udp_port() -> int:
    """A UDP port nothing on 127.0.0.1 listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def free_tcp_port() -> int:
    """A TCP port nothing on 127.0.0.1 listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def send_udp(port: int, payloads: list[bytes], source_port: int | None = None) -> int:
    """Send datagrams to 127.0.0.1:port; returns the source port used."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.bind((LOOPBACK, source_port or 0))
        for payload in payloads:
            sender.sendto(payload, (LOOPBACK, port))
        used: int = sender.getsockname()[1]
        return used


PURE_SKIP = "replaces a function of a compiled module: runs in the LIVETAP_PURE=1 pass"
ROOT_SKIP = "needs root: "
"""How the reason of every test skipped for want of root begins."""

_root_skips: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without root, skip the tests marked ``root`` and say why; run everything else.

    ``@pytest.mark.root("setpriv to another user")`` names what needs root; a bare
    ``pytest.mark.root`` means the test captures on lo. Tests marked ``pure`` replace a
    function inside a module that is compiled here: they are skipped, saying so, and
    run in test.sh's second pass (``LIVETAP_PURE=1 pytest -m pure``).
    """
    if native.status().compiled:
        for item in items:
            if item.get_closest_marker("pure") is not None:
                item.add_marker(pytest.mark.skip(reason=PURE_SKIP))
    if os.geteuid() == 0:
        return
    for item in items:
        marker = item.get_closest_marker("root")
        if marker is not None:
            why = marker.args[0] if marker.args else "captures on lo"
            item.add_marker(pytest.mark.skip(reason=f"{ROOT_SKIP}{why}"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Note every test skipped for want of root (by the marker or by the test itself)."""
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if reason.startswith(ROOT_SKIP) or reason == ROOT_SKIP.rstrip(": "):
            _root_skips.append(report.nodeid)


def _root_skips_fail_the_run() -> bool:
    """CI runs as root: there, a test skipped for want of root is a failure."""
    return bool(os.environ.get("CI")) and os.geteuid() == 0 and bool(_root_skips)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _root_skips_fail_the_run():
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's own TMPDIR goes last (plugins keep their files there until the end)."""
    remove_own_temp()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests were skipped because they need root, and how to run them."""
    if not _root_skips:
        return
    terminalreporter.write_sep(
        "=",
        f"{len(_root_skips)} skipped: need root (run ./test.sh as root to run them all)",
        yellow=True,
    )
    if _root_skips_fail_the_run():
        terminalreporter.write_line(
            "CI runs as root, yet these were skipped for want of root (a failure): "
            + ", ".join(_root_skips),
            red=True,
        )


@pytest.fixture(scope="session", autouse=True)
def _no_browser_left_behind() -> Iterator[None]:
    """Every Chromium a test launched is gone when the suite ends (other runs' aside)."""
    yield
    time.sleep(0.5)
    left = own_processes()
    assert left == "", f"Chromium processes left behind: {left}"


@pytest.fixture
def live_session() -> Iterator[Callable[..., CaptureSession]]:
    """Start capture sessions on lo with a filter; all are stopped afterwards."""
    sessions: list[CaptureSession] = []

    def start(expression: str, ring_size: int = 100_000) -> CaptureSession:
        session = CaptureSession(LiveSource("lo", expression=expression), ring_size)
        session.start()
        sessions.append(session)
        return session

    yield start
    for session in sessions:
        session.stop()


@pytest.fixture
def tmp_dir(tmp_path: Path) -> Path:
    """A temporary directory readable by everyone (setpriv'd tools read from it)."""
    tmp_path.chmod(0o755)
    return tmp_path
