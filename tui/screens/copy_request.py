"""Copy a browser request (y): a small menu of formats, then the clipboard and a file.

The clipboard is reached with Textual's ``App.copy_to_clipboard`` (the OSC 52
escape, which the terminal, even at the far end of SSH, turns into a copy);
terminals that ignore it still have the file in the capture directory.
Asking the browser for a POST body can wait on it, so that runs in a thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from engine.browser.request_export import FORMATS, export_request, write_copy
from engine.browser.source import BrowserSource
from engine.errors import LivetapError, NotFoundError


class CopyRequestMenu(ModalScreen[str | None]):
    """Which format to copy the request in: curl, fetch, raw HTTP, HAR entry."""

    DEFAULT_CSS = """
    CopyRequestMenu { align: center middle; }
    CopyRequestMenu > Vertical {
        width: 48; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    CopyRequestMenu OptionList { height: auto; }
    """
    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, show_secrets: bool = False) -> None:
        super().__init__()
        self.show_secrets = show_secrets

    def compose(self) -> ComposeResult:
        secrets = "secrets kept" if self.show_secrets else "secrets hidden"
        with Vertical():
            yield Static("[b]Copy the request as[/b]")
            yield Static(f"[dim]to the clipboard and a file; {secrets}[/dim]")
            yield OptionList(
                *(Option(f.label, id=name) for name, f in FORMATS.items()), id="copy-formats"
            )

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        """The chosen format's name."""
        self.dismiss(message.option.id)

    async def action_dismiss(self, result: str | None = None) -> None:
        """Close without copying."""
        self.dismiss(result)


def render_copy(
    browser: BrowserSource, request_id: str, format_name: str, show_secrets: bool
) -> tuple[str, str]:
    """The request in the format, and the label of the format (in a worker thread)."""
    record = browser.get(request_id)
    if record is None:
        raise NotFoundError(f"request {request_id} is no longer in the list")
    body = browser.fetch_post_data(request_id) if record.has_post_data else None
    return export_request(record, format_name, body, show_secrets), FORMATS[format_name].label


def copy_request(
    screen: Screen[Any], browser: BrowserSource, request_id: str, directory: Path
) -> None:
    """Ask for the format, then copy the request to the clipboard and to a file."""
    app = screen.app
    show_secrets = bool(getattr(app, "show_secrets", False))

    def copy(format_name: str) -> None:  # a worker thread
        try:
            text, label = render_copy(browser, request_id, format_name, show_secrets)
            record = browser.get(request_id)
            assert record is not None
            path = write_copy(directory, record, format_name, text)
        except LivetapError as error:
            app.call_from_thread(
                app.notify, error.message, title="Not copied", severity="error", markup=False
            )
            return
        hidden = "" if show_secrets else " (secrets hidden; --show-secrets keeps them)"

        def done() -> None:
            app.copy_to_clipboard(text)
            app.notify(f"copied as {label}{hidden}; also in {path}", title="Copied", markup=False)

        app.call_from_thread(done)

    def chosen(format_name: str | None) -> None:
        if format_name:
            screen.run_worker(lambda: copy(format_name), thread=True, group="copy-request")

    app.push_screen(CopyRequestMenu(show_secrets), chosen)
