"""The browser's requests: one row per request, updated in place by request id.

A keyed DataTable suits this list: it is bounded (old rows are dropped past
``MAX_ROWS``) and changes arrive in batches. DataTable's ``remove_row`` costs
time in proportion to the rows held, so old rows are not dropped one by one: the
list may run ``SLACK`` rows over, then the newest ``MAX_ROWS`` are laid out
again in one go, as they are when a batch would drop many rows at once (a page
firing thousands of requests in one frame, a display filter, a flood).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rich.style import Style
from rich.text import Text
from textual import events
from textual._two_way_dict import TwoWayDict
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, DuplicateKey, Row, RowKey

from engine.browser.records import RequestRecord
from tui.formatting import human_bytes
from tui.widgets.request_chips import Chips
from tui.widgets.request_sort import SORT_KEYS
from tui.widgets.waterfall import Scale, WaterfallCell

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
    ("Waterfall", 24),
)
"""Column names and widths; the URL column takes whatever width is left. Type fits the
resource types CDP names most (Stylesheet, Document, TextTrack); longer ones end in "…"."""
URL_MIN = 30
"""The URL keeps at least this much room; narrower lists leave out columns (DROP_ORDER)."""
DROP_ORDER = ("Waterfall", "MIME", "Type", "#", "Time")
"""Columns left out first when the list is narrow; Method, Status, URL and Size stay."""
PADDING = 2
"""DataTable's cell padding, one space each side."""


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


Cell = Text | WaterfallCell


