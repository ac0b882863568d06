"""The request list's columns and what its cells say (the list itself is the Line-API
view in request_view.py).

The list is bounded: past ``MAX_ROWS + SLACK`` requests, the oldest are dropped
down to ``MAX_ROWS`` at once.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from engine.browser.records import RequestRecord
from tui.formatting import human_bytes

MAX_ROWS = 5_000
SLACK = 1_000
"""Rows the list may hold past MAX_ROWS before the oldest are dropped, all at once."""
COLUMNS = (
    ("#", 4),
    ("Method", 6),
    ("Status", 6),
    ("URL", 40),
    ("Type", 10),
    ("MIME", 14),
    ("Size", 8),
    ("Time", 7),
    ("Waterfall", 24),
)
"""Column names and widths; the URL column takes whatever width is left. Type fits the
resource types CDP names most (Stylesheet, Document, TextTrack); longer ones end in "…"."""
URL_MIN = 30
"""The URL keeps at least this much room; narrower lists leave out columns (DROP_ORDER)."""
DROP_ORDER = ("Waterfall", "MIME", "Type", "#", "Time")
"""Columns left out first when the list is narrow; Method, Status, URL and Size stay."""
PADDING = 2
"""A cell's padding, one space each side."""


def layout(width: int) -> tuple[tuple[str, int], ...]:
    """The columns that fit ``width`` (in COLUMNS order), the URL taking the room left."""
    shown = [name for name, _width in COLUMNS]
    widths = dict(COLUMNS)

    def others() -> int:
        return sum(widths[name] + PADDING for name in shown if name != "URL")

    for name in DROP_ORDER:
        if width - others() - PADDING >= URL_MIN:
            break
        shown.remove(name)
    url = max(URL_MIN, width - others() - PADDING)
    return tuple((name, url if name == "URL" else widths[name]) for name in shown)


def request_fields(record: RequestRecord) -> dict[str, object]:
    """A request as the display filter sees it (url, method, status, mime, type, host, size)."""
    fields: dict[str, object | None] = {
        "url": record.url,
        "method": record.method,
        "status": record.status,
        "mime": record.mime_type,
        "type": record.resource_type,
        "host": urlsplit(record.url).hostname,
        "size": record.encoded_length,
    }
    return {name: value for name, value in fields.items() if value not in (None, "")}


def status_key(record: RequestRecord) -> str:
    """The theme variable (``status-*``) that colours a request's status."""
    if record.error:
        return "status-failed"
    if record.status is None:
        return ""
    return f"status-{min(max(record.status // 100, 2), 5)}xx"


def status_text(record: RequestRecord) -> str:
    """What the Status column says: the code, the failure, or that it is still pending."""
    if record.error:
        return "failed" if not record.canceled else "canceled"
    if record.status is None:
        return "…"
    return str(record.status)


def unfinished(record: RequestRecord) -> bool:
    """A request still loading (or never told finished): its size and time are not known yet."""
    return not (record.finished or record.error or record.redirected_to or record.from_cache)


def size_text(record: RequestRecord) -> str:
    """Bytes transferred, with the cache that served it instead when it was cached."""
    if record.from_cache:
        return f"({record.from_cache})"
    if record.encoded_length is None and unfinished(record):
        return "pending"
    return human_bytes(record.encoded_length) if record.encoded_length is not None else ""


def time_text(record: RequestRecord) -> str:
    """Duration in ms or s; "pending" until the browser says the load ended."""
    if record.duration is None:
        return "pending" if unfinished(record) else ""
    return (
        f"{record.duration * 1000:.0f} ms" if record.duration < 10 else f"{record.duration:.1f} s"
    )


def short_url(url: str) -> str:
    """A URL without its scheme: the host and path are what tell requests apart."""
    return url.split("://", 1)[-1] if url.startswith(("http://", "https://")) else url


def path_url(url: str) -> str:
    """A URL's path and query: what is left when the host does not fit."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    return parts.path + (f"?{parts.query}" if parts.query else "") or "/"


def url_text(record: RequestRecord, width: int = 0) -> str:
    """The URL, with the failure or the redirect target after it.

    When it does not fit ``width`` the scheme goes first, then the host: the path is
    what tells one request from the next.
    """
    url = short_url(record.url)
    if width and len(url) > width:
        url = path_url(record.url)
    if record.replay_of:  # a replay (r, e) of request #replay_of
        url = f"↻#{record.replay_of} {url}"
    if record.error:
        return f"{url}  ✖ {record.error}"
    if record.redirected_to:
        target = short_url(record.redirected_to)
        if width and len(url) + 4 + len(target) > width:
            target = path_url(record.redirected_to)
        return f"{url}  → {target}"
    return url
