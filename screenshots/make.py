"""Make the README's screenshots from scripted sessions on a fixed pcap.

Run from the repository root: ``.venv/bin/python screenshots/make.py [NAME...]``.
The browser shots replay ``data/`` (made by ``record.py``). Writes
SVG files here; browsers render them (rsvg-convert collapses their spaces).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from engine.browser.recorded import RecordedBrowser, Recording
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.sample_traffic import write_sample_pcap
from tui.app import LivetapApp
from tui.screens.dissector_export import DissectorExport
from tui.screens.main import MainScreen
from tui.widgets.packet_detail import DeepTree, LayerTree
from tui.widgets.packet_pane import PacketPane
from tui.widgets.request_detail import RequestDetail
from tui.widgets.request_view import RequestList

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SIZE = (160, 45)
WIDE = (200, 50)
SMALL = (80, 24)
Script = Callable[[Pilot[None], LivetapApp], Awaitable[None]]


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 15) -> None:
    """Let the app run until ``condition`` holds."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.05)


def main_screen(app: LivetapApp) -> MainScreen:
    """The app's main screen, under any modal."""
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


async def select_dns_answer(pilot: Pilot[None], app: LivetapApp) -> None:
    """The list loaded, the DNS response selected and dissected."""
    await until(pilot, lambda: main_screen(app).packet_list.row_count == 15)
    await pilot.press("home", "down", "down", "down")
    tree = main_screen(app).query_one(LayerTree)
    await until(pilot, lambda: any("DNS" in str(n.label) for n in tree.root.children))
    await pilot.pause(0.2)


async def filter_error(pilot: Pilot[None], app: LivetapApp) -> None:
    """The filter prompt showing libpcap's error for a typo."""
    await select_dns_answer(pilot, app)
    await pilot.press("f")
    app.screen.query_one(Input).value = "tcp portt 443"
    await pilot.press("enter")
    await pilot.pause(0.2)


async def help_screen(pilot: Pilot[None], app: LivetapApp) -> None:
    """The help screen over the main screen."""
    await select_dns_answer(pilot, app)
    await pilot.press("question_mark")
    await pilot.pause(0.2)


async def select_api_request(pilot: Pilot[None], app: LivetapApp) -> None:
    """Both panes from the demo recording; an API request selected, its connection found."""
    main = main_screen(app)
    requests = main.query_one(RequestList)
    await until(pilot, lambda: main.packet_list.row_count > 100 and requests.row_count > 5)
    browser = main.browser
    assert browser is not None
    record = next(r for r in browser.tracker.records() if "/api/stats" in r.url and r.finished)
    requests.focus()
    requests.move_cursor(row=requests.get_row_index(record.id))
    await until(pilot, lambda: "Handshake RTT" in main.query_one(RequestDetail).plain_text())
    await pilot.pause(0.2)


async def request_body(pilot: Pilot[None], app: LivetapApp) -> None:
    """The selected request's body fetched with b."""
    await select_api_request(pilot, app)
    await pilot.press("b")
    await until(
        pilot, lambda: "Response body" in main_screen(app).query_one(RequestDetail).plain_text()
    )
    await pilot.pause(0.2)


async def copy_menu(pilot: Pilot[None], app: LivetapApp) -> None:
    """y: the formats a request can be copied in (curl, fetch, raw HTTP, HAR entry)."""
    from tui.screens.copy_request import CopyRequestMenu

    await select_api_request(pilot, app)
    await pilot.press("y")
    await until(pilot, lambda: isinstance(app.screen, CopyRequestMenu))
    await pilot.pause(0.3)


async def goto_packets(pilot: Pilot[None], app: LivetapApp) -> None:
    """g: the request's packets selected in the packet list."""
    await select_api_request(pilot, app)
    await pilot.press("g")
    await until(pilot, lambda: bool(main_screen(app).packet_list.marks))
    await pilot.pause(0.3)


