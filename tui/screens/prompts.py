"""Modal prompts: the BPF filter, the display filter and the pcap file name.

Each prompt applies its value through a callback (the engine API) and shows
the error inline, staying open, so a bad entry costs nothing: the capture keeps
its old filter and nothing is written. The filter prompts also check as you
type, remember what was applied (up/down), and offer suggestions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from engine.errors import LivetapError
from tui.prompt_history import PromptHistory

Apply = Callable[[str], str]
"""Takes the entered text; returns a note for the user or raises LivetapError."""
Validate = Callable[[str], str | None]
"""Returns why the text would be refused, or None when it is fine."""
Transform = Callable[[str], str]
"""Rewrites the text (e.g. a description into a filter); raises LivetapError."""


class Prompt(ModalScreen[str | None]):
    """A one-line prompt whose value is applied by a callback that may refuse it."""

    DEFAULT_CSS = """
    Prompt {
        align: center bottom;
    }
    Prompt > Vertical {
        width: 100%;
        height: auto;
        max-height: 80%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
        margin-bottom: 1;
    }
    Prompt Label.title { text-style: bold; }
    Prompt Static.hint { color: $text-muted; }
    Prompt Static.error { color: $error; text-style: bold; }
    Prompt #prompt-check { height: 1; }
    Prompt OptionList { height: auto; max-height: 12; border: none; background: $surface; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("up", "older", "Older", show=False),
        Binding("down", "newer", "Newer", show=False),
        Binding("ctrl+b", "transform", "Build", show=False),
        Binding("f5", "suggest(0)", "Suggestion 1", show=False),
        Binding("f6", "suggest(1)", "Suggestion 2", show=False),
        Binding("f7", "suggest(2)", "Suggestion 3", show=False),
    ]

    def __init__(
        self,
        title: str,
        value: str,
        hint: str,
        apply: Apply,
        placeholder: str = "",
        *,
        validate: Validate | None = None,
        history: PromptHistory | None = None,
        suggestions: Sequence[tuple[str, str]] = (),
        transform: Transform | None = None,
        describe: Transform | None = None,
    ) -> None:
        super().__init__()
        self._describe = describe
        """Says what a valid text will do (the check line shows it after ✓)."""
        self._title = title
        self._value = value
        self._hint = hint
        self._apply = apply
        self._placeholder = placeholder
        self._validate = validate
        self._history = history
        self._suggestions = list(suggestions)
        self._transform = transform

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self._title, classes="title", markup=False)
            yield Input(self._value, placeholder=self._placeholder, id="prompt-input")
            if self._validate is not None:
                yield Static("", id="prompt-check", markup=False)
            yield Static("", classes="error", id="prompt-error", markup=False)
            yield Static(self._hint, classes="hint", markup=False)
            if self._suggestions:
                options = [
                    Option(Text(f"{label}  {value}"), id=str(i))
                    for i, (label, value) in enumerate(self._suggestions)
                ]
                yield OptionList(*options, id="prompt-suggestions")

    def on_mount(self) -> None:
        """Start typing at once."""
        self.query_one(Input).focus()
        self._check(self._value)

    @property
    def input(self) -> Input:
        """The text box."""
        return self.query_one("#prompt-input", Input)

    def on_input_changed(self, event: Input.Changed) -> None:
        """Check as you type."""
        self._check(event.value)

    def _check(self, value: str) -> None:
        """Show ✓ or ✗ with the reason under the text box."""
        if self._validate is None:
            return
        problem = self._validate(value)
        mark = self.query_one("#prompt-check", Static)
        if problem is None:
            said = self._describe(value) if self._describe is not None else "valid"
            mark.update(Text(f"✓ {said}", style="green"))
        else:
            mark.update(Text(f"✗ {problem}", style="red"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Apply the value; keep the prompt open with the error if it is refused."""
        error = self.query_one("#prompt-error", Static)
        try:
            note = self._apply(event.value)
        except LivetapError as problem:
            error.update(problem.message)
            return
        if self._history is not None:
            self._history.add(event.value)
        self.dismiss(note)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A chosen suggestion goes into the text box."""
        self._use(int(event.option.id or 0))

    def _use(self, number: int) -> None:
        if 0 <= number < len(self._suggestions):
            self.input.value = self._suggestions[number][1]
            self.input.cursor_position = len(self.input.value)
            self.input.focus()

    def action_suggest(self, number: int) -> None:
        """F5/F6/F7: the first suggestions (this conversation, host, port) in one key."""
        self._use(number)

    def action_older(self) -> None:
        """Up: the previous entry."""
        if self._history is not None and self.focused is self.input:
            entry = self._history.older()
            if entry is not None:
                self.input.value = entry

    def action_newer(self) -> None:
        """Down: the next entry, then an empty line."""
        if self._history is not None and self.focused is self.input:
            self.input.value = self._history.newer()

    def action_transform(self) -> None:
        """Ctrl+B: turn the text into a filter (the BPF builder)."""
        if self._transform is None:
            return
        try:
            self.input.value = self._transform(self.input.value)
        except LivetapError as problem:
            self.query_one("#prompt-error", Static).update(problem.message)

    def action_cancel(self) -> None:
        """Close without changing anything."""
        self.dismiss(None)

    @property
    def error_text(self) -> str:
        """The error shown under the input ("" when none), for tests and tools."""
        return str(self.query_one("#prompt-error", Static).content)

    @property
    def check_text(self) -> str:
        """The as-you-type verdict ("" without a validator)."""
        checks = self.query("#prompt-check")
        return str(checks.first(Static).content) if checks else ""

    async def _on_key(self, event: events.Key) -> None:
        """Tab moves between the text box and the suggestions."""
        if event.key == "tab" and self._suggestions:
            event.stop()
            target = self.query_one(OptionList) if self.focused is self.input else self.input
            target.focus()


def filter_prompt(
    current: str,
    apply: Apply,
    *,
    validate: Validate,
    history: PromptHistory,
    suggestions: Sequence[tuple[str, str]],
    transform: Transform,
) -> Prompt:
    """The BPF filter prompt (``f``)."""
    return Prompt(
        "Capture filter (BPF)",
        current,
        "Enter applies · Esc cancels · empty clears · ↑↓ history · Ctrl+B builds from words "
        "(e.g. “http to 10.0.0.5”) · F5 this conversation · F6 this host · F7 this port · "
        "… and process NAME|PID: only that program's traffic (children too) · "
        "Tab: suggestions and examples",
        apply,
        placeholder="e.g. tcp port 443, or describe it and press Ctrl+B",
        validate=validate,
        history=history,
        suggestions=suggestions,
        transform=transform,
    )


def display_filter_prompt(
    current: str, apply: Apply, *, validate: Validate, history: PromptHistory
) -> Prompt:
    """The display filter prompt (``/``)."""
    return Prompt(
        "Display filter (both panes; the capture is not touched)",
        current,
        "Enter applies · Esc cancels · empty shows everything · ↑↓ history.  e.g.  "
        'ip.addr == 10.0.0.1 · tcp.port in {80 443} · dns · url contains "/api/" · status >= 400',
        apply,
        placeholder='e.g. http.request.method == "POST" or status >= 400',
        validate=validate,
        history=history,
    )


def save_prompt(
    default_path: str, apply: Apply, title: str = "Save the buffered packets to"
) -> Prompt:
    """The "save packets to pcap" prompt (``w``, after the menu of which packets)."""
    return Prompt(
        title,
        default_path,
        "A .pcapng name writes pcapng; anything else pcap.  Enter saves, Esc cancels.",
        apply,
    )
