"""``c`` in the TUI: the NDJSON form, a capture that writes while the panes run, errors inline."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input

from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from engine.live import LiveSource
from engine.session import CaptureSession
from tests.local_site import LocalSite, local_site
from tui.app import LivetapApp
from tui.screens.main import MainScreen
from tui.screens.ndjson_form import NdjsonForm
from tui.widgets.status_bar import StatusBar

pytestmark = pytest.mark.root


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with local_site() as running:
        yield running


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.05)


async def test_c_starts_a_capture_from_the_form_and_c_stops_it(
    site: LocalSite, tmp_path: Path
) -> None:
    capture = CaptureSession(LiveSource("lo", expression=f"tcp port {site.port}"))
    browser = BrowserSession(BrowserTarget(launch=True))
    browser.start()
    app = LivetapApp(capture, browser=browser, save_directory=tmp_path)
    out = tmp_path / "tui.ndjson"
    async with app.run_test(size=(200, 50)) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await pilot.press("c")
        form = app.screen
        assert isinstance(form, NdjsonForm)
        assert form.query_one("#ndjson-file", Input).value.startswith(str(tmp_path / "livetap-"))
        form.query_one("#ndjson-file", Input).value = str(tmp_path / "missing" / "x.ndjson")
        form.submit()
        await pilot.pause()
        refusal = form.error_text
        assert isinstance(app.screen, NdjsonForm) and "No such file or directory" in refusal
        form.query_one("#ndjson-file", Input).value = str(out)
        form.query_one("#ndjson-filter", Input).value = "*/api/* */"
        form.query_one("#ndjson-packets", Checkbox).value = True
        form.submit()
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and main.ndjson is not None
        browser.navigate(f"{site.url}/")
        await until(pilot, lambda: out.exists() and "api/submit" in out.read_text())
        await until(pilot, lambda: "● REC tui.ndjson" in str(main.query_one(StatusBar).content))
        await pilot.press("c")
        assert main.ndjson is None
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        types = {line["type"] for line in lines}
        assert {"request", "response", "packet"} <= types
        urls = {line["url"] for line in lines if line["type"] == "request"}
        assert f"{site.url}/" in urls and f"{site.url}/style.css" not in urls
        assert capture.running and app.is_running
