"""Find, go to, mark, ignore and "save which" in the TUI, pressing the keys (issue 19)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from textual.widgets import Input, Label, OptionList

from engine import linktypes
from engine.live import LiveSource
from engine.pcapio import PcapRecord, write_pcap_file
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.conftest import free_udp_port, send_udp
from tests.test_app import SIZE, main_screen, notifications, row_strings, until
from tests.test_find import frame
from tui.app import LivetapApp
from tui.screens.main import MainScreen
from tui.screens.prompts import Prompt
from tui.screens.save_menu import SaveMenu
from tui.widgets.packet_list import MARK_GLYPH, PacketList

COUNT = 300
"""Packets in the test file: every 10th is TCP with de ad be ef at its end."""


def write_capture(path: Path, count: int = COUNT) -> Path:
    records = [
        PcapRecord(1_700_000_000 + n * 0.01, len(frame(n)), linktypes.ETHERNET, frame(n))
        for n in range(1, count + 1)
    ]
    write_pcap_file(path, records)
    return path


def file_app(tmp_path: Path) -> tuple[LivetapApp, CaptureSession]:
    session = CaptureSession(open_file_source(write_capture(tmp_path / "in.pcap")))
    return LivetapApp(session, save_directory=tmp_path), session


async def loaded(pilot: object, app: LivetapApp) -> PacketList:
    packet_list = main_screen(app).packet_list
    await until(pilot, lambda: packet_list.row_count == COUNT)  # type: ignore[arg-type]
    return packet_list


def current(app: LivetapApp) -> object:
    """The screen on top (a plain object: asserting on it does not narrow later checks)."""
    return app.screen


async def type_into_prompt(pilot: object, app: LivetapApp, text: str) -> Prompt:
    prompt = app.screen
    assert isinstance(prompt, Prompt)
    prompt.query_one(Input).value = text
    await pilot.press("enter")  # type: ignore[attr-defined]
    return prompt


async def test_ctrl_f_finds_forward_back_and_wraps_with_a_notice(tmp_path: Path) -> None:
    app, _session = file_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        packet_list = await loaded(pilot, app)
        await pilot.press("ctrl+f")
        asked = app.screen
        assert isinstance(asked, Prompt)
        asked.query_one(Input).value = "de ad be ef"
        await pilot.pause(0.05)
        assert "hex bytes de ad be ef" in asked.check_text
        await pilot.press("enter")
        await until(pilot, lambda: packet_list.cursor == 10)
        assert isinstance(app.screen, MainScreen)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: packet_list.cursor == 20)
        await pilot.press("ctrl+b", "ctrl+b")
        await until(pilot, lambda: packet_list.cursor == 300)  # round the start
        assert "find reached the start" in notifications(app)
        await pilot.press("ctrl+n")
        await until(pilot, lambda: packet_list.cursor == 10)  # round the end
        assert "find reached the end" in notifications(app)
        await pilot.press("ctrl+f")  # the last find is offered again; a display filter now
        await type_into_prompt(pilot, app, "udp.dstport == 1155")
        await until(pilot, lambda: packet_list.cursor == 155)
        await pilot.press("ctrl+f")
        await type_into_prompt(pilot, app, "PACKET 77 hello")  # text, any case
        await until(pilot, lambda: packet_list.cursor == 77)
        await pilot.press("ctrl+f")
        await type_into_prompt(pilot, app, "case:PACKET 77")
        await until(pilot, lambda: "no packet shown matches" in notifications(app))
        assert packet_list.cursor == 77
        await pilot.press("ctrl+f")
        prompt = await type_into_prompt(pilot, app, "filter:tcp.port ==")
        assert current(app) is prompt and "display filter" in prompt.error_text


async def test_ctrl_g_goes_to_the_number_and_says_what_it_cannot(tmp_path: Path) -> None:
    app, session = file_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        packet_list = await loaded(pilot, app)
        await pilot.press("ctrl+g")
        await type_into_prompt(pilot, app, "234")
        assert isinstance(app.screen, MainScreen)
        assert packet_list.cursor == 234
        assert any(row.split()[0] == "234" for row in row_strings(packet_list))
        await pilot.press("ctrl+g")
        prompt = await type_into_prompt(pilot, app, "999999")
        assert current(app) is prompt and "there is no packet 999,999" in prompt.error_text
        await type_into_prompt(pilot, app, "12")
        assert packet_list.cursor == 12
        main_screen(app).apply_display_filter("tcp")
        await until(pilot, lambda: packet_list.row_count == COUNT // 10)
        await pilot.press("ctrl+g")
        await type_into_prompt(pilot, app, "55")
        assert packet_list.cursor == 50  # the nearest shown
        assert "packet 55 is not displayed" in notifications(app)
        await pilot.press("end")
        assert packet_list.cursor == 300
        await pilot.press("home")
        assert packet_list.cursor == 10
    assert session.ring.last_index == COUNT


def marked_rows(packet_list: PacketList) -> list[str]:
    return [row.split()[1] for row in row_strings(packet_list) if row.startswith(MARK_GLYPH)]


async def test_marks_show_survive_scrolling_and_m_again_unmarks(tmp_path: Path) -> None:
    app, session = file_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        packet_list = await loaded(pilot, app)
        await pilot.press("home", "down", "down", "m", "down", "down", "m")
        assert session.marks.marked == frozenset({3, 5})
        assert marked_rows(packet_list) == ["3", "5"]
        await pilot.press("pagedown", "pagedown", "end", "home")
        assert marked_rows(packet_list) == ["3", "5"]
        await pilot.press("ctrl+g")
        await type_into_prompt(pilot, app, "250")
        await pilot.press("m", "M")
        assert packet_list.cursor == 3  # the next mark, round the end
        await pilot.press("M", "M")
        assert packet_list.cursor == 250
        await pilot.press("home", "down", "down", "m")  # packet 3 again: unmarked
        assert session.marks.marked == frozenset({5, 250})
        assert marked_rows(packet_list) == ["5"]
        await pilot.press("U")
        assert not session.marks.marked and marked_rows(packet_list) == []
        assert "unmarked 2 packets" in notifications(app)


async def test_ctrl_d_ignores_packets_and_d_brings_them_back(tmp_path: Path) -> None:
    app, session = file_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        packet_list = await loaded(pilot, app)
        await pilot.press("home", "down", "ctrl+d")
        assert packet_list.row_count == COUNT - 1
        assert packet_list.cursor == 3  # the next row is selected
        assert [row.split()[0] for row in row_strings(packet_list)[:3]] == ["1", "3", "4"]
        await pilot.press("ctrl+f")
        await type_into_prompt(pilot, app, "udp.dstport == 1002")
        await until(pilot, lambda: "no packet shown matches" in notifications(app))
        await pilot.press("ctrl+g")
        await type_into_prompt(pilot, app, "2")
        assert "packet 2 is ignored" in notifications(app)
        await pilot.press("D")
        assert packet_list.row_count == COUNT and not session.marks.ignored
        assert [row.split()[0] for row in row_strings(packet_list)[:3]] == ["1", "2", "3"]


async def test_w_saves_exactly_the_marked_packets(tmp_path: Path) -> None:
    app, session = file_app(tmp_path)
    target = tmp_path / "marked.pcapng"
    async with app.run_test(size=SIZE) as pilot:
        packet_list = await loaded(pilot, app)
        for number in (7, 120, 299, 40):
            await pilot.press("ctrl+g")
            await type_into_prompt(pilot, app, str(number))
            await pilot.press("m")
        await pilot.press("ctrl+g")
        await type_into_prompt(pilot, app, "120")
        await pilot.press("ctrl+d")  # ignored: left out even though marked
        assert packet_list.cursor == 121
        await pilot.press("w")
        menu = app.screen
        assert isinstance(menu, SaveMenu)
        options = menu.query_one(OptionList)
        assert "Marked (3)" in str(options.get_option("marked").prompt)
        options.highlighted = options.get_option_index("marked")
        await pilot.press("enter")
        await type_into_prompt(pilot, app, str(target))
        assert isinstance(app.screen, MainScreen)
        assert "saved 3 packets" in notifications(app)
        assert "1 ignored left out" in notifications(app)
        await pilot.press("w")
        options = app.screen.query_one(OptionList)
        options.highlighted = options.get_option_index("range")
        await pilot.press("enter")
        prompt = await type_into_prompt(pilot, app, "5-1")
        assert current(app) is prompt and "range goes upwards" in prompt.error_text
        await type_into_prompt(pilot, app, "1-3,298-")
        await until(pilot, lambda: current(app) is not prompt and isinstance(app.screen, Prompt))
        await pilot.pause(0.1)
        assert "Save packets 1-3,298- to" in str(app.screen.query_one(Label).content)
        await type_into_prompt(pilot, app, str(tmp_path / "range.pcap"))
        await until(pilot, lambda: "saved 6 packets" in notifications(app))
    assert session.marks.marked == frozenset({7, 40, 120, 299})
    fields = ["-T", "fields", "-e", "frame.len", "-e", "udp.dstport", "-e", "tcp.dstport"]
    for path, ports in ((target, ["1007", "80", "1299"]), (tmp_path / "range.pcap", None)):
        out = subprocess.run(
            ["tshark", "-r", str(path), *fields], capture_output=True, text=True, check=True
        ).stdout.split("\n")
        lines = [line.split("\t") for line in out if line]
        if ports is not None:
            assert [port for _, udp, tcp in lines for port in (udp or tcp,)] == ports
        else:
            assert [udp or tcp for _, udp, tcp in lines] == [
                "1001", "1002", "1003", "1298", "1299", "80"
            ]  # fmt: skip


@pytest.mark.root
async def test_find_and_mark_on_a_live_capture_of_lo() -> None:
    port = free_udp_port()
    session = CaptureSession(LiveSource("lo", expression=f"udp port {port}"))
    app = LivetapApp(session)
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        send_udp(port, [f"datagram {n} {'NEEDLE' if n == 13 else ''}".encode() for n in range(30)])
        await until(pilot, lambda: packet_list.row_count == 30)
        await pilot.press("ctrl+f")
        await type_into_prompt(pilot, app, "needle")
        await until(pilot, lambda: packet_list.cursor == 14)
        assert not packet_list.follow, "a find holds the list on its match"
        await pilot.press("m")
        send_udp(port, [b"later"] * 5)
        await until(pilot, lambda: session.ring.last_index == 35)
        await pilot.press("ctrl+f")
        await type_into_prompt(pilot, app, "6c 61 74 65 72")  # "later" in hex
        await until(pilot, lambda: packet_list.cursor == 31)
        await pilot.press("M")
        assert packet_list.cursor == 14 and session.marks.marked == frozenset({14})


async def test_a_long_find_shows_how_far_it_got_then_hides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.find
    from tui.widgets.packet_find import FindProgress, PacketNavigation

    monkeypatch.setattr(engine.find, "PROGRESS_EVERY", 0.0)
    shown: list[str] = []
    original = PacketNavigation._show_progress

    def recorded(self: PacketNavigation, *args: object) -> None:
        original(self, *args)  # type: ignore[arg-type]
        shown.append(str(self.pane.query_one(FindProgress).content))

    monkeypatch.setattr(PacketNavigation, "_show_progress", recorded)
    big = 3000  # progress is reported every 512 packets searched at most
    session = CaptureSession(open_file_source(write_capture(tmp_path / "big.pcap", big)))
    app = LivetapApp(session)
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == big)
        await pilot.press("ctrl+f")
        await type_into_prompt(pilot, app, "hex:ca fe ba be")
        await until(pilot, lambda: "no packet shown matches hex bytes" in notifications(app))
        assert shown and shown[0].startswith("finding… ") and "(512 of 3,000)" in shown[0]
        assert not main_screen(app).query_one(FindProgress).has_class("-busy")


async def test_esc_stops_a_long_find(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import engine.find
    from tui.widgets.packet_find import FindProgress

    monkeypatch.setattr(engine.find, "PROGRESS_EVERY", 0.0)
    original = engine.find.PacketFinder.matches

    def slow(self: engine.find.PacketFinder, index: int) -> bool:
        time.sleep(0.002)  # 3,000 packets: 6 s unless stopped
        return original(self, index)

    monkeypatch.setattr(engine.find.PacketFinder, "matches", slow)
    big = 3000
    session = CaptureSession(open_file_source(write_capture(tmp_path / "big.pcap", big)))
    app = LivetapApp(session)
    async with app.run_test(size=SIZE) as pilot:
        main = main_screen(app)
        packet_list = main.packet_list
        await until(pilot, lambda: packet_list.row_count == big)
        await pilot.press("home")
        await pilot.press("ctrl+f")
        await type_into_prompt(pilot, app, "hex:ca fe ba be")
        progress = main.query_one(FindProgress)
        await until(pilot, lambda: progress.has_class("-busy"))
        began = time.monotonic()
        await pilot.press("escape")
        await until(pilot, lambda: not progress.has_class("-busy"))
        assert time.monotonic() - began < 3
        packets = main.packets
        assert packets is not None
        await until(pilot, lambda: not packets.navigation.searching)
        await pilot.pause(0.3)
        assert "no packet shown matches" not in notifications(app)
        assert packet_list.cursor == 1
