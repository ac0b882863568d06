"""Apply as Filter / Prepare as Filter (Enter or A on a field of the packet's layers).

Wireshark's two menus on a field: *Apply* sets the display filter at once, *Prepare*
puts it in the display-filter prompt to edit first; each as the field alone, negated, or
joined to the filter applied now with ``and``, ``or``, ``and not``, ``or not``
(:func:`engine.display_filter.prepare.combine`). The screen answers ``(mode, text)``.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from engine.display_filter.prepare import COMBINATIONS, combine

LABELS = {
    "": "Selected",
    "not": "Not selected",
    "and": "… and selected",
    "or": "… or selected",
    "and not": "… and not selected",
    "or not": "… or not selected",
}
"""Wireshark's words for the six ways (its Apply as Filter submenu)."""


def choices(selected: str, current: str) -> list[tuple[str, str, str]]:
    """(mode, label, resulting filter) for each menu entry; the ``and``/``or`` ones only
    when a filter is applied (without one they would repeat the first two)."""
    ways = COMBINATIONS if current.strip() else ("", "not")
    return [
        (mode, LABELS[how], combine(current, selected, how))
        for mode in ("apply", "prepare")
        for how in ways
    ]


class ApplyFilterMenu(ModalScreen[tuple[str, str] | None]):
    """The field's filter, applied or prepared, alone or joined to the current one."""

    DEFAULT_CSS = """
    ApplyFilterMenu { align: center middle; }
    ApplyFilterMenu > Vertical {
        width: 90%; max-width: 110; height: auto;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ApplyFilterMenu OptionList { height: auto; max-height: 16; }
    ApplyFilterMenu Static.hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, selected: str, current: str) -> None:
        super().__init__()
        self.selected = selected
        self.current = current
        self.entries = choices(selected, current)

    def compose(self) -> ComposeResult:
        options: list[Option | None] = []
        for number, (mode, label, text) in enumerate(self.entries):
            if number and mode != self.entries[number - 1][0]:
                options.append(None)
            line = Text.assemble((f"{mode.capitalize():8}", "bold"), f"{label:20} ", text)
            options.append(Option(line, id=str(number)))
        with Vertical():
            yield Static(Text.assemble(("Filter on ", "bold"), self.selected))
            yield Static(
                "Apply sets the display filter now · Prepare opens it in the prompt · Esc",
                classes="hint",
            )
            yield OptionList(*options, id="apply-filter-choices")

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        """The chosen way: (mode, filter text)."""
        mode, _label, text = self.entries[int(message.option.id or 0)]
        self.dismiss((mode, text))
