"""The request list as a Line-API view (tui/widgets/request_view.py): only the rows on
screen are drawn, a chip or a sort on 10,000 requests recomputes one list of ids, the
header lines up with the rows, a click selects, the replay marker and the sort's arrow
show."""

from __future__ import annotations

import time
from dataclasses import replace

from textual.app import App, ComposeResult

from engine.browser.records import RequestRecord
from tests.request_demo import browser_app, loaded, until
from tui.widgets.request_chips import Chips
from tui.widgets.request_detail import RequestDetail
from tui.widgets.request_list import MAX_ROWS, short_url
from tui.widgets.request_view import RequestList


class ViewApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RequestList()


def record(number: int) -> RequestRecord:
    return RequestRecord(
        id=f"r{number}",
        seq=number,
        url=f"http://127.0.0.1/item/{number}",
        status=404 if number % 3 == 0 else 200,
        resource_type="Script" if number % 2 else "Document",
        encoded_length=(number * 7919) % 1000,
        finished=True,
        started=1000.0 + number,
        duration=0.5,
    )


async def test_a_chip_and_a_sort_on_10000_requests_draw_only_the_rows_on_screen() -> None:
    app = ViewApp()
    async with app.run_test(size=(170, 30)) as pilot:
        requests = app.query_one(RequestList)
        records = [record(n) for n in range(1, 10_001)]
        requests.apply(tuple(records), ())
        await pilot.pause()
        assert requests.row_count == MAX_ROWS and requests.selected_id == "r10000"
        drawn: list[str] = []
        original = requests._row

        def counted(record: RequestRecord, width: int, *, cursor: bool) -> object:
            drawn.append(record.id)
            return original(record, width, cursor=cursor)

        requests._row = counted  # type: ignore[assignment,method-assign]
        started = time.process_time()
        requests.set_chips(Chips().next_status(), records)  # 2xx
        chip_ms = (time.process_time() - started) * 1000
        await pilot.pause()
        assert requests.row_count == MAX_ROWS
        assert all(requests.record(key).status == 200 for key in requests.order)  # type: ignore[union-attr]
        assert 0 < len(drawn) <= 2 * 30, "only the rows on screen are drawn"
        started = time.process_time()
        requests.sort_by("Size")
        sort_ms = (time.process_time() - started) * 1000
        await pilot.pause()
        sizes = [r.encoded_length or 0 for r in requests.listed]
        assert sizes == sorted(sizes)
        assert requests.selected_id == requests.order[-1] or requests.follow
        print(f"chip {chip_ms:.1f} ms, sort {sort_ms:.1f} ms CPU")
        assert chip_ms < 100 and sort_ms < 100, (chip_ms, sort_ms)


async def test_the_header_lines_up_with_the_rows_and_shows_the_sort() -> None:
    app = ViewApp()
    async with app.run_test(size=(170, 10)) as pilot:
        requests = app.query_one(RequestList)
        requests.apply(tuple(record(n) for n in range(1, 6)), ())
        requests.sort_by("Status", reverse=True)
        await pilot.pause()
        header, first = requests.render_line(0).text, requests.render_line(1).text
        assert "Status▼" in header and "Waterfall" in header
        assert header.index("Status") == first.index("404")  # the 404s first
        assert header.index("URL") == first.index("127.0.0.1/item/")
        assert header.index("Type") == first.index(requests.listed[0].resource_type)


async def test_a_click_selects_and_holds_and_a_replay_shows_its_marker() -> None:
    app = ViewApp()
    async with app.run_test(size=(170, 12)) as pilot:
        requests = app.query_one(RequestList)
        requests.apply(tuple(record(n) for n in range(1, 4)), ())
        requests.apply((replace(record(4), replay_of=2),), ())
        await pilot.pause()
        assert requests.follow and requests.selected_id == "r4"
        assert "↻#2 127.0.0.1/item/4" in requests.render_line(4).text
        await pilot.click(RequestList, offset=(10, 2))  # the header, then r1, r2
        assert requests.selected_id == "r2" and not requests.follow
        requests.apply((record(5),), ())
        await pilot.pause()
        assert requests.selected_id == "r2", "a held cursor stays"
        requests.focus()
        await pilot.press("end")
        assert requests.selected_id == "r5" and requests.follow


async def test_keys_move_the_cursor_the_detail_follows_and_enter_opens_it() -> None:
    app = browser_app()
    async with app.run_test(size=(160, 40)) as pilot:
        main, requests = await loaded(pilot, app)
        detail = main.query_one(RequestDetail)
        requests.focus()
        await pilot.press("home")
        first = requests.listed[0]
        assert requests.selected_id == first.id and not requests.follow
        await until(pilot, lambda: short_url(first.url) in detail.plain_text())
        await pilot.press("down", "down")
        third = requests.listed[2]
        assert requests.selected_id == third.id
        await until(pilot, lambda: short_url(third.url) in detail.plain_text())
        await pilot.press("enter")
        focused = app.focused
        assert focused is not None and detail in focused.ancestors_with_self
