"""NDJSON captures to HAR 1.2, the format browsers' devtools and HAR viewers open.

Lines are grouped by request id; a request line starts an entry, response,
finished and failed lines complete it; a WebSocket's ``ws.frame`` lines become its
entry's ``_webSocketMessages``, as Chrome's HAR export writes them. Packet lines and
lines that do not parse are skipped (and counted), so a torn last line of a capture does not
stop the conversion. A field of the wrong type (the file may have been edited,
or come from elsewhere) gets HAR's "unknown" value rather than stopping it.

Secrets are hidden again on the way (:mod:`engine.redact`: credential headers,
tokens in URLs, secret fields of form and JSON bodies) unless asked otherwise,
so a HAR made from a capture taken with ``--include-sensitive`` is still safe
to share unless its maker says so too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from engine.errors import from_os_error
from engine.redact import redact_body, redact_headers, redact_url
from engine.textfile import write_private

HTTP_VERSIONS = {"h2": "HTTP/2.0", "h3": "HTTP/3.0", "http/1.0": "HTTP/1.0", "http/1.1": "HTTP/1.1"}


@dataclass(frozen=True, slots=True)
class HarResult:
    """The HAR document and what the conversion skipped."""

    har: dict[str, Any]
    entries: int
    lines_read: int
    lines_skipped: int


def _livetap_version() -> str:
    try:
        return version("livetap")
    except PackageNotFoundError:
        return "unknown"


def read_lines(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], int, int]:
    """Every JSON object in the files, in order, with counts of lines read and skipped."""
    lines: list[dict[str, Any]] = []
    read = skipped = 0
    for path in paths:
        try:
            handle = path.open(encoding="utf-8", errors="replace")
        except OSError as error:
            raise from_os_error(error, f"read {path}") from None
        with handle:
            for raw in handle:
                read += 1
                try:
                    line = json.loads(raw)
                except (ValueError, RecursionError):
                    skipped += 1
                    continue
                if isinstance(line, dict) and isinstance(line.get("id"), str):
                    lines.append(line)
                elif not (isinstance(line, dict) and line.get("type") == "packet"):
                    skipped += 1
    return lines, read, skipped


def _pairs(headers: object) -> list[dict[str, str]]:
    """An NDJSON header object as HAR's name/value list (newline-joined values split)."""
    if not isinstance(headers, dict):
        return []
    return [
        {"name": str(name), "value": part}
        for name, value in headers.items()
        for part in str(value).split("\n")
    ]


def _header(headers: object, name: str) -> str:
    if isinstance(headers, dict):
        for key, value in headers.items():
            if str(key).lower() == name:
                return str(value)
    return ""


def _number(value: object) -> float | None:
    """A finite, non-negative JSON number, or None (NaN, Infinity, 1e999, text, true ...)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _ms(value: object, default: float = -1) -> float:
    number = _number(value)
    return default if number is None else number


def _int(value: object, default: int) -> int:
    number = _number(value)
    return default if number is None else int(number)


def _query(url: str) -> list[dict[str, str]]:
    """HAR's queryString; a URL that does not split (``http://[::1``) has none."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return []
    return [{"name": n, "value": v} for n, v in parse_qsl(query, keep_blank_values=True)]


def _redacted_headers(headers: object) -> object:
    if not isinstance(headers, dict):
        return headers
    pairs = [(str(name), str(value)) for name, value in headers.items()]
    return dict(redact_headers(pairs, include_sensitive=False))


def redact_line(line: dict[str, Any]) -> dict[str, Any]:
    """An NDJSON line with its secrets hidden (headers, URLs, form and JSON bodies)."""
    out = dict(line)
    for key in ("url", "redirectedFrom", "redirectedTo", "initiator"):
        if isinstance(out.get(key), str):
            out[key] = redact_url(out[key])
    if "headers" in out:
        out["headers"] = _redacted_headers(out["headers"])
    if isinstance(out.get("postData"), str):
        out["postData"] = redact_body(out["postData"], _header(line.get("headers"), "content-type"))
    return out


