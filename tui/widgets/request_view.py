"""The browser's requests as a Line-API view: only the rows on screen are drawn.

The listed requests are a dict by id (the order they came in) and one list of ids
in the order shown (chips, display filter, clear and sort applied). A chip, a
filter or a sort recomputes that list in one pass over the records, with no
widget or cell made per row; a new request is appended (or, sorted, the list is
sorted again: 5,000 keys). Rows are drawn from the records when they come on
screen, through a strip cache that a changed record, the Waterfall's scale, the
width, the focus or the theme empty. A DataTable redrew thousands of cells for a
chip on 10,000 requests (see ../shared/notes/textual.md).

The first line is the column header (fixed; the rows scroll under it), as a
DataTable drew it, so the list looks as it did.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engine.browser.records import RequestRecord
from tui.widgets.request_chips import Chips, status_chip_of, type_chip_of
from tui.widgets.request_list import (
    MAX_ROWS,
    SLACK,
    layout,
    request_fields,
    size_text,
    status_key,
    status_text,
    time_text,
    unfinished,
    url_text,
)
from tui.widgets.request_sort import SORT_KEYS
from tui.widgets.waterfall import Scale, bar

if TYPE_CHECKING:
    from engine.display_filter import DisplayFilter

STRIP_CACHE = 4_096
"""Rows kept drawn; past this the cache starts again (the rows on screen are redrawn)."""


def span_text(span: float) -> str:
    """The Waterfall header's span: ms under 10 s, else seconds."""
    return f"{span * 1000:.0f} ms" if span < 10 else f"{span:.1f} s"


