"""A followed TCP stream (``s``): both directions of its payload, in two colours.

The screen opens at once with a loading note; the stream is reassembled and its
lines (ASCII or hex) are prepared in a worker thread that posts the result, and a
Line-API view draws only the rows on screen. So a stream of hundreds of kilobytes
opens, and switches to hex, without freezing the UI (issue 18 #10).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.style import Style
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label

from engine.analysis import FollowResult
from engine.analysis.follow import ascii_text, hex_lines
from engine.errors import LivetapError
from tui.widgets.stream_view import StreamLine, StreamView

MODES = ("ascii", "hex")


def ascii_stream_lines(result: FollowResult) -> list[StreamLine]:
    """The stream as text lines; a line may hold pieces from both sides (any thread)."""
    lines: list[list[tuple[str, int]]] = [[]]
    for chunk in result.chunks:
        shown = ascii_text(chunk.data).replace("\r\n", "\n").replace("\r", "")
        for number, part in enumerate(shown.split("\n")):
            if number:
                lines.append([])
            if part:
                lines[-1].append((part, chunk.node))
    if not lines[-1]:
        lines.pop()  # the stream ended with a newline
    return [tuple(line) for line in lines]


def hex_stream_lines(result: FollowResult) -> list[StreamLine]:
    """tshark's follow hex dump, node 1's rows indented (any thread)."""
    lines: list[StreamLine] = []
    offsets = [0, 0]
    for chunk in result.chunks:
        for line in hex_lines(chunk.data, offsets[chunk.node], "    " * chunk.node):
            lines.append(((line, chunk.node),))
        offsets[chunk.node] += len(chunk.data)
    return lines


PREPARE: dict[str, Callable[[FollowResult], list[StreamLine]]] = {
    "ascii": ascii_stream_lines,
    "hex": hex_stream_lines,
}


MAX_MATCHES = 10_000
"""Search matches highlighted at most (the count says when there are more)."""


def find_matches(lines: list[str], query: str) -> list[tuple[int, int, int]]:
    """Where ``query`` occurs (any case) in the lines: (line, start, end), in order."""
    needle = query.lower()
    found: list[tuple[int, int, int]] = []
    if not needle:
        return found
    for number, line in enumerate(lines):
        text = line.lower()
        position = text.find(needle)
        while position >= 0:
            found.append((number, position, position + len(needle)))
            if len(found) >= MAX_MATCHES:
                return found
            position = text.find(needle, position + len(needle))
    return found


class FollowScreen(ModalScreen[str | None]):
    """A followed TCP stream: node 0's data in one colour, node 1's in another.

    ``/`` searches the stream as you type (any case; Enter in the box or ``n``: the
    next match, ``N``: the previous one; the current one is marked apart). ``f`` closes
    it with the display filter ``tcp.stream == N``: Wireshark applies that filter as the
    stream opens; here the user asks for it, so following a stream never replaces the
    filter they had. ``X`` closes it with ``!(tcp.stream == N)`` (Wireshark's "Filter
    Out This Stream").
    """

    DEFAULT_CSS = """
    FollowScreen {
        align: center middle;
    }
    FollowScreen > Vertical {
        width: 95%;
        height: 90%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    FollowScreen #follow-title {
        text-style: bold;
        color: $accent;
    }
    FollowScreen #follow-search-bar { height: 1; display: none; }
    FollowScreen #follow-search-bar.-open { display: block; }
    FollowScreen #follow-search { width: 1fr; height: 1; border: none; padding: 0 1; }
    FollowScreen #follow-matches { width: auto; height: 1; padding: 0 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("h", "toggle_hex", "Hex/ASCII"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next", show=False),
        Binding("N", "previous_match", "Previous", show=False),
        Binding("f", "filter_stream", "Filter stream"),
        Binding("X", "filter_out_stream", "Filter out", show=False),
    ]

    class Loaded(Message):
        """The stream was reassembled (posted from the worker thread)."""

        def __init__(self, result: FollowResult) -> None:
            super().__init__()
            self.result = result

    class Failed(Message):
        """The stream could not be followed (posted from the worker thread)."""

        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    class Prepared(Message):
        """The lines of one mode are ready (posted from the worker thread)."""

        def __init__(self, mode: str, lines: list[StreamLine], lengths: list[int]) -> None:
            super().__init__()
            self.mode = mode
            self.lines = lines
            self.lengths = lengths

    def __init__(
        self, load: Callable[[], FollowResult], conversation: str, stream: int | None = None
    ) -> None:
        """``load`` reassembles the stream; it runs in a worker thread, never on the UI.
        ``stream`` is its ``tcp.stream`` number, when the stream analysis knows it."""
        super().__init__()
        self._load = load
        self.conversation = conversation
        self.stream = stream
        self.query_text = ""
        self.matches: list[tuple[int, int, int]] = []
        self.current: int | None = None
        """The match under the cursor (an index into :attr:`matches`)."""
        self.result: FollowResult | None = None
        self.mode = "ascii"
        self._prepared: dict[str, tuple[list[StreamLine], list[int]]] = {}
        self._preparing: set[str] = set()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Follow TCP: {self.conversation}", id="follow-title")
            yield StreamView(id="follow-body")
            with Horizontal(id="follow-search-bar"):
                yield Input(placeholder="search the stream (any case)", id="follow-search")
                yield Label("", id="follow-matches")
            yield Footer()

    @property
    def view(self) -> StreamView:
        """The stream's text."""
        return self.query_one(StreamView)

    @property
    def loaded(self) -> bool:
        """True once the shown mode's lines are on screen."""
        return self.result is not None and self.mode in self._prepared

    def on_mount(self) -> None:
        """Show the loading note and start reassembling in a thread."""
        variables = self.app.theme_variables
        self.view.set_colours(variables.get("error", "red"), variables.get("primary", "blue"))
        self.view.show_note("Reassembling the stream from the buffered packets…")
        self._reassemble()

    @work(thread=True, exclusive=True, group="follow-load")
    def _reassemble(self) -> None:
        """Reassemble, then prepare the ASCII lines, off the UI thread."""
        try:
            result = self._load()
        except LivetapError as error:
            self.post_message(self.Failed(error.message))
            return
        self.post_message(self.Loaded(result))

    def on_follow_screen_loaded(self, message: Loaded) -> None:
        """Say what the stream is, then show it in the chosen mode."""
        r = self.result = message.result
        sent = (len(r.bytes_from(0)), len(r.bytes_from(1)))
        title = (
            f"Follow TCP: {r.node0} ⇄ {r.node1} · {r.packets:,} packets · "
            f"{sent[0]:,} bytes from node 0, {sent[1]:,} from node 1"
        )
        self.query_one("#follow-title", Label).update(title)
        self._show()

    def on_follow_screen_failed(self, message: Failed) -> None:
        """Nothing to follow: say why where the stream would be."""
        self.view.show_note(message.reason)

    def on_follow_screen_prepared(self, message: Prepared) -> None:
        """Keep the lines of a mode; show them if that mode is still the one asked for."""
        self._preparing.discard(message.mode)
        self._prepared[message.mode] = (message.lines, message.lengths)
        if message.mode == self.mode:
            self._show()

    def _show(self) -> None:
        """The current mode's lines, or a note while they are prepared in a thread."""
        if self.result is None:
            return
        prepared = self._prepared.get(self.mode)
        if prepared is None:
            what = "hex dump" if self.mode == "hex" else "text"
            self.view.show_note(f"Preparing the {what}…")
            if self.mode not in self._preparing:
                self._preparing.add(self.mode)
                self._prepare(self.result, self.mode)
            return
        lines, lengths = prepared
        if not lines:
            self.view.show_note("The stream carried no payload.")
            return
        self.view.show_lines(lines, lengths)
        if self.query_text:
            self._search(self.query_text)

    @work(thread=True, group="follow-prepare")
    def _prepare(self, result: FollowResult, mode: str) -> None:
        """Build one mode's lines off the UI thread and post them."""
        lines = PREPARE[mode](result)
        lengths = [sum(len(text) for text, _node in line) for line in lines]
        self.post_message(self.Prepared(mode, lines, lengths))

    def action_toggle_hex(self) -> None:
        """Switch between ASCII and a hex dump."""
        self.mode = "hex" if self.mode == "ascii" else "ascii"
        self._show()

    def action_close(self) -> None:
        """Close the search bar when it has the focus, else go back to the packet list."""
        search = self.query_one("#follow-search", Input)
        if search.has_focus:
            self.query_one("#follow-search-bar").remove_class("-open")
            self.view.focus()
            return
        self.dismiss(None)

    # -- search ------------------------------------------------------------------------

    def action_search(self) -> None:
        """Open the search bar (it keeps the last search)."""
        self.query_one("#follow-search-bar").add_class("-open")
        self.query_one("#follow-search", Input).focus()

    def on_input_changed(self, message: Input.Changed) -> None:
        """Search as the user types."""
        self._search(message.value)

    def on_input_submitted(self, message: Input.Submitted) -> None:
        """Enter: the next match (the focus stays in the box for more Enters)."""
        if message.value != self.query_text:
            self._search(message.value)
        else:
            self.action_next_match()

    def _search(self, query: str) -> None:
        """Find every match in the shown lines; the current one is the first on screen or
        after it."""
        self.query_text = query
        view = self.view
        self.matches = find_matches(view.line_texts(), query) if self.loaded else []
        self.current = None
        if self.matches:
            top = view.scroll_offset.y
            rows = [view.row_of(line, start) for line, start, _end in self.matches]
            self.current = next((n for n, row in enumerate(rows) if row >= top), 0)
        self._show_matches()

    def _show_matches(self) -> None:
        theme = self.app.theme_variables
        found = Style(bgcolor=theme.get("warning", "yellow"), color="black")
        current = Style(bgcolor=theme.get("accent", "magenta"), color="black", bold=True)
        self.view.set_matches(self.matches, self.current, (found, current))
        label = self.query_one("#follow-matches", Label)
        if not self.query_text:
            label.update("")
        elif not self.matches:
            label.update("no match")
        else:
            more = "+" if len(self.matches) >= MAX_MATCHES else ""
            label.update(
                f"{(self.current or 0) + 1:,} of {len(self.matches):,}{more} · n next · N previous"
            )

    def action_next_match(self) -> None:
        """The next match (after the last: the first)."""
        self._step(1)

    def action_previous_match(self) -> None:
        """The previous match (before the first: the last)."""
        self._step(-1)

    def _step(self, by: int) -> None:
        if not self.matches:
            if not self.query_text:
                self.action_search()
            return
        self.current = ((self.current or 0) + by) % len(self.matches)
        self._show_matches()

    # -- the display filter ------------------------------------------------------------

    def action_filter_stream(self) -> None:
        """Close with the display filter ``tcp.stream == N`` (only this stream's packets)."""
        if self.stream is None:
            self.notify("the stream number is not known yet", severity="warning")
            return
        self.dismiss(f"tcp.stream == {self.stream}")

    def action_filter_out_stream(self) -> None:
        """Close with ``!(tcp.stream == N)``: every packet but this stream's."""
        if self.stream is None:
            self.notify("the stream number is not known yet", severity="warning")
            return
        self.dismiss(f"!(tcp.stream == {self.stream})")
