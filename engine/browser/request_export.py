"""A browser request as something to run again or share: curl, fetch(), raw HTTP, a HAR entry.

Pure functions of the tracker's record (or an NDJSON capture's request line) and
the request body. Secrets are hidden by the one rule of :mod:`engine.redact`
(cookies, credential headers, tokens in the URL, secret body fields) unless the
user asked to see them (``--show-secrets``): a command pasted into a ticket must
not carry a session. Headers the client computes itself (``Host``,
``Content-Length``, HTTP/2's ``:method``-style pseudo-headers) are left out of
curl and fetch, so the command stays right when the URL or a redacted body changes.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.browser.records import BrowserEvent, Headers, RequestRecord, ResponseBody
from engine.browser.streams import StreamMessage
from engine.har import har_entry, read_lines, redact_line, websocket_messages
from engine.ndjson.lines import browser_line
from engine.redact import redact_body, redact_headers, redact_url
from engine.textfile import write_text_whole

COMPUTED = frozenset({"host", "content-length"})
"""Headers curl and fetch work out from the URL and the body."""
FETCH_SKIPPED = COMPUTED | {"connection"}
"""Headers a fetch() cannot set (forbidden) that say nothing about the request."""
URL_GLOB_CHARACTERS = frozenset("[]{}")
"""Characters curl would read as a URL glob unless told ``--globoff``."""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """What is needed to send a request again."""

    method: str
    url: str
    headers: Headers
    body: str | None = None


def _content_type(headers: Headers) -> str:
    return next((value for name, value in headers if name.lower() == "content-type"), "")


def _shown(request: HttpRequest, show_secrets: bool) -> HttpRequest:
    """The request with its secrets hidden unless ``show_secrets``."""
    if show_secrets:
        return request
    body = request.body
    if body:
        body = redact_body(body, _content_type(request.headers))
    return HttpRequest(
        request.method,
        redact_url(request.url),
        tuple(redact_headers(request.headers, include_sensitive=False)),
        body,
    )


def from_record(record: RequestRecord, body: str | None, show_secrets: bool) -> HttpRequest:
    """A tracked request (``body``: its POST data, fetched if the event lacked it)."""
    request = HttpRequest(record.method, record.url, record.request_headers, body)
    return _shown(request, show_secrets)


def from_ndjson(line: Mapping[str, Any], show_secrets: bool) -> HttpRequest:
    """An NDJSON capture's request line (its headers object, its ``postData`` if kept)."""
    if not show_secrets:
        line = redact_line(dict(line))
    raw = line.get("headers")
    headers = tuple(
        (str(name), part)
        for name, value in (raw.items() if isinstance(raw, Mapping) else ())
        for part in str(value).split("\n")
    )
    body = line.get("postData")
    return HttpRequest(
        str(line.get("method") or "GET"),
        str(line.get("url", "")),
        headers,
        body if isinstance(body, str) else None,
    )


def _sent(headers: Headers, skipped: frozenset[str]) -> Headers:
    """The headers a client is given: no pseudo-headers and none it computes itself."""
    return tuple(
        (name, value)
        for name, value in headers
        if not name.startswith(":") and name.lower() not in skipped
    )


def _is_text(body: str) -> bool:
    """Whether a body can go on a command line as it is (no NUL, no control bytes)."""
    if not all(c.isprintable() or c in "\t\n\r" for c in body):
        return False
    try:
        body.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a body that was not UTF-8
        return False
    return True


def _octal(data: bytes) -> str:
    """Bytes for ``printf '%b'``: safe ASCII as is, everything else as ``\\0ooo`` (POSIX)."""
    safe = set(range(0x20, 0x7F)) - {ord("\\"), ord("'"), ord("%")}
    return "".join(chr(b) if b in safe else f"\\0{b:03o}" for b in data)


def to_curl(request: HttpRequest) -> str:
    """A curl command (POSIX shell) that sends the same method, URL, headers and body.

    One option a line, as DevTools writes it; binary bodies are piped in by ``printf``.
    """
    parts = [f"curl {shlex.quote(request.url)}"]
    if URL_GLOB_CHARACTERS & set(request.url):
        parts.append("--globoff")
    body = request.body
    if request.method == "HEAD":
        parts.append("--head")
    elif request.method != ("POST" if body else "GET"):
        parts.append(f"-X {shlex.quote(request.method)}")
    compressed = False
    for name, value in _sent(request.headers, COMPUTED):
        compressed = compressed or name.lower() == "accept-encoding"
        # curl sends "Name;" as an empty header; "Name:" would remove it instead.
        parts.append(f"-H {shlex.quote(f'{name}: {value}' if value else f'{name};')}")
    pipe = ""
    if body is not None:
        if _is_text(body):
            parts.append(f"--data-raw {shlex.quote(body)}")
        else:  # NUL and control bytes cannot be arguments: printf them into curl's stdin
            data = body.encode("utf-8", "surrogatepass")
            pipe = f"printf '%b' '{_octal(data)}' | "
            parts.append("--data-binary @-")
    if compressed:
        parts.append("--compressed")
    return pipe + " \\\n  ".join(parts)