class RequestList(ScrollView, can_focus=True):
    """Requests in the order they were made (or sorted), coloured by status class."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "request-list--header",
        "request-list--cursor",
    }

    DEFAULT_CSS = """
    RequestList {
        height: 3fr;
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        &:focus {
            background-tint: $foreground 5%;
            & > .request-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .request-list--header {
                background-tint: $foreground 5%;
            }
        }
        & > .request-list--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .request-list--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .request-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Newest", show=False),
        Binding("enter", "choose", "Detail", show=False),
    ]

    class Highlighted(Message):
        """The cursor is on another request (the pane shows its detail)."""

        def __init__(self, request_list: RequestList, request_id: str) -> None:
            super().__init__()
            self.request_list = request_list
            self.request_id = request_id

    class Chosen(Message):
        """Enter on a request: open its detail."""

        def __init__(self, request_list: RequestList, request_id: str) -> None:
            super().__init__()
            self.request_list = request_list
            self.request_id = request_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
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
        """The listed requests by id, in the order they came (oldest first)."""
        self._order: list[str] = []
        """The listed ids, top row first: the rows."""
        self._rows_of: dict[str, int] | None = None
        """Id → row, made when first asked after the order changed."""
        self._cursor: str | None = None
        """The request under the cursor."""
        self._announced: str | None = None
        self._scale = Scale()
        """The time the Waterfall column spans: that of the rows on screen."""
        self._strips: dict[str, Strip] = {}
        """Drawn rows (not the cursor's) by request id, for ``_drawn_for``."""
        self._drawn_for: tuple[object, ...] = ()

    # -- the rows ------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows listed."""
        return len(self._order)

    @property
    def rows(self) -> dict[str, RequestRecord]:
        """The listed requests by id (``id in rows``: whether a request is listed)."""
        return self._records

    @property
    def order(self) -> list[str]:
        """The listed request ids, top row first."""
        return self._order

    @property
    def listed(self) -> list[RequestRecord]:
        """The requests listed (chips and display filter applied), top row first."""
        records = self._records
        return [records[request_id] for request_id in self._order]

    def record(self, request_id: str) -> RequestRecord | None:
        """A listed request's record as last applied (None: not listed)."""
        return self._records.get(request_id)

    def get_row_index(self, request_id: str) -> int:
        """The row of a listed request (KeyError if it is not listed)."""
        rows = self._rows_of
        if rows is None:
            rows = self._rows_of = {key: row for row, key in enumerate(self._order)}
        return rows[request_id]

    def get_row(self, request_id: str) -> list[Text]:
        """A listed request's cells as drawn, in column order (the Waterfall's bar too)."""
        return self._cells(self._records[request_id], 24)

    def get_row_at(self, row: int) -> list[Text]:
        """The cells of the request on ``row``."""
        return self.get_row(self._order[row])

    @property
    def shown_columns(self) -> tuple[str, ...]:
        """The column names shown at the list's width (for tests and the help)."""
        return tuple(name for name, _width in self._layout)

    @property
    def selected_id(self) -> str | None:
        """The request id under the cursor."""
        return self._cursor if self._cursor in self._records else None

    @property
    def cursor_row(self) -> int:
        """The cursor's row (0 when the list is empty)."""
        if self._cursor is None or self._cursor not in self._records:
            return 0
        return self.get_row_index(self._cursor)

    # -- what is listed ------------------------------------------------------------

    def _shown(self, record: RequestRecord) -> bool:
        """Whether the request is not cleared and the chips and display filter let it through."""
        return self._test()(record)

    def _test(self) -> Callable[[RequestRecord], bool]:
        """What ``_shown`` asks, made once for a pass over thousands of records: the type
        chip of each resource type is looked up once."""
        first_seq, chips, display_filter = self.first_seq, self.chips, self.display_filter
        type_chip, status_chip = chips.type, chips.status
        chip_of: dict[str, str] = {}

        def shown(record: RequestRecord) -> bool:
            if record.seq < first_seq:
                return False
            if type_chip != "All":
                kind = record.resource_type
                chip = chip_of.get(kind)
                if chip is None:
                    chip = chip_of[kind] = type_chip_of(kind)
                if chip != type_chip:
                    return False
            if status_chip != "All" and status_chip_of(record) != status_chip:
                return False
            return display_filter is None or display_filter.matches_fields(request_fields(record))

        return shown

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
        """List again the newest MAX_ROWS of ``records`` (oldest first) that are shown:
        one pass over the records, then the order (no row is drawn until on screen)."""
        chosen: list[RequestRecord] = []
        shown = self._test()
        for record in reversed(records):  # newest first: stop once the list is full
            if shown(record):
                chosen.append(record)
                if len(chosen) == MAX_ROWS:
                    break
        following = self.follow
        self._records = {record.id: record for record in reversed(chosen)}
        self._strips.clear()
        self._reorder(following=following)

    def clear_before(self, seq: int) -> None:
        """Leave out, now and from then on, every request made before ``seq`` (C, or a
        navigation without preserve log); what is left keeps its place."""
        self.first_seq = max(self.first_seq, seq)
        kept = {key: r for key, r in self._records.items() if r.seq >= self.first_seq}
        if len(kept) != len(self._records):
            following = self.follow or self._cursor not in kept
            self._records = kept
            self._reorder(following=following)

    def apply(self, changed: tuple[RequestRecord, ...], removed: tuple[str, ...]) -> None:
        """Add new requests, update known ones in place, drop removed ones."""
        at_end = self.follow and self._at_newest()
        records, strips = self._records, self._strips
        dropped = False
        shown = self._test()
        for request_id in removed:
            if records.pop(request_id, None) is not None:
                dropped = True
        appended: list[str] = []
        reorder = dropped
        for record in changed:
            strips.pop(record.id, None)
            if shown(record):
                if record.id not in records:
                    appended.append(record.id)
                records[record.id] = record  # a known id keeps its place
                reorder = reorder or self.sorted_view
            elif records.pop(record.id, None) is not None:
                reorder = True
        if len(records) > MAX_ROWS + SLACK:
            for request_id in list(records)[: len(records) - MAX_ROWS]:
                del records[request_id]
            reorder = True
        if reorder:
            self._reorder(following=at_end)
            return
        if appended:
            self._order.extend(appended)
            if self._rows_of is not None:
                start = len(self._order) - len(appended)
                self._rows_of.update((key, start + n) for n, key in enumerate(appended))
            self._resized()
        if at_end and self._order:
            self._move_to(self._newest(), follow=True)
        else:
            self.refresh()

    def _reorder(self, *, following: bool) -> None:
        """The rows again from the records: their order (sorted: O(n log n)), the cursor
        kept on its request (or on the newest when following or when it left)."""
        if self.sorted_view:
            key = SORT_KEYS[self.sort_column]
            ordered = sorted(self._records.values(), key=key, reverse=self.sort_reverse)
            self._order = [record.id for record in ordered]
        else:
            self._order = list(self._records)
        self._rows_of = None
        self._resized()
        if not self._order:
            self.follow = True  # an empty list follows what comes next
            self._cursor = self._announced = None
            self.refresh()
            return
        if following or self._cursor not in self._records:
            self._move_to(self._newest(), follow=following or self.follow)
        else:
            self._move_to(self._cursor, follow=False)

    def _resized(self) -> None:
        """The virtual size for the rows (and the header line)."""
        self.virtual_size = Size(self.size.width, len(self._order) + 1)

    def _newest(self) -> str:
        """The newest request listed (wherever the sort put it)."""
        return next(reversed(self._records))

    def _at_newest(self) -> bool:
        """Whether the cursor is on the newest request (or the list is empty)."""
        return not self._records or self._cursor == self._newest()

    # -- sorting -------------------------------------------------------------------

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
        self._drawn_for = ()  # the header's arrow
        self._reorder(following=self.follow)

    # -- the cursor and following (the packet list's rules) ---------------------------

    def _move_to(self, request_id: str, *, follow: bool, scroll: bool = True) -> None:
        """Put the cursor on a listed request, scroll it into view, announce it."""
        self._cursor = request_id
        self.follow = follow
        if scroll:
            self._scroll_to_row(self.get_row_index(request_id))
        self.refresh()
        if request_id != self._announced:
            self._announced = request_id
            self.post_message(self.Highlighted(self, request_id))

    def move_cursor(self, *, row: int, animate: bool = False, scroll: bool = True) -> None:
        """Put the cursor on ``row`` (clamped); anywhere but the newest holds the list."""
        del animate  # (DataTable's signature: the view never animates)
        if not self._order:
            return
        request_id = self._order[max(0, min(row, len(self._order) - 1))]
        following = self.follow and request_id == self._newest()
        self._move_to(request_id, follow=following, scroll=scroll)

    def select(self, request_id: str) -> bool:
        """Put the cursor on a listed request and hold the list there; False if not listed."""
        if request_id not in self._records:
            return False
        self._move_to(request_id, follow=False)
        return True

    def hold(self) -> None:
        """Stop following: the cursor stays on its request while new ones arrive."""
        self.follow = False

    def follow_newest(self) -> None:
        """Go to the newest request (wherever the sort put it) and follow new ones again."""
        if self._order:
            self._move_to(self._newest(), follow=True)
        self.follow = True

    @property
    def _page(self) -> int:
        """Rows a page moves: those on screen under the header, less one."""
        return max(1, self.scrollable_content_region.height - 2)

    def _scroll_to_row(self, row: int) -> None:
        """Scroll just enough for ``row`` to be on screen under the header."""
        top = round(self.scroll_offset.y)
        shown = max(1, self.scrollable_content_region.height - 1)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + shown:
            self.scroll_to(y=row - shown + 1, animate=False, immediate=True)

    def _step(self, rows: int) -> None:
        """Move the cursor by ``rows`` (held unless it lands on the newest while following)."""
        if not self._order:
            return
        self.move_cursor(row=self.cursor_row + rows)

    def action_cursor_up(self) -> None:
        """The first ↑ while following holds the list where it is; the next ones move."""
        if self.follow:
            self.hold()
            return
        self._step(-1)

    def action_cursor_down(self) -> None:
        """The next request."""
        self._step(1)

    def action_page_up(self) -> None:
        """A page up, holding the list."""
        self.hold()
        self._step(-self._page)

    def action_page_down(self) -> None:
        """A page down."""
        self._step(self._page)

    def action_scroll_top(self) -> None:
        """The first request, holding the list."""
        self.hold()
        self.move_cursor(row=0)

    def action_scroll_home(self) -> None:
        """The first request, holding the list."""
        self.action_scroll_top()

    def action_scroll_bottom(self) -> None:
        """The newest request, following again."""
        self.follow_newest()

    def action_scroll_end(self) -> None:
        """The newest request, following again."""
        self.follow_newest()

    def action_choose(self) -> None:
        """Enter: open the request's detail."""
        if self.selected_id is not None:
            self.post_message(self.Chosen(self, self.selected_id))

    def on_click(self, event: events.Click) -> None:
        """A click selects the request under the mouse and holds the list there."""
        row = round(self.scroll_offset.y) + event.y - 1
        if event.y >= 1 and 0 <= row < len(self._order):
            self.hold()
            self._move_to(self._order[row], follow=False)

    def on_resize(self, event: events.Resize) -> None:
        """Lay the columns out for the new width: the URL takes the room the others leave."""
        self._layout = layout(max(0, event.size.width - 2))  # the vertical scrollbar's columns
        self._strips.clear()
        self._resized()
        if self._cursor in self._records:
            self._scroll_to_row(self.get_row_index(self._cursor))

    def on_focus(self) -> None:
        """The cursor and the background change with focus: draw again."""
        self.refresh()

    def on_blur(self) -> None:
        """The cursor and the background change with focus: draw again."""
        self.refresh()

    # -- drawing -------------------------------------------------------------------

    def visible_records(self) -> list[RequestRecord]:
        """The requests whose rows are on screen, top to bottom."""
        first = round(self.scroll_offset.y)
        last = min(len(self._order), first + max(0, self.size.height - 1))
        records = self._records
        return [records[request_id] for request_id in self._order[first:last]]

    def render_lines(self, crop: Region) -> list[Strip]:
        """Scale the Waterfall to the rows on screen, then draw the lines asked for."""
        if "Waterfall" in self.shown_columns:
            scale = Scale.of(self.visible_records())
            if (scale.start, scale.span) != (self._scale.start, self._scale.span):
                self._scale = scale
        return super().render_lines(crop)

    def _check_drawn_for(self) -> None:
        """Empty the strip cache when what every row depends on changed."""
        drawn_for = (
            self._layout,
            self.scrollable_content_region.width,
            self.has_focus,
            self._scale.start,
            self._scale.span,
            self.app.theme,
            self.rich_style,
        )
        if drawn_for != self._drawn_for:
            self._drawn_for = drawn_for
            self._strips.clear()
        elif len(self._strips) > STRIP_CACHE:
            self._strips.clear()

    def render_line(self, y: int) -> Strip:
        """The header on the first line, then one row per request from the scroll offset."""
        self._check_drawn_for()
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return self._header(width)
        row = round(self.scroll_offset.y) + y - 1
        if row >= len(self._order) or width <= 0:
            return Strip.blank(width, base)
        request_id = self._order[row]
        record = self._records[request_id]
        if request_id == self._cursor:
            return self._row(record, width, cursor=True)
        strip = self._strips.get(request_id)
        if strip is None:
            strip = self._strips[request_id] = self._row(record, width, cursor=False)
        return strip

    def _label(self, name: str) -> str:
        """A column's title: the Waterfall's with its span, the sorted one with its arrow."""
        label = name
        if name == "Waterfall" and self._scale.span > 0:
            label = f"Waterfall {span_text(self._scale.span)}"
        return label

    def _arrow(self, name: str) -> str:
        """The sort's arrow after the sorted column's title (in its right padding)."""
        if name == self.sort_column and self.sorted_view:
            return "▼" if self.sort_reverse else "▲"
        return " "

    def _header(self, width: int) -> Strip:
        """The column titles, sized and spaced as the rows' cells."""
        style = self.rich_style + self.get_component_rich_style("request-list--header")
        segments: list[Segment] = []
        for column, (name, column_width) in enumerate(self._layout):
            cell_style = style + self._column_meta(column)
            label = self._fit(self._label(name), column_width, ellipsis=False)
            segments.append(Segment(f" {label}{self._arrow(name)}", cell_style))
        return Strip(segments).adjust_cell_length(width, style).simplify()

    @staticmethod
    def _column_meta(column: int) -> Style:
        """Which column a cell is in (as a DataTable marks its cells): cells apart, as
        they were, and a click could tell them apart."""
        return Style.from_meta({"column": column})

    @staticmethod
    def _fit(value: str, width: int, *, ellipsis: bool) -> str:
        """``value`` in ``width`` cells: cut (with an ellipsis), or padded."""
        if len(value) > width:
            return value[: max(0, width - 1)] + "…" if ellipsis and width > 0 else value[:width]
        return value.ljust(width)

    def _values(self, record: RequestRecord) -> list[tuple[str, str]]:
        """A request's cell texts and their styles, in column order (the Waterfall: "")."""
        key = status_key(record)
        colour = self.app.theme_variables.get(key, "") if key else ""
        pending = "dim italic" if unfinished(record) else ""
        url_width = dict(self._layout).get("URL", 0)
        values: list[tuple[str, str]] = []
        for name, _width in self._layout:
            if name == "#":
                values.append((str(record.seq), ""))
            elif name == "Method":
                values.append((record.method, ""))
            elif name == "Status":
                values.append((status_text(record), f"bold {colour}".strip()))
            elif name == "URL":
                values.append((url_text(record, url_width), colour if record.error else ""))
            elif name == "Type":
                values.append((record.resource_type, ""))
            elif name == "MIME":
                values.append((record.mime_type, ""))
            elif name == "Size":
                values.append((size_text(record), pending))
            elif name == "Time":
                values.append((time_text(record), pending))
            else:
                values.append(("", ""))
        return values

    def _cells(self, record: RequestRecord, waterfall_width: int) -> list[Text]:
        """A request's cells, styled, in column order (for tests and copies)."""
        cells = [Text(value, style=style) for value, style in self._values(record)]
        if "Waterfall" in self.shown_columns:
            cells[self.shown_columns.index("Waterfall")] = bar(record, self._scale, waterfall_width)
        return cells

    def _row(self, record: RequestRecord, width: int, *, cursor: bool) -> Strip:
        """One request's row: each cell one space each side, its text in its own style
        over the row's; the cursor's colours over every cell's, as a DataTable's row
        cursor (bold, dim and italic stay)."""
        base = self.rich_style
        parse = Style.parse
        segments: list[Segment] = []
        values = self._values(record)
        for column, ((name, column_width), (value, style)) in enumerate(
            zip(self._layout, values, strict=True)
        ):
            cell_style = base + self._column_meta(column)
            segments.append(Segment(" ", cell_style))
            if name == "Waterfall":
                drawn = bar(record, self._scale, column_width)
                segments.extend(Segment.apply_style(drawn.render(self.app.console), cell_style))
                segments.append(Segment(" " * (column_width - drawn.cell_len + 1), cell_style))
                continue
            fitted = self._fit(value, column_width, ellipsis=name in ELLIPSIS)
            text = fitted.rstrip(" ") if style else fitted
            if text:
                segments.append(Segment(text, cell_style + parse(style) if style else cell_style))
            segments.append(Segment(" " * (column_width - len(text) + 1), cell_style))
        if cursor:
            post = self.get_component_rich_style("request-list--cursor")
            segments = list(Segment.apply_style(segments, post_style=post))
            base = base + post
        return Strip(segments).adjust_cell_length(width, base).simplify()


ELLIPSIS = frozenset({"URL", "Type", "MIME"})
"""Columns whose overlong text ends in "…" (the others are cut)."""


__all__ = ["RequestList"]
