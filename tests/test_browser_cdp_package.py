"""livetap's DevTools commands built and parsed by the chrome-devtools-protocol package (cdp).

Against a real headless Chromium and the local test site on 127.0.0.1: over the
pipes of a launched browser (the browser session) and over the websocket of a
browser started with a debugging port (the connection alone).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import cdp
import pytest

from engine.browser.cdp import CdpConnection, CdpError, Command
from engine.browser.launch import find_chromium
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget, websocket_url
from engine.errors import UnavailableError
from tests.conftest import wait_for
from tests.local_site import LocalSite, local_site


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with local_site() as running:
        yield running


# -- the adapter, without a browser ------------------------------------------------------------


def test_a_command_is_the_package_s_request_and_its_reply_the_typed_result() -> None:
    enable = Command(cdp.network.enable(max_post_data_size=65536))
    assert (enable.method, enable.params) == ("Network.enable", {"maxPostDataSize": 65536})
    enable.parse({})  # Network.enable returns nothing
    run = Command(cdp.runtime.run_if_waiting_for_debugger())
    assert (run.method, run.params) == ("Runtime.runIfWaitingForDebugger", {})  # no "params"
    body = Command(cdp.network.get_response_body(cdp.network.RequestId("7.1")))
    assert body.params == {"requestId": "7.1"}
    assert body.parse({"body": "aGk=", "base64Encoded": True}) == ("aGk=", True)
    unreadable = Command(cdp.network.get_response_body(cdp.network.RequestId("7.1")))
    with pytest.raises(CdpError, match=r"Network\.getResponseBody: a reply livetap cannot read"):
        unreadable.parse({"base64Encoded": False})


class AnsweringTransport:
    """A transport in memory whose "browser" answers every command with an empty result."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()

    async def send(self, message: str) -> None:
        command = json.loads(message)
        self.sent.append(command)
        await self.inbox.put(json.dumps({"id": command["id"], "result": {}}))

    async def messages(self) -> AsyncIterator[str | bytes]:
        while (message := await self.inbox.get()) is not None:
            yield message

    async def close(self) -> None:
        await self.inbox.put(None)


async def test_an_empty_reply_is_a_cdp_error_only_where_a_result_is_expected() -> None:
    transport = AnsweringTransport()
    connection = CdpConnection(transport, lambda *_: None)
    try:
        await connection.execute(cdp.network.enable(), "S1", timeout=5)  # returns nothing
        with pytest.raises(CdpError, match="cannot read"):
            await connection.execute(
                cdp.network.get_response_body(cdp.network.RequestId("1")), timeout=5
            )
        assert await connection.call("Browser.getVersion", timeout=5) == {}  # by name: as sent
    finally:
        await connection.close()
    assert transport.sent[0] == {
        "id": 1,
        "method": "Network.enable",
        "params": {},
        "sessionId": "S1",
    }
    assert [message["method"] for message in transport.sent[1:]] == [
        "Network.getResponseBody",
        "Browser.getVersion",
    ]


# -- a launched browser, over its pipes ---------------------------------------------------------


