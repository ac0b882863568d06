"""The browser source against a real headless Chromium and a real local site."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.browser.cdp import CdpError
from engine.browser.launch import find_chromium
from engine.browser.records import ConnectionState, RequestRecord
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget, parse_browser_spec, websocket_url
from engine.correlate import find_connection, request_line
from engine.errors import NotFoundError, PermissionDeniedError, UnavailableError, UsageError
from engine.live import LiveSource
from engine.session import CaptureSession
from tests.conftest import wait_for
from tests.local_site import APP_JS, LocalSite, local_site


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with local_site() as running:
        yield running


def page_done(browser: BrowserSession) -> bool:
    try:
        return bool(browser.evaluate("document.body && document.body.dataset.done === 'yes'"))
    except UnavailableError:
        return False


def by_path(records: list[RequestRecord], base: str) -> dict[str, RequestRecord]:
    return {r.url.removeprefix(base): r for r in records if "favicon" not in r.url}


def test_every_kind_of_request_is_captured_exactly(site: LocalSite) -> None:
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    try:
        assert wait_for(lambda: page_done(browser), timeout=20)

        # Chromium does not always report the end of a navigation's document.
        def loaded() -> bool:
            records = by_path(browser.tracker.records(), "").values()
            return all(r.finished or r.error for r in records if r.resource_type != "Document")

        assert wait_for(loaded, timeout=5)
        seen = by_path(browser.tracker.records(), site.url)
        refused = f"http://127.0.0.1:{site.refused_port}/nothing"
        summary = {
            path: (
                r.method,
                r.status,
                r.resource_type,
                r.error,
                r.redirected_to.removeprefix(site.url),
            )
            for path, r in seen.items()
        }
        assert summary == {
            "/": ("GET", 200, "Document", "", ""),
            "/style.css": ("GET", 200, "Stylesheet", "", ""),
            "/app.js": ("GET", 200, "Script", "", ""),
            "/logo.png": ("GET", 200, "Image", "", ""),
            "/api/data.json?item=7&kind=test": ("GET", 200, "Fetch", "", ""),
            "/missing.txt": ("GET", 404, "Fetch", "", ""),
            "/old-location": ("GET", 302, "Fetch", "", "/api/data.json?moved=1"),
            "/api/data.json?moved=1": ("GET", 200, "Fetch", "", ""),
            "/api/submit": ("POST", 201, "Fetch", "", ""),
            refused: ("GET", None, "Fetch", "net::ERR_CONNECTION_REFUSED", ""),
        }
        assert seen["/api/data.json?moved=1"].redirect_from == seen["/old-location"].id
        post = seen["/api/submit"]
        assert browser.fetch_post_data(post.id) == json.dumps(
            {"name": "livetap", "answer": 42}, separators=(",", ":")
        )
        assert site.posts == [b'{"name":"livetap","answer":42}']
        data = seen["/api/data.json?item=7&kind=test"]
        assert (data.remote_ip, data.remote_port, data.mime_type) == (
            "127.0.0.1",
            site.port,
            "application/json",
        )
        assert data.timing is not None and data.timing.wait is not None
        assert ("Content-Type", "application/json") in data.response_headers
        body = browser.fetch_body(data.id)
        assert json.loads(body.data) == {"items": [1, 2, 3], "ok": True}
        with pytest.raises(NotFoundError, match="redirect has no body"):
            browser.fetch_body(seen["/old-location"].id)
        status = browser.status()
        assert status.state is ConnectionState.CONNECTED
        # Chromium sends events livetap does not use (policyUpdated, ...): none is "skipped"
        assert status.skipped_messages == 0
    finally:
        browser.stop()
    assert not browser.browser_process or not browser.browser_process.running


def test_a_popup_is_captured_from_its_first_request(site: LocalSite) -> None:
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    try:
        assert wait_for(lambda: page_done(browser), timeout=20)
        browser.evaluate("document.getElementById('popup').click()")
        assert wait_for(
            lambda: any(
                r.url.endswith("?popup=1") and r.finished for r in browser.tracker.records()
            ),
            timeout=10,
        )
        records = by_path(browser.tracker.records(), site.url)
        popup, image = records["/popup"], records["/logo.png?popup=1"]
        assert (popup.status, popup.resource_type) == (200, "Document")
        assert popup.target == image.target != records["/"].target
        assert browser.status().targets >= 2
    finally:
        browser.stop()


@pytest.mark.root
def test_a_request_is_tied_to_its_tcp_connection_on_lo(site: LocalSite) -> None:
    capture = CaptureSession(LiveSource("lo", expression=f"tcp port {site.port}"))
    capture.start()
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    try:
        browser.start()
        assert wait_for(lambda: page_done(browser), timeout=20)
        record = by_path(browser.tracker.records(), site.url)["/api/data.json?item=7&kind=test"]
        line = request_line(record.method, record.url)
        assert line == b"GET /api/data.json?item=7&kind=test HTTP/1."
        assert wait_for(
            lambda: any(p.info.startswith(line.decode()) for p in capture.ring), timeout=5
        )
        figures = find_connection(
            iter(capture.ring), record.remote_ip, record.remote_port or 0, record.started, line
        )
        assert figures is not None and figures.carries_request
        assert figures.remote_port == site.port
        carrying = [capture.packet(i) for i in figures.packets]
        assert any(p is not None and p.info.startswith(line.decode()) for p in carrying)
        assert all(p is not None and figures.local_port in (p.sport, p.dport) for p in carrying)
        assert (
            figures.bytes_sent > 0 and figures.bytes_received > 0 and figures.retransmissions == 0
        )
    finally:
        browser.stop()
        capture.stop()


def test_a_launched_browser_that_dies_is_reported_and_can_be_relaunched(site: LocalSite) -> None:
    """Issue 18 #4: the new browser opens the --open URL again and its requests are new rows."""
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    try:
        assert wait_for(lambda: page_done(browser), timeout=20)
        first = {r.id for r in browser.tracker.records()}
        old_data = by_path(browser.tracker.records(), site.url)["/api/data.json?item=7&kind=test"]
        process = browser.browser_process
        assert process is not None
        os.killpg(process.process.pid, signal.SIGKILL)
        assert wait_for(lambda: browser.status().state is ConnectionState.EXITED, timeout=10)
        assert browser.status().state.value == "exited"
        assert "press R" in browser.status().message
        assert browser.relaunch()
        assert wait_for(lambda: browser.status().state is ConnectionState.CONNECTED, timeout=15)
        assert wait_for(lambda: page_done(browser), timeout=20)  # no navigate(): reopened
        assert browser.status().requests >= 2 * len(first)
        again = [r for r in browser.tracker.records() if r.id not in first]
        assert {r.url for r in again} >= {f"{site.url}/", old_data.url}
        assert all(r.id.startswith("2~") for r in again)
        assert {r.id for r in browser.tracker.records()} >= first  # the old rows stay
        new_data = next(r for r in again if r.url == old_data.url and r.finished)
        assert b'"items"' in browser.fetch_body(new_data.id).data
        assert b'"items"' in browser.fetch_body(old_data.id).data  # livetap's copy outlives it
        browser.bodies.clear()
        with pytest.raises(NotFoundError, match="exited since"):
            browser.fetch_body(old_data.id)
    finally:
        browser.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _start_chromium(port: int, profile: str) -> subprocess.Popen[bytes]:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
    ]
    where = [f"--remote-debugging-port={port}", f"--user-data-dir={profile}"]
    command = [find_chromium(), *flags, *where, "about:blank"]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_attaching_to_a_running_browser_and_reconnecting_when_it_returns(site: LocalSite) -> None:
    port = _free_port()
    with tempfile.TemporaryDirectory() as profile:
        chromium = _start_chromium(port, profile)
        browser = BrowserSession(parse_browser_spec(str(port)), reconnect_interval=0.3)
        try:
            assert wait_for(lambda: _answers(port), timeout=15)
            browser.start()
            browser.navigate(f"{site.url}/")
            assert wait_for(lambda: page_done(browser), timeout=20)
            assert any(r.url == f"{site.url}/" for r in browser.tracker.records())
            _kill(chromium)
            assert wait_for(
                lambda: browser.status().state is ConnectionState.DISCONNECTED, timeout=10
            )
            chromium = _start_chromium(port, profile)
            assert wait_for(lambda: browser.status().state is ConnectionState.CONNECTED, timeout=20)
            browser.navigate(f"{site.url}/?again=1")
            assert wait_for(
                lambda: any(r.url.endswith("?again=1") for r in browser.tracker.records()),
                timeout=20,
            )
        finally:
            browser.stop()
            _kill(chromium)