def _redact_entry_lines(lines: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A request's lines with secrets hidden; a body by its response's MIME type."""
    out = {kind: redact_line(line) for kind, line in lines.items()}
    finished = out.get("finished")
    if finished and isinstance(finished.get("body"), str) and finished.get("bodyEncoding") is None:
        mime = str(lines.get("response", {}).get("mimeType") or "")
        finished["body"] = redact_body(finished["body"], mime)
    return out


def _entry(lines: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One HAR entry from a request's lines."""
    request = lines["request"]
    response = lines.get("response", {})
    finished = lines.get("finished", {})
    failed = lines.get("failed", {})
    protocol = HTTP_VERSIONS.get(str(response.get("protocol", "")).lower(), "HTTP/1.1")
    url = str(request.get("url", ""))
    post = request.get("postData")
    raw_timing = finished.get("timing")
    timing: dict[str, Any] = raw_timing if isinstance(raw_timing, dict) else {}
    timings = {
        "blocked": -1,
        "dns": _ms(timing.get("dns")),
        "connect": _ms(timing.get("connect")),
        "ssl": _ms(timing.get("tls")),
        "send": _ms(timing.get("send"), 0),
        "wait": _ms(timing.get("wait"), 0),
        "receive": _ms(timing.get("receive"), 0),
    }
    total = _ms(finished.get("duration"), sum(v for v in timings.values() if v > 0))
    received = _number(finished.get("bytesReceived"))
    content: dict[str, Any] = {
        "size": _int(finished.get("bodySize"), 0) or int(received or 0),
        "mimeType": str(response.get("mimeType") or "x-unknown"),
    }
    if isinstance(finished.get("body"), str):
        content["text"] = finished["body"]
        if finished.get("bodyEncoding") == "base64":
            content["encoding"] = "base64"
    entry: dict[str, Any] = {
        "startedDateTime": str(request.get("timestamp", "")),
        "time": total,
        "request": {
            "method": str(request.get("method", "GET")),
            "url": url,
            "httpVersion": protocol,
            "cookies": [],
            "headers": _pairs(request.get("headers")),
            "queryString": _query(url),
            "headersSize": -1,
            "bodySize": len(post.encode("utf-8", "surrogatepass")) if isinstance(post, str) else 0,
        },
        "response": {
            "status": _int(response.get("status"), 0),
            "statusText": str(response.get("statusText", "")),
            "httpVersion": protocol,
            "cookies": [],
            "headers": _pairs(response.get("headers")),
            "content": content,
            "redirectURL": str(response.get("redirectedTo", "")),
            "headersSize": -1,
            "bodySize": int(received) if received is not None else -1,
        },
        "cache": {},
        "timings": timings,
    }
    if isinstance(post, str):
        mime = _header(request.get("headers"), "content-type") or "application/octet-stream"
        entry["request"]["postData"] = {"mimeType": mime, "text": post}
    remote = str(response.get("remoteAddress", ""))
    if remote:
        address, _, port = remote.rpartition(":")
        entry["serverIPAddress"] = address.strip("[]")
        entry["connection"] = port
    if failed:
        entry["_error"] = str(failed.get("errorText", ""))
    return entry


def har_entry(lines: dict[str, dict[str, Any]], include_sensitive: bool = False) -> dict[str, Any]:
    """One HAR entry from one request's NDJSON lines (a request line, then any of response,
    finished and failed), secrets hidden unless ``include_sensitive``: copy as HAR entry."""
    return _entry(lines if include_sensitive else _redact_entry_lines(lines))


def websocket_messages(
    frames: Iterable[dict[str, Any]], include_sensitive: bool = False
) -> list[dict[str, Any]]:
    """``ws.frame`` lines as Chrome's ``_webSocketMessages`` (type send/receive, time in
    epoch seconds, opcode, data); a text payload's secrets hidden unless asked."""
    messages = []
    for frame in frames:
        direction = frame.get("direction")
        if direction not in ("sent", "received"):
            continue
        data = frame.get("payload", "")
        data = data if isinstance(data, str) else ""
        if not include_sensitive and frame.get("payloadEncoding") is None:
            data = redact_body(data, "")
        messages.append(
            {
                "type": "send" if direction == "sent" else "receive",
                "time": _epoch(frame.get("timestamp")),
                "opcode": _int(frame.get("opcode"), 1),
                "data": data,
            }
        )
    return messages


def _epoch(stamp: object) -> float:
    """An NDJSON timestamp (ISO-8601, Z) as epoch seconds; 0 when it is not one."""
    try:
        return datetime.fromisoformat(str(stamp)).timestamp()
    except ValueError:
        return 0.0


def ndjson_to_har(paths: list[Path], include_sensitive: bool = False) -> HarResult:
    """Convert one capture (its rotated files in any order) to a HAR document.

    Secrets are hidden unless ``include_sensitive``.
    """
    lines, read, skipped = read_lines(paths)
    by_id: dict[str, dict[str, dict[str, Any]]] = {}
    frames: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        kind = line.get("type")
        if kind in ("request", "response", "finished", "failed"):
            by_id.setdefault(line["id"], {})[str(kind)] = line
        elif kind == "ws.frame":
            frames.setdefault(line["id"], []).append(line)
    entries = []
    for key, parts in by_id.items():
        if "request" not in parts:
            continue
        entry = _entry(parts if include_sensitive else _redact_entry_lines(parts))
        if key in frames:
            entry["_resourceType"] = "websocket"
            entry["_webSocketMessages"] = websocket_messages(frames[key], include_sensitive)
        entries.append(entry)
    entries.sort(key=lambda entry: str(entry["startedDateTime"]))
    return HarResult(har_log(entries), len(entries), read, skipped)


def har_log(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The HAR 1.2 document around ``entries`` (the creator is livetap, no pages)."""
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "livetap", "version": _livetap_version()},
            "pages": [],
            "entries": entries,
        }
    }


def write_har(result: HarResult, output: Path) -> None:
    """Write the HAR file (0600, never through a symlink)."""
    text = json.dumps(result.har, indent=2, ensure_ascii=False)
    data = text.encode("utf-8", "backslashreplace")  # a lone surrogate stays a JSON escape
    write_private(output, data)
