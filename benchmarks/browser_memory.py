"""Memory of the browser pane holding 100,000 requests, against the 300 MB target.

The app runs headless with a browser source whose tracker is fed CDP events
the way Chromium sends them (requestWillBeSent, responseReceived,
loadingFinished, with a dozen headers each way), in batches, while the pane
applies them. The figure is the resident memory the requests add: RSS once
they are all held, less RSS of the same app with none.

Target (issue 9): 100,000 requests held within 300 MB.

    .venv/bin/python benchmarks/browser_memory.py [--requests 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from engine.browser.recorded import RecordedBrowser, Recording
from tui.app import LivetapApp
from tui.widgets.request_view import RequestList

TARGET_MB = 300
BATCH = 500
REQUEST_HEADERS = {
    "Accept": "application/json, text/plain, */*",
    "Accept-Encoding": "gzip, deflate, br, zstd",
    "Accept-Language": "en-US,en;q=0.9",
    "Connection": "keep-alive",
    "Host": "127.0.0.1:8080",
    "Referer": "http://127.0.0.1:8080/dashboard",
    "Sec-Fetch-Dest": "empty",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Site": "same-origin",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/156.0.0.0 Safari/537.36",
    "sec-ch-ua": '"Not:A-Brand";v="8", "Chromium";v="156"',
    "sec-ch-ua-platform": '"Linux"',
}


def events_of(number: int) -> list[tuple[str, dict[str, Any], str]]:
    """One request's three events, distinct URL and ids, as Chromium 156 sends them."""
    request_id = f"1000.{number}"
    started = 1000.0 + number * 0.001
    url = f"http://127.0.0.1:8080/api/items/{number}?view=summary&page={number % 50}"
    response_headers = {
        "Content-Type": "application/json",
        "Content-Length": str(200 + number % 800),
        "Date": "Mon, 23 Nov 2026 12:00:00 GMT",
        "Cache-Control": "no-store",
        "ETag": f'"{number:08x}"',
        "Server": "demo/1.0",
        "X-Request-Id": f"req-{number:012d}",
    }
    return [
        (
            "Network.requestWillBeSent",
            {
                "requestId": request_id,
                "loaderId": "L1",
                "documentURL": "http://127.0.0.1:8080/dashboard",
                "request": {"url": url, "method": "GET", "headers": REQUEST_HEADERS},
                "timestamp": started,
                "wallTime": 1_795_000_000.0 + started,
                "initiator": {"type": "script"},
                "type": "Fetch",
            },
            "",
        ),
        (
            "Network.responseReceived",
            {
                "requestId": request_id,
                "timestamp": started + 0.004,
                "type": "Fetch",
                "response": {
                    "url": url,
                    "status": 200,
                    "statusText": "OK",
                    "headers": response_headers,
                    "mimeType": "application/json",
                    "remoteIPAddress": "127.0.0.1",
                    "remotePort": 8080,
                    "protocol": "http/1.1",
                    "encodedDataLength": 180,
                    "timing": {
                        "requestTime": started,
                        "sendStart": 0.1,
                        "sendEnd": 0.2,
                        "receiveHeadersEnd": 3.9,
                        "dnsStart": -1,
                        "dnsEnd": -1,
                        "connectStart": -1,
                        "connectEnd": -1,
                    },
                },
            },
            "",
        ),
        (
            "Network.loadingFinished",
            {"requestId": request_id, "timestamp": started + 0.006, "encodedDataLength": 420},
            "",
        ),
    ]


def rss_mb() -> float:
    """This process's resident memory, after a full collection."""
    gc.collect()
    return psutil.Process().memory_info().rss / 1e6


def feed(browser: RecordedBrowser, requests: int, done: threading.Event) -> None:
    """Hand the tracker every request's events, a batch at a time, as a busy page would.

    Each event goes through JSON text and back, as the CDP client parses it, so no
    string is shared between requests unless livetap shares it.
    """
    for first in range(0, requests, BATCH):
        for number in range(first, min(first + BATCH, requests)):
            for method, params, session in events_of(number):
                browser.tracker.handle(method, json.loads(json.dumps(params)), session)
        time.sleep(0.002)
    done.set()


async def measure(requests: int) -> None:
    browser = RecordedBrowser(Recording(), name="benchmark feed")
    browser.tracker.max_requests = max(browser.tracker.max_requests, requests)
    app = LivetapApp(None, browser=browser)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(1.0)
        before = rss_mb()
        done = threading.Event()
        started = time.perf_counter()
        feeder = threading.Thread(target=feed, args=(browser, requests, done), daemon=True)
        feeder.start()
        while not done.is_set():
            await pilot.pause(0.1)
        await pilot.pause(1.0)
        fed = time.perf_counter() - started
        after = rss_mb()
        rows = app.screen.query_one(RequestList).row_count
        held = len(browser.tracker.records())
    added = after - before
    print(f"requests fed          {requests:,} in {fed:.1f} s ({requests / fed:,.0f}/s)")
    print(f"requests held         {held:,} (tracker; the list shows the newest {rows:,})")
    print(f"RSS before / after    {before:.0f} MB / {after:.0f} MB")
    print(f"added by the requests {added:.0f} MB ({added * 1e6 / max(held, 1):,.0f} B/request)")
    verdict = "met" if added <= TARGET_MB * requests / 100_000 else "MISSED"
    print(f"target                {TARGET_MB} MB per 100,000 requests: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()
    asyncio.run(measure(args.requests))


if __name__ == "__main__":
    main()
