"""A followed TCP stream (``s``): both directions of its payload, in two colours.

The screen opens at once with a loading note; the stream is reassembled and its
lines (ASCII or hex) are prepared in a worker thread that posts the result, and a
Line-API view draws only the rows on screen. So a stream of hundreds of kilobytes
opens, and switches to hex, without freezing the UI (issue 18 #10).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, Label

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


class FollowScreen(ModalScreen[None]):
    """A followed TCP stream: node 0's data in one colour, node 1's in another."""

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
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("h", "toggle_hex", "Hex/ASCII"),
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

    def __init__(self, load: Callable[[], FollowResult], conversation: str) -> None:
        """``load`` reassembles the stream; it runs in a worker thread, never on the UI."""
        super().__init__()
        self._load = load
        self.conversation = conversation
        self.result: FollowResult | None = None
        self.mode = "ascii"
        self._prepared: dict[str, tuple[list[StreamLine], list[int]]] = {}
        self._preparing: set[str] = set()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Follow TCP: {self.conversation}", id="follow-title")
            yield StreamView(id="follow-body")
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
        """Back to the packet list."""
        self.dismiss(None)
