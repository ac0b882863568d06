"""r, e and B in the TUI, and the Messages tab, with a real headless Chromium and local sites."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest
from textual.widgets import Input, OptionList, TabbedContent, TextArea

from engine.browser.records import RequestRecord
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget, parse_browser_spec
from tests.conftest import wait_for
from tests.control_site import ControlSite, control_site
from tests.stream_site import StreamSite, stream_site
from tests.test_browser import _answers, _free_port, _kill, _start_chromium
from tests.test_copy_request_app import SIZE, until
from tui.app import LivetapApp
from tui.screens.body_search import BodySearch
from tui.screens.main import MainScreen
from tui.screens.resend_form import ResendForm
from tui.widgets.request_detail import RequestDetail
from tui.widgets.request_view import RequestList


@pytest.fixture
def site() -> Iterator[ControlSite]:
    with control_site() as running:
        yield running


@pytest.fixture
def streams() -> Iterator[StreamSite]:
    with stream_site() as running:
        yield running


def _main(app: LivetapApp) -> MainScreen:
    main = app.screen_stack[1]
    assert isinstance(main, MainScreen)
    return main


async def test_r_replays_and_e_edits_and_resends_the_selected_request(site: ControlSite) -> None:
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    app = LivetapApp(None, browser=browser)
    async with app.run_test(size=SIZE) as pilot:
        requests = _main(app).query_one(RequestList)
        url = f"{site.url}/echo?from=page"
        await until(
            pilot, lambda: any(r.url == url and r.finished for r in browser.tracker.records())
        )
        original = next(r for r in browser.tracker.records() if r.url == url)
        await until(pilot, lambda: original.id in requests.rows)
        requests.focus()
        requests.move_cursor(row=requests.get_row_index(original.id))
        await pilot.pause(0.2)

        await pilot.press("r")
        await until(pilot, lambda: site.hits["/echo"] == 2)

        def replays() -> list[RequestRecord]:
            return [r for r in browser.tracker.records() if r.replay_of]

        await until(pilot, lambda: len(replays()) == 1 and replays()[0].id in requests.rows)
        replay = replays()[0]
        assert replay.replay_of == original.seq
        assert site.seen[-1].body == site.seen[-2].body
        row = requests.get_row(replay.id)
        assert f"↻#{original.seq}" in str(row[requests.shown_columns.index("URL")])
        requests.move_cursor(row=requests.get_row_index(replay.id))
        await pilot.pause(0.2)
        detail = _main(app).query_one(RequestDetail).plain_text()
        assert f"Replay of    request #{original.seq} (r)" in detail

        requests.move_cursor(row=requests.get_row_index(original.id))
        await pilot.pause(0.2)
        await pilot.press("E")
        await until(pilot, lambda: isinstance(app.screen, ResendForm))
        form = app.screen
        assert isinstance(form, ResendForm)
        headers = form.query_one("#resend-headers", TextArea)
        assert "X-Livetap-Test: yes 'quoted'" in headers.text and "Cookie" not in headers.text
        headers.text += "\nbroken line"
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        assert "not 'Name: value'" in form.error_text and app.screen is form
        headers.text = headers.text.replace("\nbroken line", "").replace("yes 'quoted'", "edited")
        form.query_one("#resend-method", Input).value = "PUT"
        form.query_one("#resend-body", TextArea).text = "edited body"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: site.hits["/echo"] == 3)
        seen = site.seen[-1]
        assert (seen.method, seen.body) == ("PUT", b"edited body")
        assert ("X-Livetap-Test", "edited") in seen.headers
        await until(pilot, lambda: len(replays()) == 2)
        assert replays()[1].replay_edited and replays()[1].method == "PUT"


async def test_an_attached_browser_without_allow_control_is_not_replayed(
    site: ControlSite,
) -> None:
    port = _free_port()
    with tempfile.TemporaryDirectory() as profile:
        chromium = _start_chromium(port, profile)
        try:
            assert wait_for(lambda: _answers(port), timeout=15)
            browser = BrowserSession(parse_browser_spec(str(port)))
            browser.start()
            browser.navigate(f"{site.url}/")
            app = LivetapApp(None, browser=browser)
            async with app.run_test(size=SIZE) as pilot:
                requests = _main(app).query_one(RequestList)
                await until(pilot, lambda: requests.row_count >= 1)
                requests.focus()
                await pilot.press("r")
                await until(
                    pilot, lambda: any("--allow-control" in n.message for n in app._notifications)
                )
                assert site.hits["/"] == 1
        finally:
            _kill(chromium)


async def test_the_messages_tab_shows_frames_live_and_b_finds_bodies(
    streams: StreamSite,
) -> None:
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{streams.url}/")
    browser.start()
    app = LivetapApp(None, browser=browser)
    async with app.run_test(size=SIZE) as pilot:
        main = _main(app)
        requests = main.query_one(RequestList)
        detail = main.query_one(RequestDetail)

        def ws_id() -> str | None:
            found = [r for r in browser.tracker.records() if r.resource_type == "WebSocket"]
            return found[0].id if found and found[0].messages == 4 else None

        await until(pilot, lambda: ws_id() is not None and str(ws_id()) in requests.rows)
        requests.focus()
        requests.move_cursor(row=requests.get_row_index(str(ws_id())))
        await pilot.pause(0.3)
        detail.open_tab("messages")
        await pilot.pause(0.1)
        assert main.query_one(TabbedContent).active == "tab-messages"
        text = detail.plain_text()
        assert "4 frames" in text and "↑ sent 18 B · ↓ received 23 B" in text
        assert "↑ #1 sent text  13 B" in text and "hello livetap" in text
        assert "↓ #4 received binary  5 B" in text and "fa 04 03 02 01" in text
        browser.evaluate("ws.send('one more')")
        await until(pilot, lambda: "↓ #6 received text  13 B" in detail.plain_text())
        assert "echo:one more" in detail.plain_text()

        await pilot.press("B")
        await until(pilot, lambda: isinstance(app.screen, BodySearch))
        search = app.screen
        assert isinstance(search, BodySearch)
        await pilot.press(*"echo:one", "enter")
        await until(pilot, lambda: search.result is not None and search.result.done)
        assert search.result is not None
        assert [m.url for m in search.result.matches] == [f"ws://127.0.0.1:{streams.ws_port}/chat"]
        assert search.result.matches[0].where.endswith("↓ received")  # a frame, not a body
        first = search.result
        search.query_one(Input).value = "FIRST TICK"
        await pilot.press("enter")
        await until(
            pilot, lambda: search.result is not first and bool(search.result and search.result.done)
        )
        assert search.result is not None
        assert [m.url for m in search.result.matches] == [f"{streams.url}/events"]
        assert search.result.matches[0].where == "body (+1 more)"  # and its event
        assert search.query_one(OptionList).option_count == 1
        shown = str(search.query_one(OptionList).get_option_at_index(0).prompt)
        assert "×2  in body (+1 more)" in shown
        await pilot.press("tab", "enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        selected = browser.get(str(requests.selected_id))
        assert selected is not None and selected.url == f"{streams.url}/events"

        # a WebSocket the server refuses is listed failed, with the browser's reason
        refused = f"ws://127.0.0.1:{streams.port}/refuse"
        browser.evaluate(f"new WebSocket({refused!r}); 1")

        def failed() -> RequestRecord | None:
            found = [r for r in browser.tracker.records() if r.url == refused]
            return found[0] if found and found[0].state == "failed" else None

        await until(pilot, lambda: (f := failed()) is not None and f.id in requests.rows)
        record = failed()
        assert record is not None and main.requests is not None
        assert main.requests.select_request(record.id)
        detail.open_tab("headers")
        await until(pilot, lambda: "Unexpected response code: 403" in detail.plain_text())
        text = detail.plain_text()
        assert "Status    403" in text and "1 frame (the Messages tab)" in text
        assert "Failed    Error during WebSocket handshake" in text
