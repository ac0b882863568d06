"""``livetap serve``: the app as a web page, opened for real in headless Chromium."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from tests.conftest import wait_for
from tests.sample_traffic import write_sample_pcap

LIVETAP = str(Path(sys.executable).parent / "livetap")
TOKEN = "serve-test-token-0123456789"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def server(tmp_dir: Path) -> Iterator[str]:
    port = free_port()
    pcap = write_sample_pcap(tmp_dir / "sample.pcap")
    process = subprocess.Popen(
        [LIVETAP, "serve", "--port", str(port), "--", "-r", str(pcap)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=tmp_dir,
        env={**os.environ, "LIVETAP_TOKEN": TOKEN},
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        assert wait_for(lambda: _listening(port), timeout=15)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_page_shows_the_running_app(server: str, tmp_dir: Path) -> None:
    browser = BrowserSession(BrowserTarget(launch=True))
    frames: list[bytes] = []

    def watch(method: str, params: Mapping[str, Any], session: str) -> None:
        if method == "Network.webSocketFrameReceived":
            frame = params.get("response", {})
            data = str(frame.get("payloadData", ""))
            binary = frame.get("opcode") == 2  # DevTools sends binary frames base64-encoded
            frames.append(base64.b64decode(data) if binary else data.encode())

    browser.tracker.raw_listeners.append(watch)
    browser.start()
    try:
        page = browser._pages[0] if browser._pages else ""
        metrics = {"width": 1600, "height": 900, "deviceScaleFactor": 1, "mobile": False}
        browser._call("Emulation.setDeviceMetricsOverride", metrics, page, 10)
        browser.navigate(f"{server}?token={TOKEN}")  # the cookie it trades for carries on

        def rendered() -> bool:
            screen = b"".join(frames)
            return b"Protocol" in screen and b"sample.pcap" in screen

        assert wait_for(rendered, timeout=30), b"".join(frames)[-500:]
        assert any(r.url == server and r.status == 200 for r in browser.tracker.records())
        time.sleep(1)
        shot = browser._call("Page.captureScreenshot", {"format": "png"}, page, 20)
        image = base64.b64decode(shot["data"])
        (tmp_dir / "serve.png").write_bytes(image)
        assert image.startswith(b"\x89PNG") and len(image) > 30_000, (
            "a blank page compresses to far less"
        )
    finally:
        browser.stop()


def test_a_non_loopback_host_needs_a_flag() -> None:
    result = subprocess.run(
        [LIVETAP, "serve", "--host", "0.0.0.0"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "--allow-remote" in result.stderr
