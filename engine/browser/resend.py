"""Replaying a browser request, as it was or edited: what to send, and how to know it again.

A request is sent again from the frame (or worker) that made it, with a ``fetch()``
evaluated there (``Runtime.evaluate``): it carries that frame's cookies
(``credentials: 'include'``), origin and connection, as the page's own request did.
In a frame it runs in an isolated world of livetap's own (``Page.createIsolatedWorld``),
so a page that replaced ``window.fetch`` neither sees nor stops it; a worker has no such
world and runs it in its own. ``Network.replayXHR`` would only replay an XHR as it was
(no edit, no fetch() request), so livetap uses fetch() for every kind.

The evaluated script ends with ``//# sourceURL=livetap-replay-<n>.js``: Chromium names
that script as the initiator of the request it starts, from the isolated world too
(checked with Chromium 156), so the request tracker marks the new request as a replay of
the original without changing a byte of what is sent.

Headers a page may not set (the Fetch standard's forbidden names: ``Cookie``, ``Host``,
``Content-Length``, ``Sec-*``…) and HTTP/2 pseudo-headers (``:path``) are left for the
browser to set; :func:`sendable` says which were left out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.browser.records import Headers, RequestRecord
from engine.errors import UsageError

SCRIPT_NAME = "livetap-replay-{token}.js"
_SCRIPT = re.compile(r"^livetap-replay-(\d+)\.js$")
FORBIDDEN = frozenset(
    {
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    }
)
"""Request headers a page's fetch() may not set (the Fetch standard), lower case."""
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
NO_BODY_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Resend:
    """A request to send again: as the original was (r), or as the user edited it (E)."""

    method: str
    url: str
    headers: Headers
    body: str | None
    original: str
    """The id of the request it replays."""
    edited: bool = False


def from_record(record: RequestRecord, post_data: str | None = None) -> Resend:
    """The request as the browser sent it (its body: ``post_data`` or the event's)."""
    body = post_data if post_data is not None else record.post_data
    return Resend(record.method, record.url, record.request_headers, body, record.id)


def forbidden(name: str) -> bool:
    """Whether a page's fetch() may not set this header (the browser sets it)."""
    lower = name.lower()
    return lower in FORBIDDEN or lower.startswith(("sec-", "proxy-", ":"))


def sendable(headers: Headers) -> tuple[Headers, tuple[str, ...]]:
    """The headers fetch() will send, and the names left for the browser to set."""
    kept = tuple((name, value) for name, value in headers if not forbidden(name))
    left = tuple(dict.fromkeys(name for name, _value in headers if forbidden(name)))
    return kept, left


def parse_headers(text: str) -> Headers:
    """``Name: value`` lines (blank lines skipped); a line that is no header is a UsageError."""
    headers: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if line.startswith(":"):  # an HTTP/2 pseudo-header (:authority: x)
            name, colon, value = line[1:].partition(":")
            name = ":" + name
        name = name.strip()
        if not colon or not (_TOKEN.match(name) or name.startswith(":")):
            raise UsageError(f"header line {number} is not 'Name: value': {line[:60]!r}")
        if "\n" in value or "\r" in value or "\0" in value:
            raise UsageError(f"header line {number} has a character a header cannot hold")
        headers.append((name, value.strip()))
    return tuple(headers)


def check(resend: Resend) -> None:
    """Refuse what fetch() cannot send, with a reason a person can act on."""
    method = resend.method.strip().upper()
    if not _TOKEN.match(resend.method.strip()):
        raise UsageError(f"{resend.method!r} is not an HTTP method")
    if method in {"CONNECT", "TRACE", "TRACK"}:
        raise UsageError(f"a page cannot send a {method} request (fetch() refuses it)")
    if resend.url.startswith(("ws://", "wss://")):
        raise UsageError("a WebSocket cannot be replayed: fetch() sends only http(s) requests")
    if not resend.url.startswith(("http://", "https://")):
        raise UsageError("the URL must start with http:// or https:// to be sent with fetch()")
    if resend.body and method in NO_BODY_METHODS:
        raise UsageError(f"a {method} request cannot have a body: change the method or clear it")


def fetch_expression(resend: Resend, token: int) -> str:
    """The JavaScript that sends ``resend`` from the page and resolves to what came of it.

    Every value goes in as a JSON literal (valid JavaScript), so nothing the user typed
    can end the string it is in.
    """
    check(resend)
    headers, _left = sendable(resend.headers)
    init: dict[str, Any] = {
        "method": resend.method.strip().upper(),
        "headers": [list(pair) for pair in headers],
        "credentials": "include",
        "cache": "no-store",
    }
    if resend.body is not None and resend.body != "":
        init["body"] = resend.body
    return (
        f"fetch({json.dumps(resend.url)}, {json.dumps(init)})"
        # the body is read (the browser then says the load finished) but not waited for
        ".then(r => { r.arrayBuffer().catch(() => null); return {status: r.status}; },"
        " e => ({error: String(e)}))\n"
        f"//# sourceURL={SCRIPT_NAME.format(token=token)}\n"
    )


def replay_token(initiator: object) -> int | None:
    """The replay number of a request livetap's fetch() started, from its initiator."""
    if not isinstance(initiator, Mapping):
        return None
    stack = initiator.get("stack")
    depth = 0
    while isinstance(stack, Mapping) and depth < 8:
        frames = stack.get("callFrames")
        for frame in frames if isinstance(frames, list) else ():
            url = frame.get("url") if isinstance(frame, Mapping) else None
            match = _SCRIPT.match(url) if isinstance(url, str) else None
            if match:
                return int(match.group(1))
        stack, depth = stack.get("parent"), depth + 1
    return None
