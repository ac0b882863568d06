"""Type and status chips over the request list (issue 19), with the display filter:
the recorded demo's requests (real CDP events through the real tracker)."""

from __future__ import annotations

from dataclasses import replace

from textual.widgets import Static

from engine.browser.records import RequestRecord
from tests.request_demo import browser_app, loaded, until
from tui.widgets.request_chips import ChipBar, Chips, chip_bar, status_chip_of, type_chip_of
from tui.widgets.status_bar import StatusBar


def test_cdp_resource_types_fall_under_devtools_chips() -> None:
    assert type_chip_of("XHR") == type_chip_of("Fetch") == "Fetch/XHR"
    assert type_chip_of("Document") == "Doc" and type_chip_of("Stylesheet") == "CSS"
    assert type_chip_of("Script") == "JS" and type_chip_of("WebSocket") == "WS"
    assert type_chip_of("Manifest") == type_chip_of("") == "Other"
    record = RequestRecord(id="1", seq=1, url="http://127.0.0.1/")
    assert status_chip_of(record) == ""
    assert status_chip_of(replace(record, status=101)) == "2xx"
    assert status_chip_of(replace(record, status=503)) == "5xx"
    assert status_chip_of(replace(record, status=200, error="net::ERR_ABORTED")) == "failed"
    assert Chips().next_type(-1).type == "Other" and Chips().next_status(6).status == "All"


def test_the_chip_bar_lights_the_active_chips_or_shortens_to_them() -> None:
    chips = Chips("CSS", "4xx")
    full = chip_bar(chips, 200)
    assert "Fetch/XHR" in full.plain and " CSS " in full.plain and "failed" in full.plain
    short = chip_bar(chips, 40)
    assert short.plain == " T type  CSS   S status  4xx "


async def test_t_and_s_cycle_the_chips_and_they_combine_with_the_display_filter() -> None:
    app = browser_app()
    async with app.run_test(size=(100, 40)) as pilot:
        main, requests = await loaded(pilot, app)
        requests.focus()
        await pilot.press("T")
        await until(pilot, lambda: requests.row_count == 10)
        assert requests.chips == Chips("Fetch/XHR", "All")
        assert "Fetch/XHR" in str(main.query_one("#browser-title", Static).content)
        await pilot.press("S")  # 2xx: the 200s and the 201 among the fetches
        await until(pilot, lambda: requests.row_count == 8)
        assert main.query_one(ChipBar).chips == Chips("Fetch/XHR", "2xx")
        assert "Fetch/XHR · 2xx: 8 of 14 requests" in str(main.query_one(StatusBar).content)
        main.apply_display_filter('url contains "round=1"')
        await pilot.pause()
        assert requests.row_count == 1
        main.apply_display_filter("")
        await pilot.press("S", "S")  # 3xx, then 4xx
        await until(pilot, lambda: requests.row_count == 2)
        for _ in range(3):  # 5xx, failed, All
            await pilot.press("S")
        await pilot.press(*["T"] * 9)  # back round to All
        await until(pilot, lambda: requests.row_count == 14)
        assert requests.chips.everything
