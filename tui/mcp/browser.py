"""browser_requests: the last requests of a browser the server launches or attaches to.

The browser comes from the server's configuration (``--browser``: a headless
Chromium of its own, launched on the first call, or a running one to attach
to, loopback only unless ``--allow-remote-browser``); no tool call can name
another. It stays up between calls, so requests accumulate, and is stopped
with the server. A call may load a page first (``url``: http or https only; a
root browser must not be pointed at ``file://`` or ``chrome://``) and wait for
its requests to settle. Secrets (cookies and authorization headers, tokens in
URLs, secret fields of form and JSON bodies: :mod:`engine.redact`) are hidden
unless the server was started with ``--show-secrets``.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from engine.browser.records import ConnectionState, RequestRecord
from engine.browser.session import BrowserSession
from engine.browser.target import parse_browser_spec
from engine.errors import LivetapError, UsageError
from engine.ndjson.lines import iso_time
from engine.redact import redact_body, redact_headers, redact_url
from tui.mcp.bound import Omission, cap_text, marker
from tui.mcp.config import ServerConfig

DEFAULT_LAST = 20
MAX_LAST = 200
MAX_BODIES = 20
"""Bodies fetched in one call (for the newest requests listed)."""
DEFAULT_BODY_BYTES = 16 << 10
MAX_BODY_BYTES = 256 << 10
MAX_WAIT = 30.0
DEFAULT_WAIT = 5.0
QUIET = 0.75
"""A page has settled when nothing new happened for this long and nothing is pending ..."""
STUCK = 2.5
"""... or when nothing happened for this long (a request may stay pending for good)."""
TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml", "+json")


def checked_url(url: str) -> str:
    """An http(s) URL, or a UsageError: the browser may run as root."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UsageError(f"url must be an http:// or https:// URL with a host, not {url[:200]!r}")
    return url.strip()


