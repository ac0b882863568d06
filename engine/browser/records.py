"""Immutable records of browser requests, as the request list and the NDJSON writer use them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from engine.browser.streams import StreamMessage

Headers = tuple[tuple[str, str], ...]
"""Header name/value pairs in the order the browser reported them."""


@dataclass(frozen=True, slots=True)
class Timing:
    """Where a request's time went, in milliseconds (None: the phase did not happen)."""

    dns: float | None = None
    connect: float | None = None
    tls: float | None = None
    send: float | None = None
    wait: float | None = None
    receive: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        """The phases by name, for the detail view and NDJSON."""
        return {
            "dns": self.dns,
            "connect": self.connect,
            "tls": self.tls,
            "send": self.send,
            "wait": self.wait,
            "receive": self.receive,
        }


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """Everything known about one request so far; replaced, never mutated, as events arrive."""

    id: str
    """CDP's requestId; the Nth redirect of a chain continues as ``<requestId>/N``."""
    seq: int
    """Order of first appearance, 1-based."""
    url: str
    method: str = "GET"
    resource_type: str = ""
    started: float = 0.0
    """Wall-clock time (seconds since the epoch) the request was sent."""
    request_headers: Headers = ()
    post_data: str | None = None
    has_post_data: bool = False
    initiator: str = ""
    status: int | None = None
    status_text: str = ""
    mime_type: str = ""
    protocol: str = ""
    remote_ip: str = ""
    remote_port: int | None = None
    response_headers: Headers = ()
    from_cache: str = ""
    """"", "disk", "memory", "prefetch" or "service worker"."""
    encoded_length: int | None = None
    """Bytes transferred (headers and body as received), known when the load finished."""
    duration: float | None = None
    """Seconds from sending to the end of the load (or failure)."""
    timing: Timing | None = None
    error: str = ""
    """The failure text, e.g. net::ERR_CONNECTION_REFUSED."""
    canceled: bool = False
    finished: bool = False
    redirected_to: str = ""
    """URL of the next hop when this hop was a redirect."""
    redirect_from: str = ""
    """Id of the hop that redirected to this one."""
    target: str = ""
    """The tab, worker or frame (CDP session) that made the request."""
    frame: str = ""
    """The frame (CDP frameId) that made the request: a replay is sent from it."""
    monotonic_start: float = 0.0
    """CDP's monotonic timestamp of the request, for durations."""
    replay_of: int = 0
    """The seq of the request this one replays (livetap's r or e), 0 when it is no replay."""
    replay_edited: bool = False
    """Whether the replay was edited before it was sent (E)."""
    messages: int = 0
    """WebSocket frames or server-sent events seen on this request (the Messages tab)."""

    @property
    def state(self) -> str:
        """pending, failed, done or redirect: what the list's status column says without a code."""
        if self.error:
            return "failed"
        if self.redirected_to:
            return "redirect"
        return "done" if self.finished else "pending"


class ConnectionState(Enum):
    """Where the browser connection stands, for the pane's title."""

    NOT_CONFIGURED = "not connected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    EXITED = "exited"


@dataclass(frozen=True, slots=True)
class BrowserStatus:
    """The connection's state and counters, refreshed on every poll."""

    state: ConnectionState
    endpoint: str
    message: str = ""
    requests: int = 0
    targets: int = 0
    evicted: int = 0
    skipped_messages: int = 0
    """DevTools messages skipped as malformed or unexpected (never fatal); unused events
    are not counted."""
    launched: bool = False
    controls: str = ""
    """What livetap changes in the browser's network now (blocking, throttling, cache)."""


@dataclass(frozen=True, slots=True)
class BrowserBatch:
    """What changed since the UI last asked: updated records (newest state) and status."""

    changed: tuple[RequestRecord, ...]
    removed: tuple[str, ...]
    status: BrowserStatus


@dataclass(frozen=True, slots=True)
class BrowserEvent:
    """One network event as it arrived, for writers that stream events (NDJSON)."""

    kind: str
    """request, response, finished, failed, ws.frame or sse.message."""
    record: RequestRecord
    timestamp: float
    raw: dict[str, Any] = field(default_factory=dict)
    """The CDP event's own parameters, for fields the record does not carry."""
    message: StreamMessage | None = None
    """The frame or event of a ``ws.frame`` or ``sse.message``."""


@dataclass(frozen=True, slots=True)
class ResponseBody:
    """A response body fetched on demand."""

    request_id: str
    data: bytes
    mime_type: str
    truncated: bool = False
