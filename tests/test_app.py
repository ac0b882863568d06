"""The TUI driven with Pilot over real loopback traffic and a real pcap."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from textual.pilot import Pilot
from textual.widgets import Input, Static

from engine.live import LiveSource
from engine.pcapio import PcapRecord, open_pcap, write_pcap_file
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.conftest import free_udp_port, send_udp
from tests.sample_traffic import write_sample_pcap
from tui.app import LivetapApp
from tui.keys import KEYS
from tui.screens.help import HelpScreen
from tui.screens.main import MainScreen
from tui.screens.prompts import Prompt
from tui.widgets.packet_detail import HexView, LayerTree
from tui.widgets.packet_list import PacketList
from tui.widgets.status_bar import StatusBar

SIZE = (160, 45)


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the app run until ``condition`` holds; fail the test if it never does."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.05)


def main_screen(app: LivetapApp) -> MainScreen:
    screen = app.screen_stack[1] if len(app.screen_stack) > 1 else app.screen
    assert isinstance(screen, MainScreen)
    return screen


def row_strings(packet_list: PacketList) -> list[str]:
    """The text of every visible row of the packet list."""
    lines = []
    for y in range(packet_list.scrollable_content_region.height):
        text = "".join(segment.text for segment in packet_list.render_line(y)).rstrip()
        if text:
            lines.append(text)
    return lines


def focused_id(app: LivetapApp) -> str | None:
    return app.focused.id if app.focused else None


def status_text(app: LivetapApp) -> str:
    return str(main_screen(app).query_one(StatusBar).content)


def notifications(app: LivetapApp) -> str:
    """Every notification shown so far (results of actions go there, not the status bar)."""
    return " | ".join(notification.message for notification in app._notifications)


@pytest.fixture
def lo_app() -> Iterator[Callable[[str], tuple[LivetapApp, CaptureSession]]]:
    sessions: list[CaptureSession] = []

    def make(expression: str) -> tuple[LivetapApp, CaptureSession]:
        session = CaptureSession(LiveSource("lo", expression=expression))
        sessions.append(session)
        return LivetapApp(session), session

    yield make
    for session in sessions:
        session.stop()


@pytest.mark.root
async def test_the_list_fills_from_loopback_traffic(
    lo_app: Callable[[str], tuple[LivetapApp, CaptureSession]],
) -> None:
    port = free_udp_port()
    app, _session = lo_app(f"udp port {port}")
    async with app.run_test(size=SIZE) as pilot:
        send_udp(port, [b"p%02d" % i for i in range(25)])
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == 25)
        await pilot.pause(0.1)
        shown = row_strings(packet_list)
        assert shown[-1].split()[0] == "25", "the view follows the newest packet"
        assert all("UDP" in line and f"→ {port} Len=3" in line for line in shown)
        assert "25 packets" in status_text(app)
        assert "● LIVE" in status_text(app)


@pytest.mark.root
async def test_a_bad_filter_shows_libpcaps_error_and_capture_goes_on(
    lo_app: Callable[[str], tuple[LivetapApp, CaptureSession]],
) -> None:
    port = free_udp_port()
    app, session = lo_app(f"udp port {port}")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f")
        prompt = app.screen
        assert isinstance(prompt, Prompt)
        prompt.query_one(Input).value = "udp portt 53"
        await pilot.press("enter")
        error = prompt.error_text
        assert app.screen is prompt, "the prompt stays open on an error"
        assert "syntax error" in error
        send_udp(port, [b"after the bad filter"] * 3)
        await until(pilot, lambda: session.ring.last_index == 3)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        await until(pilot, lambda: main_screen(app).packet_list.row_count == 3)
        assert session.stats().filter == f"udp port {port}"


@pytest.mark.root
async def test_a_good_filter_narrows_the_list(
    lo_app: Callable[[str], tuple[LivetapApp, CaptureSession]],
) -> None:
    wanted, other = free_udp_port(), free_udp_port()
    app, _session = lo_app(f"udp port {wanted} or udp port {other}")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f")
        app.screen.query_one(Input).value = f"udp port {wanted}"
        await pilot.press("enter")
        assert isinstance(app.screen, MainScreen)
        send_udp(other, [b"other"] * 5)
        send_udp(wanted, [b"wanted"] * 4)
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == 4)
        await pilot.pause(0.2)
        assert packet_list.row_count == 4
        assert all(f"→ {wanted} " in line for line in row_strings(packet_list))
        assert f"filter: udp port {wanted}" in status_text(app)


@pytest.mark.root
async def test_pause_freezes_the_view_while_capture_continues(
    lo_app: Callable[[str], tuple[LivetapApp, CaptureSession]],
) -> None:
    port = free_udp_port()
    app, session = lo_app(f"udp port {port}")
    async with app.run_test(size=SIZE) as pilot:
        send_udp(port, [b"a"] * 5)
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == 5)
        await pilot.press("space")
        assert "PAUSED" in status_text(app)
        send_udp(port, [b"b"] * 7)
        await until(pilot, lambda: session.ring.last_index == 12)
        await pilot.pause(0.2)
        assert packet_list.row_count == 5
        assert "12 packets" in status_text(app)
        await pilot.press("space")
        await until(pilot, lambda: packet_list.row_count == 12)
        assert "LIVE" in status_text(app)


async def test_selecting_a_packet_shows_its_layers_and_bytes(tmp_dir: Path) -> None:
    session = CaptureSession(open_file_source(write_sample_pcap(tmp_dir / "sample.pcap")))
    app = LivetapApp(session)
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == 15)
        await pilot.press("home", "down", "down")
        assert packet_list.cursor == 3
        tree = main_screen(app).query_one(LayerTree)
        await until(
            pilot, lambda: any("DNS" in str(n.label) for n in tree.root.children), timeout=15
        )
        labels = [str(node.label) for node in tree.root.children]
        assert labels[0].startswith("Frame 3:")
        assert labels[1:4] == ["Ethernet", "IP", "UDP"]
        hex_lines = main_screen(app).query_one(HexView).lines
        assert hex_lines[0].startswith("0000  02 00 00 00 00 02 02 00")
        await pilot.press("enter")
        assert focused_id(app) == "layer-tree"
        await pilot.press("escape")
        assert focused_id(app) == "packet-list"


async def test_w_saves_the_buffer_to_a_pcap(tmp_dir: Path) -> None:
    session = CaptureSession(open_file_source(write_sample_pcap(tmp_dir / "sample.pcap")))
    app = LivetapApp(session, save_directory=tmp_dir)
    target = tmp_dir / "saved.pcap"
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: main_screen(app).packet_list.row_count == 15)
        await pilot.press("w")  # a menu: which packets (all is first), then the file
        await pilot.press("enter")
        prompt = app.screen
        assert isinstance(prompt, Prompt)
        assert prompt.query_one(Input).value.startswith(str(tmp_dir / "livetap-"))
        prompt.query_one(Input).value = str(tmp_dir / "missing-dir" / "x.pcap")
        await pilot.press("enter")
        error = prompt.error_text
        assert app.screen is prompt and "No such file or directory" in error
        prompt.query_one(Input).value = str(target)
        await pilot.press("enter")
        assert isinstance(app.screen, MainScreen)
        assert "saved 15 packets" in notifications(app)
        assert "saved" not in status_text(app), "the status bar keeps state only"
    with open_pcap(target) as reader:
        assert [record.data for record in reader] == [p.data for p in session.ring]


async def test_help_lists_every_key_and_the_palette_has_every_action(tmp_dir: Path) -> None:
    session = CaptureSession(open_file_source(write_sample_pcap(tmp_dir / "sample.pcap")))
    app = LivetapApp(session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = " ".join(str(widget.content) for widget in app.screen.query(Static))
        assert "livetap keys" in text
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        titles = {command.title for command in app.get_system_commands(main_screen(app))}
        assert {k.description for k in KEYS if k.action != "quit" and "." not in k.action} <= titles
        assert "Theme" in titles
        footer_keys = {k.key for k in KEYS if k.show}
        assert {"f", "space", "enter", "w", "q", "question_mark"} <= footer_keys


@pytest.mark.root
async def test_q_quits_and_stops_the_capture(
    lo_app: Callable[[str], tuple[LivetapApp, CaptureSession]],
) -> None:
    app, session = lo_app("udp port 9")
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: session.running)
        await pilot.press("q")
    assert app.return_code == 0
    assert not session.running
    source = session.source
    assert isinstance(source, LiveSource)
    assert source._sock.fileno() == -1


def test_main_screen_snapshot(snap_compare: Callable[..., bool], tmp_dir: Path) -> None:
    path = write_sample_pcap(tmp_dir / "sample.pcap")
    app = LivetapApp(CaptureSession(open_file_source(path)))

    async def select_dns_response(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: main_screen(app).packet_list.row_count == 15)
        await pilot.press("home", "down", "down", "down")
        tree = main_screen(app).query_one(LayerTree)
        await until(
            pilot, lambda: any("DNS" in str(n.label) for n in tree.root.children), timeout=15
        )
        await pilot.pause(0.2)

    assert snap_compare(app, terminal_size=SIZE, run_before=select_dns_response)


async def test_text_from_packets_and_prompts_is_never_read_as_markup(tmp_dir: Path) -> None:
    udp = UDP(sport=9, dport=9) / b"[/oops] [bold]x"
    hostile = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP() / udp
    path = tmp_dir / "hostile.pcap"
    write_pcap_file(path, [PcapRecord(1.0, len(bytes(hostile)), 1, bytes(hostile))])
    app = LivetapApp(CaptureSession(open_file_source(path)))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: main_screen(app).packet_list.row_count == 1)
        await pilot.press("down")
        tree = main_screen(app).query_one(LayerTree)
        await until(
            pilot, lambda: any(str(n.label) == "Raw" for n in tree.root.children), timeout=15
        )
        raw = next(n for n in tree.root.children if str(n.label) == "Raw")
        assert [str(leaf.label) for leaf in raw.children] == ["load: b'[/oops] [bold]x'"]
        await pilot.press("f")
        prompt = app.screen
        assert isinstance(prompt, Prompt)
        prompt.query_one(Input).value = "[/] [red]x"
        await pilot.press("enter")
        assert "'[/] [red]x'" in prompt.error_text


async def test_a_shows_live_statistics_and_s_follows_the_tcp_stream(tmp_dir: Path) -> None:
    from tui.screens.follow import FollowScreen
    from tui.screens.stats import StatsScreen

    session = CaptureSession(open_file_source(write_sample_pcap(tmp_dir / "sample.pcap")))
    app = LivetapApp(session)
    async with app.run_test(size=SIZE) as pilot:
        main = main_screen(app)
        await until(pilot, lambda: main.packet_list.row_count == 15)
        await pilot.press("a")
        assert isinstance(app.screen, StatsScreen)
        analysis = session.analysis
        assert analysis is not None
        await until(pilot, lambda: analysis.analyzer.snapshot().packets == 15)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)
        main.packet_list.select(8)  # the HTTP request
        await pilot.press("s")
        follow = app.screen
        assert isinstance(follow, FollowScreen)
        await until(pilot, lambda: follow.loaded)
        text = follow.view.plain_text()
        assert "GET /index.html HTTP/1.1" in text and "HTTP/1.1 200 OK" in text
        await pilot.press("escape")
        main.packet_list.select(2)  # ARP: no stream to follow
        await pilot.press("s")
        await pilot.pause(0.2)
        assert isinstance(app.screen, MainScreen)
        assert "select a TCP packet" in notifications(app)


async def test_d_shows_the_packet_as_tshark_decodes_it_in_a_second_tab(tmp_dir: Path) -> None:
    from tui.widgets.packet_detail import DeepTree, PacketDetailPane

    app = LivetapApp(CaptureSession(open_file_source(write_sample_pcap(tmp_dir / "sample.pcap"))))
    async with app.run_test(size=SIZE) as pilot:
        main = main_screen(app)
        await until(pilot, lambda: main.packet_list.row_count == 15)
        main.packet_list.select(10)  # the TLS Client Hello
        await pilot.press("d")
        pane = main.query_one(PacketDetailPane)
        assert pane.showing_deep
        tree = pane.query_one(DeepTree)
        await until(
            pilot,
            lambda: any("Transport Layer Security" in str(n.label) for n in tree.root.children),
            20,
        )
        labels = [str(n.label) for n in tree.root.children]
        assert labels[0].startswith("Frame 10:") and any("Ethernet II" in label for label in labels)
        main.packet_list.select(4)  # following the selection while the tab is open
        await until(
            pilot, lambda: any("Domain Name System" in str(n.label) for n in tree.root.children), 20
        )
