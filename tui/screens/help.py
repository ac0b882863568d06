"""The help screen: every key from the key table, and what the status bar means."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keys import KEYS, LIST_KEYS

STATUS_HELP = (
    "Status bar: source │ BPF filter │ packets/s │ packets and bytes captured │ "
    "packets the kernel dropped (the capture could not keep up) │ packets evicted from "
    "the buffer (the oldest, once the buffer is full) │ LIVE, PAUSED or an error, with "
    "FOLLOWING (the list moves to the newest) or HELD (it stays; End follows again) │ "
    "the browser and its requests, with [what --block, --throttle or --no-cache change] "
    "while on. Results of actions appear as notifications."
)
LAYOUT_HELP = (
    "Narrower than 120 columns one pane has the screen: v shows the other, whose count "
    "stays in the status bar. The pane with the keys has its title in the primary colour. "
    "Narrow packet lists leave out Time, Length, No., Destination, Source in that order; "
    "Protocol and Info stay."
)


def key_table() -> Table:
    """A two-column table of keys and what they do."""
    table = Table(show_header=True, header_style="bold", box=None, padding=(0, 2))
    table.add_column("Key", style="bold")
    table.add_column("What it does")
    for key in KEYS:
        table.add_row(key.display or key.key, key.help)
    for keys, text in LIST_KEYS:
        table.add_row(keys, text)
    return table


class HelpScreen(ModalScreen[None]):
    """A modal listing the keys; any of Esc, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 90;
        max-width: 100%;
        height: auto;
        max-height: 90%;
        border: round $accent;
        background: $surface;
        padding: 1 2;
    }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("[b]livetap keys[/b]\n")
            yield Static(key_table())
            yield Static("\n" + STATUS_HELP)
            yield Static("\n" + LAYOUT_HELP)

    async def action_dismiss(self, result: None = None) -> None:
        """Close the help."""
        self.dismiss(result)
