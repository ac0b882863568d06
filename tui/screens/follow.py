"""A followed TCP stream (``s``): both directions of its payload, in two colours."""

from __future__ import annotations

from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from engine.analysis import FollowResult
from engine.analysis.follow import ascii_text, hex_lines


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
    FollowScreen #follow-body {
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("h", "toggle_hex", "Hex/ASCII"),
    ]

    def __init__(self, result: FollowResult) -> None:
        super().__init__()
        self.result = result
        self.mode = "ascii"

    def compose(self) -> ComposeResult:
        r = self.result
        sent = (len(r.bytes_from(0)), len(r.bytes_from(1)))
        title = (
            f"Follow TCP: {r.node0} ⇄ {r.node1} · {r.packets:,} packets · "
            f"{sent[0]:,} bytes from node 0, {sent[1]:,} from node 1"
        )
        with Vertical():
            yield Label(title, id="follow-title")
            with VerticalScroll(id="follow-body"):
                yield Static(id="follow-text")
            yield Footer()

    def on_mount(self) -> None:
        """Render the stream."""
        self._render_body()

    def action_toggle_hex(self) -> None:
        """Switch between ASCII and a hex dump."""
        self.mode = "hex" if self.mode == "ascii" else "ascii"
        self._render_body()

    def action_close(self) -> None:
        """Back to the packet list."""
        self.dismiss(None)

    def _render_body(self) -> None:
        variables = self.app.theme_variables
        styles = (
            Style(color=variables.get("error", "red")),
            Style(color=variables.get("primary", "blue")),
        )
        text = Text()
        offsets = [0, 0]
        for chunk in self.result.chunks:
            if self.mode == "ascii":
                shown = ascii_text(chunk.data).replace("\r\n", "\n").replace("\r", "")
                text.append(shown, style=styles[chunk.node])
            else:
                lines = hex_lines(chunk.data, offsets[chunk.node], "    " * chunk.node)
                offsets[chunk.node] += len(chunk.data)
                text.append("\n".join(lines) + "\n", style=styles[chunk.node])
        if not text.plain:
            text.append("The stream carried no payload.", style="dim")
        self.query_one("#follow-text", Static).update(text)
