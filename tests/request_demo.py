"""The recorded demo browser (real CDP events through the real tracker) in the app, for
the request list and detail tests: no Chromium, the same records every run."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from engine.browser.recorded import RecordedBrowser, Recording
from tui.app import LivetapApp
from tui.screens.main import MainScreen
from tui.widgets.request_view import RequestList

DATA = Path(__file__).parent.parent / "screenshots" / "data"


def recorded_browser() -> RecordedBrowser:
    """The demo's 14 requests: a document, CSS, an image, fetches (200, 201, 404), a 204."""
    browser = RecordedBrowser(Recording.load(DATA / "demo-browser.json"), "recorded demo browser")
    browser.start()
    return browser


def browser_app(save_directory: Path | None = None) -> LivetapApp:
    """The app with the recorded browser and no packets."""
    return LivetapApp(None, browser=recorded_browser(), save_directory=save_directory)


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.05)


async def loaded(pilot: Pilot[None], app: LivetapApp) -> tuple[MainScreen, RequestList]:
    """The main screen once every recorded request is listed."""
    await until(pilot, lambda: len(app.screen_stack) > 1)
    main = app.screen_stack[1]
    assert isinstance(main, MainScreen)
    requests = main.query_one(RequestList)
    await until(pilot, lambda: requests.row_count == 14)
    return main, requests


def select(requests: RequestList, url_end: str) -> str:
    """Put the cursor on the first listed request whose URL ends so; its id."""
    for record in requests.listed:
        if record.url.endswith(url_end):
            requests.move_cursor(row=requests.get_row_index(record.id), animate=False)
            return record.id
    raise AssertionError(f"no listed request ends with {url_end}")