class BrowserRequests:
    """The browser_requests tool and the browser it keeps."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._session: BrowserSession | None = None

    def _browser(self) -> BrowserSession:
        """The browser, started (or started again after a launched one exited)."""
        session = self._session
        if session is not None and session.status().state is ConnectionState.EXITED:
            session.stop()
            session = self._session = None
        if session is None:
            target = parse_browser_spec(
                self.config.browser,
                chromium=self.config.chromium,
                allow_remote=self.config.allow_remote_browser,
            )
            session = BrowserSession(target)
            session.start()
            self._session = session
        return session

    def close(self) -> None:
        """Stop the browser (a launched one is ended; an attached one is only left)."""
        with self._lock:
            if self._session is not None:
                self._session.stop()
                self._session = None

    def __call__(self, args: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._requests(args)

    def _requests(self, args: dict[str, Any]) -> dict[str, Any]:
        url = checked_url(args["url"]) if args.get("url") else None
        session = self._browser()
        before = session.tracker.total
        if url is not None:
            session.navigate(url)
            _settle(session, before, float(args.get("wait_seconds", DEFAULT_WAIT)))
        elif args.get("wait_seconds"):
            time.sleep(min(float(args["wait_seconds"]), MAX_WAIT))
        records = session.tracker.records()
        pattern = args.get("url_contains")
        if pattern:  # matched against the URL as shown, so it cannot probe a hidden token
            secrets = self.config.show_secrets
            records = [r for r in records if pattern in (r.url if secrets else redact_url(r.url))]
        last = int(args.get("last", DEFAULT_LAST))
        shown = records[-last:]
        body_budget = int(args.get("max_body_bytes", DEFAULT_BODY_BYTES))
        with_bodies = {r.id for r in shown[-MAX_BODIES:]} if args.get("include_bodies") else set()
        items = [self._item(session, r, r.id in with_bodies, body_budget) for r in shown]
        status = session.status()
        data: dict[str, Any] = {
            "browser": {
                "state": status.state.value,
                "endpoint": status.endpoint,
                "launched": status.launched,
                "message": status.message,
                "requests_seen": status.requests,
                "targets": status.targets,
            },
            "opened": url,
            "matching": len(records),
            "requests": items,
        }
        if len(records) > len(shown):
            data["truncation"] = marker(
                [Omission("requests", len(shown), len(records) - len(shown))]
            )
            data["truncation"]["note"] = "the oldest requests were left out (raise last)"
        return data

    def _item(
        self, session: BrowserSession, record: RequestRecord, body: bool, budget: int
    ) -> dict[str, Any]:
        """One request as JSON: status, timing, headers (redacted), bodies when asked."""
        secrets = self.config.show_secrets
        item: dict[str, Any] = {
            "id": record.id,
            "seq": record.seq,
            "method": record.method,
            "url": record.url if secrets else redact_url(record.url),
            "state": record.state,
            "status": record.status,
            "status_text": record.status_text,
            "type": record.resource_type,
            "mime_type": record.mime_type,
            "protocol": record.protocol,
            "remote": f"{record.remote_ip}:{record.remote_port}" if record.remote_ip else None,
            "from_cache": record.from_cache or None,
            "size": record.encoded_length,
            "started": iso_time(record.started) if record.started else None,
            "duration_ms": round(record.duration * 1000, 3)
            if record.duration is not None
            else None,
            "timing": record.timing.as_dict() if record.timing else None,
            "error": record.error or None,
            "redirected_to": (record.redirected_to if secrets else redact_url(record.redirected_to))
            or None,
            "request_headers": _headers(record.request_headers, secrets),
            "response_headers": _headers(record.response_headers, secrets),
        }
        if body:
            item.update(_bodies(session, record, budget, secrets))
        return item


def _headers(headers: tuple[tuple[str, str], ...], secrets: bool) -> dict[str, str]:
    """Headers as an object; sensitive ones redacted unless the server shows secrets."""
    shown: dict[str, str] = {}
    for name, text in redact_headers(headers, secrets):
        shown[name] = f"{shown[name]}\n{text}" if name in shown else text
    return shown


def _content_type(headers: tuple[tuple[str, str], ...]) -> str:
    return next((value for name, value in headers if name.lower() == "content-type"), "")


def _bodies(
    session: BrowserSession, record: RequestRecord, budget: int, secrets: bool
) -> dict[str, Any]:
    """The request's post data and the response body (secrets hidden), each cut to ``budget``."""
    out: dict[str, Any] = {}
    if record.has_post_data:
        post = session.fetch_post_data(record.id, timeout=5.0)
        if post is not None:
            if not secrets:
                post = redact_body(post, _content_type(record.request_headers))
            out["request_body"], cut = cap_text(post, budget)
            if cut:
                out["request_body_truncated"] = cut
    if not record.finished or record.error or record.redirected_to:
        return out
    try:
        body = session.fetch_body(record.id, timeout=5.0)
    except LivetapError as error:
        out["body_error"] = error.message
        return out
    data = body.data
    out["body_size"] = len(data)
    text = any(kind in body.mime_type for kind in TEXT_TYPES)
    if text and not secrets:  # redact the whole body, then cut what is shown
        data = redact_body(data.decode("utf-8", "replace"), body.mime_type).encode("utf-8")
    kept = data[:budget]
    if text:
        out["body"] = kept.decode("utf-8", "replace")
        out["body_encoding"] = "text"
    else:
        out["body"] = base64.b64encode(kept).decode("ascii")
        out["body_encoding"] = "base64"
    if len(data) > len(kept):
        out["body_truncated"] = {"truncated": True, "omitted": len(data) - len(kept)}
    return out


def _settle(session: BrowserSession, before: int, wait: float) -> None:
    """Wait until the page's requests are done (bounded by ``wait`` seconds).

    Done: nothing changed for :data:`QUIET` seconds and nothing is pending, or
    nothing changed for :data:`STUCK` seconds (Chromium does not always report
    the end of a document it loaded into a new renderer process).
    """
    deadline = time.monotonic() + min(max(wait, 0.0), MAX_WAIT)
    seen: tuple[tuple[str, str, int | None], ...] = ()
    changed = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        new = [r for r in session.tracker.records() if r.seq > before]
        now = tuple((r.id, r.state, r.status) for r in new)
        if now != seen:
            seen, changed = now, time.monotonic()
            continue
        quiet = time.monotonic() - changed
        if new and (quiet >= STUCK or (quiet >= QUIET and all(r.state != "pending" for r in new))):
            return
