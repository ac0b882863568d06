"""An untrusted browser: nonsense, oversized and hostile CDP messages, and a flood of requests.

The "browser" is a websocket server of the test's own on 127.0.0.1 that speaks
DevTools: it answers every command with an empty result and sends what the test
scripts. The real CdpConnection, BrowserSession, NetworkTracker and NDJSON
capture run against it.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import json
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from engine.browser.cdp import CdpConnection
from engine.browser.network import NetworkTracker
from engine.browser.records import BrowserStatus, ConnectionState
from engine.browser.session import BrowserSession
from engine.browser.target import parse_browser_spec
from engine.errors import UnavailableError
from engine.ndjson.capture import NdjsonCapture, NdjsonOptions
from tests.conftest import wait_for
from tests.reliability.support import ndjson_lines

Script = Callable[[ServerConnection], Any]


def request(request_id: str, url: str = "http://127.0.0.1/", **extra: Any) -> str:
    params = {
        "requestId": request_id,
        "timestamp": 100.0,
        "wallTime": 1_700_000_000.0,
        "type": "Fetch",
        "request": {"url": url, "method": "GET", "headers": {"Authorization": "Bearer s3cret"}},
        **extra,
    }
    return json.dumps({"method": "Network.requestWillBeSent", "params": params})


def event(method: str, request_id: str, **params: Any) -> str:
    return json.dumps({"method": method, "params": {"requestId": request_id, **params}})


NONSENSE: list[str | bytes] = [
    "not json at all",
    b"\x00\xff\xfe binary frame",
    "[]",
    "123",
    "null",
    '"a string"',
    "[" * 100_000,  # json.loads raises RecursionError, not ValueError
    '{"method": 5, "params": {}}',
    '{"method": "Network.requestWillBeSent", "params": [1, 2]}',
    '{"id": 99999, "result": {}}',
    '{"id": "1", "result": {}}',
    '{"id": 1.5, "error": "x"}',
    '{"method": "Network.policyUpdated", "params": {}}',
    '{"method": "Target.attachedToTarget", "params": {"sessionId": 5, "targetInfo": []}}',
    '{"method": "Target.detachedFromTarget", "params": {"sessionId": [1]}}',
    # numbers JSON allows and floats do not: 10**400, 1e999 (inf), NaN
    '{"method": "Network.requestWillBeSent", "params": {"requestId": "big", "timestamp": '
    + "9" * 400
    + ', "wallTime": 1e999, "request": {"url": "http://127.0.0.1/big", "headers": {}}}}',
    event("Network.loadingFinished", "big", encodedDataLength=1e999, timestamp=float("nan")),
    event("Network.responseReceived", "big", response={"status": "200", "headers": []}),
    request("lone", url="http://127.0.0.1/\ud800", wallTime=-1e300),
    event("Network.loadingFailed", "lone", errorText={"nested": ["x"]}, timestamp=1e308),
    event("Network.unknownFutureEvent", "x", anything=[{"a": None}]),
]


async def answer_commands(websocket: ServerConnection) -> None:
    """What a browser does with commands: answer each with an empty result."""
    async for raw in websocket:
        with_id = json.loads(raw)
        await websocket.send(json.dumps({"id": with_id["id"], "result": {}}))


@contextmanager
def fake_browser(script: Script, answer: bool = True) -> Iterator[str]:
    """A DevTools-speaking server on 127.0.0.1 in a thread; yields its ws:// URL.

    With ``answer``, every command gets an empty result; else the script answers.
    """
    ready = threading.Event()
    address: list[str] = []
    stop: list[asyncio.Event] = []
    loop = asyncio.new_event_loop()

    async def handler(websocket: ServerConnection) -> None:
        replies = asyncio.create_task(answer_commands(websocket) if answer else asyncio.sleep(0))
        try:
            await script(websocket)
            await replies
        except Exception:  # the client went away: fine
            replies.cancel()

    async def main() -> None:
        stop.append(asyncio.Event())
        async with serve(handler, "127.0.0.1", 0, max_size=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            address.append(f"ws://127.0.0.1:{port}/devtools/browser/test")
            ready.set()
            await stop[0].wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield address[0]
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(5)
        loop.close()


async def test_nonsense_is_counted_and_the_connection_stays_up() -> None:
    tracker = NetworkTracker()

    async def script(websocket: ServerConnection) -> None:
        for message in NONSENSE:
            await websocket.send(message)
        await websocket.send(request("after"))

    with fake_browser(script) as url:
        connection = await CdpConnection.open(url, tracker.handle)
        try:
            assert await asyncio.to_thread(wait_for, lambda: tracker.get("after") is not None)
            assert not connection.closed.is_set()
            assert connection.malformed >= 10
            assert await connection.call("Browser.getVersion", timeout=5) == {}  # still answering
        finally:
            await connection.close()
    assert tracker.get("big") is not None and tracker.get("lone") is not None
    assert tracker.skipped_messages == 0  # what reached it was well-formed or unused


async def test_an_oversized_message_closes_the_connection_and_nothing_waits_forever() -> None:
    """A raw websocket that declares a 1 TiB frame: refused from its header, nothing hangs."""

    async def liar(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        magic = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        accept = base64.b64encode(hashlib.sha1(key + magic).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        writer.write(b"\x81\x7f" + struct.pack("!Q", 1 << 40) + b"{" * 1000)
        await writer.drain()
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(liar, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        connection = await CdpConnection.open(f"ws://127.0.0.1:{port}/", lambda *_: None)
        pending = await connection.send("Network.enable")
        await asyncio.wait_for(connection.closed.wait(), 3)
        with pytest.raises(UnavailableError):
            await asyncio.wait_for(pending, 3)
        await connection.close()
    finally:
        server.close()


def _status() -> BrowserStatus:
    return BrowserStatus(ConnectionState.CONNECTED, "test")


def test_memory_stays_flat_once_the_tracker_is_full() -> None:
    """Bookkeeping per request (sessions, redirect hops) leaves with the request."""
    tracker = NetworkTracker(max_requests=500)

    def feed(first: int, last: int) -> None:
        for number in range(first, last):
            rid = f"{number}.1"
            tracker.handle("Network.requestWillBeSent", json.loads(request(rid))["params"], "S1")
            redirect = {"status": 302, "url": "http://127.0.0.1/"}
            params = json.loads(request(rid, redirectResponse=redirect))["params"]
            tracker.handle("Network.requestWillBeSent", params, "S1")
            tracker.handle("Network.loadingFinished", {"requestId": rid, "timestamp": 101.0}, "S1")
            if number % 500 == 0:
                tracker.drain(_status())

    tracemalloc.start()
    try:
        feed(0, 1_500)
        tracker.drain(_status())
        gc.collect()
        full = tracemalloc.get_traced_memory()[0]
        feed(1_500, 6_500)
        tracker.drain(_status())
        gc.collect()
        later = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(tracker.records()) == 500
    assert later - full < 250_000, f"grew {later - full:,} bytes over 5,000 more requests"


def test_a_flood_of_requests_stays_bounded_and_live(tmp_path: Path) -> None:
    """10,000 requests/s for 3 s (three events each) with an NDJSON capture running.

    The flood comes from another process, so its pace does not depend on this one.
    The tracker may fall behind while it lasts, but stays bounded, answers every
    poll at once, and catches up: the marker sent last arrives.
    """
    rate, seconds, max_requests = 10_000, 3.0, 2_000
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.cdp_flood", str(rate), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        browser = BrowserSession(parse_browser_spec(url), max_requests=max_requests)
        browser.start(timeout=10)
        capture = NdjsonCapture(NdjsonOptions(tmp_path / "flood.ndjson"), browser=browser)
        try:
            capture.start()
            slowest = 0.0
            deadline = time.monotonic() + seconds + 30
            while browser.get("marker") is None and time.monotonic() < deadline:
                started = time.monotonic()
                batch = browser.poll()
                slowest = max(slowest, time.monotonic() - started)
                assert len(batch.changed) <= max_requests
                assert len(browser.tracker.records()) <= max_requests
                time.sleep(0.05)
            assert browser.get("marker") is not None, "the tracker fell behind for good"
            status = browser.status()
        finally:
            report = capture.stop()
            browser.stop()
        sent = int(server.stdout.readline())
    finally:
        server.kill()
        server.wait()
    total = sent + 1
    assert sent >= rate * seconds * 0.9
    assert status.requests == total and status.evicted == total - max_requests
    assert slowest < 0.25, f"a poll took {slowest:.3f} s during the flood"
    lines = ndjson_lines(tmp_path / "flood.ndjson")
    assert report["eventsWritten"] == len(lines) == 3 * sent + 1
    requests = [line for line in lines if line["type"] == "request"]
    assert {line["headers"]["Authorization"] for line in requests} == {"[redacted]"}
    assert requests[0]["url"].endswith("?\ud800")  # a lone surrogate, kept as a JSON escape
    assert capture.error is None


def test_hostile_values_reach_the_ndjson_file_as_valid_json(tmp_path: Path) -> None:
    """Timestamps no calendar has, lone surrogates, NaN, and a body that is not base64."""

    async def script(websocket: ServerConnection) -> None:
        await asyncio.sleep(0.3)
        for message in NONSENSE:
            await websocket.send(message)
        for number, wall in enumerate([1e300, -1e300, 1e17, 0.5]):
            rid = f"odd{number}"
            await websocket.send(
                request(rid, url=f"http://127.0.0.1/\udc80{number}", wallTime=wall)
            )
            await websocket.send(
                event("Network.responseReceived", rid, timestamp=1e300, response={"status": 200})
            )
            await websocket.send(event("Network.loadingFinished", rid, timestamp=1e300))
        await websocket.send(request("marker"))

    async def bodies(websocket: ServerConnection) -> None:
        """Commands answered as a browser would, except bodies: not base64 at all."""
        async for raw in websocket:
            command = json.loads(raw)
            result = {"body": "!!not base64!!", "base64Encoded": True}
            answer = result if command["method"] == "Network.getResponseBody" else {}
            await websocket.send(json.dumps({"id": command["id"], "result": answer}))

    async def both(websocket: ServerConnection) -> None:
        await asyncio.gather(script(websocket), bodies(websocket))

    out = tmp_path / "odd.ndjson"
    with fake_browser(both, answer=False) as url:
        browser = BrowserSession(parse_browser_spec(url))
        browser.start(timeout=10)
        capture = NdjsonCapture(NdjsonOptions(out, include_bodies=True), browser=browser)
        try:
            capture.start()
            assert wait_for(lambda: browser.get("marker") is not None, timeout=10)
            assert wait_for(lambda: capture.stats().events >= 13, timeout=10)
            assert capture.running and capture.error is None
        finally:
            report = capture.stop()
            browser.stop()
    lines = ndjson_lines(out)
    assert report["eventsWritten"] == len(lines)
    errors = [line.get("bodyError", "") for line in lines if line["type"] == "finished"]
    assert sum("unreadable body" in error for error in errors) >= 4
    stamps = sorted({line["timestamp"] for line in lines})
    assert stamps[0] == "1970-01-01T00:00:00.000Z" and stamps[-1].startswith("9999-12-31T23:59:59")
