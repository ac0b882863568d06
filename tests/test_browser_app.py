"""The browser pane in the TUI, driven with Pilot: real Chromium, real site, real packets on lo."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from engine.browser.records import ConnectionState, RequestRecord
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from engine.live import LiveSource
from engine.process.chromium import chromium_role
from engine.process.packet_owners import PacketOwners
from engine.session import CaptureSession
from tests.local_site import APP_JS, LocalSite, local_site
from tui.app import LivetapApp
from tui.screens.main import MainScreen
from tui.widgets.browser_pane import BrowserPane
from tui.widgets.packet_list import PacketList
from tui.widgets.request_detail import RequestDetail
from tui.widgets.request_view import RequestList
from tui.widgets.status_bar import StatusBar

SIZE = (220, 50)


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with local_site() as running:
        yield running


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.05)


def main_screen(app: LivetapApp) -> MainScreen:
    screen = app.screen_stack[1]
    assert isinstance(screen, MainScreen)
    return screen


def detail_text(app: LivetapApp) -> str:
    return main_screen(app).query_one(RequestDetail).plain_text()


async def select_data_request(
    pilot: Pilot[None], app: LivetapApp, browser: BrowserSession, site: LocalSite
) -> tuple[RequestList, RequestRecord]:
    """Wait for the site's data request to finish, then select it in the focused list."""
    requests = main_screen(app).query_one(RequestList)
    data_url = f"{site.url}/api/data.json?item=7&kind=test"
    await until(
        pilot, lambda: any(r.url == data_url and r.finished for r in browser.tracker.records())
    )
    await until(pilot, lambda: requests.row_count >= 9)
    record = next(r for r in browser.tracker.records() if r.url == data_url)
    requests.focus()
    requests.move_cursor(row=requests.get_row_index(record.id))
    await pilot.pause(0.2)
    return requests, record


@pytest.mark.root
async def test_the_pane_fills_b_shows_a_body_and_g_selects_the_packets(site: LocalSite) -> None:
    capture = CaptureSession(LiveSource("lo", expression=f"tcp port {site.port}"))
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    app = LivetapApp(capture, browser=browser)
    async with app.run_test(size=SIZE) as pilot:
        requests, record = await select_data_request(pilot, app, browser, site)
        assert requests.selected_id == record.id
        await pilot.press("b")
        await until(pilot, lambda: '"items"' in detail_text(app))
        assert "Response body" in detail_text(app) and "GET" in detail_text(app)
        await pilot.press("g")
        packets = main_screen(app).query_one(PacketList)
        await until(pilot, lambda: bool(packets.marks))
        assert app.focused is packets
        chosen = [capture.packet(index) for index in sorted(packets.marks)]
        assert packets.cursor == min(packets.marks)
        assert any(
            p is not None and p.info.startswith("GET /api/data.json?item=7&kind=test HTTP/1.1")
            for p in chosen
        )
        assert all(p is not None and site.port in (p.sport, p.dport) for p in chosen)
        await until(pilot, lambda: "Handshake RTT" in detail_text(app))


async def test_b_after_the_page_moved_on_shows_the_kept_body_or_says_why_not(
    site: LocalSite,
) -> None:
    """Issue 18 #9: a body fetched as the response finished; one too large says so in the detail."""
    browser = BrowserSession(
        BrowserTarget(launch=True), open_url=f"{site.url}/", max_body=len(APP_JS) - 1
    )
    browser.start()
    app = LivetapApp(None, browser=browser)
    async with app.run_test(size=SIZE) as pilot:
        requests = main_screen(app).query_one(RequestList)
        data_url = f"{site.url}/api/data.json?item=7&kind=test"
        await until(pilot, lambda: requests.row_count >= 9)
        data = next(r for r in browser.tracker.records() if r.url == data_url)
        script = next(r for r in browser.tracker.records() if r.url == f"{site.url}/app.js")
        await until(pilot, lambda: browser.bodies.get(data.id) is not None)
        browser.navigate(f"{site.url}/popup")
        await until(
            pilot,
            lambda: any(
                r.url.endswith("?popup=1") and r.finished for r in browser.tracker.records()
            ),
        )
        requests.focus()
        requests.move_cursor(row=requests.get_row_index(data.id))
        await pilot.pause(0.2)
        await pilot.press("b")
        await until(pilot, lambda: '"items"' in detail_text(app))
        requests.move_cursor(row=requests.get_row_index(script.id))
        await pilot.pause(0.2)
        assert requests.selected_id == script.id
        await pilot.press("b")
        await until(pilot, lambda: "Response body not shown" in detail_text(app))
        assert "larger than livetap keeps" in detail_text(app)


