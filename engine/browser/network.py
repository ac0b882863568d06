"""Folds CDP Network events into request records: one record per request, replaced as it changes.

Pure bookkeeping (no I/O), keyed on the ``method`` string and the raw params,
so a schema that drifts (new fields, new enum values, missing fields) never
loses a request: a malformed event is counted and skipped, never fatal; events
livetap has no use for are simply ignored. Bounded: the
oldest records are evicted past ``max_requests``.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar, cast

from engine.browser.records import (
    BrowserBatch,
    BrowserEvent,
    BrowserStatus,
    Headers,
    RequestRecord,
    Timing,
)
from engine.browser.resend import replay_token
from engine.browser.streams import StreamMessage, StreamStore, event_message, frame_message
from engine.config import DEFAULT_MAX_REQUESTS

EventListener = Callable[[BrowserEvent], None]
HOLD_RESPONSES = 1.0
"""Seconds a response event may wait for its raw headers (responseReceivedExtraInfo)."""
REPLAYS_EXPECTED = 100
"""Replays livetap remembers sending, until their request shows up (the newest kept)."""
WS_NO_HANDSHAKE = "WebSocket closed before its handshake was answered"
_WS_REFUSED_CODE = re.compile(r"Unexpected response code: (\d{3})\b")
"""The status of a refused WebSocket upgrade, in Chromium's handshake error."""


_Item = TypeVar("_Item", str, tuple[str, str])
SHARED_LIMIT = 50_000
"""Distinct strings and header pairs kept for sharing before the table starts afresh."""
PREFIX_MARK = "~"
"""Separates a relaunched browser's number from its request ids (CDP ids never hold one)."""
SHARED_LONGEST = 512
"""Longer strings (URLs with tokens, cookies) are rarely repeated: not worth keeping."""


class Shared:
    """One copy of each repeated string and header pair across all requests.

    Every CDP message is parsed into new strings, so without this each request
    holds its own copies of the same User-Agent, Accept, MIME type and header
    names: most of a request's memory. Bounded: the table starts afresh when full.
    """

    def __init__(self) -> None:
        self._table: dict[object, Any] = {}

    def text(self, value: str) -> str:
        """``value``, or the equal string already kept."""
        if len(value) > SHARED_LONGEST:
            return value
        return self._keep(value)

    def pair(self, name: str, value: str) -> tuple[str, str]:
        """A header pair, or the equal pair already kept."""
        if len(name) + len(value) > SHARED_LONGEST:
            return (name, value)
        return self._keep((self.text(name), self.text(value)))

    def _keep(self, item: _Item) -> _Item:
        table = self._table
        kept = table.get(item)
        if kept is None:
            if len(table) >= SHARED_LIMIT:
                table.clear()
            kept = table.setdefault(item, item)
        return cast("_Item", kept)


SHARED = Shared()
"""One table for every tracker: dict operations are atomic, and a race costs only a copy."""


def headers_from(raw: object) -> Headers:
    """CDP's header object (values joined by newlines) as ordered pairs."""
    if not isinstance(raw, Mapping):
        return ()
    pair = SHARED.pair
    pairs: list[tuple[str, str]] = []
    for name, value in raw.items():
        for part in str(value).split("\n"):
            pairs.append(pair(str(name), part))
    return tuple(pairs)


def _number(value: object) -> float | None:
    """A CDP number, or None when absent, -1 ("did not happen"), or not a finite float.

    JSON allows 1e999 (inf), NaN and integers too large for a float: a browser that
    sends them must not stop the tracker (float() overflows, int(inf) raises).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def timing_from(raw: object, finished: float | None) -> Timing | None:
    """DevTools' phases from a ResourceTiming object and the finish timestamp (seconds)."""
    if not isinstance(raw, Mapping):
        return None
    get = raw.get

    def span(start: str, end: str) -> float | None:
        a, b = _number(get(start)), _number(get(end))
        return None if a is None or b is None else max(0.0, b - a)

    request_time = _number(get("requestTime"))
    headers_end = _number(get("receiveHeadersEnd"))
    send_end = _number(get("sendEnd"))
    wait = None if headers_end is None or send_end is None else max(0.0, headers_end - send_end)
    receive = None
    if finished is not None and request_time is not None and headers_end is not None:
        receive = max(0.0, (finished - request_time) * 1000 - headers_end)
    return Timing(
        dns=span("dnsStart", "dnsEnd"),
        connect=span("connectStart", "connectEnd"),
        tls=span("sslStart", "sslEnd"),
        send=span("sendStart", "sendEnd"),
        wait=wait,
        receive=receive,
    )


