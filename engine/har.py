"""NDJSON captures to HAR 1.2, the format browsers' devtools and HAR viewers open.

Lines are grouped by request id; a request line starts an entry, response,
finished and failed lines complete it. Packet lines and lines that do not
parse are skipped (and counted), so a torn last line of a capture does not
stop the conversion. A field of the wrong type (the file may have been edited,
or come from elsewhere) gets HAR's "unknown" value rather than stopping it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from engine.errors import BadInputError, from_os_error

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


def ndjson_to_har(paths: list[Path]) -> HarResult:
    """Convert one capture (its rotated files in any order) to a HAR document."""
    lines, read, skipped = read_lines(paths)
    by_id: dict[str, dict[str, dict[str, Any]]] = {}
    for line in lines:
        kind = line.get("type")
        if kind in ("request", "response", "finished", "failed"):
            by_id.setdefault(line["id"], {})[str(kind)] = line
    entries = [_entry(parts) for parts in by_id.values() if "request" in parts]
    entries.sort(key=lambda entry: str(entry["startedDateTime"]))
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "livetap", "version": _livetap_version()},
            "pages": [],
            "entries": entries,
        }
    }
    return HarResult(har, len(entries), read, skipped)


def write_har(result: HarResult, output: Path) -> None:
    """Write the HAR file (0600, never through a symlink)."""
    text = json.dumps(result.har, indent=2, ensure_ascii=False)
    data = text.encode("utf-8", "backslashreplace")  # a lone surrogate stays a JSON escape
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with contextlib.suppress(OSError):  # an existing file keeps its mode through O_CREAT
            if stat.S_ISREG(os.fstat(fd).st_mode):
                os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise BadInputError(
                f"{output} is a symbolic link; livetap does not write through one"
            ) from None
        raise from_os_error(error, f"write {output}") from None