async def sensor_decoded(pilot: Pilot[None], app: LivetapApp) -> None:
    """x: the sensor dissector exported and the selected packet decoded by it."""
    main = main_screen(app)
    session = main.session
    assert session is not None
    await until(pilot, lambda: main.packet_list.row_count > 100)
    first = next(p for p in session.ring if p.dport == 47000)
    main.packet_list.select(first.index)
    await pilot.press("x")
    dialog = app.screen
    assert isinstance(dialog, DissectorExport)
    dialog.query_one("#export-spec", Input).value = str(HERE.parent / "examples" / "sensor.json")
    dialog.query_one("#export-output", Input).value = str(
        Path(tempfile.gettempdir()) / "sensor.lua"
    )
    dialog.export()
    tree = main.query_one(LayerTree)
    await until(pilot, lambda: any("decoded by" in str(n.label) for n in tree.root.children), 30)
    await pilot.pause(0.3)


async def small_packets(pilot: Pilot[None], app: LivetapApp) -> None:
    """80×24: the packet pane alone (the browser's count in the status bar), a packet chosen."""
    main = main_screen(app)
    await until(pilot, lambda: main.packet_list.row_count > 100)
    main.packet_list.select(14)
    tree = main.query_one(LayerTree)
    await until(pilot, lambda: len(tree.root.children) > 3)
    await pilot.pause(0.3)


async def small_browser(pilot: Pilot[None], app: LivetapApp) -> None:
    """80×24 after v: the browser pane alone, URLs down to their paths."""
    await small_packets(pilot, app)
    await pilot.press("v")
    requests = main_screen(app).query_one(RequestList)
    await until(pilot, lambda: app.focused is requests)
    await pilot.pause(0.3)


async def waterfall(pilot: Pilot[None], app: LivetapApp) -> None:
    """The browser pane zoomed (z): the Waterfall column, the slow request's Timing tab."""
    await select_api_request(pilot, app)
    main = main_screen(app)
    requests = main.query_one(RequestList)
    requests.focus()
    await pilot.press("z")
    await until(pilot, lambda: "Waterfall" in requests.shown_columns)
    slow = next(r for r in requests.listed if r.url.endswith("/api/slow"))
    requests.move_cursor(row=requests.get_row_index(slow.id), animate=False)
    main.query_one(RequestDetail).open_tab("timing")
    await pilot.pause(0.5)


async def decrypted_http2(pilot: Pilot[None], app: LivetapApp) -> None:
    """A launched browser's HTTP/2 decrypted with its key log: Info labels, g on the
    request's own stream, its On the wire tab, and d on the HEADERS packet."""
    _, browser, key_log = LIVE[-1]
    app.key_log = key_log
    main = main_screen(app)
    packets = main.query_one(PacketPane)
    packets._start_decryption()
    url = "/api/two.json?x=2"
    requests = main.query_one(RequestList)
    await until(
        pilot, lambda: any(r.url.endswith(url) and r.finished for r in browser.tracker.records())
    )
    frames = app.http2_frames
    session = main.session
    assert session is not None
    await until(
        pilot,
        lambda: any(url in frames.label(i) for i in range(1, session.ring.last_index + 1)),
        30,
    )
    record = next(r for r in browser.tracker.records() if r.url.endswith(url))
    await until(pilot, lambda: record.id in requests.rows)
    requests.focus()
    requests.move_cursor(row=requests.get_row_index(record.id))
    detail = main.query_one(RequestDetail)
    await pilot.press("g")
    await until(pilot, lambda: bool(main.packet_list.marks))
    await until(pilot, lambda: "HTTP/2 stream" in detail.plain_text(), 30)
    detail.open_tab("wire")
    headers = next(i for i in sorted(main.packet_list.marks) if "HEADERS GET" in frames.label(i))
    main.packet_list.select(headers)
    await pilot.press("d")
    tree = main.query_one(DeepTree)
    await until(
        pilot,
        lambda: any("HyperText Transfer Protocol 2" in str(n.label) for n in tree.root.children),
        30,
    )
    await pilot.pause(0.5)


Source = Callable[[Path], tuple[Any, Any]]
LIVE: list[tuple[Any, Any, Any]] = []
"""(site, browser, key log) of the live shots, stopped after the shots are made."""


async def coloured_list(pilot: Pilot[None], app: LivetapApp) -> None:
    """TCP trouble coloured by Wireshark's rules, a Stream column, a time reference."""
    from engine.list_config import parse_columns

    main = main_screen(app)
    packet_list = main.packet_list
    session = main.session
    assert session is not None
    await until(pilot, lambda: packet_list.row_count == 44)
    await until(pilot, lambda: session.ring.analysis.observed >= 44)
    stream = {"field": "tcp.stream", "title": "Stream", "width": 6}
    names = ["number", "time", stream, "source", "destination", "protocol", "length", "info"]
    assert main.packets is not None
    main.packets.set_columns(parse_columns(names))
    await pilot.press("home", *["down"] * 9, "ctrl+t", *["down"] * 5)
    await pilot.pause(0.3)


