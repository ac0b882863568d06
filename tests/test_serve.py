"""``livetap serve``: the app as a web page, opened for real in headless Chromium."""

from __future__ import annotations

import base64
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from tests.conftest import wait_for
from tests.doors import WEBSOCKET_HEADERS, knock
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


@contextmanager
def page_frames(url: str) -> Iterator[tuple[BrowserSession, list[bytes]]]:
    """A headless Chromium on the served page (with its token), and the screen it receives."""
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
        browser.navigate(f"{url}?token={TOKEN}")
        yield browser, frames
    finally:
        browser.stop()


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
        # everything the page loads (scripts, styles, the font, the websocket) comes from
        # the server itself: nothing from another host, so it works offline (issue 18 #13)
        hosts = {urlsplit(r.url).netloc for r in browser.tracker.records()}
        assert hosts == {urlsplit(server).netloc}, hosts
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


@contextmanager
def served(
    tmp_dir: Path, *args: str, token: str | None = TOKEN, app: tuple[str, ...] = ()
) -> Iterator[subprocess.Popen[str]]:
    """A ``livetap serve`` process with these arguments, stopped afterwards.

    Each page runs ``livetap APP`` (by default the sample pcap).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("LIVETAP_TOKEN", "LIVETAP_SERVE_PORT")}
    if token is not None:
        env["LIVETAP_TOKEN"] = token
    pcap = write_sample_pcap(tmp_dir / "sample.pcap")
    process = subprocess.Popen(
        [LIVETAP, "serve", *args, "--", *(app or ("-r", str(pcap)))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_dir,
        env=env,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return knock(
        {"kind": "http", "host": "127.0.0.1", "port": port, "path": path, "headers": headers or {}}
    )


@pytest.mark.root("setpriv to another user")
def test_another_user_without_the_token_is_refused_everywhere(tmp_dir: Path) -> None:
    port = free_port()
    with served(tmp_dir, "--port", str(port)):
        assert wait_for(lambda: _listening(port), timeout=15)
        cookie = {"Cookie": f"livetap-token-{port}={TOKEN}"}
        for path in ("/", "/static/js/textual.js", "/download/x", "/?fontsize=12"):
            refused = _get(port, path)
            assert refused["status"] == 401, (path, refused)
            assert "textual" not in refused["body"].lower()
        assert _get(port, "/?token=wrong-token-0123456789")["status"] == 403
        assert _get(port, "/", {"Cookie": f"livetap-token-{port}=wrong"})["status"] == 401
        assert _get(port, "/ws", WEBSOCKET_HEADERS)["status"] == 401, "upgrade refused"
        foreign = _get(port, "/ws", {**WEBSOCKET_HEADERS, **cookie, "Origin": "http://127.0.0.1:1"})
        assert foreign["status"] == 403, "a page of another local server cannot open the app"

        traded = _get(port, f"/?token={TOKEN}&fontsize=12")
        assert traded["status"] == 303 and traded["headers"]["location"] == "/?fontsize=12"
        set_cookie = traded["headers"]["set-cookie"]
        assert set_cookie.startswith(f"livetap-token-{port}={TOKEN};")
        assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
        page = _get(port, "/", cookie)
        assert page["status"] == 200 and "textual" in page["body"].lower()
        assert f"http://127.0.0.1:{port}/static/" in page["body"]
        by_name = _get(port, "/", {**cookie, "Host": f"localhost:{port}"})
        assert f"http://localhost:{port}/static/" in by_name["body"], "where its cookie lives"
        assert _get(port, "/static/js/textual.js", cookie)["status"] == 200
        assert _get(port, "/", {"Authorization": f"Bearer {TOKEN}"})["status"] == 200
        same_origin = {**WEBSOCKET_HEADERS, **cookie, "Origin": f"http://127.0.0.1:{port}"}
        assert _get(port, "/ws", same_origin)["status"] == 101, "the page's own websocket"


@pytest.mark.root("setpriv to another user")
def test_a_random_token_is_printed_in_the_url(tmp_dir: Path) -> None:
    port = free_port()
    with served(tmp_dir, "--port", str(port), token=None) as process:
        assert wait_for(lambda: _listening(port), timeout=15)
        assert _get(port, "/")["status"] == 401
    assert process.stderr is not None
    printed = re.search(rf"http://127\.0\.0\.1:{port}/\?token=([\w-]+)", process.stderr.read())
    assert printed and len(printed.group(1)) >= 40 and printed.group(1) != TOKEN


@pytest.mark.root("setpriv to another user")
def test_on_a_unix_socket_only_its_owner_connects(tmp_dir: Path) -> None:
    path = tmp_dir / "serve.sock"
    with served(tmp_dir, "--unix", str(path), "--port", "8000"):
        assert wait_for(path.exists, timeout=15)
        info = path.lstat()
        assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert knock({"kind": "unix", "unix": str(path)}) == {
            "error": "PermissionError",
            "errno": 13,
        }
        as_root = {"kind": "http", "unix": str(path), "path": "/"}
        assert knock(as_root, as_nobody=False)["status"] == 401, "the token is still needed"
        with_token = {**as_root, "headers": {"Authorization": f"Bearer {TOKEN}"}}
        page = knock(with_token, as_nobody=False)
        assert page["status"] == 200 and "http://localhost/static/" in page["body"], "its Host"
    assert wait_for(lambda: not path.exists(), timeout=10), "the socket is removed on exit"


def test_allow_remote_needs_a_token_you_set(tmp_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LIVETAP_TOKEN"}
    result = subprocess.run(
        [LIVETAP, "serve", "--host", "192.0.2.1", "--allow-remote"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=30,
    )
    assert result.returncode == 2 and "--token-file" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    loose = tmp_dir / "token"
    loose.write_text("a-token-that-is-long-enough\n")
    loose.chmod(0o644)
    result = subprocess.run(
        [LIVETAP, "serve", "--token-file", str(loose)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=30,
    )
    assert result.returncode == 4 and "chmod 600" in result.stderr, result.stderr


def test_the_page_names_no_host_but_the_server(tmp_dir: Path) -> None:
    """Issue 18 #13: no font from fonts.googleapis.com; every URL in the page is the server's."""
    port = free_port()
    with served(tmp_dir, "--port", str(port)):
        assert wait_for(lambda: _listening(port), timeout=15)
        page = _get(port, "/", {"Authorization": f"Bearer {TOKEN}"})
    assert page["status"] == 200
    html = page["body"]
    assert "googleapis" not in html and "@font-face" in html
    urls = re.findall(r'(?:src|href|data-[a-z-]*url)="([^"]+)"', html)
    urls += re.findall(r"url\([\"']?([^\"')]+)", html)
    assert any("fonts/RobotoMono" in url for url in urls)
    assert len(urls) >= 4
    for url in urls:
        assert urlsplit(url).netloc == f"127.0.0.1:{port}", url


def test_the_app_of_a_page_leaves_the_pages_own_port_out_of_its_capture(tmp_dir: Path) -> None:
    """Issue 18 #13: on lo, the page's websocket would fill the packet list it shows."""
    port = free_port()
    with served(tmp_dir, "--port", str(port), app=("-i", "lo")):
        assert wait_for(lambda: _listening(port), timeout=15)
        with page_frames(f"http://127.0.0.1:{port}/") as (_browser, frames):
            wanted = f"filter: not tcp port {port}".encode()
            assert wait_for(lambda: wanted in b"".join(frames), timeout=30), b"".join(frames)[-800:]
