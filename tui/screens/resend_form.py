"""Replay a browser request (r) or edit it and send it again (E), from the page that made it.

``r`` sends the request again as it was; ``E`` opens a form with its method, URL,
headers (one ``Name: value`` a line) and body, and sends what the form says. Either
way the browser sends it (:meth:`engine.browser.session.BrowserSession.resend`), so
it carries the page's cookies, and the new request is listed marked ``↻#N``. Only a
browser livetap launched, or an attached one with ``--allow-control``; a recorded one
cannot. Asking the browser for a POST body and waiting for the answer run in threads.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static, TextArea

from engine.browser.resend import Resend, check, from_record, parse_headers, sendable
from engine.errors import LivetapError, UsageError

BROWSER_SETS = "Cookie, Host, Origin, Referer, Content-Length, Sec-* and :pseudo headers"


class ResendForm(ModalScreen[Resend | None]):
    """Method, URL, headers and body of a request to send again, prefilled."""

    DEFAULT_CSS = """
    ResendForm { align: center middle; }
    ResendForm > Vertical {
        width: 90%; max-width: 110; height: 90%; border: round $accent;
        background: $surface; padding: 0 1;
    }
    ResendForm Label { margin-top: 1; text-style: bold; }
    ResendForm .title { margin-top: 0; }
    ResendForm .hint { color: $text-muted; max-height: 2; }
    ResendForm #resend-headers { height: 2fr; min-height: 3; }
    ResendForm #resend-body { height: 1fr; min-height: 2; }
    ResendForm Horizontal { height: auto; margin-top: 1; }
    ResendForm #resend-method { width: 10; margin-right: 1; }
    ResendForm #resend-url { width: 1fr; }
    ResendForm #resend-error { color: $error; text-style: bold; }
    ResendForm Button { margin: 0 1 0 0; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "send", "Send", priority=True),
    ]

    def __init__(self, original: Resend, seq: int) -> None:
        super().__init__()
        self.original = original
        self.seq = seq

    def compose(self) -> ComposeResult:
        kept, left = sendable(self.original.headers)
        headers = "\n".join(f"{name}: {value}" for name, value in kept)
        hint = (
            f"Left to the browser, which sets them itself: {', '.join(left)}."
            if left
            else f"The browser sets {BROWSER_SETS} itself."
        )
        with Vertical():
            yield Label(f"Edit and resend request #{self.seq}", classes="title")
            with Horizontal():
                yield Input(self.original.method, id="resend-method", compact=True)
                yield Input(self.original.url, id="resend-url", compact=True)
            yield Label("Headers (one Name: value a line)")
            yield Static(hint, classes="hint")
            yield TextArea(headers, id="resend-headers", soft_wrap=True, compact=True)
            yield Label("Body")
            yield TextArea(self.original.body or "", id="resend-body", soft_wrap=True, compact=True)
            yield Static("", id="resend-error", markup=False)
            with Horizontal():
                yield Button("Send (Ctrl+S)", variant="primary", id="resend-send", compact=True)
                yield Button("Cancel (Esc)", id="resend-cancel", compact=True)

    def on_mount(self) -> None:
        """Start in the URL."""
        self.query_one("#resend-url", Input).focus()

    def collect(self) -> Resend:
        """The form's request, checked (a UsageError says what is wrong)."""
        method = self.query_one("#resend-method", Input).value.strip().upper()
        url = self.query_one("#resend-url", Input).value.strip()
        headers = parse_headers(self.query_one("#resend-headers", TextArea).text)
        body = self.query_one("#resend-body", TextArea).text
        resend = Resend(method, url, headers, body or None, self.original.original, edited=True)
        check(resend)
        return resend

    def action_send(self) -> None:
        """Send what the form says, or show why not (the form stays open)."""
        try:
            resend = self.collect()
        except UsageError as error:
            self.query_one("#resend-error", Static).update(error.message)
            return
        self.dismiss(resend)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Send or cancel."""
        if event.button.id == "resend-send":
            self.action_send()
        else:
            self.dismiss(None)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        """Enter in the method or URL sends."""
        self.action_send()

    def action_cancel(self) -> None:
        """Close without sending."""
        self.dismiss(None)

    @property
    def error_text(self) -> str:
        """The refusal shown, for tests."""
        return str(self.query_one("#resend-error", Static).content)


def replay_request(screen: Screen[Any], browser: Any, request_id: str, *, edit: bool) -> None:
    """r (``edit`` False) sends the request again; e opens the form first."""
    app = screen.app
    resend = getattr(browser, "resend", None)
    if resend is None:
        app.notify("a recorded browser cannot send requests", severity="warning")
        return
    try:
        browser.check_replay()
    except LivetapError as error:
        app.notify(error.message, title="Not replayed", severity="error", markup=False)
        return
    record = browser.get(request_id)
    if record is None:
        app.notify(f"request {request_id} is no longer in the list", severity="warning")
        return

    def send(request: Resend) -> None:  # a worker thread
        try:
            result = resend(request)
        except LivetapError as error:
            app.call_from_thread(
                app.notify, error.message, title="Not replayed", severity="error", markup=False
            )
            return
        new = browser.get(result.request_id) if result.request_id else None
        made = f"#{new.seq}" if new is not None else "a new request"
        if result.error:
            note = f"{made} (↻#{record.seq}) failed in the page: {result.error}"
            app.call_from_thread(
                app.notify, note, title="Replayed", severity="warning", markup=False
            )
            return
        note = f"{made} (↻#{record.seq}) answered {result.status}"
        app.call_from_thread(app.notify, note, title="Replayed", markup=False)

    def prepare() -> None:  # a worker thread: the POST body may have to come from the browser
        try:
            post_data = browser.fetch_post_data(request_id)
        except LivetapError:
            post_data = None
        request = from_record(record, post_data)
        if not edit:
            send(request)
            return

        def sent(edited: Resend | None) -> None:
            if edited is not None:
                screen.run_worker(lambda: send(edited), thread=True, group="replay")

        app.call_from_thread(app.push_screen, ResendForm(request, record.seq), sent)

    screen.run_worker(prepare, thread=True, group="replay")