def tcp_trouble_source(folder: Path) -> tuple[Any, Any]:
    """TCP analysis scenarios, a reset and an ICMP error (tests/tcp_scenarios.py)."""
    from tests.tcp_scenarios import trouble_frames, write_timed

    path = write_timed(folder / "trouble.pcap", trouble_frames())
    return CaptureSession(open_file_source(path)), None


def sample_source(folder: Path) -> tuple[Any, Any]:
    """The small fixed pcap, no browser."""
    return CaptureSession(open_file_source(write_sample_pcap(folder / "sample.pcap"))), None


def demo_source(folder: Path) -> tuple[Any, Any]:
    """The recorded demo: its packets and its browser events."""
    browser = RecordedBrowser(Recording.load(DATA / "demo-browser.json"), "recorded demo browser")
    browser.start()
    return CaptureSession(open_file_source(DATA / "demo.pcap")), browser


def tls_source(folder: Path) -> tuple[Any, Any]:
    """Live: the tests' local HTTP/2 site loaded by a launched Chromium writing a key log,
    lo captured (needs root, tshark and Chromium)."""
    from engine.browser.session import BrowserSession
    from engine.browser.target import BrowserTarget
    from engine.live import LiveSource
    from engine.tls_keylog import KeyLog
    from tests.tls_site import tls_site

    site_context = tls_site()
    site = site_context.__enter__()
    port = int(site.url.rsplit(":", 1)[1])
    session = CaptureSession(LiveSource("lo", expression=f"tcp port {port}"))
    key_log = KeyLog()
    target = BrowserTarget(launch=True, extra_flags=site.chromium_flags)
    browser = BrowserSession(target, open_url=f"{site.url}/", key_log=key_log)
    LIVE.append((site_context, browser, key_log))
    browser.start()
    return session, browser


SHOTS: dict[str, tuple[Script, str | None, Source, tuple[int, int]]] = {
    "main": (select_dns_answer, None, sample_source, SIZE),
    "filter-error": (filter_error, None, sample_source, SIZE),
    "help": (help_screen, None, sample_source, SIZE),
    "theme-light": (select_dns_answer, "livetap-light", sample_source, SIZE),
    "theme-high-contrast": (select_dns_answer, "livetap-high-contrast", sample_source, SIZE),
    "both-panes": (select_api_request, None, demo_source, WIDE),
    "request-body": (request_body, None, demo_source, WIDE),
    "goto-packets": (goto_packets, None, demo_source, WIDE),
    "copy-request": (copy_menu, None, demo_source, WIDE),
    "dissector": (sensor_decoded, None, demo_source, WIDE),
    "small-packets": (small_packets, None, demo_source, SMALL),
    "small-browser": (small_browser, None, demo_source, SMALL),
    "waterfall": (waterfall, None, demo_source, WIDE),
    "coloured-list": (coloured_list, None, tcp_trouble_source, SIZE),
    "decrypted-http2": (decrypted_http2, None, tls_source, WIDE),
}


async def shoot(
    name: str, script: Script, theme: str | None, source: Source, size: tuple[int, int]
) -> Path:
    """Run one scripted session and save its SVG."""
    with tempfile.TemporaryDirectory() as tmp:
        session, browser = source(Path(tmp))
        app = LivetapApp(session, theme=theme, browser=browser, save_directory=Path(tmp))
        async with app.run_test(size=size) as pilot:
            await script(pilot, app)
            path = app.save_screenshot(filename=f"{name}.svg", path=str(HERE))
    return Path(path)


async def make_all(names: list[str]) -> None:
    """Every screenshot (or the ones named), one scripted session each."""
    for name, (script, theme, source, size) in SHOTS.items():
        if names and name not in names:
            continue
        try:
            svg = await shoot(name, script, theme, source, size)
        finally:
            while LIVE:
                site_context, browser, key_log = LIVE.pop()
                browser.stop()
                key_log.close()
                site_context.__exit__(None, None, None)
        print(svg.relative_to(HERE.parent))


if __name__ == "__main__":
    asyncio.run(make_all(sys.argv[1:]))
