"""The request list's Waterfall column (issue 19): start and phases of each request,
scaled to the rows on screen, drawn in block characters, left out first when narrow."""

from __future__ import annotations

from dataclasses import replace

from engine.browser.records import RequestRecord, Timing
from tests.request_demo import browser_app, loaded
from tui.widgets.request_list import layout
from tui.widgets.waterfall import Scale, bar, phases

START = 1_000.0


def request(started: float, duration: float | None, **timing: float) -> RequestRecord:
    record = RequestRecord(id=str(started), seq=1, url="http://127.0.0.1/", started=started)
    return replace(record, duration=duration, timing=Timing(**timing) if timing else None)


def test_phases_leave_queueing_for_what_the_browser_did_not_time() -> None:
    record = request(START, 0.1, dns=10.0, connect=20.0, send=1.0, wait=40.0, receive=9.0)
    named = dict(phases(record))
    assert round(named["queue"], 3) == 0.02 and named["wait"] == 0.04
    assert phases(request(START, None)) == []


def test_bars_start_where_the_request_did_and_end_with_its_last_phase() -> None:
    scale = Scale.of([request(START, 1.0), request(START + 3.0, 1.0)])
    assert (scale.start, scale.span) == (START, 4.0)
    first = bar(request(START, 1.0, wait=500.0, receive=500.0), scale, 8).plain
    assert first == "██      "  # 1 s of the 4 s the scale spans: 2 of 8 cells
    late = bar(request(START + 3.0, 1.0, wait=1000.0), scale, 8).plain
    assert late == "      ██"
    blip = bar(request(START + 2.0, 0.0001, wait=0.1), scale, 8).plain
    assert blip.strip() in ("▌", "█") and blip.index(blip.strip()) == 4, "a short one shows"
    pending = bar(request(START + 2.0, None), scale, 8).plain
    assert pending == "    ▒▒▒▒", "a request still loading runs to the right edge"


def test_the_waterfall_is_the_first_column_left_out() -> None:
    wide = [name for name, _width in layout(160)]
    assert wide[-1] == "Waterfall"
    narrower = [name for name, _width in layout(120)]
    assert "Waterfall" not in narrower and "MIME" in narrower


async def test_the_column_is_drawn_for_the_rows_on_screen() -> None:
    app = browser_app()
    async with app.run_test(size=(170, 30)) as pilot:
        _main, requests = await loaded(pilot, app)
        await pilot.pause(0.2)
        assert requests.shown_columns[-1] == "Waterfall"
        lines = [requests.render_line(y).text for y in range(requests.size.height)]
        assert "Waterfall 7963 ms" in lines[0]
        slow = next(line for line in lines if "/api/slow" in line)
        assert "████" in slow  # 1.5 s of the 8 s on screen: 4 of its 24 cells
        requests.move_cursor(row=0, animate=False)
        await pilot.pause(0.2)
        assert requests.visible_records()[0].seq == 1