def test_the_session_s_commands_go_through_the_package(
    site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[tuple[str, Any]] = []
    original = Command.parse

    def recorded(self: Command[Any], result: dict[str, Any]) -> Any:
        value = original(self, result)
        parsed.append((self.method, value))
        return value

    monkeypatch.setattr(Command, "parse", recorded)
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    try:

        def page_done() -> bool:
            try:
                return bool(browser.evaluate("document.body?.dataset.done === 'yes'"))
            except UnavailableError:
                return False

        assert wait_for(page_done, timeout=20)
        records = {r.url.removeprefix(site.url): r for r in browser.tracker.records()}
        data = records["/api/data.json?item=7&kind=test"]
        assert wait_for(lambda: (browser.get(data.id) or data).finished, timeout=5)
        body = browser.fetch_body(data.id)
        assert json.loads(body.data)["items"]
        post = records["/api/submit"]  # small: its body came with the event
        assert json.loads(browser.fetch_post_data(post.id) or "") == {
            "name": "livetap",
            "answer": 42,
        }
        # a body over Network.enable's maxPostDataSize is asked for (Network.getRequestPostData)
        browser.evaluate("fetch('/api/submit?big=1', {method: 'POST', body: 'x'.repeat(70000)})")

        def big_post() -> str | None:
            found = [r for r in browser.tracker.records() if r.url.endswith("?big=1")]
            return found[0].id if found and found[0].status == 201 else None

        assert wait_for(lambda: big_post() is not None, timeout=10)
        big = browser.get(big_post() or "")
        assert big is not None and big.has_post_data and big.post_data is None
        assert browser.fetch_post_data(big.id) == "x" * 70000
        assert browser.evaluate("1 + 2") == 3
        browser.navigate(f"{site.url}/early")
        assert wait_for(
            lambda: any(r.url.endswith("/early") for r in browser.tracker.records()), timeout=10
        )
    finally:
        browser.stop()
    methods = {method for method, _ in parsed}
    assert {
        "Browser.getVersion",
        "Target.setDiscoverTargets",
        "Target.setAutoAttach",
        "Network.enable",
        "Page.navigate",
        "Network.getResponseBody",
        "Network.getRequestPostData",
        "Runtime.evaluate",
    } <= methods
    navigations = [value for method, value in parsed if method == "Page.navigate"]
    assert all(
        isinstance(frame, cdp.page.FrameId) and error is None for frame, _, error in navigations
    )


# -- a browser with a debugging port, over its websocket ------------------------------------


@pytest.fixture
def debugging_port() -> Iterator[int]:
    """A headless Chromium listening for DevTools on 127.0.0.1 (its default), killed after."""
    with tempfile.TemporaryDirectory(prefix="livetap-chromium-test-") as profile:
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-sync",
            "--disable-background-networking",
            "--disable-component-update",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
        ]
        process = subprocess.Popen(
            [find_chromium(), *flags, "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            active = Path(profile) / "DevToolsActivePort"
            assert wait_for(lambda: active.is_file() and active.read_text().strip() != "", 15)
            yield int(active.read_text().split()[0])
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def test_enable_navigate_and_get_response_body_over_the_websocket(
    site: LocalSite, debugging_port: int
) -> None:
    target = BrowserTarget(launch=False, endpoint=f"http://127.0.0.1:{debugging_port}")
    url = await asyncio.to_thread(websocket_url, target)
    assert url.startswith("ws://127.0.0.1:")
    finished: dict[str, asyncio.Event] = {}
    documents: dict[str, str] = {}

    def on_event(method: str, params: Any, session: str) -> None:  # events: plain JSON
        request_id = str(params.get("requestId", ""))
        if method == "Network.requestWillBeSent" and params.get("type") == "Document":
            documents[params["request"]["url"]] = request_id
        if method == "Network.loadingFinished":
            finished.setdefault(request_id, asyncio.Event()).set()

    connection = await CdpConnection.open(url, on_event)
    try:
        product = (await connection.execute(cdp.browser.get_version()))[1]
        assert product.startswith(("HeadlessChrome/", "Chrome/"))
        target_id = await connection.execute(cdp.target.create_target("about:blank"))
        session = await connection.execute(cdp.target.attach_to_target(target_id, flatten=True))
        await connection.execute(cdp.network.enable(), session)
        frame, loader, error = await connection.execute(cdp.page.navigate(f"{site.url}/"), session)
        assert isinstance(frame, cdp.page.FrameId) and loader is not None and error is None
        request_id = documents[f"{site.url}/"]
        await asyncio.wait_for(finished.setdefault(request_id, asyncio.Event()).wait(), 10)
        body, encoded = await connection.execute(
            cdp.network.get_response_body(cdp.network.RequestId(request_id)), session
        )
        assert not encoded and "<title>livetap test site</title>" in body
        refused = f"http://127.0.0.1:{site.refused_port}/"
        _, _, error = await connection.execute(cdp.page.navigate(refused), session)
        assert error == "net::ERR_CONNECTION_REFUSED"
        with pytest.raises(CdpError, match=r"^Network\.getResponseBody: "):
            await connection.execute(
                cdp.network.get_response_body(cdp.network.RequestId("no-such-request")), session
            )
    finally:
        await connection.close()
