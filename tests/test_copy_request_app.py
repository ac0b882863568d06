"""y in the TUI: the request copied as curl to the clipboard (OSC 52) and a 0600 file;
the status bar shows what livetap changed in the browser's network."""

from __future__ import annotations

import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList

from engine.browser.network_conditions import NetworkControls
from engine.browser.request_export import export_request
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from tests.control_site import ControlSite, control_site
from tui.app import LivetapApp
from tui.screens.copy_request import CopyRequestMenu
from tui.screens.main import MainScreen
from tui.screens.network_menu import NetworkMenu
from tui.widgets.request_view import RequestList
from tui.widgets.status_bar import StatusBar

SIZE = (220, 50)


@pytest.fixture
def site() -> Iterator[ControlSite]:
    with control_site() as running:
        yield running


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.05)


async def test_y_copies_the_request_as_curl_to_the_clipboard_and_a_file(
    site: ControlSite, tmp_path: Path
) -> None:
    controls = NetworkControls.parse(["*/api/*"], no_cache=True)
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/", controls=controls)
    browser.start()
    app = LivetapApp(None, browser=browser, save_directory=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen_stack[1]
        assert isinstance(main, MainScreen)
        requests = main.query_one(RequestList)
        url = f"{site.url}/echo?from=page"
        await until(
            pilot, lambda: any(r.url == url and r.finished for r in browser.tracker.records())
        )
        record = next(r for r in browser.tracker.records() if r.url == url)
        await until(pilot, lambda: requests.row_count >= 6)
        await until(pilot, lambda: record.id in requests.rows)  # its row may come later
        status = str(main.query_one(StatusBar).render())
        assert "[blocking 1 pattern, no cache]" in status
        requests.focus()
        requests.move_cursor(row=requests.get_row_index(record.id))
        await pilot.pause(0.2)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, CopyRequestMenu))
        assert app.screen.query_one(OptionList).option_count == 4
        await pilot.press("enter")  # the first: curl
        copied = tmp_path / f"livetap-request-{record.seq}.sh"
        await until(pilot, lambda: copied.exists() and app.clipboard != "")
        expected = export_request(record, "curl", browser.fetch_post_data(record.id))
        assert app.clipboard == expected == copied.read_text()
        assert "--data-raw" in expected and "[redacted]" in expected  # the cookie
        assert stat.S_IMODE(copied.stat().st_mode) == 0o600
        assert any("copied as curl command" in n.message for n in app._notifications)


async def choose(pilot: Pilot[None], app: LivetapApp, option_id: str) -> None:
    """Open the network menu (n) and pick one choice."""
    await pilot.press("n")
    await until(pilot, lambda: isinstance(app.screen, NetworkMenu))
    options = app.screen.query_one(OptionList)
    options.highlighted = options.get_option_index(option_id)
    await pilot.press("enter")


async def test_n_changes_the_browsers_network_while_it_runs(site: ControlSite) -> None:
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    app = LivetapApp(None, browser=browser)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen_stack[1]
        assert isinstance(main, MainScreen)
        requests = main.query_one(RequestList)
        url = f"{site.url}/ok"
        await until(
            pilot, lambda: any(r.url == url and r.finished for r in browser.tracker.records())
        )
        record = next(r for r in browser.tracker.records() if r.url == url)
        await until(pilot, lambda: requests.row_count >= 6)
        requests.focus()
        requests.move_cursor(row=requests.get_row_index(record.id))
        await pilot.pause(0.2)
        await choose(pilot, app, "block")
        await until(pilot, lambda: browser.controls.block.patterns == (f"{url}*",))
        await choose(pilot, app, "slow-3g")
        await until(pilot, lambda: browser.controls.describe() == "blocking 1 pattern, slow-3g")
        await until(
            pilot,
            lambda: "[blocking 1 pattern, slow-3g]" in str(main.query_one(StatusBar).render()),
        )
        browser.evaluate("fetch('/ok?again').then(r => r.text()).catch(() => null)")
        again = f"{url}?again"
        await until(
            pilot, lambda: any(r.url == again and r.error for r in browser.tracker.records())
        )
        assert site.hits["/ok"] == 1
        await choose(pilot, app, "unblock")
        await choose(pilot, app, "none")
        await until(pilot, lambda: not browser.controls.active)
