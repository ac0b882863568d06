"""Follow stream (s): search inside the stream, and the display filter tcp.stream == N."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input, Label

from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.analysis_data import Tcp, write_frames
from tests.test_app import SIZE, main_screen, until
from tui.app import LivetapApp
from tui.screens.follow import FollowScreen, find_matches
from tui.widgets.stream_view import StreamView


def two_streams(path: Path) -> tuple[Path, int]:
    """Stream 0 (no needle), then stream 1 whose exchange says "needle" three times; the
    frame number of stream 1's request."""
    first = Tcp("10.8.0.1", 42000, "10.8.0.2", 80)
    second = Tcp("10.8.0.1", 42001, "10.8.0.2", 80)
    for tcp in (first, second):
        tcp.send(True, "S")
        tcp.send(False, "SA")
        tcp.send(True, "A")
    first.send(True, "PA", b"GET /hay HTTP/1.1\r\nHost: a\r\n\r\n")
    second.send(True, "PA", b"GET /needle HTTP/1.1\r\nHost: b\r\n\r\n")
    body = b"hay\nhay NEEDLE hay\n" + b"filler line\n" * 80 + b"the last Needle\n"
    second.send(False, "PA", b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    second.send(True, "A")
    frames = first.frames[:3] + second.frames[:3] + first.frames[3:] + second.frames[3:]
    return write_frames(path, frames), 8  # 3 + 3 + the first request + this request


def current_marked(view: StreamView) -> str:
    """The text drawn in the current match's style (bold on a background) on screen."""
    found = []
    for y in range(view.scrollable_content_region.height):
        for segment in view.render_line(y):
            style = segment.style
            if style is not None and style.bgcolor is not None and style.bold:
                found.append(segment.text)
    return "".join(found)


async def test_search_and_filter_the_stream(tmp_path: Path) -> None:
    path, request = two_streams(tmp_path / "two.pcap")
    session = CaptureSession(open_file_source(path))
    app = LivetapApp(session)
    async with app.run_test(size=SIZE) as pilot:
        main = main_screen(app)
        await until(pilot, lambda: main.packet_list.row_count == 10)
        main.packet_list.select(request)
        await pilot.press("s")
        screen = app.screen
        assert isinstance(screen, FollowScreen)
        assert screen.stream == 1
        await until(pilot, lambda: screen.loaded, 15)

        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"needle")
        view = screen.view
        texts = view.line_texts()
        assert len(screen.matches) == 3  # the request line and the body's two
        assert [texts[line][start:end] for line, start, end in screen.matches] == [
            "needle",
            "NEEDLE",
            "Needle",
        ]
        assert screen.current == 0
        assert str(screen.query_one("#follow-matches", Label).content).startswith("1 of 3")
        assert current_marked(view) == "needle"  # GET /needle, as sent

        await pilot.press("enter", "enter")
        assert screen.current == 2
        line = screen.matches[2][0]
        assert line > view.size.height  # below the first screen: it scrolled there
        assert (
            view.scroll_offset.y <= view.row_of(line, 0) < view.scroll_offset.y + view.size.height
        )
        assert current_marked(view) == "Needle"
        await pilot.press("escape")  # closes the search box, not the stream
        assert id(app.screen) == id(screen)
        await pilot.press("n")
        assert screen.current == 0  # wraps
        await pilot.press("N", "N")
        assert screen.current == 1
        assert current_marked(view) == "NEEDLE"
        assert "2 of 3" in str(screen.query_one("#follow-matches", Label).content)

        await pilot.press("f")
        await until(pilot, lambda: not isinstance(app.screen, FollowScreen))
        await until(pilot, lambda: session.view is not None and not session.view.scanning, 10)
        assert main.display_scope.text == "tcp.stream == 1"
        view_rows = session.view
        assert view_rows is not None
        shown = [view_rows.index_at(row) for row in range(len(view_rows))]
        assert shown == [4, 5, 6, 8, 9, 10]

        main.packet_list.select(request)
        await pilot.press("s")
        again = app.screen
        assert isinstance(again, FollowScreen)
        await pilot.press("X")
        await until(pilot, lambda: not isinstance(app.screen, FollowScreen))
        await until(pilot, lambda: session.view is not None and not session.view.scanning, 10)
        assert main.display_scope.text == "!(tcp.stream == 1)"
        rest = session.view
        assert rest is not None
        assert [rest.index_at(row) for row in range(len(rest))] == [1, 2, 3, 7]


def test_find_matches() -> None:
    lines = ["abcABCabc", "", "xabcx"]
    assert find_matches(lines, "ABC") == [(0, 0, 3), (0, 3, 6), (0, 6, 9), (2, 1, 4)]
    assert find_matches(lines, "") == []
    assert find_matches(["aaaa"], "aa") == [(0, 0, 2), (0, 2, 4)]
