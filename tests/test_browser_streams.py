"""WebSocket frames and server-sent events from a real headless Chromium and local servers."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.browser.har_export import records_to_har
from engine.browser.records import RequestRecord
from engine.browser.session import BrowserSession
from engine.browser.streams import StreamMessage, StreamStore
from engine.browser.target import BrowserTarget
from engine.errors import UnavailableError
from engine.har import ndjson_to_har
from engine.ndjson.capture import NdjsonCapture, NdjsonOptions
from tests.conftest import wait_for
from tests.stream_site import StreamSite, stream_site


@pytest.fixture
def site() -> Iterator[StreamSite]:
    with stream_site() as running:
        yield running


def _both_done(browser: BrowserSession) -> bool:
    try:
        script = "document.body && document.body.dataset.ws + document.body.dataset.sse"
        return bool(browser.evaluate(script) == "yesyes")
    except UnavailableError:
        return False


def _of_type(browser: BrowserSession, kind: str) -> RequestRecord:
    found = [r for r in browser.tracker.records() if r.resource_type == kind]
    assert len(found) == 1, [r.resource_type for r in browser.tracker.records()]
    return found[0]


def _frames(messages: tuple[StreamMessage, ...]) -> list[tuple[str, int | None, int, bytes]]:
    return sorted((m.direction, m.opcode, m.size, m.data) for m in messages)


def test_websocket_frames_both_ways_and_server_sent_events(site: StreamSite) -> None:
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    try:
        assert wait_for(lambda: _both_done(browser), timeout=20)
        ws = _of_type(browser, "WebSocket")
        assert wait_for(lambda: len(browser.tracker.streams.messages(ws.id)) == 4)
        ws = _of_type(browser, "WebSocket")
        assert ws.url == f"ws://127.0.0.1:{site.ws_port}/chat"
        assert ws.status == 101 and ws.messages == 4
        assert any(name == "Sec-WebSocket-Key" for name, _v in ws.request_headers)
        messages = browser.tracker.streams.messages(ws.id)
        assert _frames(messages) == [
            ("received", 1, 18, b"echo:hello livetap"),
            ("received", 2, 5, bytes([250, 4, 3, 2, 1])),
            ("sent", 1, 13, b"hello livetap"),
            ("sent", 2, 5, bytes([1, 2, 3, 4, 250])),
        ]
        assert [m.index for m in messages] == [1, 2, 3, 4]
        assert site.received == ["hello livetap", bytes([1, 2, 3, 4, 250])]
        summary = browser.tracker.streams.summary(ws.id)
        assert summary is not None and (summary.sent_bytes, summary.received_bytes) == (18, 23)

        sse = _of_type(browser, "EventSource")
        events = browser.tracker.streams.messages(sse.id)
        assert [(m.event, m.event_id, m.data) for m in events] == [
            ("tick", "1", b"first tick"),
            ("message", "1", b'{"n": 2, "token": "s3cret"}'),
        ]
        assert sse.messages == 2
    finally:
        browser.stop()


def test_the_ndjson_capture_writes_frames_and_events(site: StreamSite, tmp_path: Path) -> None:
    browser = BrowserSession(BrowserTarget(launch=True))
    browser.start()
    out = tmp_path / "streams.ndjson"
    capture = NdjsonCapture(NdjsonOptions(out, include_bodies=True), browser)
    capture.start()
    try:
        browser.navigate(f"{site.url}/")
        assert wait_for(lambda: _both_done(browser), timeout=20)
        assert wait_for(lambda: out.read_text().count('"ws.frame"') == 4, timeout=5)
        assert wait_for(lambda: out.read_text().count('"sse.message"') == 2, timeout=5)
    finally:
        capture.stop()
        browser.stop()
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    requests = [line for line in lines if line["type"] == "request"]
    ws_request = next(line for line in requests if "/chat" in line["url"])
    frames = [line for line in lines if line["type"] == "ws.frame"]
    assert {line["id"] for line in frames} == {ws_request["id"]}
    shown = sorted(
        (f["direction"], f["opcode"], f["size"], f["payload"], f.get("payloadEncoding"))
        for f in frames
    )
    assert shown == [
        ("received", 1, 18, "echo:hello livetap", None),
        ("received", 2, 5, "+gQDAgE=", "base64"),
        ("sent", 1, 13, "hello livetap", None),
        ("sent", 2, 5, "AQIDBPo=", "base64"),
    ]
    events = [line for line in lines if line["type"] == "sse.message"]
    assert [(e["event"], e["size"]) for e in events] == [("tick", 10), ("message", 27)]
    assert events[0]["data"] == "first tick"
    assert json.loads(events[1]["data"]) == {"n": 2, "token": "[redacted]"}  # the body rule
    assert all(e["timestamp"].endswith("Z") for e in frames + events)

    # livetap har (from the capture) and H (from the records) both carry the frames
    wanted = [
        ("receive", 1, "echo:hello livetap"),
        ("receive", 2, "+gQDAgE="),
        ("send", 1, "hello livetap"),
        ("send", 2, "AQIDBPo="),
    ]
    from_capture = ndjson_to_har([out]).har["log"]["entries"]
    ws = browser.tracker.streams
    records = browser.tracker.records()
    kept = {r.id: ws.messages(r.id) for r in records if r.resource_type == "WebSocket"}
    from_records = records_to_har(records, frames=kept).har["log"]["entries"]
    for entries in (from_capture, from_records):
        (entry,) = [e for e in entries if "_webSocketMessages" in e]
        assert entry["request"]["url"].endswith("/chat") and entry["_resourceType"] == "websocket"
        messages = entry["_webSocketMessages"]
        assert sorted((m["type"], m["opcode"], m["data"]) for m in messages) == wanted
        assert all(abs(m["time"] - time.time()) < 600 for m in messages)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_websocket_whose_handshake_fails_ends_failed_with_its_reason(
    site: StreamSite, tmp_path: Path
) -> None:
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    out = tmp_path / "failed.ndjson"
    capture = NdjsonCapture(NdjsonOptions(out), browser)
    capture.start()
    refused, nobody = f"ws://127.0.0.1:{site.port}/refuse", f"ws://127.0.0.1:{_free_port()}/"
    try:
        assert wait_for(lambda: _both_done(browser), timeout=20)
        browser.evaluate(f"new WebSocket({refused!r}); new WebSocket({nobody!r}); 1")

        def ended(url: str) -> RequestRecord | None:
            found = [r for r in browser.tracker.records() if r.url == url]
            return found[0] if found and found[0].state != "pending" else None

        assert wait_for(lambda: bool(ended(refused) and ended(nobody)), timeout=10)
        assert wait_for(lambda: out.read_text().count('"failed"') == 2, timeout=5)
    finally:
        capture.stop()
        browser.stop()
    upgrade, connect = ended(refused), ended(nobody)
    assert upgrade is not None and connect is not None
    assert upgrade.state == "failed" and upgrade.status == 403 and not upgrade.finished
    assert "Unexpected response code: 403" in upgrade.error
    assert connect.state == "failed" and connect.status is None
    assert "ERR_CONNECTION_REFUSED" in connect.error
    assert upgrade.duration is not None  # (a refused connection never sent its handshake)
    assert _of_type(browser, "EventSource").state != "failed"
    ok = [r for r in browser.tracker.records() if r.url.endswith("/chat")]
    assert len(ok) == 1 and ok[0].state == "pending" and ok[0].status == 101  # still open
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    failed = {line["url"]: line["errorText"] for line in lines if line["type"] == "failed"}
    assert failed == {refused: upgrade.error, nobody: connect.error}
    ends = [line for line in lines if line["type"] in ("finished", "failed")]
    assert len([e for e in ends if e["id"] in {f"req_{upgrade.seq}", f"req_{connect.seq}"}]) == 2
    for url in (refused, nobody):  # one request line each, before its failed line
        kinds = [line["type"] for line in lines if line.get("url") == url]
        assert kinds == ["request", "failed"], (url, kinds)
    for har in (ndjson_to_har([out]).har, records_to_har(browser.tracker.records()).har):
        entries = {e["request"]["url"]: e for e in har["log"]["entries"]}
        assert refused in entries and nobody in entries


def test_the_store_keeps_each_connection_within_its_caps() -> None:
    store = StreamStore(max_messages=10, max_bytes=100, max_connections=2)
    for n in range(25):
        store.add("a", StreamMessage("ws", "sent", float(n), 3, b"abc", True, 1))
    kept = store.messages("a")
    assert [m.index for m in kept] == list(range(16, 26))
    summary = store.summary("a")
    assert summary is not None and (summary.total, summary.dropped, summary.sent_bytes) == (
        25,
        15,
        75,
    )
    store.add("b", StreamMessage("ws", "received", 0.0, 60, b"x" * 60, True, 1))
    store.add("b", StreamMessage("ws", "received", 0.0, 60, b"y" * 60, True, 1))
    assert [m.data[:1] for m in store.messages("b")] == [b"y"]  # 120 bytes > 100
    store.add("c", StreamMessage("sse", "received", 0.0, 1, b"z", True))
    assert store.messages("a") == ()  # the connection with the oldest message went
    assert store.summary("a") is None and len(store.messages("c")) == 1