@pytest.mark.root
async def test_a_browser_that_dies_is_shown_and_the_packets_keep_going(site: LocalSite) -> None:
    """Issue 18 #4: R reopens the --open URL, and the new browser's requests reach the pane."""
    capture = CaptureSession(LiveSource("lo", expression=f"tcp port {site.port}"))
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    app = LivetapApp(capture, browser=browser)
    async with app.run_test(size=SIZE) as pilot:
        requests = main_screen(app).query_one(RequestList)
        await until(pilot, lambda: browser.status().requests >= 9 and requests.row_count >= 9)
        await pilot.pause(0.5)
        before = requests.row_count
        process = browser.browser_process
        assert process is not None
        os.killpg(process.process.pid, signal.SIGKILL)
        title = main_screen(app).query_one("#browser-title")
        await until(pilot, lambda: "exited" in str(title.render()))
        assert browser.status().state is ConnectionState.EXITED
        status_bar = str(main_screen(app).query_one(StatusBar).render())
        assert "browser exited" in status_bar and "browser browser" not in status_bar
        assert capture.running and app.is_running
        await pilot.press("R")
        await until(pilot, lambda: browser.status().state is ConnectionState.CONNECTED)
        # The URL is opened again and its requests are new rows, counted in the title.
        await until(pilot, lambda: requests.row_count >= before + 9, timeout=20)
        await until(pilot, lambda: f"{browser.status().requests:,} requests" in str(title.render()))
        assert browser.status().requests >= before + 9
        documents = [r for r in browser.tracker.records() if r.url == f"{site.url}/"]
        assert len(documents) == 2


async def test_without_a_browser_there_is_no_pane_and_v_says_how_to_connect(
    tmp_dir: object,
) -> None:
    from pathlib import Path

    from engine.replay import open_file_source
    from tests.sample_traffic import write_sample_pcap

    path = write_sample_pcap(Path(str(tmp_dir)) / "s.pcap")
    app = LivetapApp(CaptureSession(open_file_source(path)))
    async with app.run_test(size=SIZE) as pilot:
        main = main_screen(app)
        assert not main.query(BrowserPane) and not main.query(RequestList)
        assert main.query_one("#packet-pane").region.width == SIZE[0]
        await pilot.press("v")
        await pilot.pause(0.1)
        text = " ".join(n.message for n in app._notifications)
        assert "--browser launch" in text and "--remote-debugging-port=9222" in text


def test_a_chromium_process_is_named_by_its_type() -> None:
    network = (
        "/usr/lib/chromium/chromium --type=utility "
        "--utility-sub-type=network.mojom.NetworkService --lang=en"
    )
    assert chromium_role(network) == "network service (--type=utility)"
    assert chromium_role("chromium --type=renderer --lang=en") == "renderer (--type=renderer)"
    assert chromium_role("chromium --type=gpu-process") == "GPU process (--type=gpu-process)"
    storage = "chromium --type=utility --utility-sub-type=storage.mojom.StorageService"
    assert chromium_role(storage) == "utility: storage.mojom.StorageService (--type=utility)"
    assert chromium_role("/usr/lib/chromium/chromium --headless") == "browser process (no --type)"


@pytest.mark.root
async def test_the_request_detail_names_the_chromium_process_that_owns_its_connection(
    site: LocalSite,
) -> None:
    """A real Chromium fetches from the local site on a capture that ties packets to programs:
    the request's On the wire section names the process that owns its TCP connection, by
    pid and by the --type= of its command line, as /proc has it."""
    capture = CaptureSession(
        LiveSource("lo", expression=f"tcp port {site.port}"), owners=PacketOwners("lo")
    )
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    app = LivetapApp(capture, browser=browser)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: capture.owners is not None and capture.owners.active)
        browser.start()
        await select_data_request(pilot, app, browser, site)
        await pilot.press("g")
        await until(pilot, lambda: "Process user" in detail_text(app))
        text = detail_text(app)
        found = re.search(r"Process\s+(\S+) (\d+): (.+?) \((--type=\S+|no --type)\)", text)
        assert found is not None, text
        pid = int(found.group(2))
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        assert "chrom" in cmdline.lower()
        assert found.group(3) == chromium_role(cmdline).rsplit(" (", 1)[0]
        # the sockets are the network service's (the browser's own when it runs in-process)
        assert found.group(3) in ("network service", "browser process")
        if found.group(4) != "no --type":
            assert found.group(4) in cmdline.split()
