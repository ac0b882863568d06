"""Issue 18, "the first ten minutes": the main screen at 80×24 and up, driven with Pilot.

Deterministic sources only: the recorded demo (screenshots/data) and pcaps written here.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from engine.browser.recorded import RecordedBrowser, Recording
from engine.browser.records import RequestRecord
from engine.errors import UsageError
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.sample_traffic import write_sample_pcap
from tui.app import LivetapApp, theme_names
from tui.formatting import columns, header_text
from tui.screens.follow import FollowScreen
from tui.screens.main import MainScreen
from tui.widgets.browser_pane import BrowserPane
from tui.widgets.key_footer import KeyFooter
from tui.widgets.packet_detail import LayerTree
from tui.widgets.packet_list import PacketList, PacketListHeader
from tui.widgets.request_detail import RequestDetail
from tui.widgets.request_list import layout, size_text, time_text, url_text
from tui.widgets.request_view import RequestList
from tui.widgets.status_bar import StatusBar

DATA = Path(__file__).parent.parent / "screenshots" / "data"
SMALL = (80, 24)
LIVETAP = str(Path(sys.executable).parent / "livetap")


@pytest.fixture(autouse=True)
def _private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.05)


def demo_app(theme: str | None = None, packets: bool = True) -> LivetapApp:
    """The recorded demo: packets from demo.pcap, requests from demo-browser.json."""
    browser = RecordedBrowser(Recording.load(DATA / "demo-browser.json"), "recorded demo browser")
    browser.start()
    session = CaptureSession(open_file_source(DATA / "demo.pcap")) if packets else None
    return LivetapApp(session, theme=theme, browser=browser)


def sample_app(tmp_path: Path) -> LivetapApp:
    path = write_sample_pcap(tmp_path / "sample.pcap")
    return LivetapApp(CaptureSession(open_file_source(path)), save_directory=tmp_path)


def main_of(app: LivetapApp) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


def status(app: LivetapApp) -> str:
    return str(main_of(app).query_one(StatusBar).content)


def notes(app: LivetapApp) -> str:
    return " | ".join(notification.message for notification in app._notifications)


def shown(widget: object) -> bool:
    from textual.widget import Widget

    assert isinstance(widget, Widget)
    return widget.display and widget.region.width > 0 and widget.region.height > 0


async def loaded(pilot: Pilot[None], app: LivetapApp) -> MainScreen:
    main = main_of(app)
    requests = main.query(RequestList)
    await until(
        pilot,
        lambda: (
            (main.session is None or main.packet_list.row_count > 100)
            and (not requests or requests.first().row_count > 5)
        ),
    )
    await pilot.pause(0.1)
    return main


# -- 1. 80×24 first ----------------------------------------------------------------------


def test_columns_drop_in_the_documented_order() -> None:
    order = [columns(width).shown for width in (300, 99, 79, 60, 50, 40)]
    assert (
        order[0]
        == order[1]
        == (
            "number",
            "time",
            "source",
            "destination",
            "protocol",
            "length",
            "info",
        )
    )
    assert order[2] == ("number", "source", "destination", "protocol", "info")  # 80 columns
    assert order[3] == ("source", "protocol", "info")
    assert order[-1] == ("protocol", "info"), "Protocol and Info are never left out"
    for width in (40, 79, 95, 160, 299):
        assert len(header_text(columns(width))) == width


async def test_at_80x24_one_pane_at_a_time_with_protocol_info_help_and_quit() -> None:
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        main = await loaded(pilot, app)
        header = str(main.query_one(PacketListHeader).content)
        assert "Protocol" in header and "Info" in header
        footer = main.query_one(KeyFooter)
        assert footer.shown_actions[:2] == ("help", "quit")
        assert footer.region.right <= 80
        pane, packets = main.query_one(BrowserPane), main.query_one("#packet-pane")
        assert shown(packets) and not shown(pane)
        assert packets.region.width == 80
        assert "req" in status(app), "the hidden pane's count stays in the status bar"
        await pilot.press("v")
        await until(pilot, lambda: shown(pane) and isinstance(app.focused, RequestList))
        assert not shown(packets) and pane.region.width == 80
        assert "pkts" in status(app) or "packets" in status(app)
        requests = main.query_one(RequestList)
        assert requests.shown_columns == ("#", "Method", "Status", "URL", "Size", "Time")
        urls = [str(requests.get_row_at(row)[3]) for row in range(requests.row_count)]
        assert all(url.startswith(("/", "127.0.0.1")) for url in urls)
        assert any("/api/" in url for url in urls), "URLs keep their path"
        await pilot.press("v")
        await until(pilot, lambda: shown(packets) and app.focused is main.packet_list)


def test_a_url_loses_its_scheme_then_its_host_before_its_path() -> None:
    record = RequestRecord(id="1", seq=1, url="http://127.0.0.1:35025/api/readings?x=1")
    assert url_text(record) == "127.0.0.1:35025/api/readings?x=1"
    assert url_text(record, 40) == "127.0.0.1:35025/api/readings?x=1"
    assert url_text(record, 20) == "/api/readings?x=1"
    assert [name for name, _ in layout(78)] == ["#", "Method", "Status", "URL", "Size", "Time"]
    assert [name for name, _ in layout(158)][-5:] == ["Type", "MIME", "Size", "Time", "Waterfall"]
    assert [name for name, _ in layout(120)][-4:] == ["Type", "MIME", "Size", "Time"]


@pytest.mark.parametrize("size", [(100, 30), (160, 45), (200, 50), (300, 80)])
async def test_bigger_screens_use_the_room(size: tuple[int, int]) -> None:
    app = demo_app()
    async with app.run_test(size=size) as pilot:
        main = await loaded(pilot, app)
        header = str(main.query_one(PacketListHeader).content)
        assert "Time" in header and "Length" in header and "Info" in header
        both = shown(main.query_one(BrowserPane)) and shown(main.query_one("#packet-pane"))
        assert both == (size[0] >= 120)
        footer = main.query_one(KeyFooter)
        assert footer.shown_actions[:2] == ("help", "quit")
        if size[0] >= 300:
            assert "MIME" in main.query_one(RequestList).shown_columns


async def test_z_gives_the_layer_tree_the_screen_at_80x24(tmp_path: Path) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        main = main_of(app)
        await until(pilot, lambda: main.packet_list.row_count == 15)
        await pilot.press("home", "down", "down", "down", "enter")
        tree = main.query_one(LayerTree)
        assert app.focused is tree
        await until(pilot, lambda: len(tree.root.children) > 3, 15)
        await pilot.press("z")
        await pilot.pause(0.2)
        assert not shown(main.packet_list)
        assert tree.region.height >= 10, tree.region
        await pilot.press("z")
        await pilot.pause(0.2)
        assert shown(main.packet_list)


# -- 2. a pane only where it has something to show ----------------------------------------


async def test_without_a_browser_the_packets_take_the_width_and_v_says_how(
    tmp_path: Path,
) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        main = main_of(app)
        await until(pilot, lambda: main.packet_list.row_count == 15)
        assert not main.query(BrowserPane)
        assert main.query_one("#packet-pane").region.width == 160
        assert "no browser: v" in status(app)
        await pilot.press("v")
        assert "--browser launch" in notes(app)
        assert "show_body" not in main.query_one(KeyFooter).shown_actions


# -- 3. which pane has the keys -----------------------------------------------------------


async def test_the_focused_pane_title_changes_colour() -> None:
    app = demo_app()
    async with app.run_test(size=(160, 45)) as pilot:
        main = await loaded(pilot, app)
        header = main.query_one(PacketListHeader)
        title = main.query_one("#browser-title")
        primary = app.current_theme.primary
        assert app.focused is main.packet_list
        assert header.styles.background.hex.lower() == primary.lower()
        assert title.styles.background.hex.lower() != primary.lower()
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.focused, RequestList))
        await pilot.pause(0.1)
        assert title.styles.background.hex.lower() == primary.lower()
        assert header.styles.background.hex.lower() != primary.lower()


def test_keys_acting_on_the_other_pane_say_so() -> None:
    from tui.keys import KEYS

    keys = {key.action: key for key in KEYS}
    assert keys["show_body"].description.startswith("Req")
    assert "browser request" in keys["show_body"].help
    assert keys["goto_packets"].description.startswith("Req")
    assert "packet pane" in keys["goto_packets"].help


# -- 4. following the newest --------------------------------------------------------------


async def test_up_holds_the_packet_list_and_end_follows_again(tmp_path: Path) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        main = main_of(app)
        packets = main.packet_list
        await until(pilot, lambda: packets.row_count == 15)
        await pilot.press("end")
        assert packets.follow and "FOLLOWING" in status(app)
        await pilot.press("up")
        assert not packets.follow and packets.cursor == 15, "the first ↑ holds where it is"
        await pilot.pause(0.1)
        assert "HELD" in status(app)
        await pilot.press("up")
        assert packets.cursor == 14
        await pilot.press("end")
        assert packets.follow and packets.cursor == 15
        await pilot.click(PacketList, offset=(5, 2))
        assert not packets.follow and packets.cursor == packets.scroll_offset.y + 3
        await pilot.press("F")
        assert packets.follow


async def test_up_holds_the_request_list_so_b_stays_on_the_chosen_request() -> None:
    app = demo_app()
    async with app.run_test(size=(160, 45)) as pilot:
        main = await loaded(pilot, app)
        requests = main.query_one(RequestList)
        requests.focus()
        await pilot.press("end")
        last = requests.selected_id
        assert requests.follow and last is not None
        await pilot.press("up")
        assert not requests.follow and requests.selected_id == last
        await pilot.press("up")
        chosen = requests.selected_id
        assert chosen != last
        newer = RequestRecord(id="new-1", seq=10_000, url="http://127.0.0.1/new")
        requests.apply((newer,), ())
        await pilot.pause()
        assert requests.selected_id == chosen, "a new request does not move a held cursor"
        assert "HELD" in status(app)
        await pilot.press("end")
        assert requests.follow and requests.selected_id == "new-1"
        await pilot.click(RequestList, offset=(10, 3))
        assert not requests.follow, "a click on an older request holds the list"


# -- 5. status bar vs notifications -------------------------------------------------------


async def test_results_are_notifications_and_the_status_bar_keeps_state(tmp_path: Path) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        main = main_of(app)
        await until(pilot, lambda: main.packet_list.row_count == 15)
        main.packet_list.select(2)  # ARP: no stream to follow
        await pilot.press("s")
        await pilot.pause(0.1)
        assert "select a TCP packet" in notes(app)
        assert "select" not in status(app)
        assert all(n.timeout >= 6 for n in app._notifications)


# -- 6. themes on any terminal ------------------------------------------------------------


@pytest.mark.parametrize("theme", ["livetap-light", "livetap-dark", "livetap-high-contrast"])
async def test_packet_rows_paint_the_theme_background(theme: str, tmp_path: Path) -> None:
    path = write_sample_pcap(tmp_path / "sample.pcap")
    app = LivetapApp(CaptureSession(open_file_source(path)), theme=theme)
    async with app.run_test(size=SMALL) as pilot:
        packets = main_of(app).packet_list
        await until(pilot, lambda: packets.row_count == 15)
        surface = app.theme_variables["surface"].lower()
        for y in (0, 5, 20):  # rows and the blank below them
            for segment in packets.render_line(y):
                style = segment.style
                assert style is not None and style.bgcolor is not None
                assert style.bgcolor.triplet is not None
                assert style.bgcolor.triplet.hex.lower() == surface


def test_every_theme_t_offers_is_accepted_and_an_unknown_one_is_a_usage_error() -> None:
    from tui.cli import _check_theme

    names = theme_names()
    assert {"dracula", "nord", "livetap-light", "livetap-high-contrast"} <= set(names)
    _check_theme("dracula")
    with pytest.raises(UsageError, match="no theme named 'nope'"):
        _check_theme("nope")
    with pytest.raises(UsageError, match="no theme named 'nope'"):
        LivetapApp(None, theme="nope")
    assert set(LivetapApp(None, theme="dracula").available_themes) == set(names)
    assert "ansi-dark" not in names, "ANSI themes have no colours livetap can draw with"


def test_demo_with_an_unknown_theme_says_so_and_exits_with_the_usage_code() -> None:
    result = subprocess.run(
        [LIVETAP, "demo", "--no-browser", "--theme", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "there is no theme named 'nope'" in result.stderr
    assert "internal error" not in result.stderr


# -- 7. bugs ------------------------------------------------------------------------------


async def test_the_screenshot_lands_in_the_capture_directory_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "no-home"))  # no ~/Downloads anywhere
    app = sample_app(tmp_path)
    async with app.run_test(size=SMALL) as pilot:
        await until(pilot, lambda: main_of(app).packet_list.row_count == 15)
        saved = app.deliver_screenshot()
        await pilot.pause(0.1)
        assert saved is not None
        path = Path(saved)
        assert path.parent == tmp_path and path.suffix == ".svg"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "<svg" in path.read_text()
        assert str(path) in notes(app)


async def test_b_shows_the_body_where_it_can_be_seen() -> None:
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        main = await loaded(pilot, app)
        browser = main.browser
        assert browser is not None
        bodies = Recording.load(DATA / "demo-browser.json").bodies
        await pilot.press("v")
        requests = main.query_one(RequestList)
        await until(pilot, lambda: app.focused is requests)
        target = next(r for r in browser.tracker.records() if r.id in bodies)
        requests.move_cursor(row=requests.get_row_index(target.id), animate=False)
        await pilot.pause(0.1)
        await pilot.press("b")
        detail = main.query_one(RequestDetail)
        await until(pilot, lambda: detail.active_tab in ("preview", "response"))
        await pilot.pause(0.2)
        body = detail.query_one(f"#tab-{detail.active_tab}")
        assert detail.region.y <= body.region.y < detail.region.bottom - 2, "the body is in view"
        assert "Response body" in detail.plain_text()
        await pilot.press("v")
        await until(pilot, lambda: app.focused is main.packet_list)
        await pilot.press("b")  # from the packet pane: the browser pane comes to show it
        await until(pilot, lambda: shown(detail) and not shown(main.packet_list))


def test_a_request_that_never_finished_says_pending_and_what_is_known() -> None:
    from tui.widgets.request_sections import general_rows

    record = RequestRecord(
        id="1",
        seq=1,
        url="http://127.0.0.1/slow",
        status=200,
        started=1_700_000_000.0,
        response_headers=(("Content-Length", "1234"),),
    )
    assert size_text(record) == "pending" and time_text(record) == "pending"
    rows = dict(general_rows(record))
    assert rows["Transferred"] == "pending (response headers received, Content-Length 1234)"
    assert rows["Duration"].startswith("pending (started ")
    done = replace(record, finished=True, encoded_length=1300, duration=0.25)
    assert size_text(done) == "1.3 KiB" and time_text(done) == "250 ms"


async def test_without_packets_the_footer_has_no_packet_keys_and_g_says_why() -> None:
    app = demo_app(packets=False)
    async with app.run_test(size=(160, 45)) as pilot:
        main = await loaded(pilot, app)
        actions = set(main.query_one(KeyFooter).shown_actions)
        assert not actions & {"filter", "toggle_pause", "save_pcap", "stats", "follow_stream"}
        requests = main.query_one(RequestList)
        assert app.focused is requests and requests.selected_id is not None
        await main.run_action("goto_packets")
        await pilot.pause(0.1)
        assert "no packet capture in this session" in notes(app)
        assert "select a browser request first" not in notes(app)


async def test_without_packets_every_packet_key_says_why_and_x_still_opens() -> None:
    app = demo_app(packets=False)
    async with app.run_test(size=SMALL) as pilot:
        main = await loaded(pilot, app)
        for key in ("d", "f", "w", "a", "space"):  # d used to raise NoMatches
            await pilot.press(key)
            await pilot.pause(0.1)
            assert app.screen is main
        assert notes(app).count("no packet capture in this session") == 4
        await pilot.press("x")  # a dissector from a spec needs no packet
        await until(pilot, lambda: app.screen is not main)


async def test_a_packet_only_filter_leaves_the_requests_and_says_so() -> None:
    app = demo_app()
    async with app.run_test(size=(160, 45)) as pilot:
        main = await loaded(pilot, app)
        requests = main.query_one(RequestList)
        total = requests.row_count
        note = main.apply_display_filter("dns")
        await pilot.pause(0.3)
        assert "packets only" in note
        assert requests.row_count == total, "dns names no request field: requests stay"
        assert "requests not filtered" in status(app) and " packets" in status(app)
        note = main.apply_display_filter("status >= 400")
        await pilot.pause(0.3)
        assert "requests only" in note and "packets not filtered" in status(app)
        assert 0 < requests.row_count < total


async def test_at_80x24_the_display_filter_keeps_its_counts_in_the_status_bar() -> None:
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        main = await loaded(pilot, app)
        main.apply_display_filter("dns")
        await pilot.pause(0.3)
        dns = sum(1 for p in main.session.ring if p.protocol == "DNS") if main.session else 0
        assert dns and f"/dns {dns} pkts all req" in status(app)


# -- 8. snapshots: the main screen at 80×24 and 160×45 in every built-in theme ------------


@pytest.mark.parametrize("size", [SMALL, (160, 45)], ids=["80x24", "160x45"])
@pytest.mark.parametrize("theme", ["livetap-dark", "livetap-light", "livetap-high-contrast"])
def test_main_screen_snapshots(
    snap_compare: Callable[..., bool], size: tuple[int, int], theme: str
) -> None:
    app = demo_app(theme)

    async def select_a_packet(pilot: Pilot[None]) -> None:
        main = await loaded(pilot, app)
        await until(pilot, lambda: main.packet_list.row_count == len(main.packet_list.rows))
        main.packet_list.select(12)
        tree = main.query_one(LayerTree)
        await until(pilot, lambda: len(tree.root.children) > 3, 15)
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=select_a_packet)


# -- the README's first command, in a real terminal of 80×24 ------------------------------


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_readme_demo_at_80x24_shows_protocol_info_help_and_quit() -> None:
    name = f"livetap-test-{os.getpid()}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", name, "-x", "80", "-y", "24", f"{LIVETAP} demo"],
        check=True,
    )
    try:
        screen = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            time.sleep(0.5)
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", name],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if "Protocol" in screen and "127.0.0.1" in screen and "Quit" in screen:
                break
        lines = screen.splitlines()
        assert "Protocol" in lines[0] and "Info" in lines[0], screen
        footer = lines[-1]
        assert "? Help" in footer and "q Quit" in footer, screen
        assert all(len(line) <= 80 for line in lines)
        subprocess.run(["tmux", "send-keys", "-t", name, "q"], check=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            alive = subprocess.run(["tmux", "has-session", "-t", name], check=False)
            if alive.returncode != 0:
                break
            time.sleep(0.3)
        else:
            raise AssertionError("q did not quit the demo")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], check=False, capture_output=True)


# -- 8. snapshots: every other screen, at both sizes, in every built-in theme ---------------

SCREENS = {
    "follow": "s",
    "stats": "a",
    "help": "question_mark",
    "capture-filter": "f",
    "display-filter": "slash",
    "ndjson-form": "c",
    "dissector-export": "x",
}
"""Screens a key opens, for the snapshots (from the recorded demo, read to its end)."""


@pytest.mark.parametrize("screen", sorted(SCREENS))
@pytest.mark.parametrize("size", [SMALL, (160, 45)], ids=["80x24", "160x45"])
@pytest.mark.parametrize("theme", ["livetap-dark", "livetap-light", "livetap-high-contrast"])
def test_screen_snapshots(
    snap_compare: Callable[..., bool], screen: str, size: tuple[int, int], theme: str
) -> None:
    app = demo_app(theme)

    async def open_screen(pilot: Pilot[None]) -> None:
        main = await loaded(pilot, app)
        await until(pilot, lambda: main.packet_list.row_count == len(main.packet_list.rows))
        session = main.session
        assert session is not None
        await until(pilot, lambda: session.stats().finished)
        main.packet_list.select(14 if screen == "follow" else 12)  # 14: an HTTP request
        main.packet_list.focus()
        await pilot.pause(0.2)
        await pilot.press(SCREENS[screen])
        await until(pilot, lambda: app.screen is not main)
        if isinstance(app.screen, FollowScreen):
            follow = app.screen
            await until(pilot, lambda: follow.loaded)
        for box in app.screen.query(Input):
            box.cursor_blink = False  # a blinking cursor differs from one capture to the next
            if box.value.endswith(".ndjson"):
                box.value = "livetap-capture.ndjson"  # the default name: a folder and the time
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=size, run_before=open_screen)
