"""The Processes view: traffic per program, like nethogs or ``livetap top``, updating live.

It is given a zero-argument callable that counts what was captured since the last call
and returns the engine's :class:`~engine.process.top.CapturedProcesses`; it calls it in a
worker thread (counting takes ~10 µs a packet) and redraws twice a second, fastest
first, with a sparkline of each one's bytes per second over the last 20 seconds.
Enter on a row closes it with that process's pid (the main screen then shows only
its packets: ``proc.pid == N``); Escape or ``p`` closes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual.worker import get_current_worker

from engine.process.top import CapturedProcesses, sparkline
from tui.formatting import human_bytes

REFRESH_INTERVAL = 0.5
MAX_REMOTES_SHOWN = 3
SPARK_SECONDS = 20
COLUMNS = (
    "PID",
    "Program",
    "User",
    "Rate/s",
    "In",
    "Out",
    "Pkts in",
    "Pkts out",
    "Conn",
    f"Last {SPARK_SECONDS} s",
)

Counter = Callable[[], CapturedProcesses]


class ProcessesScreen(Screen[int | None]):
    """Per process: bytes and packets in and out, rate and its sparkline, connections,
    remote hosts."""

    DEFAULT_CSS = """
    ProcessesScreen { layout: vertical; }
    ProcessesScreen #processes-summary {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    ProcessesScreen #processes-table { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("p", "close", "Close", show=False),
        Binding("enter", "choose", "Show its packets"),
    ]

    def __init__(self, count: Counter, refresh_interval: float = REFRESH_INTERVAL) -> None:
        super().__init__()
        self._count = count
        self._interval = refresh_interval
        self._pids: list[int] = []

    def compose(self) -> ComposeResult:
        yield Static("Processes: counting…", id="processes-summary")
        yield DataTable(id="processes-table", zebra_stripes=True, cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        """Columns, a first count, then a redraw every half second."""
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS, "Remote hosts")
        table.focus()
        self.refresh_rows()
        self.set_interval(self._interval, self.refresh_rows)

    def refresh_rows(self) -> None:
        """Count what arrived (in a thread: ~10 µs a packet) and redraw."""
        self._count_in_background()

    @work(thread=True, exclusive=True, group="processes")
    def _count_in_background(self) -> None:
        counts = self._count()
        rows: list[tuple[str, ...]] = []
        pids: list[int] = []
        ranked = counts.ranked()
        now = time.time()
        for row, rate in ranked:
            owner = row.owner
            remotes = counts.remote_names(row)
            shown = ", ".join(remotes[:MAX_REMOTES_SHOWN])
            if len(remotes) > MAX_REMOTES_SHOWN:
                shown += f" +{len(remotes) - MAX_REMOTES_SHOWN}"
            rows.append(
                (
                    str(owner.pid),
                    owner.name,
                    owner.user,
                    human_bytes(rate),
                    human_bytes(row.bytes_in),
                    human_bytes(row.bytes_out),
                    str(row.packets_in),
                    str(row.packets_out),
                    str(len(row.flows)),
                    sparkline(row.history(now, SPARK_SECONDS)),
                    shown,
                )
            )
            pids.append(owner.pid)
        unknown = counts.unattributed
        summary = (
            f"Processes: {len(ranked)} programs, fastest first"
            + (f" · {unknown} packets of unknown programs" if unknown else "")
            + (f" · {counts.missed} left the buffer uncounted" if counts.missed else "")
            + " · Enter: show its packets (proc.pid == N) · Esc: back"
        )
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, rows, pids, summary)

    def _show(self, rows: list[tuple[str, ...]], pids: list[int], summary: str) -> None:
        """Redraw the table, keeping the cursor on the same process."""
        table = self.query_one(DataTable)
        chosen = self.chosen_pid
        table.clear()
        for cells in rows:
            table.add_row(*cells)
        self._pids = pids
        if chosen in pids:
            table.move_cursor(row=pids.index(chosen), animate=False)
        self.query_one("#processes-summary", Static).update(summary)

    @property
    def chosen_pid(self) -> int | None:
        """The pid of the row under the cursor."""
        row = self.query_one(DataTable).cursor_row
        return self._pids[row] if 0 <= row < len(self._pids) else None

    def on_data_table_row_selected(self, _message: DataTable.RowSelected) -> None:
        """Enter (or a click) on a row: show that process's packets."""
        self.action_choose()

    def action_choose(self) -> None:
        """Close with the chosen process's pid."""
        self.dismiss(self.chosen_pid)

    def action_close(self) -> None:
        """Back to the main screen, no filter."""
        self.dismiss(None)
