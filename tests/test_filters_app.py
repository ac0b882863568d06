"""The filter prompts in the TUI: BPF checked as you type, history, the builder, suggestions;
the display filter narrowing both panes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from engine.browser.recorded import RecordedBrowser, Recording
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.sample_traffic import write_sample_pcap
from tui.app import LivetapApp
from tui.screens.main import MainScreen
from tui.screens.prompts import Prompt
from tui.widgets.request_view import RequestList
from tui.widgets.status_bar import StatusBar

DATA = Path(__file__).parent.parent / "screenshots" / "data"


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.05)


@pytest.fixture(autouse=True)
def _private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def sample_app(tmp_path: Path) -> LivetapApp:
    return LivetapApp(CaptureSession(open_file_source(write_sample_pcap(tmp_path / "sample.pcap"))))


def main_of(app: LivetapApp) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


def shown_infos(main: MainScreen) -> list[str]:
    packet_list = main.packet_list
    assert main.session is not None
    indices = [packet_list.rows.index_at(row) for row in range(packet_list.row_count)]
    return [main.session.packet(i).info for i in indices if i is not None]  # type: ignore[union-attr]


async def test_the_bpf_prompt_checks_as_you_type_builds_from_words_and_remembers(
    tmp_path: Path,
) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        main = main_of(app)
        await until(pilot, lambda: main.packet_list.row_count == 15)
        main.packet_list.select(8)
        await pilot.press("f")
        prompt = app.screen
        assert isinstance(prompt, Prompt)
        await pilot.press(*"udp portt")
        assert prompt.check_text.startswith("✗") and "syntax error" in prompt.check_text
        prompt.input.value = "udp port 53"
        await pilot.pause()
        assert prompt.check_text == "✓ valid"
        await pilot.press("f5")
        assert prompt.input.value == (
            "host 10.0.0.5 and host 93.184.216.34 and tcp port 41000 and tcp port 80"
        )
        await pilot.press("f7")
        assert prompt.input.value == "tcp port 80"
        prompt.input.value = "dns from 10.0.0.5"
        await pilot.press("ctrl+b")
        built = prompt.input.value
        assert "10.0.0.5" in built and "53" in built and prompt.check_text == "✓ valid"
        await pilot.press("enter")
        assert isinstance(app.screen, MainScreen)
        assert main.session is not None and main.session.source.filter.expression == built
        await pilot.press("f")
        again = app.screen
        assert isinstance(again, Prompt)
        again.input.value = ""
        await pilot.press("up")
        assert again.input.value == built, "history recalls the last filter"


async def test_the_display_filter_narrows_the_packets_and_says_how_many(tmp_path: Path) -> None:
    app = sample_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        main = main_of(app)
        await until(pilot, lambda: main.packet_list.row_count == 15)
        await pilot.press("slash")
        prompt = app.screen
        assert isinstance(prompt, Prompt)
        prompt.input.value = "ip.adr == 10.0.0.5"
        await pilot.pause()
        assert "column 1: unknown field 'ip.adr' (did you mean ip.addr?)" in prompt.check_text
        await pilot.press("enter")
        assert isinstance(app.screen, Prompt) and "ip.adr" in prompt.error_text
        prompt.input.value = "dns"
        await pilot.press("enter")
        await until(pilot, lambda: main.packet_list.row_count == 2)
        assert [info.split(" 0x")[0] for info in shown_infos(main)] == [
            "Standard query",
            "Standard query response",
        ]
        await until(
            pilot,
            lambda: "display: dns · 2 of 15 packets" in str(main.query_one(StatusBar).content),
        )
        main.apply_display_filter('http.request.method == "GET" or tcp.flags.syn == 1')
        await until(pilot, lambda: main.packet_list.row_count == 3)
        assert shown_infos(main)[-1] == "GET /index.html HTTP/1.1"
        main.apply_display_filter("")
        await until(pilot, lambda: main.packet_list.row_count == 15)
        assert "display:" not in str(main.query_one(StatusBar).content)


async def test_the_display_filter_narrows_the_requests_too() -> None:
    browser = RecordedBrowser(Recording.load(DATA / "demo-browser.json"))
    browser.start()
    app = LivetapApp(CaptureSession(open_file_source(DATA / "demo.pcap")), browser=browser)
    async with app.run_test(size=(200, 50)) as pilot:
        main = main_of(app)
        requests = main.query_one(RequestList)
        await until(pilot, lambda: requests.row_count == len(browser.tracker.records()))
        main.apply_display_filter("status >= 400")
        await pilot.pause()
        failing = [r for r in browser.tracker.records() if (r.status or 0) >= 400]
        assert failing and requests.row_count == len(failing)
        assert main.packet_list.row_count == len(main.packet_list.rows) > 0, (
            "a request-only filter leaves the packets alone"
        )
        assert "packets not filtered" in str(main.query_one(StatusBar).content)
        main.apply_display_filter('url contains "/api/" and method == "POST"')
        await pilot.pause()
        assert requests.row_count == len(
            [r for r in browser.tracker.records() if r.method == "POST"]
        )


async def test_a_capture_filter_on_a_file_narrows_the_list_it_shows(tmp_path: Path) -> None:
    """`f` with -r reads the file again through the filter, and the list shows only that."""
    app = sample_app(tmp_path)
    async with app.run_test(size=(160, 45)) as pilot:
        main = main_of(app)
        await until(pilot, lambda: main.packet_list.row_count == 15)
        await pilot.press("f")
        prompt = app.screen
        assert isinstance(prompt, Prompt)
        prompt.input.value = "udp port 53"
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: 0 < main.packet_list.row_count < 15)
        infos = shown_infos(main)
        assert infos and all("query" in info.lower() for info in infos), infos
