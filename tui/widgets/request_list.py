"""The browser's requests: one row per request, updated in place by request id.

A keyed DataTable suits this list: it is bounded (old rows are dropped past
``MAX_ROWS``) and changes arrive in batches. DataTable's ``remove_row`` costs
time in proportion to the rows held, so old rows are not dropped one by one: the
list may run ``SLACK`` rows over, then the newest ``MAX_ROWS`` are laid out
again in one go, as they are when a batch would drop many rows at once (a page
firing thousands of requests in one frame, a display filter, a flood).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from engine.browser.records import RequestRecord
from tui.formatting import human_bytes

if TYPE_CHECKING:
    from engine.display_filter import DisplayFilter

MAX_ROWS = 5_000
SLACK = 1_000
"""Rows the list may hold past MAX_ROWS before the oldest are dropped, all at once."""
REBUILD_OVER = 64
"""Past this many rows to drop in one batch, the rows are laid out again instead."""
COLUMNS = (
    ("#", 4),
    ("Method", 6),
    ("Status", 6),
    ("URL", 40),
    ("Type", 10),
    ("MIME", 14),
    ("Size", 8),
    ("Time", 7),
)
"""Column names and widths; the URL column takes whatever width is left. Type fits the
resource types CDP names most (Stylesheet, Document, TextTrack); longer ones end in "…"."""


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


def size_text(record: RequestRecord) -> str:
    """Bytes transferred, with the cache that served it instead when it was cached."""
    if record.from_cache:
        return f"({record.from_cache})"
    return human_bytes(record.encoded_length) if record.encoded_length is not None else ""


def time_text(record: RequestRecord) -> str:
    """Duration in ms or s."""
    if record.duration is None:
        return ""
    return (
        f"{record.duration * 1000:.0f} ms" if record.duration < 10 else f"{record.duration:.1f} s"
    )


def short_url(url: str) -> str:
    """A URL without its scheme: the host and path are what tell requests apart."""
    return url.split("://", 1)[-1] if url.startswith(("http://", "https://")) else url


def url_text(record: RequestRecord) -> str:
    """The URL, with the failure or the redirect target after it."""
    if record.error:
        return f"{short_url(record.url)}  ✖ {record.error}"
    if record.redirected_to:
        return f"{short_url(record.url)}  → {short_url(record.redirected_to)}"
    return short_url(record.url)


class RequestList(DataTable[Text]):
    """Requests in the order they were made, coloured by status class."""

    DEFAULT_CSS = """
    RequestList {
        height: 3fr;
        background: $surface;
        overflow-x: hidden;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._follow = True
        self.display_filter: DisplayFilter | None = None
        """Only requests this filter matches are listed (None: all)."""
        self._records: dict[str, RequestRecord] = {}
        """The listed requests by id, oldest first: what a rebuild lays out."""

    def on_mount(self) -> None:
        """Columns once; colours come from the theme per row."""
        for name, width in COLUMNS:
            self.add_column(name, key=name, width=width)

    def _cells(self, record: RequestRecord) -> list[Text]:
        colour = self.app.theme_variables.get(status_key(record), "") if status_key(record) else ""
        return [
            Text(str(record.seq)),
            Text(record.method),
            Text(status_text(record), style=f"bold {colour}".strip()),
            Text(url_text(record), style=colour if record.error else "", overflow="ellipsis"),
            Text(record.resource_type, overflow="ellipsis"),
            Text(record.mime_type, overflow="ellipsis"),
            Text(size_text(record)),
            Text(time_text(record)),
        ]

    def on_resize(self, event: events.Resize) -> None:
        """Give the URL column all the width the others leave."""
        others = sum(width + 2 for name, width in COLUMNS if name != "URL")
        url = self.columns.get(ColumnKey("URL"))
        if url is not None:
            url.width = max(20, event.size.width - others - 4)
            url.auto_width = False
            self._clear_caches()
            self.refresh()

    def set_filter(
        self, display_filter: DisplayFilter | None, records: list[RequestRecord]
    ) -> None:
        """List only what ``display_filter`` matches (None: everything), from all records held."""
        self.display_filter = display_filter
        self._records.clear()
        self.clear()
        self.apply(tuple(records[-MAX_ROWS:]), ())

    def _shown(self, record: RequestRecord) -> bool:
        """Whether the display filter lets a request through."""
        return self.display_filter is None or self.display_filter.matches_fields(
            request_fields(record)
        )

    def apply(self, changed: tuple[RequestRecord, ...], removed: tuple[str, ...]) -> None:
        """Add new requests, update known ones in place, drop removed ones."""
        at_end = self.cursor_row >= self.row_count - 1
        records = self._records
        drop = [request_id for request_id in removed if records.pop(request_id, None)]
        for record in changed:
            if self._shown(record):
                records[record.id] = record  # a known id keeps its place
            elif records.pop(record.id, None) is not None:
                drop.append(record.id)
        if len(records) > MAX_ROWS + SLACK:
            oldest = list(records)[: len(records) - MAX_ROWS]
            for request_id in oldest:
                del records[request_id]
            drop.extend(oldest)
        if len(drop) > REBUILD_OVER:  # ``records`` holds exactly the rows listed
            self._rebuild(at_end)
            return
        for request_id in drop:
            self.remove_row(request_id)
        for record in changed:
            if record.id not in records:
                continue
            cells = self._cells(record)
            if record.id in self.rows:
                for (name, _width), cell in zip(COLUMNS, cells, strict=True):
                    self.update_cell(record.id, name, cell)
            else:
                self.add_row(*cells, key=record.id)
        if at_end and self._follow and self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False, scroll=True)

    def _rebuild(self, at_end: bool) -> None:
        """Lay out the listed requests again, keeping the cursor on its request."""
        selected = self.selected_id
        self.clear()
        for record in self._records.values():
            self.add_row(*self._cells(record), key=record.id)
        if not self.row_count:
            return
        if (at_end and self._follow) or selected not in self._records:
            self.move_cursor(row=self.row_count - 1, animate=False, scroll=True)
        else:
            self.move_cursor(row=self.get_row_index(selected), animate=False, scroll=True)

    @property
    def selected_id(self) -> str | None:
        """The request id under the cursor."""
        if not self.row_count:
            return None
        key, _column = self.coordinate_to_cell_key(self.cursor_coordinate)
        return str(key.value) if key.value is not None else None
