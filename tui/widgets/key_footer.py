"""The footer: the keys that matter most first, and only whole keys that fit.

Textual's Footer lists every shown binding in table order and lets the line run
off the right edge, so at 80 columns Help and Quit were cut off. This one puts
``FOOTER_FIRST`` (Help, Quit, Other pane) first, then the rest in table order,
and leaves out the keys that do not fit whole; they stay in the help screen and
the command palette.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from tui.keys import FOOTER_FIRST

PALETTE_ROOM = 12
"""Columns kept free for the command palette key at the right ("^p palette")."""


def key_width(key: FooterKey) -> int:
    """Columns a footer key takes: its key, a space, its description, padding each side."""
    return len(key.key_display) + 1 + len(key.description) + 2


def rank(action: str) -> int:
    """Where an action goes in the footer: FOOTER_FIRST in order, then the rest."""
    return FOOTER_FIRST.index(action) if action in FOOTER_FIRST else len(FOOTER_FIRST)


class KeyFooter(Footer):
    """A Footer that orders its keys by importance and shows only the ones that fit.

    A screen may name actions to leave out (``footer_hidden``): keys for a part of the
    session that is missing (packets with --no-packets, the browser without --browser).
    """

    def __init__(self) -> None:
        super().__init__()
        self._width = 0

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        palette = [w for w in widgets if w.has_class("-command-palette")]
        hidden: frozenset[str] = getattr(self.screen, "footer_hidden", frozenset())
        keys = sorted(
            (
                w
                for w in widgets
                if isinstance(w, FooterKey) and w not in palette and w.action not in hidden
            ),
            key=lambda w: rank(w.action),
        )  # sorted() is stable: table order within a rank
        room = self.app.size.width - (PALETTE_ROOM if palette else 0)
        shown: list[FooterKey] = []
        for key in keys:
            room -= key_width(key)
            if room < 0:
                break
            shown.append(key)
        self.styles.grid_size_columns = len(shown)
        yield from shown
        yield from palette

    @property
    def shown_actions(self) -> tuple[str, ...]:
        """The actions of the keys on show, left to right (for tests)."""
        return tuple(
            key.action for key in self.query(FooterKey) if not key.has_class("-command-palette")
        )

    def on_resize(self, event: events.Resize) -> None:
        """Another width may fit more or fewer keys."""
        if event.size.width != self._width:
            self._width = event.size.width
            self.call_after_refresh(self.recompose)
