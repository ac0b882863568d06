"""NDJSON capture from a real Chromium browsing a real local site (and packets on lo), and HAR."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from engine.browser.records import BrowserEvent
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from engine.har import ndjson_to_har, write_har
from engine.live import LiveSource
from engine.ndjson.capture import NdjsonCapture, NdjsonOptions
from engine.ndjson.url_filter import UrlFilter
from engine.ndjson.writer import rotated_name
from engine.session import CaptureSession
from tests.conftest import wait_for
from tests.har_schema import HAR_SCHEMA
from tests.local_site import LocalSite, local_site


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with local_site() as running:
        yield running


def page_done(browser: BrowserSession) -> bool:
    try:
        return bool(browser.evaluate("document.body && document.body.dataset.done === 'yes'"))
    except Exception:
        return False


def read_lines(*paths: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in paths for line in path.read_text().splitlines()]


def browse(
    site: LocalSite, options: NdjsonOptions, packets: CaptureSession | None = None
) -> tuple[NdjsonCapture, dict[str, Any]]:
    """Run one capture while the browser loads the site; return it and its stop report."""
    browser = BrowserSession(BrowserTarget(launch=True))
    browser.start()
    try:
        capture = NdjsonCapture(options, browser, packets)
        started = capture.start()
        assert started["file"] == str(options.path.resolve())
        browser.navigate(f"{site.url}/")
        assert wait_for(lambda: page_done(browser), timeout=20)

        def pending() -> list[str]:
            records = browser.tracker.records()
            # Chromium does not always report the end of a navigation's document.
            loads = [r for r in records if r.resource_type != "Document"]
            return [f"{r.id} {r.url} {r.status}" for r in loads if not (r.finished or r.error)]

        assert wait_for(lambda: not pending(), timeout=10), pending()
        wait_for(lambda: False, timeout=0.5)  # let the writer catch up with the last events
        report = capture.stop()
    finally:
        browser.stop()
    return capture, report


def test_a_capture_streams_the_contracts_lines(site: LocalSite, tmp_path: Path) -> None:
    path = tmp_path / "capture.ndjson"
    capture, report = browse(site, NdjsonOptions(path=path))
    lines = read_lines(path)
    assert report["eventsWritten"] == len(lines) and report["filesCreated"] == 1
    assert report["totalSizeMB"] == round(path.stat().st_size / 2**20, 3)
    assert {line["type"] for line in lines} == {"request", "response", "finished", "failed"}
    requests = {line["url"]: line for line in lines if line["type"] == "request"}
    data = requests[f"{site.url}/api/data.json?item=7&kind=test"]
    assert list(data)[:6] == ["type", "id", "url", "method", "timestamp", "headers"]
    assert (
        data["id"].startswith("req_")
        and data["method"] == "GET"
        and data["timestamp"].endswith("Z")
    )
    assert data["headers"]["Authorization"] == "[redacted]"
    ids = [line["id"] for line in lines]
    for kind in ("response", "finished"):
        [match] = [line for line in lines if line["type"] == kind and line["id"] == data["id"]]
        if kind == "response":
            assert list(match)[:6] == ["type", "id", "status", "statusText", "timestamp", "headers"]
            assert (match["status"], match["statusText"]) == (200, "OK")
            assert match["headers"]["Set-Cookie"] == "[redacted]"
            assert match["remoteAddress"] == f"127.0.0.1:{site.port}"
        else:
            assert (
                list(match)[:4] == ["type", "id", "bytesReceived", "timestamp"]
                and match["bytesReceived"] > 0
            )
            assert "body" not in match
    assert ids.index(data["id"]) < max(
        i for i, line in enumerate(lines) if line["id"] == data["id"]
    )
    [failed] = [line for line in lines if line["type"] == "failed"]
    assert failed["errorText"] == "net::ERR_CONNECTION_REFUSED"
    moved = requests[f"{site.url}/api/data.json?moved=1"]
    assert moved["redirectedFrom"] == requests[f"{site.url}/old-location"]["id"]
    post = requests[f"{site.url}/api/submit"]
    assert post["method"] == "POST" and "postData" not in post
    assert capture.stats().running is False


def test_filters_bodies_and_sensitive_headers(site: LocalSite, tmp_path: Path) -> None:
    path = tmp_path / "api.ndjson"
    options = NdjsonOptions(
        path=path,
        url_filter=UrlFilter.parse(["*/api/*", "!*moved=1"]),
        include_bodies=True,
        include_sensitive=True,
    )
    _capture, report = browse(site, options)
    lines = read_lines(path)
    kept_ids = {line["id"] for line in lines if line["type"] == "request"}
    urls = sorted(line["url"] for line in lines if line["type"] == "request")
    assert urls == [f"{site.url}/api/data.json?item=7&kind=test", f"{site.url}/api/submit"]
    assert {line["id"] for line in lines} == kept_ids, (
        "events of filtered-out requests are dropped too"
    )
    data_id = next(line["id"] for line in lines if line.get("url", "").endswith("kind=test"))
    finished = next(line for line in lines if line["type"] == "finished" and line["id"] == data_id)
    assert json.loads(finished["body"]) == {"items": [1, 2, 3], "ok": True}
    request = next(line for line in lines if line["type"] == "request" and line["id"] == data_id)
    assert request["headers"]["Authorization"] == "Bearer secret-token"
    post = next(
        line for line in lines if line["type"] == "request" and line["url"].endswith("/api/submit")
    )
    assert json.loads(post["postData"]) == {"name": "livetap", "answer": 42}
    assert report["eventsWritten"] == len(lines)


@pytest.mark.root
def test_rotation_during_a_real_capture_and_packets_in_the_same_file(
    site: LocalSite, tmp_path: Path
) -> None:
    path = tmp_path / "capture.ndjson"
    packets = CaptureSession(LiveSource("lo", expression=f"tcp port {site.port}"))
    packets.start()
    try:
        _capture, report = browse(
            site, NdjsonOptions(path=path, max_size_mb=0.004, packets=True), packets
        )
    finally:
        packets.stop()
    files = [rotated_name(path, n) for n in range(report["filesCreated"] - 1, 0, -1)] + [path]
    assert all(file.exists() for file in files) and report["filesCreated"] > 3
    assert not rotated_name(path, report["filesCreated"]).exists()
    lines = read_lines(*files)
    assert len(lines) == report["eventsWritten"]
    assert all(file.stat().st_size <= 0.004 * 2**20 + 2000 for file in files)
    packet_lines = [line for line in lines if line["type"] == "packet"]
    assert packet_lines and [p["index"] for p in packet_lines] == sorted(
        p["index"] for p in packet_lines
    )
    assert any(p["info"].startswith("GET /api/data.json") for p in packet_lines)
    times = [line["timestamp"] for line in lines if line["type"] == "request"]
    assert times == sorted(times)


def test_the_har_validates_and_carries_every_request(site: LocalSite, tmp_path: Path) -> None:
    path = tmp_path / "capture.ndjson"
    browse(site, NdjsonOptions(path=path, include_bodies=True, max_size_mb=0.01))
    files = sorted(tmp_path.glob("capture*.ndjson"))
    with path.open("a") as torn:
        torn.write('{"type":"request","id":"req_99","url":"http://x/')  # a line cut by a crash
    result = ndjson_to_har(files)
    jsonschema.validate(result.har, HAR_SCHEMA)
    assert result.lines_skipped == 1
    entries = {entry["request"]["url"]: entry for entry in result.har["log"]["entries"]}
    data = entries[f"{site.url}/api/data.json?item=7&kind=test"]
    assert (
        data["response"]["status"] == 200
        and json.loads(data["response"]["content"]["text"])["ok"] is True
    )
    assert {"name": "item", "value": "7"} in data["request"]["queryString"]
    assert data["serverIPAddress"] == "127.0.0.1" and data["connection"] == str(site.port)
    assert (
        entries[f"{site.url}/old-location"]["response"]["redirectURL"]
        == f"{site.url}/api/data.json?moved=1"
    )
    post = entries[f"{site.url}/api/submit"]["request"]
    assert post["method"] == "POST" and post["postData"]["mimeType"] == "application/json"
    refused = next(e for url, e in entries.items() if url.endswith("/nothing"))
    assert refused["response"]["status"] == 0 and refused["_error"] == "net::ERR_CONNECTION_REFUSED"
    image = entries[f"{site.url}/logo.png"]["response"]["content"]
    assert image["mimeType"] == "image/png"
    # Chromium keeps no body for a request it reported only from its response on.
    if "text" in image:
        assert image["encoding"] == "base64" and image["text"].startswith("iVBORw0KGgo")
    out = tmp_path / "out.har"
    write_har(result, out)
    assert json.loads(out.read_text()) == result.har and (out.stat().st_mode & 0o777) == 0o600


def test_a_listener_sees_every_event_kind_with_its_raw_params(site: LocalSite) -> None:
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    events: list[BrowserEvent] = []
    browser.tracker.listeners.append(events.append)
    browser.start()
    try:
        assert wait_for(lambda: page_done(browser), timeout=20)
    finally:
        browser.stop()
    kinds = {event.kind for event in events}
    assert kinds == {"request", "response", "finished", "failed"}
    first = next(event for event in events if event.kind == "request")
    assert first.raw["request"]["url"] == f"{site.url}/"