def _status(value: object) -> int | None:
    """An HTTP status code, or None when the browser sent something else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if 100 <= value <= 999 else None


def _cache_kind(response: Mapping[str, Any]) -> str:
    """Which cache served a response, from its flags."""
    if response.get("fromServiceWorker"):
        return "service worker"
    if response.get("fromPrefetchCache"):
        return "prefetch"
    if response.get("fromDiskCache"):
        return "disk"
    return ""


def _initiator(raw: object) -> str:
    """A short description of what started a request."""
    if not isinstance(raw, Mapping):
        return ""
    kind = str(raw.get("type", ""))
    url = raw.get("url")
    if not url and isinstance(raw.get("stack"), Mapping):
        frames = raw["stack"].get("callFrames") or []
        url = frames[0].get("url") if frames and isinstance(frames[0], Mapping) else None
    return SHARED.text(f"{kind} {url}".strip() if url else kind)


class NetworkTracker:
    """The current state of every request the browser made, bounded in count."""

    def __init__(self, max_requests: int = DEFAULT_MAX_REQUESTS) -> None:
        self.max_requests = max_requests
        self._records: OrderedDict[str, RequestRecord] = OrderedDict()
        self._changed: set[str] = set()
        self._removed: set[str] = set()
        self._sessions: dict[str, str] = {}
        self._pending_request_headers: dict[str, Headers] = {}
        self._pending_response_headers: dict[str, Headers] = {}
        self._hops: dict[str, int] = {}
        self._held_responses: dict[str, tuple[float, dict[str, Any], float]] = {}
        self._clock_offset: float | None = None
        """wallTime - timestamp from the last request: turns CDP's monotonic clock into epoch."""
        self._current: dict[str, str] = {}
        """CDP requestId → id of the record its events now update (the last redirect hop)."""
        self._seq = 0
        self._prefix = ""
        """Put before the ids of a relaunched browser's requests (its ids start again)."""
        self._browsers = 1
        self._lock = threading.Lock()
        self.total = 0
        self.evicted = 0
        self.skipped_messages = 0
        """Malformed or unexpected Network events (bad ids, fields that break a handler)."""
        self.raw_listeners: list[Callable[[str, Mapping[str, Any], str], None]] = []
        """Called with every CDP Network event as it came (recording, debugging)."""
        self.listeners: list[EventListener] = []
        """Called (in the browser thread) with every request/response/finished/failed event."""
        self.main_frames: set[str] = set()
        """Frame ids of the tabs' main frames (a tab's target id; the session adds them)."""
        self.streams = StreamStore()
        """WebSocket frames and server-sent events, per request (bounded)."""
        self._replays: OrderedDict[int, tuple[int, bool]] = OrderedDict()
        """Replay number → (the original's seq, edited), as livetap sent them."""
        self.replayed: OrderedDict[int, str] = OrderedDict()
        """Replay number → the id of the request it started (once seen)."""
        self.navigated_at = 0
        """Seq of the newest main-frame navigation's document request (0: none seen): the
        request list clears what came before it unless the log is preserved."""

    # -- reading (UI thread) ---------------------------------------------------------

    def get(self, request_id: str) -> RequestRecord | None:
        """The latest state of one request."""
        with self._lock:
            return self._records.get(request_id)

    def session_of(self, request_id: str) -> str | None:
        """The CDP session that saw a request (bodies must be asked there)."""
        with self._lock:
            return self._sessions.get(request_id.split("/", maxsplit=1)[0])

    def record_id(self, request_id: str) -> str:
        """The id of the record a CDP requestId's events now update (its last redirect hop)."""
        request_id = self._prefix + request_id
        return self._current.get(request_id, request_id)

    def browser_request_id(self, record_id: str) -> str | None:
        """The id the current browser knows a record by, or None if an earlier browser made it."""
        base = record_id.split("/", maxsplit=1)[0]
        prefix, mark, rest = base.rpartition(PREFIX_MARK)
        if (prefix + mark) != self._prefix:
            return None
        return rest

    def expect_replay(self, token: int, original_seq: int, edited: bool) -> None:
        """livetap is about to send replay ``token`` of request ``original_seq``: mark it."""
        with self._lock:
            self._replays[token] = (original_seq, edited)
            while len(self._replays) > REPLAYS_EXPECTED:
                self._replays.popitem(last=False)

    def records(self) -> list[RequestRecord]:
        """Every record held, oldest first."""
        with self._lock:
            return list(self._records.values())

    def __len__(self) -> int:
        """How many records are held (the status bar's count, without copying them)."""
        with self._lock:
            return len(self._records)

    def drain(self, status: BrowserStatus) -> BrowserBatch:
        """The records changed and removed since the previous drain."""
        with self._lock:
            changed = tuple(self._records[i] for i in self._changed if i in self._records)
            removed = tuple(self._removed)
            self._changed.clear()
            self._removed.clear()
        return BrowserBatch(tuple(sorted(changed, key=lambda r: r.seq)), removed, status)

    # -- writing (browser thread) ----------------------------------------------------

    def new_browser(self) -> None:
        """A relaunched browser numbers its requests from the start again.

        Its ids would collide with the previous browser's (a new request would then
        overwrite an old row instead of adding one), so from now on ids carry the
        browser's number: ``2~<id>``. What was half-received from the old one is dropped.
        """
        self._browsers += 1
        self._prefix = f"{self._browsers}{PREFIX_MARK}"
        self._pending_request_headers.clear()
        self._pending_response_headers.clear()
        self._held_responses.clear()

    def handle(self, method: str, params: Mapping[str, Any], session_id: str = "") -> None:
        """Apply one CDP event; a malformed one is counted and skipped, an unused one ignored."""
        for raw in self.raw_listeners:
            raw(method, params, session_id)
        self._release_stale_responses()
        handler = self._HANDLERS.get(method)
        if handler is None:
            return  # an event livetap does not use (Network.policyUpdated, ...): not an error
        request_id = params.get("requestId")
        if not isinstance(request_id, str):
            self.skipped_messages += 1
            return
        if self._prefix:
            request_id = self._prefix + request_id
        try:
            handler(self, self._current.get(request_id, request_id), params, session_id)
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, RecursionError):
            self.skipped_messages += 1

    def _put(self, record: RequestRecord) -> None:
        """Store a record's new state and remember that it changed."""
        with self._lock:
            self._records[record.id] = record
            self._changed.add(record.id)
            while len(self._records) > self.max_requests:
                old_id, _old = self._records.popitem(last=False)
                self._removed.add(old_id)
                self._changed.discard(old_id)
                self.evicted += 1
                self._forget(old_id)
                self.streams.drop(old_id)

    def _forget(self, record_id: str) -> None:
        """Drop a request's bookkeeping once its last hop left (else it grows per request)."""
        base = record_id.split("/", maxsplit=1)[0]
        if self._current.get(base, base) != record_id:
            return  # an earlier redirect hop: the chain lives on
        self._sessions.pop(base, None)
        self._current.pop(base, None)
        self._hops.pop(base, None)

    def _emit(
        self, kind: str, record: RequestRecord, timestamp: float, params: Mapping[str, Any]
    ) -> None:
        """Tell the listeners (e.g. an NDJSON writer) about one event, raw params included."""
        if not self.listeners:
            return
        event = BrowserEvent(kind, record, timestamp, dict(params))
        for listener in self.listeners:
            listener(event)

    def _new(self, request_id: str, url: str, session_id: str) -> RequestRecord:
        """A fresh record for a request first seen now."""
        self._seq += 1
        self.total += 1
        self._sessions[request_id.split("/", maxsplit=1)[0]] = session_id
        return RequestRecord(id=request_id, seq=self._seq, url=url, target=session_id)

    def _on_request(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        request = params["request"]
        wall = _number(params.get("wallTime")) or 0.0
        timestamp = _number(params.get("timestamp")) or 0.0
        if wall and timestamp:
            self._clock_offset = wall - timestamp
        redirect_from = ""
        previous = self.get(request_id)
        redirect = params.get("redirectResponse")
        if previous is None and isinstance(redirect, Mapping):
            # The browser sometimes reports only the redirected request: rebuild the hop.
            previous = replace(
                self._new(request_id, str(redirect.get("url", "")), session_id),
                method=str(request.get("method", "GET")),
                resource_type=str(params.get("type", "")),
                started=wall,
                monotonic_start=timestamp,
            )
        if previous is not None and isinstance(redirect, Mapping):
            redirect_from = self._close_redirect_hop(previous, params, timestamp)
            base = request_id.split("/", 1)[0]
            self._hops[base] = self._hops.get(base, 0) + 1
            request_id = f"{base}/{self._hops[base]}"
            self._current[base] = request_id
        record = self._new(request_id, str(request.get("url", "")), session_id)
        record = replace(
            record,
            method=SHARED.text(str(request.get("method", "GET"))),
            resource_type=SHARED.text(str(params.get("type", ""))),
            started=wall,
            monotonic_start=timestamp,
            request_headers=self._pending_request_headers.pop(request_id, ())
            or headers_from(request.get("headers")),
            post_data=request.get("postData") if isinstance(request.get("postData"), str) else None,
            has_post_data=bool(request.get("hasPostData") or request.get("postData")),
            initiator=_initiator(params.get("initiator")),
            redirect_from=redirect_from,
            frame=SHARED.text(str(params.get("frameId") or "")),
        )
        record = self._as_replay(record, params.get("initiator"))
        self._put(record)
        if (
            record.resource_type == "Document"
            and not redirect_from
            and params.get("requestId") == params.get("loaderId")
            and params.get("frameId") in self.main_frames
        ):
            self.navigated_at = record.seq
        self._emit("request", record, wall, params)

    def _as_replay(self, record: RequestRecord, initiator: object) -> RequestRecord:
        """A request livetap's replay script started is marked with the original's seq."""
        token = replay_token(initiator)
        if token is None:
            return record
        with self._lock:
            expected = self._replays.get(token)
            if expected is None:
                return record
            self.replayed[token] = record.id
            while len(self.replayed) > REPLAYS_EXPECTED:
                self.replayed.popitem(last=False)
        return replace(record, replay_of=expected[0], replay_edited=expected[1])

    # -- WebSockets and server-sent events --------------------------------------------

    def _on_ws_created(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        """A page opened a WebSocket: it is listed from now (its handshake comes next)."""
        if self.get(request_id) is not None:
            return
        record = replace(
            self._new(request_id, str(params.get("url", "")), session_id),
            resource_type="WebSocket",
            started=time.time(),
            initiator=_initiator(params.get("initiator")),
        )
        self._put(record)

    def _on_ws_request(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        """The opening handshake is sent: its headers and time; the request event."""
        record = self.get(request_id)
        if record is None:
            self._on_ws_created(request_id, {"url": ""}, session_id)
            record = self.get(request_id)
            assert record is not None
        wall, stamp = _number(params.get("wallTime")), _number(params.get("timestamp"))
        if wall and stamp:
            self._clock_offset = wall - stamp
        request = params["request"]
        record = replace(
            record,
            request_headers=headers_from(request.get("headers")),
            started=wall or record.started,
            monotonic_start=stamp or record.monotonic_start,
        )
        self._put(record)
        self._emit("request", record, record.started, params)

    def _on_ws_response(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        """The handshake's answer (101 Switching Protocols, or a refusal)."""
        record = self.get(request_id)
        if record is None:
            return
        response = params["response"]
        record = replace(
            record,
            status=_status(response.get("status")),
            status_text=SHARED.text(str(response.get("statusText", ""))),
            response_headers=headers_from(response.get("headers")),
            request_headers=headers_from(response.get("requestHeaders")) or record.request_headers,
        )
        self._put(record)
        self._emit("response", record, record.started + self._elapsed(record, params), params)

    def _on_ws_closed(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        """The WebSocket closed: finished, or failed if its handshake was never answered."""
        record = self.get(request_id)
        if record is None or record.finished:
            return
        stamp = _number(params.get("timestamp"))
        if record.error:  # failed in its handshake (said so then): only its time is new
            self._put(replace(record, duration=self._duration(record, stamp)))
            return
        if record.status is None and not record.messages:
            self._ws_failed(record, WS_NO_HANDSHAKE, params)
            return
        record = replace(record, finished=True, duration=self._duration(record, stamp))
        self._put(record)
        self._emit("finished", record, record.started + self._elapsed(record, params), params)

    def _ws_failed(self, record: RequestRecord, reason: str, params: Mapping[str, Any]) -> None:
        """A WebSocket whose handshake failed ends as failed, with the browser's reason.

        One that never sent its handshake (nothing listened) had no request event yet:
        it gets one first, so a stream never has a failed line for a request it never saw.
        """
        if not record.request_headers:
            self._emit("request", record, record.started, {})
        code = _WS_REFUSED_CODE.search(reason)
        record = replace(
            record,
            error=SHARED.text(reason),
            status=record.status or (_status(int(code.group(1))) if code else None),
            duration=self._duration(record, _number(params.get("timestamp"))),
        )
        self._put(record)
        self._emit("failed", record, record.started + self._elapsed(record, params), params)

    def _on_ws_sent(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        self._message(request_id, frame_message("sent", params, self._wall_clock(params)))

    def _on_ws_received(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        self._message(request_id, frame_message("received", params, self._wall_clock(params)))

    def _on_ws_error(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        """A frame error; before the handshake was answered (101), the WebSocket failed.

        Chromium 156 sends no handshake response for a refused upgrade or connection,
        only this error ("Error during WebSocket handshake: Unexpected response code:
        403", "Error in connection establishment: net::ERR_CONNECTION_REFUSED") and
        ``webSocketClosed``.
        """
        self._message(request_id, frame_message("error", params, self._wall_clock(params)))
        record = self.get(request_id)
        if record is not None and record.status != 101 and not record.error:
            reason = str(params.get("errorMessage") or "") or WS_NO_HANDSHAKE
            self._ws_failed(record, reason, params)

    def _on_sse(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        self._message(request_id, event_message(params, self._wall_clock(params)))

    def _message(self, request_id: str, message: StreamMessage) -> None:
        """Keep a frame or event, count it on its request, and tell the listeners."""
        record = self.get(request_id)
        if record is None:
            return
        kept = self.streams.add(request_id, message)
        record = replace(record, messages=record.messages + 1)
        self._put(record)
        if self.listeners:
            kind = "sse.message" if message.kind == "sse" else "ws.frame"
            event = BrowserEvent(kind, record, message.timestamp, {}, kept)
            for listener in self.listeners:
                listener(event)

    def _close_redirect_hop(
        self, previous: RequestRecord, params: Mapping[str, Any], timestamp: float
    ) -> str:
        """The hop that answered with a redirect is finished, under its own id."""
        duration = timestamp - previous.monotonic_start if previous.monotonic_start else None
        hop = replace(
            self._with_response(previous, params["redirectResponse"]),
            finished=True,
            redirected_to=str(params["request"].get("url", "")),
            duration=max(0.0, duration) if duration is not None else None,
        )
        self._put(hop)
        self._emit("response", hop, hop.started, params["redirectResponse"])
        self._emit("finished", hop, hop.started, {})
        return hop.id

    def _with_response(self, record: RequestRecord, response: Mapping[str, Any]) -> RequestRecord:
        """A record updated with a CDP Response object."""
        port = response.get("remotePort")
        return replace(
            record,
            url=str(response.get("url") or record.url),
            status=_status(response.get("status")),
            status_text=SHARED.text(str(response.get("statusText", ""))),
            mime_type=SHARED.text(str(response.get("mimeType", ""))),
            protocol=SHARED.text(str(response.get("protocol", ""))),
            remote_ip=SHARED.text(str(response.get("remoteIPAddress", ""))),
            remote_port=int(port) if isinstance(port, int) else None,
            response_headers=headers_from(response.get("headers")),
            from_cache=_cache_kind(response) or record.from_cache,
            timing=timing_from(response.get("timing"), None),
        )

    def _existing_or_new(
        self, request_id: str, url: str, session_id: str, params: Mapping[str, Any]
    ) -> RequestRecord:
        """The record for an id; one the browser never announced is announced now.

        Chromium sometimes reports a page's first subresources (found by its preload
        scanner) only from their response on: the request is rebuilt from what the
        response says, so every stream still starts each request with a request event.
        """
        record = self.get(request_id)
        if record is not None:
            return record
        response = params.get("response")
        response = response if isinstance(response, Mapping) else {}
        record = replace(
            self._new(request_id, url, session_id),
            resource_type=str(params.get("type", "")),
            request_headers=headers_from(response.get("requestHeaders")),
            started=self._wall_clock(params),
            monotonic_start=_number(params.get("timestamp")) or 0.0,
        )
        self._put(record)
        self._emit("request", record, record.started, {})
        return record

    def _wall_clock(self, params: Mapping[str, Any]) -> float:
        """Epoch seconds for an event that carries only CDP's monotonic clock."""
        stamp = _number(params.get("timestamp"))
        if stamp is None or self._clock_offset is None:
            return time.time()
        return stamp + self._clock_offset

    def _on_response(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        response = params["response"]
        record = self._existing_or_new(request_id, str(response.get("url", "")), session_id, params)
        record = self._with_response(record, response)
        if not record.resource_type and params.get("type"):
            record = replace(record, resource_type=str(params["type"]))
        extra = self._pending_response_headers.pop(request_id, None)
        if extra:
            record = replace(record, response_headers=extra)
        self._put(record)
        when = record.started + self._elapsed(record, params)
        if params.get("hasExtraInfo") and not extra:
            # The raw headers (Set-Cookie among them) are still to come: say "response" then.
            self._held_responses[request_id] = (when, dict(params), time.monotonic())
            return
        self._emit("response", record, when, params)

    def _release_stale_responses(self) -> None:
        """Responses whose extra headers never came are not held back for more than a second."""
        now = time.monotonic()
        while self._held_responses:
            oldest = next(iter(self._held_responses))
            if now - self._held_responses[oldest][2] < HOLD_RESPONSES:
                break
            self._release_response(oldest)

    def _release_response(self, request_id: str) -> None:
        """Emit a held response event (its extra headers came, or the load ended without them)."""
        held = self._held_responses.pop(request_id, None)
        record = self.get(request_id)
        if held is not None and record is not None:
            self._emit("response", record, held[0], held[1])

    def _on_finished(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        self._release_response(request_id)
        record = self._existing_or_new(request_id, "", session_id, params)
        finished = _number(params.get("timestamp"))
        length = _number(params.get("encodedDataLength"))
        timing = record.timing
        if timing is not None and finished is not None:
            raw = self._raw_timing(record, finished)
            timing = raw or timing
        record = replace(
            record,
            finished=True,
            encoded_length=int(length) if length is not None else record.encoded_length,
            duration=self._duration(record, finished),
            timing=timing,
        )
        self._put(record)
        self._emit("finished", record, record.started + self._elapsed(record, params), params)

    def _raw_timing(self, record: RequestRecord, finished: float) -> Timing | None:
        """Recompute the receive phase once the finish time is known."""
        timing = record.timing
        if timing is None or timing.wait is None or record.monotonic_start <= 0:
            return timing
        total_ms = (finished - record.monotonic_start) * 1000
        before = sum(v for v in (timing.dns, timing.connect, timing.send, timing.wait) if v)
        return replace(timing, receive=max(0.0, total_ms - before))

    def _on_failed(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        self._release_response(request_id)
        record = self._existing_or_new(request_id, "", session_id, params)
        finished = _number(params.get("timestamp"))
        record = replace(
            record,
            error=str(params.get("errorText") or params.get("blockedReason") or "failed"),
            canceled=bool(params.get("canceled")),
            duration=self._duration(record, finished),
            resource_type=record.resource_type or str(params.get("type", "")),
        )
        self._put(record)
        self._emit("failed", record, record.started + self._elapsed(record, params), params)

    def _on_served_from_cache(
        self, request_id: str, params: Mapping[str, Any], session_id: str
    ) -> None:
        record = self.get(request_id)
        if record is not None:
            self._put(replace(record, from_cache=record.from_cache or "memory"))

    def _on_request_extra(
        self, request_id: str, params: Mapping[str, Any], session_id: str
    ) -> None:
        headers = headers_from(params.get("headers"))
        record = self.get(request_id)
        if record is None:
            self._pending_request_headers[request_id] = headers
            self._trim_pending()
        elif headers:
            self._put(replace(record, request_headers=headers))

    def _on_response_extra(
        self, request_id: str, params: Mapping[str, Any], session_id: str
    ) -> None:
        headers = headers_from(params.get("headers"))
        record = self.get(request_id)
        if record is None or record.status is None:
            self._pending_response_headers[request_id] = headers
            self._trim_pending()
        else:
            if headers:
                self._put(replace(record, response_headers=headers))
            self._release_response(request_id)

    def _on_data(self, request_id: str, params: Mapping[str, Any], session_id: str) -> None:
        """Chunks of a body: nothing to show until the load finishes."""

    def _trim_pending(self) -> None:
        """Extra-info events for requests never seen must not pile up."""
        for pending in (self._pending_request_headers, self._pending_response_headers):
            while len(pending) > 1000:
                pending.pop(next(iter(pending)))

    @staticmethod
    def _duration(record: RequestRecord, finished: float | None) -> float | None:
        if finished is None or record.monotonic_start <= 0:
            return record.duration
        return max(0.0, finished - record.monotonic_start)

    @staticmethod
    def _elapsed(record: RequestRecord, params: Mapping[str, Any]) -> float:
        """Seconds since the request was sent, from CDP's monotonic timestamps."""
        now = _number(params.get("timestamp"))
        if now is None or record.monotonic_start <= 0:
            return 0.0
        return max(0.0, now - record.monotonic_start)

    _HANDLERS: dict[str, Callable[[NetworkTracker, str, Mapping[str, Any], str], None]] = {
        "Network.requestWillBeSent": _on_request,
        "Network.responseReceived": _on_response,
        "Network.loadingFinished": _on_finished,
        "Network.loadingFailed": _on_failed,
        "Network.requestServedFromCache": _on_served_from_cache,
        "Network.requestWillBeSentExtraInfo": _on_request_extra,
        "Network.responseReceivedExtraInfo": _on_response_extra,
        "Network.dataReceived": _on_data,
        "Network.webSocketCreated": _on_ws_created,
        "Network.webSocketWillSendHandshakeRequest": _on_ws_request,
        "Network.webSocketHandshakeResponseReceived": _on_ws_response,
        "Network.webSocketClosed": _on_ws_closed,
        "Network.webSocketFrameSent": _on_ws_sent,
        "Network.webSocketFrameReceived": _on_ws_received,
        "Network.webSocketFrameError": _on_ws_error,
        "Network.eventSourceMessageReceived": _on_sse,
    }
