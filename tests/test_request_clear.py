"""Clear the request list (C), and preserve log or clear on navigate (P, ``preserveLog``):
issue 19. The tracker fed with the demo's recorded CDP events, and a real Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.browser.recorded import Recording
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from engine.config import load_settings
from engine.errors import UsageError
from tests.local_site import LocalSite, local_site
from tests.request_demo import DATA, browser_app, loaded, recorded_browser, until
from tui.app import LivetapApp
from tui.screens.main import MainScreen
from tui.widgets.request_chips import ChipBar
from tui.widgets.request_view import RequestList


def document_request(request_id: str) -> tuple[str, dict[str, Any], str]:
    """The demo's first CDP event (a tab loading its page) again, as another navigation."""
    method, params, session = Recording.load(DATA / "demo-browser.json").events[0]
    return method, {**params, "requestId": request_id, "loaderId": request_id}, session


def test_the_tracker_marks_main_frame_navigations_only() -> None:
    browser = recorded_browser()
    tracker = browser.tracker
    assert tracker.navigated_at == 0, "frames are not known: no navigation is claimed"
    method, params, session = document_request("NAV2")
    tracker.main_frames.add(params["frameId"])
    tracker.handle(method, params, session)
    navigation = tracker.get("NAV2")
    assert navigation is not None and tracker.navigated_at == navigation.seq == 15
    tracker.handle(method, {**params, "requestId": "SUB", "frameId": "IFRAME"}, session)
    assert tracker.navigated_at == 15, "an iframe's document is not a navigation"


def test_preserve_log_is_a_config_option(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("preserveLog: false\n")
    assert load_settings({}, environ={}, config_path=config).preserve_log is False
    config.write_text("theme: livetap-dark\n")
    assert load_settings({}, environ={}, config_path=config).preserve_log, "kept by default"
    config.write_text("preserveLog: sometimes\n")
    with pytest.raises(UsageError, match="preserve log must be true or false"):
        load_settings({}, environ={}, config_path=config)


async def test_c_clears_the_list_and_only_new_requests_come_back() -> None:
    app = browser_app()
    async with app.run_test(size=(120, 40)) as pilot:
        main, requests = await loaded(pilot, app)
        requests.focus()
        await pilot.press("C")
        await until(pilot, lambda: requests.row_count == 0)
        await pilot.press("T", "T")  # chips lay the list out again from the tracker
        await pilot.press(*["T"] * 8)
        assert requests.chips.everything and requests.row_count == 0, "cleared stays cleared"
        main.apply_display_filter('method == "GET"')
        main.apply_display_filter("")
        assert requests.row_count == 0
        assert main.browser is not None
        main.browser.tracker.handle(*document_request("AFTER"))
        await until(pilot, lambda: requests.row_count == 1)
        assert requests.selected_id == "AFTER"


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with local_site() as running:
        yield running


async def test_p_clears_the_list_when_the_tab_navigates_and_again_keeps_it(
    site: LocalSite,
) -> None:
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    app = LivetapApp(None, browser=browser)
    async with app.run_test(size=(160, 40)) as pilot:
        main = app.screen_stack[1]
        assert isinstance(main, MainScreen)
        requests = main.query_one(RequestList)
        await until(pilot, lambda: requests.row_count >= 9, 20)
        assert "preserve log" in str(main.query_one(ChipBar).render())
        requests.focus()
        await pilot.press("P")
        assert "clear on navigate" in str(main.query_one(ChipBar).render())
        browser.navigate(f"{site.url}/popup")
        await until(pilot, lambda: any(r.url.endswith("/popup") for r in requests.listed), 20)
        navigation = browser.tracker.navigated_at
        assert navigation > 9
        await until(pilot, lambda: min(r.seq for r in requests.listed) == navigation, 20)
        assert not any(r.url.endswith("/app.js") for r in requests.listed), "the old page's"
        await pilot.press("P")  # preserve log again: the next navigation keeps the list
        before = requests.row_count
        browser.navigate(f"{site.url}/")
        await until(pilot, lambda: requests.row_count >= before + 9, 20)
        assert any(r.url.endswith("/popup") for r in requests.listed)
