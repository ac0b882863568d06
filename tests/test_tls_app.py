"""Decrypted HTTP/2 in the TUI: Info labels, g on a request's own stream, its wire section, w.

A real headless Chromium writes its key log while it loads the local HTTP/2 site;
lo is captured; the app decrypts in the background with tshark.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from engine.live import LiveSource
from engine.pcapio.secrets import BLOCK_DSB
from engine.replay import open_file_source
from engine.session import CaptureSession
from engine.tls_decode import tls_endpoints
from engine.tls_keylog import KeyLog
from tests.conftest import wait_for
from tests.test_pcap_secrets import blocks
from tests.test_tls_keylog import load_site, page_done, settled
from tests.tls_site import TlsSite, tls_site
from tui.app import LivetapApp
from tui.cli import build_parser, open_key_log
from tui.screens.main import MainScreen
from tui.widgets.packet_detail import DeepTree
from tui.widgets.packet_list import PacketList
from tui.widgets.packet_pane import PacketPane
from tui.widgets.request_detail import RequestDetail
from tui.widgets.request_view import RequestList

SIZE = (200, 50)


@pytest.fixture
def site() -> Iterator[TlsSite]:
    with tls_site() as running:
        yield running


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.05)


@pytest.mark.root
async def test_decrypted_http2_labels_g_selects_the_stream_and_w_embeds_the_keys(
    site: TlsSite, tmp_path: Path
) -> None:
    port = int(site.url.rsplit(":", 1)[1])
    capture = CaptureSession(LiveSource("lo", expression=f"tcp port {port}"))
    key_log = KeyLog()
    target = BrowserTarget(launch=True, extra_flags=site.chromium_flags)
    browser = BrowserSession(target, open_url=f"{site.url}/", key_log=key_log)
    browser.start()
    app = LivetapApp(capture, browser=browser, save_directory=tmp_path)
    app.key_log, app.embed_secrets = key_log, True
    try:
        async with app.run_test(size=SIZE) as pilot:
            main = app.screen_stack[1]
            assert isinstance(main, MainScreen)
            url = f"{site.url}/api/two.json?x=2"
            await until(
                pilot, lambda: any(r.url == url and r.finished for r in browser.tracker.records())
            )
            frames = app.http2_frames

            def labels() -> list[str]:
                return [frames.label(i) for i in range(1, capture.ring.last_index + 1)]

            await until(pilot, lambda: any("GET /api/two.json?x=2" in t for t in labels()))
            packets = main.query_one(PacketList)
            pane = main.query_one(PacketPane)
            assert any("[HTTP/2 s" in pane._notes(i) for i in range(1, capture.ring.last_index))
            record = next(r for r in browser.tracker.records() if r.url == url)
            requests = main.query_one(RequestList)
            await until(pilot, lambda: record.id in requests.rows)
            requests.focus()
            requests.move_cursor(row=requests.get_row_index(record.id))
            detail = main.query_one(RequestDetail)
            await pilot.press("g")  # correlates again now (the detail may have tried too early)
            await until(pilot, lambda: bool(packets.marks))
            await until(pilot, lambda: "HTTP/2 stream" in detail.plain_text())
            assert "HEADERS" in detail.plain_text() and "DATA" in detail.plain_text()
            marked = sorted(packets.marks)
            carried = [frames.label(i) for i in marked]
            assert all(text for text in carried), carried
            assert any("HEADERS GET /api/two.json?x=2" in text for text in carried)
            assert not any("/api/one.json" in text for text in carried)  # another stream
            stream = next(
                part.split()[0]
                for text in carried
                for part in text.removeprefix("HTTP/2 ").split(", ")
                if "/api/two.json" in part
            )
            assert all(stream in text for text in carried)
            first = next(i for i in marked if "HEADERS GET /api/two.json" in frames.label(i))
            packets.select(first)
            await pilot.press("d")  # tshark after the connection's packets, with the keys
            tree = main.query_one(DeepTree)
            await until(
                pilot,
                lambda: any(
                    "HyperText Transfer Protocol 2" in str(n.label) for n in tree.root.children
                ),
                30,
            )
            saved = tmp_path / "tls.pcapng"
            await pilot.press("w")  # a menu: which packets (all is first), then the file
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.focused, Input))
            field = app.focused
            assert isinstance(field, Input) and field.value.endswith(".pcapng")
            field.value = str(saved)
            await pilot.press("enter")
            await until(pilot, saved.exists)
            assert BLOCK_DSB in [kind for kind, _ in blocks(saved)]
    finally:
        browser.stop()
        key_log.close()
    assert key_log.browser_file is None


@pytest.mark.root
@pytest.mark.parametrize("keys_from", ["keylog", "embedded"])
async def test_a_file_read_with_a_key_log_is_labelled_without_a_browser(
    site: TlsSite, tmp_path: Path, live_session: Callable[..., CaptureSession], keys_from: str
) -> None:
    """-r FILE --keylog KEYS, or -r FILE with the keys inside: the TLS servers of the
    buffer are decrypted, no browser needed."""
    key_log = KeyLog()
    live, browser = load_site(site, key_log, live_session)
    try:
        assert wait_for(lambda: page_done(browser), timeout=20), site.served
        assert wait_for(lambda: b"CLIENT_TRAFFIC_SECRET_0" in key_log.secrets(), timeout=5)
        assert settled(live)
        capture, keys = tmp_path / "tls.pcapng", tmp_path / "tls.keys"
        secrets = key_log.secrets()
        live.save_pcap(capture, secrets=secrets if keys_from == "embedded" else b"")
        keys.write_bytes(secrets)
    finally:
        browser.stop()
        key_log.close()
    port = int(site.url.rsplit(":", 1)[1])
    session = CaptureSession(open_file_source(capture))
    app = LivetapApp(session, save_directory=tmp_path)
    flags = ["-r", str(capture)] + (["--keylog", str(keys)] if keys_from == "keylog" else [])
    app.key_log = open_key_log(build_parser(flags).parse_args(flags))
    assert app.key_log is not None
    async with app.run_test(size=SIZE) as pilot:
        frames = app.http2_frames
        await until(pilot, lambda: session.ring.last_index > 10)
        ends = tls_endpoints(session.ring)
        assert all(port in (packet.sport, packet.dport) for packet in session.ring)
        assert ends and all(address == "127.0.0.1" for address, _ in ends)

        def labelled() -> str:
            return " ".join(frames.label(i) for i in range(1, session.ring.last_index + 1))

        await until(pilot, lambda: "HEADERS GET /api/one.json" in labelled())
        assert "HEADERS GET /api/two.json?x=2" in labelled()
