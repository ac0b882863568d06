"""What the UI needs from a browser source: a live session or a recorded one."""

from __future__ import annotations

from typing import Protocol

from engine.browser.network import NetworkTracker
from engine.browser.records import BrowserBatch, BrowserStatus, RequestRecord, ResponseBody


class BrowserSource(Protocol):
    """The small API the browser pane and the NDJSON capture call."""

    tracker: NetworkTracker

    def status(self) -> BrowserStatus: ...

    def poll(self) -> BrowserBatch: ...

    def get(self, request_id: str) -> RequestRecord | None: ...

    def fetch_body(self, request_id: str, timeout: float = 10.0) -> ResponseBody: ...

    def fetch_post_data(self, request_id: str, timeout: float = 10.0) -> str | None: ...

    def relaunch(self) -> bool: ...

    def stop(self) -> None: ...
