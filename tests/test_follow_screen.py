"""``s`` on a big TCP stream: the follow screen opens and switches to hex without freezing.

A ~600 KB stream took 1.7 s to open and 4.8 s to switch to hex with the UI frozen
(issue 18 #10). A heartbeat timer on the app measures the event loop: it must keep
ticking (no gap over half a second) while the stream loads and while hex is prepared.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Label

from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.analysis_data import Tcp, write_frames
from tui.app import LivetapApp
from tui.screens.follow import FollowScreen
from tui.screens.main import MainScreen
from tui.widgets.stream_view import StreamView

SIZE = (160, 45)
LINE = 80
LINES = 7_600  # 7,600 lines of 80 bytes: about 600 KB from the server
MAX_STALL = 0.5
BODY = b"".join(b"line %06d " % n + b"x" * (LINE - 13) + b"\r\n" for n in range(LINES))
HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY)


def big_stream(path: Path) -> Path:
    """One HTTP exchange whose response is ~600 KB of numbered text lines."""
    tcp = Tcp("10.7.0.1", 41000, "10.7.0.2", 8080)
    tcp.send(True, "S")
    tcp.send(False, "SA")
    tcp.send(True, "A")
    tcp.send(True, "PA", b"GET /big.txt HTTP/1.1\r\nHost: big.example\r\n\r\n")
    tcp.send(False, "PA", HEAD)
    for start in range(0, len(BODY), 1448):
        tcp.send(False, "PA", BODY[start : start + 1448])
    tcp.send(True, "A")
    return write_frames(path, tcp.frames)  # Ether(src=..., dst=...) on every frame


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.02)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return big_stream(tmp_path_factory.mktemp("follow") / "big.pcap")


async def test_a_600_kb_stream_opens_and_switches_to_hex_without_freezing(capture: Path) -> None:
    app = LivetapApp(CaptureSession(open_file_source(capture)))
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await until(pilot, lambda: main.packet_list.row_count > 400)
        main.packet_list.select(4)  # the request
        beats: list[float] = []
        app.set_interval(0.02, lambda: beats.append(time.monotonic()))
        await pilot.pause(0.1)

        def longest_stall(since: float) -> float:
            ticks = [since] + [b for b in beats if b >= since] + [time.monotonic()]
            return max(b - a for a, b in itertools.pairwise(ticks))

        opened = time.monotonic()
        await pilot.press("s")
        follow = app.screen
        assert isinstance(follow, FollowScreen)  # at once, with a loading note
        await until(pilot, lambda: follow.loaded)
        stall = longest_stall(opened)
        assert stall < MAX_STALL, f"the UI stalled {stall:.2f} s while the stream loaded"
        view = follow.query_one(StreamView)
        text = view.plain_text()
        assert text.startswith("GET /big.txt HTTP/1.1")
        assert "line 000000 " in text and f"line {LINES - 1:06d} " in text
        assert view.line_count > LINES
        title = str(follow.query_one("#follow-title", Label).content)
        assert (
            "10.7.0.1:41000 ⇄ 10.7.0.2:8080" in title
            and f"{len(HEAD) + len(BODY):,} from node 1" in title
        )

        switched = time.monotonic()
        await pilot.press("h")
        await pilot.press("end")  # keys are handled while the hex dump is prepared
        await until(pilot, lambda: follow.loaded)
        stall = longest_stall(switched)
        assert stall < MAX_STALL, f"the UI stalled {stall:.2f} s while hex was prepared"
        hex_text = view.plain_text()
        assert hex_text.startswith("00000000  47 45 54 20 2f 62 69 67  2e 74 78 74 20 48 54 54")
        assert view.line_count > 600_000 // 16
        await pilot.press("end")
        await pilot.pause()
        assert view.scroll_y > 0  # drawn lazily, scrolled to the last rows

        await pilot.press("h")  # back to ASCII: kept from before, shown at once
        assert follow.loaded and view.plain_text() == text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_long_lines_wrap_to_the_view_and_keep_each_sides_colour() -> None:
    from textual.app import App, ComposeResult

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield StreamView()

    app = One()
    async with app.run_test(size=(42, 10)) as pilot:
        view = app.query_one(StreamView)
        view.set_colours("#ff0000", "#0000ff")
        line = (("a" * 30, 0), ("b" * 30, 1))
        view.show_lines([line, (("short", 1),)], [60, 5])
        await pilot.pause()
        width = view.size.width - view.styles.scrollbar_size_vertical
        rows = [view.render_line(y) for y in range(4)]
        texts = [row.text.rstrip() for row in rows]
        joined = "".join(texts[: -(-60 // width)])
        assert joined == "a" * 30 + "b" * 30  # one line, wrapped, nothing lost
        assert texts[-(-60 // width)] == "short"
        for row in rows:
            for segment in row:
                for letter, colour in (("a", "#ff0000"), ("b", "#0000ff"), ("s", "#0000ff")):
                    if segment.text.startswith(letter):
                        assert segment.style is not None and segment.style.color is not None
                        assert segment.style.color.name == colour, segment
        assert view.virtual_size.height == -(-60 // width) + 1
