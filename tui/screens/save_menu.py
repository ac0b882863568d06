"""Which packets ``w`` saves: all, the displayed, the marked or a range (a small menu).

Wireshark's Export Specified Packets, cut to what a terminal needs: the menu says how
many packets each choice writes, a range is asked next (``1-100,250``), then the file
name. Ignored packets are never written (the note after saving says how many were left
out).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from engine.errors import LivetapError
from engine.packet_range import parse_range
from tui.screens.prompts import Apply, Prompt


@dataclass(frozen=True, slots=True)
class SaveCounts:
    """How many packets each choice would write (ignored ones left out)."""

    all: int
    displayed: int | None
    """None: no display filter (the same as all)."""
    marked: int
    ignored: int


class SaveMenu(ModalScreen[str | None]):
    """All, displayed, marked or a range: dismissed with the choice's name."""

    DEFAULT_CSS = """
    SaveMenu { align: center middle; }
    SaveMenu > Vertical {
        width: 56; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    SaveMenu OptionList { height: auto; }
    """
    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, counts: SaveCounts) -> None:
        super().__init__()
        self.counts = counts

    def compose(self) -> ComposeResult:
        counts = self.counts
        displayed = (
            "Displayed (no display filter: all)"
            if counts.displayed is None
            else f"Displayed by the display filter ({counts.displayed:,})"
        )
        ignored = f"; {counts.ignored:,} ignored left out" if counts.ignored else ""
        with Vertical():
            yield Static("[b]Save which packets?[/b]")
            yield Static(f"[dim]to pcap or pcapng (by the name){ignored}[/dim]")
            yield OptionList(
                Option(f"All buffered ({counts.all:,})", id="all"),
                Option(displayed, id="displayed"),
                Option(f"Marked ({counts.marked:,})", id="marked", disabled=not counts.marked),
                Option("A range of numbers… (e.g. 1-100,250)", id="range"),
                id="save-which",
            )

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        """The chosen set's name."""
        self.dismiss(message.option.id)

    async def action_dismiss(self, result: str | None = None) -> None:
        """Close without saving."""
        self.dismiss(result)


def range_prompt(apply: Apply, first: int, last: int) -> Prompt:
    """Ask for the packet numbers to save (``1-100,250,300-``)."""

    def validate(text: str) -> str | None:
        try:
            parse_range(text)
        except LivetapError as error:
            return error.message
        return None

    return Prompt(
        "Save a range of packets",
        "",
        f"Numbers and ranges, by commas: 1-100,250,300- (to the end).  Buffered: "
        f"{first:,}–{last:,}.  Enter goes on to the file name, Esc cancels.",
        apply,
        placeholder="e.g. 1-100,250",
        validate=validate,
    )