def _answers(port: int) -> bool:
    try:
        websocket_url(BrowserTarget(launch=False, endpoint=f"http://127.0.0.1:{port}"), timeout=1)
    except UnavailableError:
        return False
    return True


def test_attach_errors_say_what_to_do() -> None:
    with pytest.raises(PermissionDeniedError, match="--allow-remote-browser"):
        parse_browser_spec("192.0.2.10:9222")
    assert (
        parse_browser_spec("192.0.2.10:9222", allow_remote=True).endpoint
        == "http://192.0.2.10:9222"
    )
    assert parse_browser_spec("[::1]:9222").endpoint == "http://[::1]:9222"
    assert parse_browser_spec("ws://localhost:1/devtools/browser/x").endpoint.startswith("ws://")
    with pytest.raises(UsageError, match="needs a port"):
        parse_browser_spec("localhost")
    with pytest.raises(UsageError, match="--headed only applies"):
        parse_browser_spec("9222", headed=True)
    closed = _free_port()
    with pytest.raises(UnavailableError, match="remote-debugging-port"):
        BrowserSession(parse_browser_spec(str(closed))).start()


def test_no_launched_browser_outlives_its_session(site: LocalSite) -> None:
    browser = BrowserSession(BrowserTarget(launch=True))
    browser.start()
    process = browser.browser_process
    assert process is not None
    profile = str(process.profile)
    browser.stop()
    time.sleep(0.2)
    leftovers = subprocess.run(
        ["pgrep", "-f", profile], capture_output=True, text=True, check=False
    ).stdout
    assert leftovers.strip() == ""
    assert not Path(profile).exists()


