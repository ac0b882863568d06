"""Search inside response bodies (B): the listed requests whose body, WebSocket frames or
server-sent events contain a text (each match says where).

Type the text and press Enter: the search runs in a worker thread over the requests
the list shows (chips and display filter applied), looking in the bodies livetap has
and asking the browser for the others (:mod:`engine.browser.body_search`); the
matches appear as they are found, with the progress. Enter on a match selects that
request in the list; Esc closes (and stops a search under way).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from engine.browser.body_search import SearchProgress, search_bodies, searchable
from engine.browser.records import RequestRecord, ResponseBody
from engine.browser.source import BrowserSource


def progress_text(progress: SearchProgress) -> str:
    """``searched 12 of 40 · 3 matches · 2 bodies gone`` (and why it stopped early)."""
    matches = len(progress.matches)
    parts = [
        f"{'searched' if progress.done else 'searching'} {progress.searched:,} of "
        f"{progress.total:,} requests",
        f"{matches:,} match{'es' * (matches != 1)}",
    ]
    if progress.unavailable:
        parts.append(f"{progress.unavailable:,} no longer available")
    if progress.stopped:
        parts.append(progress.stopped)
    return " · ".join(parts)


class BodySearch(ModalScreen[str | None]):
    """A text box, the progress, and the requests found; dismissed with one's id."""

    DEFAULT_CSS = """
    BodySearch { align: center middle; }
    BodySearch > Vertical {
        width: 90%; max-width: 120; height: 80%; border: round $accent;
        background: $surface; padding: 0 1;
    }
    BodySearch .title { text-style: bold; }
    BodySearch #body-search-progress { color: $text-muted; }
    BodySearch OptionList { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "cancel", "Close"), Binding("down", "to_matches", show=False)]

    def __init__(
        self,
        browser: BrowserSource,
        records: list[RequestRecord],
        fetched: Mapping[str, ResponseBody],
    ) -> None:
        super().__init__()
        self.browser = browser
        self.records = records
        self.fetched = dict(fetched)
        self.result: SearchProgress | None = None
        """The last progress shown (for tests)."""

    def compose(self) -> ComposeResult:
        count = sum(1 for record in self.records if searchable(record))
        with Vertical():
            yield Label("Search in response bodies", classes="title")
            yield Static(
                f"{count:,} listed requests have a body or messages; Enter searches, Enter "
                "on a match selects it, Esc closes",
                id="body-search-progress",
            )
            yield Input(placeholder="text to find (case ignored)", id="body-search-text")
            yield OptionList(id="body-search-matches")

    def on_mount(self) -> None:
        """Start in the text box."""
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Search for the text (a search under way is stopped first)."""
        needle = event.value.strip()
        if not needle:
            return
        self.query_one(OptionList).clear_options()
        self.run_worker(
            lambda: self._search(needle), thread=True, exclusive=True, group="body-search"
        )

    def _search(self, needle: str) -> None:
        """The search itself, in a worker thread; progress goes to the UI as it comes."""
        worker = get_current_worker()

        def report(progress: SearchProgress) -> None:
            if not worker.is_cancelled:
                with contextlib.suppress(RuntimeError):  # the app closed meanwhile
                    self.app.call_from_thread(self._show, progress)

        search_bodies(
            self.browser,
            self.records,
            needle,
            progress=report,
            cancelled=lambda: worker.is_cancelled,
            fetched=self.fetched,
        )

    def _show(self, progress: SearchProgress) -> None:
        """The progress line, and the matches not listed yet."""
        if not self.is_attached:  # closed while the search was finishing
            return
        self.result = progress
        self.query_one("#body-search-progress", Static).update(progress_text(progress))
        matches = self.query_one(OptionList)
        for match in progress.matches[matches.option_count :]:
            line = Text()
            line.append(f"#{match.seq} ", style="bold")
            line.append(match.url)
            line.append(f"  ×{match.count}", style="bold")
            line.append(f"  in {match.where}")
            if match.snippet:
                line.append(f"\n    {match.snippet}", style="dim")
            matches.add_option(Option(line, id=match.request_id))
        if progress.done and progress.matches and not matches.has_focus:
            matches.highlighted = 0

    def action_to_matches(self) -> None:
        """↓ from the text box goes to the matches."""
        matches = self.query_one(OptionList)
        if matches.option_count and not matches.has_focus:
            matches.focus()
            if matches.highlighted is None:
                matches.highlighted = 0

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        """The chosen request (a search under way stops)."""
        self.workers.cancel_group(self, "body-search")
        self.dismiss(message.option.id)

    def action_cancel(self) -> None:
        """Close (a search under way stops with the screen)."""
        self.workers.cancel_group(self, "body-search")
        self.dismiss(None)
