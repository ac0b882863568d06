"""Blocking, throttling and the cache switch against a real headless Chromium and a local site."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.browser.network_conditions import (
    PRESETS,
    NetworkControls,
    fetch_pattern,
    parse_throttle,
)
from engine.browser.records import RequestRecord
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget, parse_browser_spec
from engine.errors import ExitCode, PermissionDeniedError, UnavailableError, UsageError
from tests.conftest import wait_for
from tests.control_site import ControlSite, control_site
from tests.test_browser import _answers, _free_port, _kill, _start_chromium
from tui.cli import main


@pytest.fixture
def site() -> Iterator[ControlSite]:
    with control_site() as running:
        yield running


def _done(browser: BrowserSession) -> bool:
    try:
        return bool(browser.evaluate("document.body && document.body.dataset.done === 'yes'"))
    except UnavailableError:
        return False


def _record(browser: BrowserSession, url: str) -> RequestRecord | None:
    return next((r for r in browser.tracker.records() if r.url == url), None)


def _launched(site: ControlSite, controls: NetworkControls) -> BrowserSession:
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/", controls=controls)
    browser.start()
    return browser


def test_the_flags_are_checked_and_described() -> None:
    controls = NetworkControls.parse(["*://*/api/*"], "300:0:0", no_cache=True)
    assert controls.describe() == "blocking 1 pattern, 300:0:0, no cache"
    assert controls.blocks("http://127.0.0.1:1/api/x")
    assert not controls.blocks("http://127.0.0.1:1/apix")
    assert parse_throttle("300:0:0").params() == {
        "offline": False,
        "latency": 300.0,
        "downloadThroughput": -1,
        "uploadThroughput": -1,
    }
    assert parse_throttle("10:800:400").download == 100_000
    assert PRESETS["slow-3g"].latency == 2000 and PRESETS["slow-3g"].download == 50_000
    assert parse_throttle("Offline").offline
    assert fetch_pattern("*://a/?x=\\*") == "*://a/*x=**"
    for bad in ("fast", "1:2", "a:b:c", "-1:0:0", "inf:0:0"):
        with pytest.raises(UsageError, match="--throttle"):
            parse_throttle(bad)
    with pytest.raises(UsageError, match="--block"):
        NetworkControls.parse(["!*/api/*"])
    assert not NetworkControls.parse().active


def test_a_blocked_url_fails_with_the_reason_and_never_reaches_the_server(
    site: ControlSite,
) -> None:
    browser = _launched(site, NetworkControls.parse(["*://*/api/*"]))
    try:
        assert wait_for(lambda: _done(browser), timeout=20)
        blocked = _record(browser, f"{site.url}/api/blocked")
        assert blocked is not None
        assert blocked.error.startswith("net::ERR_BLOCKED_BY_CLIENT")  # ".Inspector" in 156
        ok = _record(browser, f"{site.url}/ok")
        assert ok is not None and ok.status == 200
        assert site.hits["/api/blocked"] == 0 and site.hits["/ok"] == 1
        assert browser.status().controls == "blocking 1 pattern"
    finally:
        browser.stop()


def test_a_custom_latency_makes_every_request_take_at_least_that_long(site: ControlSite) -> None:
    browser = _launched(site, NetworkControls.parse(throttle="300:0:0"))
    try:
        assert wait_for(lambda: _done(browser), timeout=30)
        ok = _record(browser, f"{site.url}/ok")
        assert ok is not None and ok.status == 200 and ok.duration is not None
        assert ok.duration >= 0.3
        assert ok.timing is not None and (ok.timing.wait or 0) >= 300  # sent → headers
    finally:
        browser.stop()


def test_offline_fails_the_requests(site: ControlSite) -> None:
    browser = _launched(site, NetworkControls.parse(throttle="offline"))
    try:
        assert wait_for(lambda: _record(browser, f"{site.url}/") is not None, timeout=20)
        assert wait_for(lambda: bool(getattr(_record(browser, f"{site.url}/"), "error", "")))
        page = _record(browser, f"{site.url}/")
        assert page is not None and page.error == "net::ERR_INTERNET_DISCONNECTED"
        assert site.hits["/"] == 0
    finally:
        browser.stop()


def test_with_the_cache_disabled_a_cacheable_resource_reaches_the_server_each_time(
    site: ControlSite,
) -> None:
    browser = _launched(site, NetworkControls())  # first: the browser does cache it
    try:
        assert wait_for(lambda: _done(browser), timeout=20)
        assert site.hits["/cacheable"] == 1
    finally:
        browser.stop()
    site.hits.clear()
    browser = _launched(site, NetworkControls.parse(no_cache=True))
    try:
        assert wait_for(lambda: _done(browser), timeout=20)
        assert site.hits["/cacheable"] == 2
        assert browser.status().controls == "no cache"
    finally:
        browser.stop()


def test_an_attached_browser_is_changed_only_with_allow_control(site: ControlSite) -> None:
    port = _free_port()
    controls = NetworkControls.parse(["*/api/*"])
    with tempfile.TemporaryDirectory() as profile:
        chromium = _start_chromium(port, profile)
        try:
            assert wait_for(lambda: _answers(port), timeout=15)
            with pytest.raises(PermissionDeniedError, match="--allow-control"):
                BrowserSession(parse_browser_spec(str(port)), controls=controls)
            controlled = BrowserSession(
                parse_browser_spec(str(port)), controls=controls, allow_control=True
            )
            controlled.start()
            try:
                controlled.navigate(f"{site.url}/")
                assert wait_for(lambda: _done(controlled), timeout=20)
                assert site.hits["/api/blocked"] == 0
            finally:
                controlled.stop()  # gives the browser its network back
            plain = BrowserSession(parse_browser_spec(str(port)))
            plain.start()
            try:
                plain.navigate(f"{site.url}/?again=1")
                assert wait_for(lambda: _done(plain), timeout=20)
                assert site.hits["/api/blocked"] == 1
            finally:
                plain.stop()
        finally:
            _kill(chromium)


def test_the_command_line_says_what_is_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--block", "*/api/*", "-r", "nothing.pcap"]) == ExitCode.USAGE_ERROR
    assert "need a browser" in capsys.readouterr().err
    assert main(["--throttle", "warp", "--browser", "launch"]) == ExitCode.USAGE_ERROR
    assert "--throttle 'warp'" in capsys.readouterr().err
    code = main(["--no-cache", "--browser", str(_free_port()), "--no-packets"])
    assert code == ExitCode.PERMISSION_DENIED
    assert "--allow-control" in capsys.readouterr().err


def test_the_headless_ndjson_capture_blocks_too(site: ControlSite, tmp_path: Path) -> None:
    runtime = tmp_path / "runtime"  # its own: other captures of this user are left alone
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    out = tmp_path / "out.ndjson"
    start = [sys.executable, "-m", "tui.cli", "capture", "ndjson", "start", "--file", str(out)]
    start += ["--block", "*/api/*", "--open", f"{site.url}/"]
    started = subprocess.run(
        start, check=False, capture_output=True, text=True, env=env, timeout=60
    )
    try:
        assert started.returncode == 0, started.stderr
        assert wait_for(lambda: out.exists() and "/echo" in out.read_text(), timeout=20)
    finally:
        stop = [sys.executable, "-m", "tui.cli", "capture", "ndjson", "stop"]
        subprocess.run(stop, check=False, capture_output=True, env=env, timeout=60)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    failed = [line for line in lines if line["type"] == "failed"]
    assert any(line["errorText"].startswith("net::ERR_BLOCKED_BY_CLIENT") for line in failed)
    assert site.hits["/api/blocked"] == 0


def test_the_settings_change_while_the_browser_runs(site: ControlSite) -> None:
    browser = _launched(site, NetworkControls())
    try:
        assert wait_for(lambda: _done(browser), timeout=20)
        assert site.hits["/ok"] == 1

        def fetch_ok(mark: str) -> RequestRecord | None:
            browser.evaluate(f"fetch('/ok?{mark}').then(r => r.text()).catch(() => null)")
            url = f"{site.url}/ok?{mark}"
            wait_for(lambda: getattr(_record(browser, url), "state", "pending") != "pending")
            return _record(browser, url)

        browser.set_controls(NetworkControls.parse(["*/ok?*"]))
        blocked = fetch_ok("1")
        assert blocked is not None and blocked.error.startswith("net::ERR_BLOCKED_BY_CLIENT")
        assert browser.status().controls == "blocking 1 pattern"
        browser.set_controls(NetworkControls.parse(throttle="offline"))
        offline = fetch_ok("2")
        assert offline is not None and offline.error == "net::ERR_INTERNET_DISCONNECTED"
        browser.set_controls(NetworkControls())
        again = fetch_ok("3")
        assert again is not None and again.status == 200 and site.hits["/ok"] == 2
        assert browser.status().controls == ""
    finally:
        browser.stop()
