"""The DevTools pipe transport against a hostile "browser" on the other end of real pipes.

The launched Chromium speaks over two pipes (NUL-terminated JSON). Here the test
plays the browser: it reads the commands livetap writes and writes replies,
events, nonsense and a message too large, on real OS pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from engine.browser.cdp import CdpConnection
from engine.browser.transport import MAX_MESSAGE
from engine.errors import UnavailableError


@dataclass
class FakeBrowser:
    """The browser's ends of the two pipes, and what the connection reported."""

    commands: int
    replies: int
    connection: CdpConnection
    events: list[tuple[str, Mapping[str, Any], str]] = field(default_factory=list)

    def read_command(self) -> dict[str, Any]:
        data = b""
        while not data.endswith(b"\0"):
            chunk = os.read(self.commands, 1 << 16)
            assert chunk, "livetap closed its command pipe"
            data += chunk
        message: dict[str, Any] = json.loads(data[:-1])
        return message

    def write(self, data: bytes) -> None:
        os.write(self.replies, data)


@pytest.fixture
async def browser() -> AsyncIterator[FakeBrowser]:
    commands_read, commands_write = os.pipe()
    replies_read, replies_write = os.pipe()
    events: list[tuple[str, Mapping[str, Any], str]] = []
    connection = await CdpConnection.over_pipes(
        os.fdopen(commands_write, "wb", buffering=0),
        os.fdopen(replies_read, "rb", buffering=0),
        lambda method, params, session: events.append((method, params, session)),
    )
    fake = FakeBrowser(commands_read, replies_write, connection, events)
    try:
        yield fake
    finally:
        await connection.close()
        for fd in (commands_read, replies_write):
            with contextlib.suppress(OSError):
                os.close(fd)


async def test_commands_replies_and_events_travel_nul_terminated(browser: FakeBrowser) -> None:
    future = await browser.connection.send("Browser.getVersion", {}, "S1")
    command = browser.read_command()
    assert (command["method"], command["sessionId"]) == ("Browser.getVersion", "S1")
    event = {"method": "Network.loadingFinished", "params": {"requestId": "1"}, "sessionId": "S1"}
    reply = {"id": command["id"], "result": {"product": "HeadlessChrome"}}
    browser.write(b"not json\0[1, 2]\0" + json.dumps(event).encode() + b"\0")
    browser.write(json.dumps(reply).encode()[:10])  # a message may arrive in pieces
    await asyncio.sleep(0.05)
    browser.write(json.dumps(reply).encode()[10:] + b"\0")
    assert await asyncio.wait_for(future, 5) == {"product": "HeadlessChrome"}
    assert browser.events == [("Network.loadingFinished", {"requestId": "1"}, "S1")]
    assert browser.connection.malformed == 2
    assert not browser.connection.closed.is_set()


async def test_a_message_too_large_closes_the_pipe_and_nothing_waits(browser: FakeBrowser) -> None:
    pending = await browser.connection.send("Page.navigate", {"url": "about:blank"})

    def flood() -> None:
        block = b"x" * (1 << 20)
        with contextlib.suppress(OSError):  # the reader closes its end when it gives up
            for _ in range(MAX_MESSAGE // len(block) + 2):
                os.write(browser.replies, block)

    writer = threading.Thread(target=flood, daemon=True)
    writer.start()
    await asyncio.wait_for(browser.connection.closed.wait(), 30)
    with pytest.raises(UnavailableError, match=r"went away during Page\.navigate"):
        await asyncio.wait_for(pending, 5)
    await browser.connection.close()  # closes the read end: the flood stops (EPIPE)
    await asyncio.to_thread(writer.join, 10)
    assert not writer.is_alive()


async def test_the_browser_closing_its_end_closes_the_connection(browser: FakeBrowser) -> None:
    pending = await browser.connection.send("Target.setDiscoverTargets", {"discover": True})
    os.close(browser.replies)
    await asyncio.wait_for(browser.connection.closed.wait(), 5)
    with pytest.raises(UnavailableError):
        await asyncio.wait_for(pending, 5)
    with pytest.raises(UnavailableError):  # livetap's side still sends, and fails plainly
        await asyncio.wait_for(browser.connection.call("Browser.getVersion"), 5)
