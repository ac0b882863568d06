"""The NDJSON capture form (``c``): file, URL filter, max size, bodies, sources.

Starting is done by a callback (the engine's NdjsonCapture): a refusal (no
permission, no such directory, a bad pattern) shows under the form, which stays
open; the live panes keep running either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from engine.errors import LivetapError, UsageError
from engine.ndjson.capture import DEFAULT_MAX_SIZE_MB


@dataclass(frozen=True, slots=True)
class CaptureForm:
    """What the form collected."""

    path: Path
    patterns: tuple[str, ...]
    max_size_mb: float
    include_bodies: bool
    include_sensitive: bool
    browser: bool
    packets: bool


StartCapture = Callable[[CaptureForm], str]
"""Starts the capture; returns a note or raises LivetapError."""


class NdjsonForm(ModalScreen[str | None]):
    """A small form that starts an NDJSON capture."""

    DEFAULT_CSS = """
    NdjsonForm { align: center middle; }
    NdjsonForm > Vertical {
        width: 80; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    NdjsonForm Label { margin-top: 1; }
    NdjsonForm .title { text-style: bold; margin-top: 0; }
    NdjsonForm Horizontal { height: auto; }
    NdjsonForm #ndjson-error { color: $error; text-style: bold; }
    NdjsonForm Button { margin: 1 1 0 0; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, default_path: Path, start: StartCapture, has_browser: bool, has_packets: bool
    ) -> None:
        super().__init__()
        self._default_path = default_path
        self._start = start
        self._has_browser = has_browser
        self._has_packets = has_packets

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Capture to NDJSON", classes="title")
            yield Label("File")
            yield Input(str(self._default_path), id="ndjson-file")
            yield Label("URL filter (space-separated; * wildcard, !pattern excludes)")
            yield Input("", placeholder="e.g. */api/* !*.png", id="ndjson-filter")
            yield Label("Rotate at (MB)")
            yield Input(str(DEFAULT_MAX_SIZE_MB), id="ndjson-size")
            with Horizontal():
                yield Checkbox(
                    "browser requests",
                    self._has_browser,
                    id="ndjson-browser",
                    disabled=not self._has_browser,
                )
                yield Checkbox(
                    "packets",
                    self._has_packets and not self._has_browser,
                    id="ndjson-packets",
                    disabled=not self._has_packets,
                )
            with Horizontal():
                yield Checkbox("bodies", False, id="ndjson-bodies")
                yield Checkbox("keep secrets (auth, tokens)", False, id="ndjson-sensitive")
            yield Static("", id="ndjson-error", markup=False)
            with Horizontal():
                yield Button("Start", variant="primary", id="ndjson-start")
                yield Button("Cancel", id="ndjson-cancel")

    def on_mount(self) -> None:
        """Start with the file name."""
        self.query_one("#ndjson-file", Input).focus()

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def _checked(self, widget_id: str) -> bool:
        return self.query_one(f"#{widget_id}", Checkbox).value

    def collect(self) -> CaptureForm:
        """The form's values, checked."""
        if not self._value("ndjson-file"):
            raise UsageError("enter a file name")
        try:
            size = float(self._value("ndjson-size"))
        except ValueError:
            raise UsageError(
                f"the size must be a number of MB, not {self._value('ndjson-size')!r}"
            ) from None
        return CaptureForm(
            path=Path(self._value("ndjson-file")).expanduser(),
            patterns=tuple(self._value("ndjson-filter").split()),
            max_size_mb=size,
            include_bodies=self._checked("ndjson-bodies"),
            include_sensitive=self._checked("ndjson-sensitive"),
            browser=self._checked("ndjson-browser"),
            packets=self._checked("ndjson-packets"),
        )

    def submit(self) -> None:
        """Start the capture, or show why not."""
        try:
            note = self._start(self.collect())
        except LivetapError as error:
            self.query_one("#ndjson-error", Static).update(error.message)
            return
        self.dismiss(note)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Start or cancel."""
        if event.button.id == "ndjson-start":
            self.submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        """Enter in any field starts."""
        self.submit()

    def action_cancel(self) -> None:
        """Close without starting."""
        self.dismiss(None)

    @property
    def error_text(self) -> str:
        """The refusal shown, for tests."""
        return str(self.query_one("#ndjson-error", Static).content)