class LazyCells(dict[ColumnKey, Cell]):
    """A row's cells, made when first read: DataTable reads only the rows it draws, so
    laying out 5,000 rows (a chip, a sort, a filter) no longer styles 45,000 cells."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], dict[ColumnKey, Cell]]) -> None:
        super().__init__()
        self._make: Callable[[], dict[ColumnKey, Cell]] | None = make

    def _fill(self) -> None:
        make = self._make
        if make is not None:
            self._make = None
            super().update(make())

    def __getitem__(self, key: ColumnKey) -> Cell:
        self._fill()
        return super().__getitem__(key)

    def get(self, key: ColumnKey, default: Any = None) -> Any:
        """The cell (made with the row's others on first read)."""
        self._fill()
        return super().get(key, default)

    def __setitem__(self, key: ColumnKey, value: Cell) -> None:
        self._fill()
        super().__setitem__(key, value)

    def __delitem__(self, key: ColumnKey) -> None:
        self._fill()
        super().__delitem__(key)

    def __iter__(self) -> Iterator[ColumnKey]:
        self._fill()
        return super().__iter__()

    def __len__(self) -> int:
        self._fill()
        return super().__len__()

    def __contains__(self, key: object) -> bool:
        self._fill()
        return super().__contains__(key)


class RequestList(DataTable[Text | WaterfallCell]):
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
        self.follow = True
        """Move to each new request (on until ↑, PgUp, Home or a click; End turns it on)."""
        self._layout: tuple[tuple[str, int], ...] = layout(120)
        self.display_filter: DisplayFilter | None = None
        """Only requests this filter matches are listed (None: all)."""
        self.chips = Chips()
        """Only requests under these type and status chips are listed."""
        self.first_seq = 0
        """Requests made before this one (by seq) were cleared: C, or a navigation."""
        self.sort_column = "#"
        """The column the rows are sorted by (``#`` ascending: the order they were made)."""
        self.sort_reverse = False
        self._records: dict[str, RequestRecord] = {}
        """The listed requests by id, oldest first: what a rebuild lays out."""
        self._scale = Scale()
        """The time the Waterfall column spans: that of the rows on screen (see render_lines)."""

    def on_mount(self) -> None:
        """Columns for the width at hand; colours come from the theme per row."""
        self._add_columns()

    def _add_columns(self) -> None:
        for name, width in self._layout:
            self.add_column(name, key=name, width=width)

    @property
    def shown_columns(self) -> tuple[str, ...]:
        """The column names shown at the list's width (for tests and the help)."""
        return tuple(name for name, _width in self._layout)

    def _cells(self, record: RequestRecord) -> list[Text | WaterfallCell]:
        colour = self.app.theme_variables.get(status_key(record), "") if status_key(record) else ""
        pending = Style(dim=True, italic=True)
        url_width = dict(self._layout).get("URL", 0)
        cells: dict[str, Text | WaterfallCell] = {
            "#": Text(str(record.seq)),
            "Method": Text(record.method),
            "Status": Text(status_text(record), style=f"bold {colour}".strip()),
            "URL": Text(
                url_text(record, url_width),
                style=colour if record.error else "",
                overflow="ellipsis",
            ),
            "Type": Text(record.resource_type, overflow="ellipsis"),
            "MIME": Text(record.mime_type, overflow="ellipsis"),
            "Size": Text(size_text(record), style=pending if unfinished(record) else ""),
            "Time": Text(time_text(record), style=pending if unfinished(record) else ""),
            "Waterfall": WaterfallCell(record, self._scale),
        }
        return [cells[name] for name, _width in self._layout]

    def render_lines(self, crop: Region) -> list[Strip]:
        """Scale the Waterfall to the rows on screen before they are drawn; a new scale
        drops the cached rows (only those on screen are drawn again)."""
        if "Waterfall" in self.shown_columns:
            scale = Scale.of(self.visible_records())
            if (scale.start, scale.span) != (self._scale.start, self._scale.span):
                self._scale.start, self._scale.span = scale.start, scale.span
                span = f"{scale.span * 1000:.0f} ms" if scale.span < 10 else f"{scale.span:.1f} s"
                self.columns[ColumnKey("Waterfall")].label = Text(f"Waterfall {span}")
                self._clear_caches()
        return super().render_lines(crop)

    def visible_records(self) -> list[RequestRecord]:
        """The requests whose rows are on screen, top to bottom."""
        first = int(self.scroll_y)
        last = min(self.row_count, first + max(0, self.size.height - self.header_height))
        shown: list[RequestRecord] = []
        for row in range(first, last):
            key = self.coordinate_to_cell_key(Coordinate(row, 0)).row_key.value
            record = self._records.get(str(key))
            if record is not None:
                shown.append(record)
        return shown

    def on_resize(self, event: events.Resize) -> None:
        """Lay the columns out for the new width: the URL takes the room the others leave."""
        wanted = layout(max(0, event.size.width - 2))  # the vertical scrollbar's columns
        if wanted == self._layout:
            return
        self._layout = wanted
        selected = self.selected_id
        self.clear(columns=True)
        self._add_columns()
        self._rebuild(selected)

    def set_filter(
        self, display_filter: DisplayFilter | None, records: list[RequestRecord]
    ) -> None:
        """List only what ``display_filter`` matches (None: everything), from all records held."""
        self.display_filter = display_filter
        self.refill(records)

    def set_chips(self, chips: Chips, records: list[RequestRecord]) -> None:
        """List only the requests under ``chips``, from all records held."""
        self.chips = chips
        self.refill(records)

    def refill(self, records: list[RequestRecord]) -> None:
        """Lay out again the newest MAX_ROWS of ``records`` (oldest first) that are shown."""
        chosen: list[RequestRecord] = []
        for record in reversed(records):  # newest first: stop once the list is full
            if self._shown(record):
                chosen.append(record)
                if len(chosen) == MAX_ROWS:
                    break
        selected = self.selected_id
        self._records = {record.id: record for record in reversed(chosen)}
        self._rebuild(selected, following=self.follow)

    def clear_before(self, seq: int) -> None:
        """Leave out, now and from then on, every request made before ``seq`` (C, or a
        navigation without preserve log); what is left keeps its place."""
        self.first_seq = max(self.first_seq, seq)
        kept = {key: r for key, r in self._records.items() if r.seq >= self.first_seq}
        if len(kept) != len(self._records):
            self._records = kept
            self._rebuild()

    def _shown(self, record: RequestRecord) -> bool:
        """Whether the request is not cleared and the chips and display filter let it through."""
        if record.seq < self.first_seq:
            return False
        if not self.chips.everything and not self.chips.matches(record):
            return False
        return self.display_filter is None or self.display_filter.matches_fields(
            request_fields(record)
        )

    def apply(self, changed: tuple[RequestRecord, ...], removed: tuple[str, ...]) -> None:
        """Add new requests, update known ones in place, drop removed ones."""
        at_end = self.follow and self.cursor_row >= self._newest_row()
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
            self._rebuild(following=at_end)
            return
        for request_id in drop:
            self.remove_row(request_id)
        reorder = False
        new: list[RequestRecord] = []
        for record in changed:
            if record.id not in records:
                continue
            if record.id in self.rows:
                cells = self._cells(record)
                for (name, _width), cell in zip(self._layout, cells, strict=True):
                    self.update_cell(record.id, name, cell)
            else:
                new.append(record)  # added in one go, their cells made when drawn
            reorder = True
        self._add_rows(new)
        if reorder and self.sorted_view:
            self._order(following=at_end)
        elif at_end and self.row_count:
            self.move_cursor(row=self._newest_row(), animate=False, scroll=True)

    def _rebuild(self, selected: str | None = None, *, following: bool | None = None) -> None:
        """Lay out the listed requests again, keeping the cursor on its request."""
        selected = selected or self.selected_id
        if following is None:
            following = self.follow and self.cursor_row >= self.row_count - 1
        self.clear()
        self._add_rows(self._records.values())
        if not self.row_count:
            self.follow = True  # an empty list follows what comes next
            return
        if self.sorted_view:
            self._order(selected, following=following)
        elif following or selected not in self._records:
            self.move_cursor(row=self.row_count - 1, animate=False, scroll=True)
        else:
            self.move_cursor(row=self.get_row_index(selected), animate=False, scroll=True)

    def _add_rows(self, records: Iterable[RequestRecord]) -> None:
        """Add rows in one go: DataTable.add_row as it is, less its per-row cursor
        re-assignment (a reactive set, with its watchers) and idle check, and less the
        measuring of every new cell on idle (DataTable's ``_new_rows``): the columns have
        fixed widths and the rows one line, so there is nothing to measure. Laying out
        5,000 rows (a chip, a filter, a clear) took 1 s, mostly those. The cells themselves
        are made when a row is first drawn (:class:`LazyCells`)."""
        columns = [column.key for column in self.ordered_columns]
        locations, data, rows = self._row_locations, self._data, self.rows
        added = 0
        for record in records:
            row_key = RowKey(record.id)
            if row_key in locations:
                raise DuplicateKey(f"The row key {row_key!r} already exists.")
            locations[row_key] = len(rows)
            data[row_key] = LazyCells(self._row_maker(columns, record))
            rows[row_key] = Row(row_key, 1)
            added += 1
        if not added:
            return
        self._require_update_dimensions = True  # the virtual size, on idle
        self.cursor_coordinate = self.cursor_coordinate
        if len(rows) == added and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()  # as add_row does for the first row of an empty table
        self._update_count += 1
        self.check_idle()

    def _row_maker(
        self, columns: list[ColumnKey], record: RequestRecord
    ) -> Callable[[], dict[ColumnKey, Cell]]:
        """What makes a row's cells when DataTable first reads them."""
        return lambda: dict(zip(columns, self._cells(record), strict=True))

    # -- sorting -----------------------------------------------------------------------

    @property
    def sorted_view(self) -> bool:
        """Whether the rows are in another order than the one requests were made in."""
        return self.sort_column != "#" or self.sort_reverse

    def sort_by(self, column: str, reverse: bool = False) -> None:
        """Sort the rows by ``column`` (a name of COLUMNS), keeping the cursor on its request;
        new requests take their place in the order as they come."""
        if column not in SORT_KEYS:
            raise ValueError(f"no column {column!r} to sort by")
        self.sort_column, self.sort_reverse = column, reverse
        following = self.follow
        if self.sorted_view:
            self._order(following=following)
        else:
            self._rebuild(following=following)

    def _order(self, selected: str | None = None, *, following: bool = False) -> None:
        """Put the rows in the sort's order: O(n log n) over the rows listed, per batch.

        DataTable.sort can only compare cell contents; this orders by the records' own
        values, the same way (the row index map DataTable.sort itself replaces).
        """
        selected = selected or self.selected_id
        key = SORT_KEYS[self.sort_column]
        ordered = sorted(self._records.values(), key=key, reverse=self.sort_reverse)
        self._row_locations = TwoWayDict(
            {RowKey(record.id): index for index, record in enumerate(ordered)}
        )
        self._update_count += 1
        self.refresh()
        if not ordered:
            return
        target = next(reversed(self._records)) if following or selected is None else selected
        if target not in self._records:
            target = next(reversed(self._records))
        self.move_cursor(row=self.get_row_index(target), animate=False, scroll=True)
        self.follow = following

    def _newest_row(self) -> int:
        """The row of the newest request listed: the last, unless the rows are sorted."""
        newest = next(reversed(self._records), None) if self.sorted_view else None
        if newest is None or newest not in self.rows:  # mid-batch: not laid out yet
            return self.row_count - 1
        return self.get_row_index(newest)

    # -- following the newest (the packet list's rules) ------------------------------

    def hold(self) -> None:
        """Stop following: the cursor stays on its request while new ones arrive."""
        self.follow = False

    def follow_newest(self) -> None:
        """Go to the newest request (wherever the sort put it) and follow new ones again."""
        if self.row_count:
            self.move_cursor(row=self._newest_row(), animate=False, scroll=True)
        self.follow = True

    def watch_cursor_coordinate(self, old: Coordinate, new: Coordinate) -> None:
        """The cursor put on an older request, by any means, holds the list there."""
        super().watch_cursor_coordinate(old, new)
        if new != old and self.row_count and new.row != self._newest_row():
            self.follow = False  # (add_row sets it again, unchanged)

    def action_cursor_up(self) -> None:
        """The first ↑ while following holds the list where it is; the next ones move."""
        if self.follow:
            self.hold()
            return
        super().action_cursor_up()

    def action_page_up(self) -> None:
        """A page up, holding the list."""
        self.hold()
        super().action_page_up()

    def action_scroll_home(self) -> None:
        """The first request, holding the list."""
        self.hold()
        super().action_scroll_top()

    def action_scroll_top(self) -> None:
        """The first request, holding the list."""
        self.hold()
        super().action_scroll_top()

    def action_scroll_end(self) -> None:
        """The newest request, following again."""
        self.follow_newest()

    def action_scroll_bottom(self) -> None:
        """The newest request, following again."""
        self.follow_newest()

    async def _on_click(self, event: events.Click) -> None:
        """A click selects a request and holds the list there."""
        self.hold()
        await super()._on_click(event)

    @property
    def listed(self) -> list[RequestRecord]:
        """The requests listed (chips and display filter applied), top row first."""
        return [
            self._records[str(row.key.value)]
            for row in self.ordered_rows
            if str(row.key.value) in self._records
        ]

    def record(self, request_id: str) -> RequestRecord | None:
        """A listed request's record as last applied (None: not listed)."""
        return self._records.get(request_id)

    @property
    def selected_id(self) -> str | None:
        """The request id under the cursor."""
        if not self.row_count:
            return None
        key, _column = self.coordinate_to_cell_key(self.cursor_coordinate)
        return str(key.value) if key.value is not None else None
