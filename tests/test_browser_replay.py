"""Replay and edit-and-resend against a real headless Chromium and a local server that counts."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.browser.records import RequestRecord
from engine.browser.resend import Resend, fetch_expression, from_record, parse_headers, sendable
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget, parse_browser_spec
from engine.errors import PermissionDeniedError, UsageError
from engine.ndjson.capture import NdjsonCapture, NdjsonOptions
from tests.conftest import wait_for
from tests.control_site import ControlSite, Seen, control_site
from tests.test_browser import _answers, _free_port, _kill, _start_chromium
from tests.test_browser_controls import _done


@pytest.fixture
def site() -> Iterator[ControlSite]:
    with control_site() as running:
        yield running


@pytest.fixture
def browser(site: ControlSite) -> Iterator[BrowserSession]:
    session = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    session.start()
    try:
        assert wait_for(lambda: _done(session), timeout=20)
        yield session
    finally:
        session.stop()


def _echo(browser: BrowserSession) -> RequestRecord:
    found = [r for r in browser.tracker.records() if "/echo?from=page" in r.url]
    assert len(found) == 1
    return found[0]


def _echoes(site: ControlSite) -> list[Seen]:
    return [seen for seen in site.seen if seen.path.startswith("/echo")]


def _header(seen: Seen, name: str) -> str | None:
    return next((v for k, v in seen.headers if k.lower() == name.lower()), None)


def test_a_replay_reaches_the_server_again_and_is_listed_as_a_replay(
    site: ControlSite, browser: BrowserSession, tmp_path: Path
) -> None:
    original = _echo(browser)
    assert wait_for(lambda: len(_echoes(site)) == 1)
    out = tmp_path / "replay.ndjson"
    capture = NdjsonCapture(NdjsonOptions(out), browser)
    capture.start()
    try:
        result = browser.resend(from_record(original, browser.fetch_post_data(original.id)))
        assert wait_for(lambda: '"finished"' in out.read_text())
    finally:
        capture.stop()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    request = next(line for line in lines if line["type"] == "request")
    assert request["replayOf"] == f"req_{original.seq}" and "replayEdited" not in request
    assert result.error == "" and result.status == 200
    assert wait_for(lambda: len(_echoes(site)) == 2)
    first, again = _echoes(site)
    assert (again.method, again.path, again.body) == (first.method, first.path, first.body)
    assert _header(again, "X-Livetap-Test") == "yes 'quoted'"
    assert _header(again, "Cookie") == "session=s3cret"  # the page's own cookies went along
    assert result.request_id is not None
    replay = browser.get(result.request_id)
    assert replay is not None and replay.id != original.id
    assert replay.replay_of == original.seq and not replay.replay_edited
    assert replay.url == original.url and replay.method == "POST"
    others = [r for r in browser.tracker.records() if r.replay_of]
    assert [r.id for r in others] == [replay.id]


def test_an_edited_request_is_sent_as_edited(site: ControlSite, browser: BrowserSession) -> None:
    original = _echo(browser)
    headers = parse_headers("Content-Type: text/plain\nX-Livetap-Test: edited\nHost: evil\n")
    edited = Resend("PUT", f"{site.url}/echo?edited=1", headers, "changed body", original.id, True)
    result = browser.resend(edited)
    assert result.status == 200, result
    assert wait_for(lambda: len(_echoes(site)) == 2)
    seen = _echoes(site)[-1]
    assert (seen.method, seen.path, seen.body) == ("PUT", "/echo?edited=1", b"changed body")
    assert _header(seen, "X-Livetap-Test") == "edited"
    assert _header(seen, "Host") == f"127.0.0.1:{site.port}"  # the browser's own, not ours
    assert result.request_id is not None
    replay = browser.get(result.request_id)
    assert replay is not None and replay.replay_of == original.seq and replay.replay_edited


def test_a_failed_replay_is_a_result_and_is_still_listed(
    site: ControlSite, browser: BrowserSession
) -> None:
    original = _echo(browser)
    elsewhere = Resend("GET", "http://127.0.0.1:9/nothing", (), None, original.id, True)
    result = browser.resend(elsewhere)
    assert result.status is None and "Failed to fetch" in result.error
    assert result.request_id is not None
    assert wait_for(lambda: bool(getattr(browser.get(str(result.request_id)), "error", "")))


def test_what_fetch_cannot_send_is_refused_before_anything_is_sent(
    site: ControlSite, browser: BrowserSession
) -> None:
    original = _echo(browser)
    with pytest.raises(UsageError, match="cannot have a body"):
        browser.resend(Resend("GET", site.url, (), "x", original.id, True))
    with pytest.raises(UsageError, match="http://"):
        browser.resend(Resend("GET", "file:///etc/passwd", (), None, original.id, True))
    with pytest.raises(UsageError, match="WebSocket"):
        browser.resend(Resend("GET", "ws://127.0.0.1:9/", (), None, original.id, True))
    with pytest.raises(UsageError, match="not an HTTP method"):
        browser.resend(Resend("G T", site.url, (), None, original.id, True))
    assert len(_echoes(site)) == 1


def test_an_attached_browser_replays_only_with_allow_control(site: ControlSite) -> None:
    attached = BrowserSession(parse_browser_spec("9"))
    with pytest.raises(PermissionDeniedError, match="--allow-control"):
        attached.resend(Resend("GET", "http://127.0.0.1:9/", (), None, "1"))
    port = _free_port()
    with tempfile.TemporaryDirectory() as profile:
        chromium = _start_chromium(port, profile)
        try:
            assert wait_for(lambda: _answers(port), timeout=15)
            allowed = BrowserSession(parse_browser_spec(str(port)), allow_control=True)
            allowed.start()
            try:
                allowed.navigate(f"{site.url}/")
                assert wait_for(lambda: _done(allowed), timeout=20)
                result = allowed.resend(from_record(_echo(allowed)))
                assert result.status == 200 and len(_echoes(site)) == 2
            finally:
                allowed.stop()
        finally:
            _kill(chromium)


def test_headers_are_parsed_and_the_forbidden_ones_left_to_the_browser() -> None:
    headers = parse_headers("Accept: */*\n\n:authority: x\nsec-fetch-mode: cors\nX-A: b: c\n")
    assert headers == (("Accept", "*/*"), (":authority", "x"), ("sec-fetch-mode", "cors"),
                       ("X-A", "b: c"))  # fmt: skip
    kept, left = sendable(headers)
    assert kept == (("Accept", "*/*"), ("X-A", "b: c"))
    assert left == (":authority", "sec-fetch-mode")
    for bad in ("no colon here", "bad name: x", ": x"):
        with pytest.raises(UsageError, match="line 1"):
            parse_headers(bad)
    script = fetch_expression(Resend("POST", "http://a/'\"", (), "</script>\u2028", "1"), 7)
    assert script.endswith("//# sourceURL=livetap-replay-7.js\n")
    assert '"http://a/\'\\""' in script


def test_a_page_that_replaced_fetch_neither_sees_nor_stops_a_replay(
    site: ControlSite, browser: BrowserSession
) -> None:
    browser.navigate(f"{site.url}/patched")
    script = "location.pathname === '/patched' && document.body.dataset.done === 'yes'"
    assert wait_for(lambda: browser.evaluate(script) is True, timeout=20)
    found = [r for r in browser.tracker.records() if r.url.endswith("/echo?from=patched")]
    assert len(found) == 1 and found[0].frame
    seen_before = len(_echoes(site))
    page_call = "fetch('/echo?by=page').catch(() => null); window.blockedCalls"
    assert browser.evaluate(page_call) == 1  # the page's own fetch is the patched one
    result = browser.resend(from_record(found[0], browser.fetch_post_data(found[0].id)))
    assert result.error == "" and result.status == 200, result
    assert wait_for(lambda: len(_echoes(site)) == seen_before + 1)
    first = next(s for s in _echoes(site) if s.path == "/echo?from=patched")
    again = _echoes(site)[-1]
    assert (again.method, again.path, again.body) == ("POST", first.path, b"patched body")
    assert _header(again, "Cookie") == "session=s3cret"
    assert _header(again, "Origin") == _header(first, "Origin") == site.url
    assert browser.evaluate("window.blockedCalls") == 1  # only the page's own call above
    assert result.request_id is not None
    replay = browser.get(result.request_id)
    assert replay is not None and replay.replay_of == found[0].seq  # the sourceURL mark
    worlds = dict(browser._worlds)
    assert len(worlds) == 1 and browser.resend(from_record(found[0])).status == 200
    assert browser._worlds == worlds  # the same world again
    browser.evaluate("location.reload(); 1")  # its document, and the world with it, go
    assert wait_for(lambda: len(_echoes(site)) == seen_before + 3, timeout=20)
    assert wait_for(lambda: browser.evaluate(script) is True, timeout=20)
    reloaded = browser.resend(from_record(found[0], "after reload"))
    assert reloaded.status == 200 and reloaded.error == "", reloaded
    assert _echoes(site)[-1].body == b"after reload" and browser._worlds != worlds


def test_a_replay_is_sent_from_the_frame_or_worker_that_made_the_original(
    site: ControlSite, browser: BrowserSession
) -> None:
    browser.navigate(f"{site.url}/framed")
    framed = f"http://localhost:{site.port}/echo?from=patched"
    worker = f"{site.url}/echo?from=worker"

    def made(url: str) -> RequestRecord | None:
        return next((r for r in browser.tracker.records() if r.url == url and r.finished), None)

    ok = wait_for(lambda: made(framed) is not None and made(worker) is not None, timeout=20)
    assert ok, "\n".join(f"{r.url} {r.state} {r.error}" for r in browser.tracker.records())
    for url, origin, body in (
        (framed, f"http://localhost:{site.port}", b"patched body"),  # its own origin
        (worker, site.url, b"worker body"),
    ):
        original = made(url)
        assert original is not None
        before = len(_echoes(site))
        result = browser.resend(from_record(original, browser.fetch_post_data(original.id)))
        assert result.error == "" and result.status == 200, (url, result)
        assert wait_for(lambda: len(_echoes(site)) == before + 1)  # noqa: B023
        again = _echoes(site)[-1]
        assert (again.method, again.body, _header(again, "Origin")) == ("POST", body, origin)
        assert result.request_id is not None
        replay = browser.get(result.request_id)
        assert replay is not None and replay.replay_of == original.seq
        assert browser.tracker.session_of(replay.id) == browser.tracker.session_of(original.id)
