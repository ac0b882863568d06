"""Sort the request list by any column (issue 19): by the records' values, with the
cursor kept on its request while new requests take their place; quick at 10,000."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from textual.app import App, ComposeResult

from engine.browser.records import RequestRecord
from tests.request_demo import browser_app, loaded
from tui.widgets.request_chips import ChipBar
from tui.widgets.request_list import MAX_ROWS
from tui.widgets.request_sort import SORT_ORDER, next_column
from tui.widgets.request_view import RequestList


class ListApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RequestList()


def record(number: int) -> RequestRecord:
    size = (number * 7919) % 1000  # sizes in no order
    return RequestRecord(
        id=f"r{number}",
        seq=number,
        url=f"http://127.0.0.1/item/{number}",
        encoded_length=size,
        finished=True,
        started=1000.0 + number,
        duration=0.01,
    )


def order(requests: RequestList) -> list[str]:
    return list(requests.order)


def values(requests: RequestList, name: str) -> list[Any]:
    """A field of every listed request, top row first."""
    return [getattr(requests.record(key), name) for key in order(requests)]


def test_o_goes_through_every_column_and_back() -> None:
    column, seen = "#", []
    for _ in SORT_ORDER:
        column = next_column(column)
        seen.append(column)
    assert seen[-1] == "#" and set(seen) == set(SORT_ORDER)


async def test_a_held_sorted_list_keeps_its_request_as_new_ones_take_their_place() -> None:
    app = ListApp()
    async with app.run_test(size=(160, 30)) as pilot:
        requests = app.query_one(RequestList)
        requests.apply(tuple(record(n) for n in range(1, 201)), ())
        requests.move_cursor(row=50, animate=False)
        chosen = requests.selected_id
        assert not requests.follow
        requests.sort_by("Size")
        await pilot.pause()
        sizes = values(requests, "encoded_length")
        assert sizes == sorted(sizes)
        assert requests.selected_id == chosen and not requests.follow, "held where it was"
        requests.apply((record(201), replace(record(3), encoded_length=5000)), ())
        await pilot.pause()
        assert requests.selected_id == chosen
        assert order(requests)[-1] == "r3", "a changed size moves its row"
        sizes = values(requests, "encoded_length")
        assert sizes == sorted(sizes)
        requests.follow_newest()
        assert requests.selected_id == "r201" and requests.follow
        requests.apply((record(202),), ())
        await pilot.pause()
        assert requests.selected_id == "r202", "following: the newest, wherever it sorts"
        requests.sort_by("#", reverse=True)
        await pilot.pause()
        assert order(requests)[:2] == ["r202", "r201"]
        requests.sort_by("#")
        await pilot.pause()
        assert order(requests)[:2] == ["r1", "r2"] and requests.selected_id == "r202"


async def test_o_and_capital_o_sort_the_demo_and_the_chip_bar_says_so() -> None:
    app = browser_app()
    async with app.run_test(size=(160, 40)) as pilot:
        main, requests = await loaded(pilot, app)
        requests.focus()
        await pilot.press("o", "o")  # Method, then Status
        assert requests.sort_column == "Status"
        statuses = values(requests, "status")
        assert statuses[0] == 200 and statuses[-2:] == [404, 404]
        assert "sort Status ▲" in str(main.query_one(ChipBar).render())
        await pilot.press("O")
        statuses = values(requests, "status")
        assert statuses[:2] == [404, 404]
        assert "sort Status ▼" in str(main.query_one(ChipBar).render())


async def test_sorting_and_feeding_10000_requests_stays_quick() -> None:
    app = ListApp()
    async with app.run_test(size=(160, 40)) as pilot:
        requests = app.query_one(RequestList)
        requests.apply(tuple(record(n) for n in range(1, 10_001)), ())
        await pilot.pause()
        assert requests.row_count == MAX_ROWS
        started = time.perf_counter()
        requests.sort_by("Size")
        sort_ms = (time.perf_counter() - started) * 1000
        batches = []
        for batch in range(20):  # 20 polls of 10 new requests each, sorted view
            first = 10_001 + batch * 10
            started = time.perf_counter()
            requests.apply(tuple(record(n) for n in range(first, first + 10)), ())
            batches.append((time.perf_counter() - started) * 1000)
        await pilot.pause()
        batches.sort()
        print(f"sort {sort_ms:.1f} ms; a batch while sorted: median {batches[10]:.1f} ms")
        assert sort_ms < 300 and batches[10] < 100, (sort_ms, batches)
        sizes = values(requests, "encoded_length")
        assert sizes == sorted(sizes)
