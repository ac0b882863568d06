"""Record the deterministic input of the browser screenshots: the demo site, for real.

Runs the demo site and its chatter, a headless Chromium browsing it, and a capture
on ``lo`` at the same time, for a few seconds; writes the packets
(``data/demo.pcap``) and the browser's CDP Network events with some bodies
(``data/demo-browser.json``). ``make.py`` replays both, so the screenshots are the
same every time. Needs root (live capture). Run from the repository root:
``.venv/bin/python screenshots/record.py``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.browser.recorded import Recording
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from engine.errors import LivetapError
from engine.live import LiveSource
from engine.session import CaptureSession
from tui.demo.site import demo_site
from tui.demo.traffic import DemoTraffic

DATA = Path(__file__).resolve().parent / "data"
SECONDS = 9.0


def main() -> None:
    recording = Recording()
    with demo_site() as url:
        port = url.rsplit(":", 1)[1]
        expression = f"tcp port {port} or udp port 47000 or udp port 53 or icmp"
        packets = CaptureSession(LiveSource("lo", expression=expression))
        packets.start()
        traffic = DemoTraffic()
        traffic.start()
        browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{url}/")

        def keep(method: str, params: Mapping[str, Any], session: str) -> None:
            recording.events.append((method, dict(params), session))

        browser.tracker.raw_listeners.append(keep)
        try:
            browser.start()
            time.sleep(SECONDS)
            for record in browser.tracker.records():
                if record.finished and not record.redirected_to and record.mime_type != "image/png":
                    try:
                        body = browser.fetch_body(record.id)
                    except LivetapError:
                        continue
                    recording.bodies[record.id] = (body.data.decode("utf-8", "replace"), False)
        finally:
            browser.stop()
            traffic.stop()
            packets.stop()
    DATA.mkdir(exist_ok=True)
    saved = packets.save_pcap(DATA / "demo.pcap")
    recording.save(DATA / "demo-browser.json")
    events, bodies = len(recording.events), len(recording.bodies)
    print(f"{saved.packets} packets, {events} CDP events, {bodies} bodies")


if __name__ == "__main__":
    main()
