"""The request list's keys (issue 19) on 10,000 requests: the demo's recorded CDP events
replayed 715 times over through the real tracker, each key timed from press to idle."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from benchmarks.ui_latency import recorded_requests
from engine.browser.recorded import RecordedBrowser
from tests.request_demo import until
from tui.app import LivetapApp
from tui.screens.main import MainScreen
from tui.widgets.request_list import MAX_ROWS
from tui.widgets.request_view import RequestList

COPIES = 715
"""14 requests a copy: 10,010 in all."""


@pytest.fixture(autouse=True)
def _private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def many_requests() -> RecordedBrowser:
    return recorded_requests(COPIES)  # the benchmark's: the demo's events, renamed per copy


async def test_every_request_key_answers_quickly_with_10000_requests(tmp_path: Path) -> None:
    browser = many_requests()
    assert len(browser.tracker.records()) == 14 * COPIES
    app = LivetapApp(None, browser=browser, save_directory=tmp_path)
    async with app.run_test(size=(180, 50)) as pilot:
        main = app.screen_stack[1]
        assert isinstance(main, MainScreen)
        requests = main.query_one(RequestList)
        await until(pilot, lambda: requests.row_count == MAX_ROWS, 30)
        requests.focus()
        assert requests.shown_columns[-1] == "Waterfall"
        timings: dict[str, float] = {}
        for key in ("T", "S", "S", "o", "o", "O", "up", "end", "P", "C"):
            started = time.perf_counter()
            await pilot.press(key)
            timings[key] = max(timings.get(key, 0.0), (time.perf_counter() - started) * 1000)
        print(" ".join(f"{key} {ms:.0f} ms" for key, ms in timings.items()))
        assert requests.row_count == 0  # C, last
        assert max(timings.values()) < 1500, timings
