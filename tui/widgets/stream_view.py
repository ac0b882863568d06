"""A followed stream's text, drawn line by line: only the rows on screen are rendered.

A 600 KB stream is tens of thousands of lines; one ``Static`` holding all of them
froze the UI for seconds (issue 18 #10). This is a Line-API view
(``ScrollView`` + ``render_line``, as ``textual.widgets.Log``): the lines are
prepared elsewhere (a worker thread), long lines are wrapped to the view's
width by index only, and each visible row is cut out of its line when drawn.
"""

from __future__ import annotations

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

    # -- what to show ------------------------------------------------------------------

    def set_colours(self, node0: str, node1: str) -> None:
        """The colours of the two sides (from the theme)."""
        self._node_colours = (node0, node1)
        self.refresh()

    def show_note(self, note: str) -> None:
        """One dim line instead of the stream (loading, preparing, nothing to show)."""
        self._note = note
        self._lines, self._lengths, self._longest = (), (), 0
        self._rewrap(force=True)

    def show_lines(self, lines: Sequence[StreamLine], lengths: Sequence[int]) -> None:
        """Show prepared lines (``lengths[i]`` is the character count of line i)."""
        self._note = ""
        self._lines, self._lengths = lines, lengths
        self._longest = max(lengths, default=0)
        self._rewrap(force=True)
        self.scroll_home(animate=False)

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
        for text, node in self._lines[index]:
            following = position + len(text)
            if following > start and position < end:
                piece = text[max(0, start - position) : end - position]
                segments.append(Segment(piece, styles[node]))
            position = following
            if position >= end:
                break
        return Strip(segments).extend_cell_length(width, base).crop(0, width)
