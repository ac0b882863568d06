"""The packet list: a Line-API view over the engine's ring buffer.

It renders only the visible rows, straight from the ring (no copy of the
packets), caches the rendered strips, follows the newest packet while the view
is at the end, and keeps the user's place when old packets are evicted.
A DataTable cannot keep up with a live feed (see ../shared/notes/textual.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from engine.events import PacketSummary
from engine.packet_marks import PacketMarks
from engine.process.procfs import ProcessInfo
from themes import PROTOCOL_KEYS
from tui.formatting import header_text, protocol_key
from tui.packet_look import PacketLook
from tui.widgets.packet_rows import PacketRows, SortedRows

PacketGetter = Callable[[int], PacketSummary | None]
ProcessGetter = Callable[[int], ProcessInfo | None]
"""A packet's index → the program it was tied to when captured (None: not attributed)."""
MARK_GLYPH = "●"
"""In front of a marked packet's row (m), besides its style."""


class PacketListHeader(Static):
    """The column titles above the packet list, sized like its rows."""

    DEFAULT_CSS = """
    PacketListHeader {
        height: 1;
        background: $panel;
        color: $text-muted;
        text-style: bold;
    }
    """

    def __init__(
        self,
        inputs: bool = False,
        processes: bool = False,
        *,
        look: PacketLook,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.look = look
        """The columns and the time format the rows have."""
        self.inputs = inputs
        """Several inputs are read: the Input column is shown."""
        self.processes = processes
        """Packets are tied to programs: the Process column is shown (if there is room)."""

    def on_resize(self, event: events.Resize) -> None:
        """Re-align the titles with the rows (the list has a scrollbar column)."""
        self.relayout()

    def relayout(self) -> None:
        """Titles for the columns and time format shown now."""
        layout = self.look.layout(max(0, self.size.width - 1), self.inputs, self.processes)
        self.update(header_text(layout, self.look.sort))


class PacketList(ScrollView, can_focus=True):
    """Scrollable list of packet summaries, coloured by protocol."""

    DEFAULT_CSS = """
    PacketList {
        background: $surface;
        overflow-x: hidden;
        overflow-y: scroll;
        scrollbar-size-vertical: 1;
    }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end", "last", "Newest", show=False),
    ]

    class Selected(Message):
        """The cursor moved to another packet."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(
        self,
        get_packet: PacketGetter,
        rows: PacketRows,
        *,
        notes: Callable[[int], str] | None = None,
        inputs: bool = False,
        processes: ProcessGetter | None = None,
        look: PacketLook,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._get = get_packet
        self.look = look
        """Columns, time format and references, colouring rules (tui/packet_look.py)."""
        self._notes = notes
        """Wireshark's TCP analysis notes for a packet (``[TCP Retransmission] ``), when
        already computed: put in front of its Info."""
        self.inputs = inputs
        """Several inputs are read: the Input column (frame.source) is shown."""
        self._processes = processes
        """Where each packet's program is read (a live capture that attributes): the
        Process column is shown."""
        self.rows = rows
        self._trimmed = rows.trimmed
        self._count = 0
        self._paused_at = 0
        """Index of the newest packet shown when the view was paused."""
        self.cursor: int | None = None
        self.follow = True
        """Scroll to each new packet (on while the view is at the end)."""
        self.paused = False
        self._styles: dict[str, Style] = {}
        self._base_style = Style()
        self._cursor_style = Style(reverse=True)
        self._mark_style = Style(bold=True)
        self._rule_styles: dict[str, Style] = {}
        self.marks: frozenset[int] = frozenset()
        """Packets highlighted as one group (e.g. a browser request's connection)."""
        self.user_marks: PacketMarks | None = None
        """The packets the user marked (m): drawn with MARK_GLYPH and the marked style."""
        self._marked_style = Style(reverse=True)
        self._cache: LRUCache[tuple[int, int, bool], Strip] = LRUCache(2048)

    # -- feeding -------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows in the view (up to the newest packet shown while paused)."""
        return self._count

    @property
    def last_shown(self) -> int:
        """Index of the newest packet in the view (frozen while paused)."""
        index = self.rows.index_at(self._count - 1) if self._count else None
        return index or 0

    def set_rows(self, rows: PacketRows) -> None:
        """Show other rows (a display filter was set or cleared); follow the newest again."""
        self.rows = rows
        self._trimmed = rows.trimmed
        self.follow = not self.paused
        self._cache.clear()
        self.refresh_rows()
        if self.cursor is not None and rows.row_of(self.cursor) is not None:
            self._scroll_to_row(rows.row_of(self.cursor) or 0)

    def refresh_rows(self) -> None:
        """Take in new and evicted rows: grow, shift and follow."""
        rows = self.rows
        shift = rows.trimmed - self._trimmed
        self._trimmed = rows.trimmed
        self._count = rows.rows_up_to(self._paused_at) if self.paused else len(rows)
        self.virtual_size = Size(self.size.width, self._count)
        if self.follow and not self.paused:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif shift > 0:
            self.scroll_to(y=max(0, self.scroll_offset.y - shift), animate=False, immediate=True)
        self.refresh()

    def set_paused(self, paused: bool) -> None:
        """Freeze the view at the newest packet shown, or let it move again."""
        if paused:
            self._paused_at = self.last_shown
        self.paused = paused
        if not paused:
            self.follow = self.follow or self.cursor is None

    # -- looks ---------------------------------------------------------------------

    def on_mount(self) -> None:
        """Take the protocol colours from the theme, now and whenever it changes."""
        self._load_styles()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._load_styles())

    def _load_styles(self) -> None:
        """Build one Rich style per protocol colour of the current theme."""
        variables = self.app.theme_variables
        # Rows paint the theme's surface: a light theme on a dark terminal stays light.
        self._base_style = Style(
            color=variables.get("foreground", "default"),
            bgcolor=variables.get("surface", "default"),
        )
        self._styles = {
            key: self._base_style + Style(color=variables.get(f"proto-{key}", "default"))
            for key in PROTOCOL_KEYS
        }
        self._rule_styles = {
            name: Style(bgcolor=variables[name])
            for name in self.look.colouring.colours
            if name in variables
        }
        self._cursor_style = Style(
            color=variables.get("background", "black"),
            bgcolor=variables.get("accent", "white"),
            bold=True,
        )
        self._mark_style = Style(
            bgcolor=variables.get("panel", "grey23"), bold=True, underline=True
        )
        self._marked_style = Style(
            color=variables.get("background", "black"),
            bgcolor=variables.get("secondary", "white"),
        )
        self._cache.clear()
        self.refresh()

    def set_marks(self, indices: frozenset[int]) -> None:
        """Highlight a group of packets (an empty set clears it)."""
        self.marks = indices
        self._cache.clear()
        self.refresh()

    def marks_changed(self) -> None:
        """The user marked, unmarked or ignored packets: draw the rows again."""
        self._cache.clear()
        self.refresh()

    def notes_changed(self) -> None:
        """More packets were analysed: rows drawn without their notes are drawn again."""
        self._cache.clear()
        self.refresh()

    def look_changed(self) -> None:
        """The time format, a time reference, the columns or the colouring changed."""
        self._cache.clear()
        self._load_styles()

    def render_line(self, y: int) -> Strip:
        """One visible row, from the ring, through the strip cache."""
        # The scrollbar takes the last column: a row as wide as the whole widget would be
        # cut there by the compositor on every paint (and filled rich's split cache).
        width = self.scrollable_content_region.width
        row = self.scroll_offset.y + y
        index = self.rows.index_at(row) if row < self._count else None
        if index is None or width <= 0:
            return Strip.blank(width, self._base_style)
        selected = index == self.cursor
        key = (index, width, selected)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(index, width, selected)
            self._cache[key] = strip
        return strip

    def _render_row(self, index: int, width: int, selected: bool) -> Strip:
        """Format one packet; a packet evicted meanwhile renders as a note."""
        packet = self._get(index)
        if packet is None:
            text = f"{index:>7} (no longer in the buffer)"
            style = self._base_style + Style(dim=True)
        else:
            notes = self._notes(index) if self._notes is not None else ""
            if notes:
                packet = replace(packet, info=notes + packet.info)
            processes = self._processes
            look = self.look
            layout = look.layout(width, self.inputs, processes is not None)
            owner = processes(index) if processes is not None and layout.process else None
            label = owner.label if owner is not None else "—"
            text = look.row(packet, self._previous_time(index), layout, label)
            style = self._styles.get(protocol_key(packet.protocol), self._base_style)
            rule = look.colouring.rule_for(packet)
            if rule is not None and rule.colour in self._rule_styles:
                style = style + self._rule_styles[rule.colour]
            if index in self.marks:
                style = style + self._mark_style
        if selected:
            style = self._cursor_style
        text = text[:width].ljust(width)
        marks = self.user_marks
        if marks is not None and marks.is_marked(index):
            return self._marked_row(text, style, selected, width)
        return Strip([Segment(text, style)], width)

    def _marked_row(self, text: str, style: Style, selected: bool, width: int) -> Strip:
        """A marked packet's row: MARK_GLYPH in its first column (a space, before the
        number), in the marked style (the cursor's when selected, the glyph still shown)."""
        if not selected:
            style = self._marked_style + Style(bold=True)
        glyph = MARK_GLYPH if text[:1] == " " else text[:1]
        return Strip([Segment(glyph + text[1:], style)], width)

    def _previous_time(self, index: int) -> float | None:
        """The previous row's timestamp, when the time format counts from it."""
        if not self.look.needs_previous:
            return None
        rows = self.rows.base if isinstance(self.rows, SortedRows) else self.rows
        row = rows.row_of(index)  # in arrival order, also while sorted (as Wireshark)
        before = rows.index_at(row - 1) if row else None
        packet = self._get(before) if before is not None else None
        return packet.timestamp if packet is not None else None

    # -- moving --------------------------------------------------------------------

    def select(self, index: int) -> None:
        """Put the cursor on a packet (or the nearest row shown), scroll to it, announce it.

        Selecting never turns following on (only End does): a selection is held.
        """
        if self._count == 0:
            return
        row = self.rows.row_of(index)
        if row is None or row >= self._count:
            row = min(max(0, self.rows.rows_up_to(index) - 1), self._count - 1)
        chosen = self.rows.index_at(row)
        if chosen is None:
            return
        self.cursor = chosen
        self._scroll_to_row(row)
        self._cache.clear()
        self.refresh()
        self.post_message(self.Selected(chosen))

    def hold(self) -> None:
        """Stop following: the view stays where it is while packets keep arriving."""
        self.follow = False

    def _scroll_to_row(self, row: int) -> None:
        """Scroll just enough for ``row`` to be visible."""
        top, height = self.scroll_offset.y, self.scrollable_content_region.height
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)

    def _cursor_row(self) -> int | None:
        """The cursor's row, if the cursor is on a shown packet."""
        if self.cursor is None:
            return None
        row = self.rows.row_of(self.cursor)
        return row if row is not None and row < self._count else None

    def _bottom_row(self) -> int:
        """The last row in view (the newest, while following)."""
        bottom = self.scroll_offset.y + self.scrollable_content_region.height - 1
        return min(self._count - 1, bottom)

    def action_cursor(self, step: int) -> None:
        """Move the selection by ``step`` rows; going up while following holds the list.

        The first ↑ (or PgUp) while following selects the newest row in view and stops
        there, so the row under the eye does not run away; the next ones move.
        """
        if self._count == 0:
            return
        following = self.follow and not self.paused
        if step < 0:
            self.hold()
        row = self._cursor_row()
        if following and step < 0:
            row = self._bottom_row() + (step + 1 if step < -1 else 0)
            row = max(0, row)
        elif row is None:
            row = self._bottom_row() if step < 0 else self.scroll_offset.y
        else:
            row = max(0, min(row + step, self._count - 1))
        index = self.rows.index_at(row)
        if index is not None:
            self.select(index)

    def action_page(self, direction: int) -> None:
        """Move the selection by a page."""
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 1))

    def action_first(self) -> None:
        """Select the oldest packet shown (and hold the list there)."""
        self.hold()
        index = self.rows.index_at(0) if self._count else None
        if index is not None:
            self.select(index)

    def action_last(self) -> None:
        """Select the newest packet and follow new ones again."""
        if self._count:
            self.select(self.last_shown)
        self.follow = not self.paused
        self.scroll_end(animate=False, immediate=True, x_axis=False)

    def on_click(self, event: events.Click) -> None:
        """Select the packet under the mouse, and hold the list there."""
        row = self.scroll_offset.y + event.y
        index = self.rows.index_at(row) if row < self._count else None
        if index is not None:
            self.hold()
            self.select(index)

    def watch_scroll_y(self, old: float, new: float) -> None:
        """Scrolling away from the end holds the list; scrolling back there follows again,
        unless a packet is selected (a selection is held until End)."""
        super().watch_scroll_y(old, new)
        if new >= self.max_scroll_y:
            if self.cursor is None:
                self.follow = self.follow or not self.paused  # at the end (also when clamped)
        elif new < old:
            self.follow = False
