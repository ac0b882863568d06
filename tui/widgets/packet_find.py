"""Find, go to, mark and ignore in the packet list (Wireshark's Ctrl+F, Ctrl+G, Ctrl+M, Ctrl+D).

The engine does the work (:mod:`engine.find` walks the rows, :mod:`engine.packet_marks`
keeps the marks); this module asks for what to find or where to go, runs a long search
in a worker thread with a progress line, and selects the row it answers with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.widgets import Static
from textual.worker import Worker, get_current_worker

from engine.config import config_dir
from engine.errors import LivetapError
from engine.find import FindError, FindQuery, FindResult, PacketFinder, Rows, parse_find
from tui.notes import flash, warn
from tui.prompt_history import PromptHistory
from tui.screens.prompts import Prompt

if TYPE_CHECKING:
    from tui.widgets.packet_pane import PacketPane

NO_SELECTION = "select a packet first (↑ ↓)"


class FindProgress(Static):
    """One line over the list while a long find runs: how far it got; hidden otherwise."""

    DEFAULT_CSS = """
    FindProgress { display: none; height: 1; background: $panel; color: $text-muted; }
    FindProgress.-busy { display: block; }
    """


def find_prompt(current: str, apply: Callable[[str], str]) -> Prompt:
    """The find prompt (``ctrl+f``): says as you type what it will look for."""

    def validate(text: str) -> str | None:
        try:
            parse_find(text)
        except FindError as error:
            return error.message
        return None

    return Prompt(
        "Find a packet (from the selected one, wrapping at the end)",
        current,
        "Enter finds · Esc cancels · Ctrl+N next · Ctrl+B previous.  A display filter "
        "(tcp.flags.reset == 1), hex bytes (de ad be ef, deadbeef) or text in the packet's "
        "bytes (any case); force one with filter: hex: text: or case: (exact case), "
        'or "quote" text',
        apply,
        placeholder="e.g. dns.qry.name contains example · de ad be ef · password",
        validate=validate,
        history=PromptHistory(config_dir() / "history" / "find"),
        describe=lambda text: "finds " + parse_find(text).describe(),
    )


def goto_prompt(apply: Callable[[str], str], first: int, last: int) -> Prompt:
    """The go-to prompt (``ctrl+g``)."""

    def validate(text: str) -> str | None:
        return None if text.strip().isdecimal() else "a packet number (from 1)"

    return Prompt(
        "Go to packet",
        "",
        f"Enter goes · Esc cancels · buffered: {first:,}–{last:,} · Home / End: the first / "
        "the newest",
        apply,
        placeholder="a packet number",
        validate=validate,
    )


class PacketNavigation:
    """The packet pane's find, go-to, marks and ignores (the pane routes its keys here)."""

    def __init__(self, pane: PacketPane) -> None:
        self.pane = pane
        self.query: FindQuery | None = None
        """The last find (Ctrl+N / Ctrl+B repeat it)."""
        self._worker: Worker[None] | None = None

    @property
    def _progress(self) -> FindProgress:
        return self.pane.query_one(FindProgress)

    # -- find ----------------------------------------------------------------------

    def ask_find(self) -> None:
        """Ask what to find; Enter finds the next match after the selected packet."""

        def apply(text: str) -> str:
            self.query = parse_find(text)
            self.search(forward=True)
            return ""

        self.pane.app.push_screen(find_prompt(self.query.text if self.query else "", apply))

    def search(self, forward: bool) -> None:
        """Find the next (previous) packet the last query matches, in a worker thread."""
        query = self.query
        if query is None:
            warn(self.pane, "nothing to find yet: Ctrl+F asks what to find")
            return
        packet_list = self.pane.packet_list
        finder = PacketFinder(self.pane.session.ring, query)
        rows, start = packet_list.rows, packet_list.cursor
        self.cancel()
        self._worker = self.pane.run_worker(
            lambda: self._search(finder, rows, start, forward),
            thread=True,
            exclusive=True,
            group="find",
            name="find",
        )

    def _search(self, finder: PacketFinder, rows: Rows, start: int | None, forward: bool) -> None:
        """The search, off the UI thread; the answer goes back to it."""
        worker = get_current_worker()
        app = self.pane.app

        def progress(done: int, total: int) -> None:
            app.call_from_thread(self._show_progress, finder.query, done, total)

        result = finder.search(
            rows, start, forward, progress=progress, cancelled=lambda: worker.is_cancelled
        )
        if not worker.is_cancelled:
            app.call_from_thread(self._found, finder.query, result, forward)

    def _show_progress(self, query: FindQuery, done: int, total: int) -> None:
        """How far a long search got (the line hides again when it ends)."""
        share = 100 * done // max(1, total)
        self._progress.update(
            f"finding… {share}% ({done:,} of {total:,}) · Esc stops · {query.describe()}"
        )
        self._progress.add_class("-busy")

    def _found(self, query: FindQuery, result: FindResult, forward: bool) -> None:
        """Select the match, say when the search went round, or that nothing matched."""
        self._progress.remove_class("-busy")
        if result.cancelled:
            return
        if result.index is None:
            warn(self.pane, f"no packet shown matches {query.describe()}")
            return
        packet_list = self.pane.packet_list
        packet_list.hold()
        packet_list.select(result.index)
        if result.wrapped:
            where = "end: went on from the first" if forward else "start: went on from the last"
            flash(self.pane, f"find reached the {where} packet ({result.index:,})")

    def cancel(self) -> None:
        """Stop a search that is running (Esc, or a new search)."""
        worker = self._worker
        if worker is not None and worker.is_running:
            worker.cancel()
            self._progress.remove_class("-busy")
        self._worker = None

    @property
    def searching(self) -> bool:
        """Whether a find runs in the background."""
        return self._worker is not None and self._worker.is_running

    # -- go to ---------------------------------------------------------------------

    def ask_goto(self) -> None:
        """Ask for a packet number and select it."""
        ring = self.pane.session.ring

        def apply(text: str) -> str:
            try:
                number = int(text.strip())
            except ValueError:
                raise LivetapError(f"{text.strip()!r} is not a packet number") from None
            return self.goto(number)

        prompt = goto_prompt(apply, ring.first_index, ring.last_index)

        def done(note: str | None) -> None:
            if note:
                flash(self.pane, note)

        self.pane.app.push_screen(prompt, done)

    def goto(self, number: int) -> str:
        """Select packet ``number``; the nearest shown when it is hidden (says why).

        Raises LivetapError for a number the buffer does not hold (not read yet, evicted).
        """
        session, packet_list = self.pane.session, self.pane.packet_list
        ring = session.ring
        if number > ring.last_index:
            read = "read so far" if session.running and not session.stats().finished else "in all"
            raise LivetapError(f"there is no packet {number:,}: {ring.last_index:,} {read}")
        if number < ring.first_index:
            raise LivetapError(
                f"packet {number:,} left the buffer: the oldest kept is {ring.first_index:,}"
            )
        packet_list.hold()
        packet_list.select(number)
        if packet_list.rows.row_of(number) is not None and packet_list.cursor == number:
            return ""
        if session.marks.is_ignored(number):
            why = "ignored (D shows the ignored again)"
        elif packet_list.rows.row_of(number) is None:
            why = "not displayed (the display filter hides it)"
        else:
            why = "past the paused view"
        shown = packet_list.cursor
        return f"packet {number:,} is {why}" + (f": selected {shown:,}" if shown else "")

    # -- marks and ignores -----------------------------------------------------------

    def toggle_mark(self) -> None:
        """Mark or unmark the selected packet."""
        cursor = self.pane.packet_list.cursor
        if cursor is None:
            warn(self.pane, NO_SELECTION)
            return
        self.pane.session.marks.toggle_mark(cursor)
        self.pane.packet_list.marks_changed()

    def next_mark(self) -> None:
        """Select the next marked packet the list shows, going round the end."""
        packet_list = self.pane.packet_list
        marks, rows = self.pane.session.marks, packet_list.rows
        shown = sorted(index for index in marks.marked if rows.row_of(index) is not None)
        if not shown:
            warn(self.pane, "no marked packet in the list (m marks the selected one)")
            return
        cursor = packet_list.cursor
        later = [index for index in shown if cursor is None or index > cursor]
        packet_list.hold()
        packet_list.select(later[0] if later else shown[0])

    def unmark_all(self) -> None:
        """Unmark every packet."""
        count = self.pane.session.marks.clear_marks()
        self.pane.packet_list.marks_changed()
        flash(self.pane, f"unmarked {count:,} packets" if count else "no packet was marked")

    def toggle_ignore(self) -> None:
        """Ignore the selected packet: it leaves the list; the next one is selected."""
        packet_list = self.pane.packet_list
        cursor = packet_list.cursor
        if cursor is None:
            warn(self.pane, NO_SELECTION)
            return
        marks = self.pane.session.marks
        row = packet_list.rows.row_of(cursor)
        marks.toggle_ignore(cursor)
        packet_list.refresh_rows()
        packet_list.marks_changed()
        count = len(marks.ignored)
        if row is not None and packet_list.row_count:
            following = packet_list.rows.index_at(min(row, packet_list.row_count - 1))
            if following is not None:
                packet_list.select(following)
        flash(self.pane, f"ignored packet {cursor:,} ({count:,} ignored; D shows them again)")

    def unignore_all(self) -> None:
        """Show every ignored packet again."""
        count = self.pane.session.marks.clear_ignored()
        packet_list = self.pane.packet_list
        packet_list.refresh_rows()
        packet_list.marks_changed()
        flash(self.pane, f"{count:,} ignored packets shown again" if count else "none was ignored")
