"""A followed stream's text, drawn line by line: only the rows on screen are rendered.

A 600 KB stream is tens of thousands of lines; one ``Static`` holding all of them
froze the UI for seconds (issue 18 #10). This is a Line-API view
(``ScrollView`` + ``render_line``, as ``textual.widgets.Log``): the lines are
prepared elsewhere (a worker thread), long lines are wrapped to the view's
width by index only, and each visible row is cut out of its line when drawn.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

Piece = tuple[str, int]
"""Text (one cell per character) and the node (0 or 1) that sent it."""
StreamLine = tuple[Piece, ...]


class StreamView(ScrollView, can_focus=True):
    """Lines of a stream, each piece coloured by the side that sent it; wraps long lines."""

    DEFAULT_CSS = """
    StreamView {
        height: 1fr;
        overflow-x: hidden;
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: Sequence[StreamLine] = ()
        self._lengths: Sequence[int] = ()
        self._longest = 0
        self._rows: list[tuple[int, int]] | None = None
        """(line, first column) of each row when some line wraps; None: row i is line i."""
        self._wrap = 0
        self._note = ""
        self._node_colours: tuple[str, str] = ("red", "blue")
        self._matches: dict[int, list[tuple[int, int, bool]]] = {}
        """Search matches by line: (first column, end column, is the current one)."""
        self._match_styles = (Style(reverse=True), Style(reverse=True, bold=True, underline=True))

    # -- what to show ------------------------------------------------------------------

    def set_colours(self, node0: str, node1: str) -> None:
        """The colours of the two sides (from the theme)."""
        self._node_colours = (node0, node1)
        self.refresh()

    def show_note(self, note: str) -> None:
        """One dim line instead of the stream (loading, preparing, nothing to show)."""
        self._note = note
        self._matches = {}
        self._lines, self._lengths, self._longest = (), (), 0
        self._rewrap(force=True)

    def show_lines(self, lines: Sequence[StreamLine], lengths: Sequence[int]) -> None:
        """Show prepared lines (``lengths[i]`` is the character count of line i)."""
        self._note = ""
        self._matches = {}
        self._lines, self._lengths = lines, lengths
        self._longest = max(lengths, default=0)
        self._rewrap(force=True)
        self.scroll_home(animate=False)

    def set_matches(
        self,
        matches: Sequence[tuple[int, int, int]],
        current: int | None,
        styles: tuple[Style, Style],
    ) -> None:
        """Highlight search matches, (line, first column, end column) each, and the
        current one (an index into ``matches``) in the second style; scroll to it."""
        self._match_styles = styles
        found: dict[int, list[tuple[int, int, bool]]] = {}
        for number, (line, start, end) in enumerate(matches):
            found.setdefault(line, []).append((start, end, number == current))
        self._matches = found
        if current is not None and 0 <= current < len(matches):
            line, start, _end = matches[current]
            row = self.row_of(line, start)
            height = self.scrollable_content_region.height
            if not self.scroll_offset.y <= row < self.scroll_offset.y + height:
                self.scroll_to(y=max(0, row - height // 3), animate=False)
        self.refresh()

    def row_of(self, line: int, column: int) -> int:
        """The row on which column ``column`` of line ``line`` is drawn."""
        rows = self._rows
        if rows is None:
            return line
        return max(0, bisect.bisect_right(rows, (line, column)) - 1)

    def line_texts(self) -> list[str]:
        """Each line's text (both sides' pieces joined), for searching."""
        return ["".join(text for text, _node in line) for line in self._lines]

    @property
    def line_count(self) -> int:
        """Lines held (not rows: a wrapped line takes several)."""
        return len(self._lines)

    @property
    def note(self) -> str:
        """The note shown instead of lines, or ''."""
        return self._note

    def plain_text(self) -> str:
        """Everything shown (or the note), as plain text: for tests and copying."""
        if self._note:
            return self._note
        return "\n".join("".join(text for text, _node in line) for line in self._lines)

    # -- layout and drawing ------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        """Wrap again for the new width."""
        self._rewrap()

    def _wrap_width(self) -> int:
        return max(1, self.size.width - self.styles.scrollbar_size_vertical)

    def _rewrap(self, force: bool = False) -> None:
        """Map rows to (line, column); cheap when no line is wider than the view."""
        width = self._wrap_width()
        if width == self._wrap and not force:
            return
        self._wrap = width
        if self._longest <= width:
            self._rows = None
            rows = len(self._lines) if not self._note else 1
        else:
            self._rows = [
                (index, start)
                for index, length in enumerate(self._lengths)
                for start in range(0, max(length, 1), width)
            ]
            rows = len(self._rows)
        self.virtual_size = Size(width, rows)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        """One row on screen: a slice of one line, in its senders' colours."""
        _scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if self._note:
            if row != 0:
                return Strip.blank(width, base)
            note = Segment(self._note, base + Style(dim=True, italic=True))
            return Strip([note]).extend_cell_length(width, base).crop(0, width)
        rows = self._rows
        if rows is None:
            if row >= len(self._lines):
                return Strip.blank(width, base)
            index, start = row, 0
        else:
            if row >= len(rows):
                return Strip.blank(width, base)
            index, start = rows[row]
        end = start + self._wrap
        styles = [base + Style(color=colour) for colour in self._node_colours]
        segments: list[Segment] = []
        position = 0
        matches = self._matches.get(index, ())
        for text, node in self._lines[index]:
            following = position + len(text)
            if following > start and position < end:
                first = max(start, position)
                piece = text[first - position : end - position]
                segments.extend(self._marked(piece, first, styles[node], matches))
            position = following
            if position >= end:
                break
        return Strip(segments).extend_cell_length(width, base).crop(0, width)

    def _marked(
        self, piece: str, column: int, style: Style, matches: Sequence[tuple[int, int, bool]]
    ) -> list[Segment]:
        """A piece starting at ``column`` of its line, cut where search matches begin and end."""
        if not matches:
            return [Segment(piece, style)]
        segments: list[Segment] = []
        position, stop = column, column + len(piece)
        for start, end, current in matches:
            if end <= position or start >= stop:
                continue
            if start > position:
                segments.append(Segment(piece[position - column : start - column], style))
                position = start
            upto = min(end, stop)
            marked = style + self._match_styles[1 if current else 0]
            segments.append(Segment(piece[position - column : upto - column], marked))
            position = upto
        if position < stop:
            segments.append(Segment(piece[position - column :], style))
        return segments
