"""Search in response bodies against a real headless Chromium and a local server."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from engine.browser.body_search import SearchProgress, find, search_bodies, searchable
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from tests.conftest import wait_for
from tests.control_site import ControlSite, control_site
from tests.stream_site import stream_site
from tests.test_browser_controls import _done
from tests.test_browser_streams import _both_done


@pytest.fixture
def site() -> Iterator[ControlSite]:
    with control_site() as running:
        yield running


def _launched(site: ControlSite, body_memory: int) -> BrowserSession:
    browser = BrowserSession(
        BrowserTarget(launch=True), open_url=f"{site.url}/", body_memory=body_memory
    )
    browser.start()
    assert wait_for(lambda: _done(browser), timeout=20)
    assert wait_for(lambda: all(r.finished or r.error for r in browser.tracker.records()))
    return browser


def _paths(result: SearchProgress) -> list[str]:
    return sorted(urlsplit(match.url).path for match in result.matches)


@pytest.mark.parametrize("body_memory", [64 << 20, 0], ids=["kept", "from the browser"])
def test_the_search_finds_exactly_the_bodies_that_contain_the_text(
    site: ControlSite, body_memory: int
) -> None:
    browser = _launched(site, body_memory)
    try:
        records = browser.tracker.records()
        # the site answers every path but / and /favicon.ico with {"ok": true}
        json_answers = sorted(
            urlsplit(r.url).path
            for r in records
            if searchable(r) and urlsplit(r.url).path not in ("/", "/favicon.ico")
        )
        assert {"/api/blocked", "/ok", "/echo", "/cacheable"} <= set(json_answers)
        seen: list[SearchProgress] = []
        result = search_bodies(browser, records, '"OK": TRUE', progress=seen.append)
        assert result.done and result.unavailable == 0
        assert _paths(result) == json_answers
        assert all(m.count == 1 and '"ok": true' in m.snippet for m in result.matches)
        assert seen[-1] == result and result.searched == result.total
        page = search_bodies(browser, records, "dataset.done = 'yes'")
        assert _paths(page) == ["/"]
        assert search_bodies(browser, records, "not in any body").matches == ()
        if body_memory == 0:  # the browser forgets a page's bodies when it navigates away
            browser.navigate(f"{site.url}/ok?elsewhere")
            assert wait_for(lambda: any("elsewhere" in r.url for r in browser.tracker.records()))
            gone = search_bodies(browser, records, '"ok": true')
            assert gone.matches == () and gone.unavailable == gone.searched > 0
    finally:
        browser.stop()


def test_a_search_stops_when_cancelled_or_out_of_time(site: ControlSite) -> None:
    browser = _launched(site, 64 << 20)
    try:
        records = browser.tracker.records()
        stopped = search_bodies(browser, records, "ok", cancelled=lambda: True)
        assert stopped.stopped == "cancelled" and stopped.searched == 0
        late = search_bodies(browser, records, "ok", time_limit=0)
        assert late.stopped.startswith("stopped after") and late.searched == 0
        few = search_bodies(browser, records, "ok", max_matches=1)
        assert len(few.matches) == 1 and few.stopped == "the first 1 matches"
    finally:
        browser.stop()


def test_matching_ignores_case_and_gives_a_snippet() -> None:
    assert find(b"Hello World, hello", "HELLO") == (2, "Hello World, hello")
    count, snippet = find(b"x" * 100 + b"needle" + b"y" * 100, "needle")
    assert count == 1 and snippet.startswith("…") and snippet.endswith("…")
    assert find(b"\xff\xfe binary", "binary")[0] == 1
    assert find(b"nothing", "else") == (0, "")


def test_websocket_frames_and_server_sent_events_are_searched_and_say_where() -> None:
    with stream_site() as site:
        browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
        browser.start()
        try:
            assert wait_for(lambda: _both_done(browser), timeout=20)
            ws = next(r for r in browser.tracker.records() if r.resource_type == "WebSocket")
            assert wait_for(lambda: len(browser.tracker.streams.messages(ws.id)) == 4)
            records = browser.tracker.records()
            assert searchable(ws)
            hello = search_bodies(browser, records, "HELLO livetap")
            found = {m.url: (m.count, m.where) for m in hello.matches}
            assert found == {
                f"{site.url}/": (1, "body"),  # the page's script sends it
                ws.url: (2, "frame #1 ↑ sent (+1 more)"),  # sent, and echoed back
            }
            assert hello.matches[-1].snippet == "hello livetap"
            echo = search_bodies(browser, records, "echo:")
            (echoed,) = [
                m.index
                for m in browser.tracker.streams.messages(ws.id)
                if m.data.startswith(b"echo")
            ]
            assert [(m.where, m.snippet) for m in echo.matches] == [
                (f"frame #{echoed} ↓ received", "echo:hello livetap")
            ]
            token = search_bodies(browser, records, '"token"')
            (match,) = token.matches
            assert match.url == f"{site.url}/events" and match.count == 2
            assert match.where == "body (+1 more)"  # the stream's body, then its event
            assert search_bodies(browser, records, "\x01\x02\x03").matches == ()  # binary: not text
            assert search_bodies(browser, records, "not anywhere").unavailable == 0
        finally:
            browser.stop()
