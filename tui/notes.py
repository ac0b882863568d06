"""How long a notification stays, by kind: a result, something that could not be done, an error.

The screen and both panes tell the user through these, so every "saved", "select a
packet first" and "capture stopped" reads and lasts the same wherever it comes from.
"""

from __future__ import annotations

from textual.dom import DOMNode

NOTE_SECONDS = 6.0
WARNING_SECONDS = 8.0
ERROR_SECONDS = 12.0
"""How long notifications stay: results, things that could not be done, errors."""

NO_PACKETS = "no packet capture in this session (started with --no-packets)"
NO_BROWSER = "no browser in this session (start livetap with --browser launch)"


def flash(node: DOMNode, note: str, seconds: float = NOTE_SECONDS) -> None:
    """The result of an action: a notification, long enough to read."""
    node.app.notify(note, timeout=max(seconds, NOTE_SECONDS), markup=False)


def warn(node: DOMNode, note: str) -> None:
    """An action that could not be done: a notification that stays longer."""
    node.app.notify(note, severity="warning", timeout=WARNING_SECONDS, markup=False)


def fail(node: DOMNode, note: str, title: str = "") -> None:
    """An error: a notification that stays long enough to read twice."""
    node.app.notify(note, title=title, severity="error", timeout=ERROR_SECONDS, markup=False)
