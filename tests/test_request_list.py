"""The request list stays bounded and quick when requests arrive by the thousand.

The list drops its oldest rows down to MAX_ROWS at once, after a slack; these
check what a user sees across that: the newest requests, in order, the cursor
kept on the request it was on, updates in place.
"""

from __future__ import annotations

from dataclasses import replace

from textual.app import App, ComposeResult

from engine.browser.records import RequestRecord
from tui.widgets.request_list import MAX_ROWS, SLACK
from tui.widgets.request_view import RequestList


class ListApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RequestList()


def record(number: int) -> RequestRecord:
    return RequestRecord(id=f"r{number}", seq=number, url=f"http://127.0.0.1/item/{number}")


def keys(requests: RequestList) -> list[str]:
    return list(requests.order)


async def test_a_batch_bigger_than_the_list_shows_its_newest_requests() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 30)) as pilot:
        requests = app.query_one(RequestList)
        requests.apply(tuple(record(n) for n in range(1, 12_001)), ())
        await pilot.pause()
        assert requests.row_count == MAX_ROWS
        assert keys(requests) == [f"r{n}" for n in range(12_001 - MAX_ROWS, 12_001)]
        assert requests.selected_id == "r12000"  # following the newest


async def test_a_steady_stream_trims_the_oldest_at_once_and_keeps_the_cursor() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 30)) as pilot:
        requests = app.query_one(RequestList)
        for start in range(1, MAX_ROWS + SLACK + 1, 10):
            requests.apply(tuple(record(n) for n in range(start, start + 10)), ())
        assert requests.row_count == MAX_ROWS + SLACK  # over by the slack, nothing dropped yet
        requests.move_cursor(row=MAX_ROWS + 100, animate=False)  # the user reads an old one
        chosen = requests.selected_id
        assert chosen == f"r{MAX_ROWS + 101}"
        requests.apply((record(MAX_ROWS + SLACK + 1),), ())
        await pilot.pause()
        assert requests.row_count == MAX_ROWS
        assert (
            keys(requests)[0] == f"r{SLACK + 2}"
            and keys(requests)[-1] == f"r{MAX_ROWS + SLACK + 1}"
        )
        assert requests.selected_id == chosen


async def test_updates_land_in_place_and_evicted_requests_leave() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 30)) as pilot:
        requests = app.query_one(RequestList)
        requests.apply(tuple(record(n) for n in range(1, 101)), ())
        requests.apply((replace(record(50), status=404),), ("r1", "r2"))
        await pilot.pause()
        assert requests.row_count == 98
        assert keys(requests)[:2] == ["r3", "r4"]
        row = requests.get_row("r50")
        assert str(row[2]) == "404" and keys(requests).index("r50") == 47
        evicted = tuple(f"r{n}" for n in range(3, 100))  # more than a rebuild's threshold
        requests.apply((), evicted)
        await pilot.pause()
        assert keys(requests) == ["r100"]


async def test_resource_types_fit_their_column_or_end_in_an_ellipsis() -> None:
    app = ListApp()
    async with app.run_test(size=(160, 10)) as pilot:
        requests = app.query_one(RequestList)
        sheet = replace(record(1), resource_type="Stylesheet")
        report = replace(record(2), resource_type="CSPViolationReport")
        requests.apply((sheet, report), ())
        await pilot.pause()
        lines = [strip.text for strip in (requests.render_line(y) for y in range(1, 3))]
        assert "Stylesheet" in lines[0], lines
        assert "CSPViolat…" in lines[1], lines
