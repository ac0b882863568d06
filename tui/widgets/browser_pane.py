"""The browser pane: the connection's state, the request list and the request detail."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from engine.browser.records import BrowserBatch, BrowserStatus
from tui.widgets.request_detail import RequestDetail
from tui.widgets.request_list import RequestList

CONNECT_HINT = """\
No browser connected.

To see a browser's requests here,
start livetap with one of:

--browser launch
  a headless Chromium of its own
  --headed: a visible one
  --open URL: load a page

--browser 9222
  a running Chrome or Chromium
  started with
  --remote-debugging-port=9222
  --user-data-dir=DIR

--browser ws://HOST:PORT/devtools/…

Every tab, popup, iframe and
worker is followed.
"""


def status_line(status: BrowserStatus) -> Text:
    """The pane's title: endpoint, state, counts."""
    text = Text()
    text.append(" Browser ", style="bold")
    text.append(f"{status.endpoint} · ")
    colour = {"connected": "green", "connecting": "yellow"}.get(status.state.value, "red")
    text.append(status.state.value, style=f"bold {colour}")
    text.append(f" · {status.requests:,} requests · {status.targets} targets")
    if status.evicted:
        text.append(f" · {status.evicted:,} dropped")
    if status.skipped_messages:
        count = status.skipped_messages
        noun = "message" if count == 1 else "messages"
        text.append(f" · {count:,} DevTools {noun} skipped (malformed or unexpected)", style="dim")
    if status.message:
        text.append(f" · {status.message}", style="italic")
    return text


class BrowserPane(Vertical):
    """Requests on the right of the packets; a hint when no browser is connected."""

    DEFAULT_CSS = """
    BrowserPane {
        width: 1fr;
        border-left: vkey $panel;
    }
    BrowserPane.-idle {
        width: 40;
    }
    BrowserPane #browser-title {
        height: 1;
        background: $panel;
    }
    BrowserPane #browser-hint {
        padding: 1 1;
        color: $text-muted;
    }
    """

    def __init__(self, connected: bool, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="" if connected else "-idle")
        self.connected = connected

    def compose(self) -> ComposeResult:
        yield Static(Text(" Browser · not connected", style="bold"), id="browser-title")
        if self.connected:
            yield RequestList(id="request-list")
            yield RequestDetail(id="request-detail")
        else:
            yield Static(CONNECT_HINT, id="browser-hint", markup=False)

    def apply(self, batch: BrowserBatch) -> None:
        """Show the state and apply the changed requests."""
        self.query_one("#browser-title", Static).update(status_line(batch.status))
        if self.connected and (batch.changed or batch.removed):
            with self.app.batch_update():
                self.query_one(RequestList).apply(batch.changed, batch.removed)
