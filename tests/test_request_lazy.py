"""The request list makes a row's cells only when the row is drawn (tui/widgets/request_list.py
LazyCells): laying out 5,000 rows for a chip, a sort or a filter styles only those on screen."""

from __future__ import annotations

from dataclasses import replace

from tests.test_request_list import ListApp, record
from tui.widgets.request_list import MAX_ROWS, LazyCells, RequestList


def made(requests: RequestList) -> int:
    """Rows whose cells exist."""
    return sum(1 for cells in requests._data.values() if getattr(cells, "_make", None) is None)


async def test_only_the_rows_drawn_have_cells() -> None:
    app = ListApp()
    async with app.run_test(size=(120, 30)) as pilot:
        requests = app.query_one(RequestList)
        requests.apply(tuple(record(n) for n in range(1, MAX_ROWS + 1)), ())
        await pilot.pause()
        assert all(isinstance(cells, LazyCells) for cells in requests._data.values())
        drawn = made(requests)  # the rows drawn: at the top, then at the end (following)
        assert 0 < drawn <= 2 * 30, "not the 5,000 rows"
        requests.refill([record(n) for n in range(1, MAX_ROWS + 1)])
        requests.sort_by("URL")
        await pilot.pause()
        assert 0 < made(requests) <= 2 * 30
        assert str(requests.get_row("r7")[3]) == "127.0.0.1/item/7"  # read: made then
        requests.apply((replace(record(8), status=404),), ())
        await pilot.pause()
        assert str(requests.get_row("r8")[2]) == "404"
        assert made(requests) <= 2 * 30 + 2
