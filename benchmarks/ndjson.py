"""How fast NDJSON capture writes: CDP events → request records → lines → rotating files.

Runs the real tracker, line builder and rotating writer (rotation at 1 MB) on a
bounded stream of synthetic CDP Network events, with no browser, and prints
events per second for each stage and end to end.

    .venv/bin/python benchmarks/ndjson.py [--requests 50000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.browser.network import NetworkTracker
from engine.browser.records import BrowserEvent
from engine.ndjson.lines import browser_line
from engine.ndjson.writer import MIB, RotatingWriter

HEADERS = {
    "Accept": "*/*",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156",
    "Cookie": "a=b",
}


def cdp_events(requests: int) -> list[tuple[str, dict[str, Any]]]:
    """Four events per request, like a page's fetches."""
    events: list[tuple[str, dict[str, Any]]] = []
    for number in range(requests):
        rid = f"1000.{number}"
        url = f"http://127.0.0.1:8000/api/items/{number}?page={number % 7}"
        start = 100.0 + number * 0.001
        events += [
            (
                "Network.requestWillBeSent",
                {
                    "requestId": rid,
                    "request": {"url": url, "method": "GET", "headers": HEADERS},
                    "timestamp": start,
                    "wallTime": 1.7e9 + start,
                    "type": "Fetch",
                },
            ),
            (
                "Network.responseReceived",
                {
                    "requestId": rid,
                    "type": "Fetch",
                    "timestamp": start + 0.002,
                    "response": {
                        "url": url,
                        "status": 200,
                        "statusText": "OK",
                        "headers": {"Content-Type": "application/json"},
                        "mimeType": "application/json",
                        "remoteIPAddress": "127.0.0.1",
                        "remotePort": 8000,
                        "protocol": "http/1.1",
                    },
                },
            ),
            (
                "Network.loadingFinished",
                {"requestId": rid, "timestamp": start + 0.003, "encodedDataLength": 512},
            ),
        ]
    return events


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args()
    events = cdp_events(args.requests)
    collected: list[BrowserEvent] = []
    tracker = NetworkTracker(max_requests=10_000)
    tracker.listeners.append(collected.append)
    began = time.perf_counter()
    for method, params in events:
        tracker.handle(method, params, "S")
    tracking = time.perf_counter() - began
    began = time.perf_counter()
    lines = [browser_line(event) for event in collected]
    building = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as folder:
        writer = RotatingWriter(Path(folder) / "capture.ndjson", max_bytes=1 * MIB)
        began = time.perf_counter()
        for line in lines:
            writer.write(line)
        writing = time.perf_counter() - began
        writer.close()
        files, size = writer.files_created, writer.bytes_written
    total = tracking + building + writing
    count = len(collected)
    print(f"{args.requests:,} requests, {len(events):,} CDP events -> {count:,} lines")
    print(f"written: {size / MIB:.1f} MiB in {files} files")
    print(f"tracker (CDP event -> record):   {len(events) / tracking:>12,.0f} events/s")
    print(f"line builder (record -> JSON):   {count / building:>12,.0f} lines/s")
    rate = size / MIB / writing
    print(f"writer (flushed, rotating 1 MB): {count / writing:>12,.0f} lines/s  ({rate:.1f} MiB/s)")
    print(f"end to end:                      {count / total:>12,.0f} events/s written")


if __name__ == "__main__":
    main()
