"""The CDP Network bookkeeping on its own: event sequences in, request records out."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.browser.network import NetworkTracker, headers_from, timing_from
from engine.browser.recorded import RecordedBrowser, Recording
from engine.browser.records import BrowserEvent, BrowserStatus, ConnectionState
from tui.widgets.browser_pane import status_line


def request(request_id: str, url: str, method: str = "GET", **extra: Any) -> dict[str, Any]:
    return {
        "requestId": request_id,
        "request": {"url": url, "method": method, "headers": {"Accept": "*/*"}},
        "timestamp": 10.0,
        "wallTime": 1_700_000_000.0,
        "type": "Fetch",
        **extra,
    }


def response(request_id: str, url: str, status: int, **extra: Any) -> dict[str, Any]:
    return {
        "requestId": request_id,
        "type": "Fetch",
        "timestamp": 10.2,
        "response": {
            "url": url,
            "status": status,
            "statusText": "OK",
            "headers": {"A": "1\n2"},
            **extra,
        },
    }


STATUS = BrowserStatus(ConnectionState.CONNECTED, "test")


def test_a_request_goes_from_sent_to_finished() -> None:
    tracker = NetworkTracker()
    events: list[BrowserEvent] = []
    tracker.listeners.append(events.append)
    assert len(tracker) == 0
    tracker.handle("Network.requestWillBeSent", request("1", "http://x/a"), "S")
    assert tracker.get("1") is not None and tracker.get("1").state == "pending"  # type: ignore[union-attr]
    assert len(tracker) == len(tracker.records()) == 1
    timing = {
        "requestTime": 10.0,
        "dnsStart": 0,
        "dnsEnd": 1,
        "connectStart": 1,
        "connectEnd": 3,
        "sslStart": -1,
        "sslEnd": -1,
        "sendStart": 3,
        "sendEnd": 4,
        "receiveHeadersEnd": 10,
    }
    tracker.handle(
        "Network.responseReceived",
        response(
            "1",
            "http://x/a",
            200,
            remoteIPAddress="127.0.0.1",
            remotePort=8080,
            timing=timing,
            mimeType="application/json",
            protocol="http/1.1",
        ),
        "S",
    )
    tracker.handle(
        "Network.loadingFinished",
        {"requestId": "1", "timestamp": 10.5, "encodedDataLength": 321},
        "S",
    )
    record = tracker.get("1")
    assert record is not None
    assert (record.status, record.remote_ip, record.remote_port, record.encoded_length) == (
        200,
        "127.0.0.1",
        8080,
        321,
    )
    assert record.finished and record.state == "done"
    assert record.duration is not None and abs(record.duration - 0.5) < 1e-9
    assert record.response_headers == (("A", "1"), ("A", "2"))
    assert record.timing is not None
    phases = record.timing.as_dict()
    assert [phases[name] for name in ("dns", "connect", "tls", "send", "wait")] == [
        1.0,
        2.0,
        None,
        1.0,
        6.0,
    ]
    assert [event.kind for event in events] == ["request", "response", "finished"]
    assert tracker.session_of("1") == "S"
    batch = tracker.drain(STATUS)
    assert [r.id for r in batch.changed] == ["1"] and tracker.drain(STATUS).changed == ()


def test_redirects_are_chained_hop_by_hop() -> None:
    tracker = NetworkTracker()
    tracker.handle("Network.requestWillBeSent", request("7", "http://x/old"), "S")
    hop = request(
        "7", "http://x/new", redirectResponse={"url": "http://x/old", "status": 301, "headers": {}}
    )
    tracker.handle("Network.requestWillBeSent", hop, "S")
    tracker.handle("Network.responseReceived", response("7", "http://x/new", 200), "S")
    tracker.handle(
        "Network.loadingFinished",
        {"requestId": "7", "timestamp": 11.0, "encodedDataLength": 5},
        "S",
    )
    first, second = tracker.records()
    assert (first.id, first.url, first.status, first.redirected_to) == (
        "7",
        "http://x/old",
        301,
        "http://x/new",
    )
    assert (second.id, second.url, second.status, second.redirect_from) == (
        "7/1",
        "http://x/new",
        200,
        "7",
    )
    assert second.finished and second.seq == first.seq + 1
    assert tracker.session_of("7/1") == "S"


def test_a_redirect_whose_first_hop_was_never_announced_is_rebuilt() -> None:
    tracker = NetworkTracker()
    hop = request(
        "9", "http://x/new", redirectResponse={"url": "http://x/old", "status": 302, "headers": {}}
    )
    tracker.handle("Network.requestWillBeSent", hop, "S")
    assert [(r.id, r.url, r.status) for r in tracker.records()] == [
        ("9", "http://x/old", 302),
        ("9/1", "http://x/new", None),
    ]


def test_failures_cache_and_extra_info() -> None:
    tracker = NetworkTracker()
    tracker.handle(
        "Network.requestWillBeSentExtraInfo", {"requestId": "2", "headers": {"Cookie": "a=b"}}, "S"
    )
    tracker.handle("Network.requestWillBeSent", request("2", "http://x/b"), "S")
    tracker.handle(
        "Network.loadingFailed",
        {"requestId": "2", "timestamp": 10.1, "errorText": "net::ERR_CONNECTION_REFUSED"},
        "S",
    )
    failed = tracker.get("2")
    assert (
        failed is not None
        and failed.error == "net::ERR_CONNECTION_REFUSED"
        and failed.state == "failed"
    )
    assert ("Cookie", "a=b") in failed.request_headers
    tracker.handle("Network.requestWillBeSent", request("3", "http://x/c"), "S")
    tracker.handle(
        "Network.responseReceived", response("3", "http://x/c", 200, fromDiskCache=True), "S"
    )
    tracker.handle(
        "Network.responseReceivedExtraInfo",
        {"requestId": "3", "headers": {"Set-Cookie": "s=1"}},
        "S",
    )
    cached = tracker.get("3")
    assert (
        cached is not None
        and cached.from_cache == "disk"
        and cached.response_headers == (("Set-Cookie", "s=1"),)
    )


def test_malformed_events_are_counted_never_fatal_and_never_lose_a_request() -> None:
    tracker = NetworkTracker()
    tracker.handle("Network.somethingNew", {"requestId": "1"}, "S")  # unused: not counted
    tracker.handle("Network.policyUpdated", {}, "S")  # unused: not counted
    assert tracker.skipped_messages == 0
    tracker.handle("Network.requestWillBeSent", {"requestId": "1"}, "S")  # no request object
    tracker.handle(
        "Network.requestWillBeSent", {"requestId": 5, "request": {}}, "S"
    )  # id of the wrong type
    tracker.handle(
        "Network.responseReceived", {"requestId": "1", "response": {"status": "not a number"}}, "S"
    )
    tracker.handle(
        "Network.responseReceived", response("4", "http://x/d", 200, remotePort="80"), "S"
    )
    # the two malformed ones; a response the browser never announced is normal (preload
    # scanner) and is not counted
    assert tracker.skipped_messages == 2
    kept = tracker.get("1")
    assert kept is not None and kept.status is None
    record = tracker.get("4")
    assert record is not None and record.url == "http://x/d" and record.remote_port is None
    tracker.handle("Network.loadingFinished", {"requestId": "4", "timestamp": "late"}, "S")
    assert tracker.get("4").finished  # type: ignore[union-attr]


def test_the_store_is_bounded_and_says_what_it_dropped() -> None:
    tracker = NetworkTracker(max_requests=3)
    for number in range(5):
        tracker.handle("Network.requestWillBeSent", request(str(number), f"http://x/{number}"), "S")
    assert [r.id for r in tracker.records()] == ["2", "3", "4"]
    batch = tracker.drain(STATUS)
    assert set(batch.removed) == {"0", "1"} and [r.id for r in batch.changed] == ["2", "3", "4"]
    assert tracker.evicted == 2 and tracker.total == 5


def test_helpers_tolerate_odd_shapes() -> None:
    assert headers_from(None) == () and headers_from({"a": 1}) == (("a", "1"),)
    assert timing_from("nope", None) is None
    assert timing_from({"requestTime": True}, None) is not None


def test_a_request_reported_only_from_its_response_on_is_announced_first() -> None:
    tracker = NetworkTracker()
    events: list[BrowserEvent] = []
    tracker.listeners.append(events.append)
    tracker.handle("Network.requestWillBeSent", request("0", "http://x/"), "S")
    reply = response("5", "http://x/style.css", 200, requestHeaders={"Accept": "text/css"})
    tracker.handle("Network.responseReceived", reply, "S")
    assert [(e.kind, e.record.url) for e in events[1:]] == [
        ("request", "http://x/style.css"),
        ("response", "http://x/style.css"),
    ]
    rebuilt = events[1].record
    assert rebuilt.request_headers == (("Accept", "text/css"),)
    assert abs(rebuilt.started - (1_700_000_000.0 + 0.2)) < 1e-6, (
        "epoch time from CDP's monotonic clock"
    )


def test_a_response_waits_for_its_raw_headers_when_more_are_announced() -> None:
    tracker = NetworkTracker()
    events: list[BrowserEvent] = []
    tracker.listeners.append(events.append)
    tracker.handle("Network.requestWillBeSent", request("1", "http://x/a"), "S")
    tracker.handle(
        "Network.responseReceived", {**response("1", "http://x/a", 200), "hasExtraInfo": True}, "S"
    )
    assert [e.kind for e in events] == ["request"], "held until the raw headers arrive"
    extra = {"requestId": "1", "headers": {"Set-Cookie": "a=1", "A": "1"}}
    tracker.handle("Network.responseReceivedExtraInfo", extra, "S")
    assert [e.kind for e in events] == ["request", "response"]
    assert ("Set-Cookie", "a=1") in events[1].record.response_headers
    tracker.handle("Network.requestWillBeSent", request("2", "http://x/b"), "S")
    tracker.handle(
        "Network.responseReceived", {**response("2", "http://x/b", 204), "hasExtraInfo": True}, "S"
    )
    tracker.handle(
        "Network.loadingFinished",
        {"requestId": "2", "timestamp": 10.4, "encodedDataLength": 1},
        "S",
    )
    assert [e.kind for e in events][-3:] == ["request", "response", "finished"], (
        "released by the end of the load"
    )


def test_a_recorded_session_replays_into_the_same_records(tmp_path: Path) -> None:
    recording = Recording.load(
        Path(__file__).parent.parent / "screenshots" / "data" / "demo-browser.json"
    )
    browser = RecordedBrowser(recording)
    browser.start()
    records = browser.tracker.records()
    stats = [r for r in records if "/api/stats" in r.url and r.status == 200]
    assert stats and all(r.remote_ip == "127.0.0.1" for r in stats)
    with_body = next(r for r in stats if r.id in recording.bodies)
    assert b'"sensors"' in browser.fetch_body(with_body.id).data
    assert browser.poll().status.requests == len(records)
    recording.save(tmp_path / "again.json")
    assert Recording.load(tmp_path / "again.json").events == recording.events


def test_requests_share_one_copy_of_repeated_headers_and_the_table_is_bounded() -> None:
    """Each CDP message arrives as new strings; held requests must not each keep a copy."""
    import json

    from engine.browser import network

    tracker = NetworkTracker()
    agent = "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/156.0.0.0 Safari/537.36"
    for number in range(2):
        params = request(f"r{number}", f"http://127.0.0.1/{number}")
        params["request"]["headers"] = {"User-Agent": agent, "X-Id": str(number)}
        tracker.handle("Network.requestWillBeSent", json.loads(json.dumps(params)))
    first, second = (tracker.get(f"r{n}") for n in range(2))
    assert first is not None and second is not None
    assert first.request_headers[0] is second.request_headers[0]  # the same pair object
    assert first.request_headers[1] == ("X-Id", "0") and second.request_headers[1] == ("X-Id", "1")
    assert first.method is second.method and first.resource_type is second.resource_type

    shared = network.Shared()
    for number in range(network.SHARED_LIMIT + 10):
        shared.text(f"value {number}")
    assert len(shared._table) <= network.SHARED_LIMIT
    long = "x" * (network.SHARED_LONGEST + 1)
    assert shared.text(long) is long and long not in shared._table


def test_the_pane_title_says_what_was_skipped_in_words_a_user_reads() -> None:
    assert "skipped" not in status_line(STATUS).plain
    one = status_line(replace(STATUS, skipped_messages=1)).plain
    assert one.endswith(" · 1 DevTools message skipped (malformed or unexpected)")
    many = status_line(replace(STATUS, skipped_messages=1234)).plain
    assert " · 1,234 DevTools messages skipped (malformed or unexpected)" in many