def to_fetch(request: HttpRequest) -> str:
    """A JavaScript ``fetch(url, {method, headers, body})`` call (for a console or Node)."""
    headers: dict[str, str] = {}
    for name, value in _sent(request.headers, FETCH_SKIPPED):
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    options: dict[str, Any] = {"method": request.method, "headers": headers}
    if request.body is not None:
        options["body"] = request.body
    # ensure_ascii: U+2028 and lone surrogates become escapes, valid in any JS source.
    return f"fetch({json.dumps(request.url)}, {json.dumps(options, indent=2)});"


def to_raw(request: HttpRequest) -> str:
    """The request as HTTP/1.1 text (CRLF lines), Host and Content-Length worked out again."""
    try:
        parts = urlsplit(request.url)
        host = parts.netloc.rpartition("@")[2]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    except ValueError:
        host, target = "", request.url
    given = {name.lower(): value for name, value in request.headers}
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {given.get('host') or host}"]
    lines += [f"{name}: {value}" for name, value in _sent(request.headers, COMPUTED)]
    body = request.body
    data = body.encode("utf-8", "surrogatepass") if body is not None else b""
    if body is not None:
        lines.append(f"Content-Length: {len(data)}")
    return "\r\n".join(lines) + "\r\n\r\n" + (body or "")


def to_har_entry(record: RequestRecord, body: str | None, show_secrets: bool) -> str:
    """The request as one HAR 1.2 entry (JSON), as ``livetap har`` writes it."""
    return json.dumps(har_entry_of(record, body, show_secrets), indent=2, ensure_ascii=False)


def har_entry_of(
    record: RequestRecord,
    body: str | None,
    show_secrets: bool,
    response_body: ResponseBody | None = None,
    frames: tuple[StreamMessage, ...] = (),
) -> dict[str, Any]:
    """The request as one HAR 1.2 entry, made by the same code as ``livetap har``: the
    record becomes the NDJSON lines a capture would hold, and those an entry (a
    WebSocket's ``frames`` its ``_webSocketMessages``)."""
    record = replace(record, post_data=body) if body is not None else record
    end = record.started + (record.duration or 0.0)
    kinds = [("request", record.started)]
    if record.status is not None:
        kinds.append(("response", record.started))
    if record.finished and not record.error:
        kinds.append(("finished", end))
    if record.error:
        kinds.append(("failed", end))
    lines = {
        kind: browser_line(
            BrowserEvent(kind, record, when),
            include_sensitive=show_secrets,
            include_bodies=True,
            body=response_body if kind == "finished" else None,
        )
        for kind, when in kinds
    }
    entry = har_entry(lines, show_secrets)
    if frames:
        frame_lines = [
            browser_line(
                BrowserEvent("ws.frame", record, frame.timestamp, {}, frame),
                include_sensitive=show_secrets,
                include_bodies=True,
            )
            for frame in frames
        ]
        entry["_resourceType"] = "websocket"
        entry["_webSocketMessages"] = websocket_messages(frame_lines, show_secrets)
    return entry


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """One way to copy a request: its name, the file extension, and how it is made."""

    name: str
    label: str
    extension: str
    render: Callable[[RequestRecord, str | None, bool], str]


FORMATS: dict[str, ExportFormat] = {
    "curl": ExportFormat(
        "curl", "curl command", "sh", lambda r, b, s: to_curl(from_record(r, b, s)) + "\n"
    ),
    "fetch": ExportFormat(
        "fetch", "fetch() call", "js", lambda r, b, s: to_fetch(from_record(r, b, s)) + "\n"
    ),
    "raw": ExportFormat("raw", "raw HTTP", "http", lambda r, b, s: to_raw(from_record(r, b, s))),
    "har": ExportFormat("har", "HAR entry", "har.json", to_har_entry),
}


def export_request(
    record: RequestRecord, format_name: str, body: str | None, show_secrets: bool = False
) -> str:
    """The request in one of :data:`FORMATS` (curl, fetch, raw, har)."""
    return FORMATS[format_name].render(record, body, show_secrets)


def curl_commands(paths: list[Path], show_secrets: bool = False) -> list[str]:
    """A curl command for each request of an NDJSON capture (its rotated files), in order.

    A POST's body is in the command only when the capture kept bodies (``--include-bodies``).
    """
    lines, _read, _skipped = read_lines(paths)
    requests = [line for line in lines if line.get("type") == "request"]
    requests.sort(key=lambda line: str(line.get("timestamp", "")))
    return [to_curl(from_ndjson(line, show_secrets)) for line in requests]


def write_copy(directory: Path, record: RequestRecord, format_name: str, text: str) -> Path:
    """Keep a copy in the capture directory (0600, never through a link), for terminals
    that ignore the clipboard escape: ``livetap-request-<n>.<ext>``."""
    path = directory / f"livetap-request-{record.seq}.{FORMATS[format_name].extension}"
    write_text_whole(path, text)
    return path