def test_a_body_is_kept_after_the_page_navigated_away(site: LocalSite) -> None:
    """Issue 18 #9: bodies are fetched as responses finish, so b works on older requests."""
    browser = BrowserSession(
        BrowserTarget(launch=True), open_url=f"{site.url}/", max_body=len(APP_JS) - 1
    )
    browser.start()
    try:
        assert wait_for(lambda: page_done(browser), timeout=20)
        seen = by_path(browser.tracker.records(), site.url)
        data, script = seen["/api/data.json?item=7&kind=test"], seen["/app.js"]
        assert wait_for(lambda: browser.bodies.get(data.id) is not None, timeout=5)
        browser.navigate(f"{site.url}/popup")

        def moved_on() -> bool:
            return any(
                r.url.endswith("/logo.png?popup=1") and r.finished
                for r in browser.tracker.records()
            )

        assert wait_for(moved_on, timeout=10)
        # Chromium itself has forgotten the old page's bodies ...
        session = browser.tracker.session_of(data.id) or ""
        with pytest.raises(CdpError):
            browser._call("Network.getResponseBody", {"requestId": data.id}, session, 5)
        # ... livetap kept its copy
        body = browser.fetch_body(data.id)
        assert json.loads(body.data) == {"items": [1, 2, 3], "ok": True}
        assert body.mime_type == "application/json"
        # a body over the per-body cap was not kept, and the error says so
        with pytest.raises(NotFoundError, match="larger than livetap keeps"):
            browser.fetch_body(script.id)
    finally:
        browser.stop()
