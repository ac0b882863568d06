"""The live stats screen: protocol hierarchy, top talkers, biggest conversations, packets/s.

It takes a zero-argument callable that returns the analyzer's latest
:class:`~engine.analysis.AnalysisSnapshot` and redraws from it three times a second;
it never reads the packet buffer. Escape or ``a`` closes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, Sparkline, Static

from engine.analysis import AnalysisSnapshot
from engine.analysis.hierarchy import display_name
from tui.formatting import protocol_key

REFRESH_INTERVAL = 1 / 3
"""Seconds between redraws (three a second)."""
BAR_WIDTH = 24
MAX_PROTOCOL_ROWS = 40

SnapshotSource = Callable[[], AnalysisSnapshot]


def human_bytes(count: int) -> str:
    """Bytes in a short form: 950 B, 12.3 kB, 4.5 MB."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


class StatsScreen(Screen[None]):
    """Live statistics of the capture, from the engine's incremental analyzer."""

    DEFAULT_CSS = """
    StatsScreen {
        layout: vertical;
    }
    StatsScreen #stats-summary {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    StatsScreen #stats-top {
        height: 1fr;
    }
    StatsScreen .stats-pane {
        width: 1fr;
        border: round $primary;
        padding: 0 1;
    }
    StatsScreen .stats-title {
        text-style: bold;
        color: $accent;
    }
    StatsScreen #stats-protocols, StatsScreen #stats-talkers {
        text-wrap: nowrap;
        text-overflow: clip;
    }
    StatsScreen #stats-rate-pane {
        height: 5;
        border: round $primary;
        padding: 0 1;
    }
    StatsScreen #stats-rate {
        height: 1;
    }
    StatsScreen #stats-flows-pane {
        height: 1fr;
        border: round $primary;
    }
    StatsScreen #stats-flows {
        height: 1fr;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("a", "close", "Close", show=False),
    ]

    def __init__(self, source: SnapshotSource, refresh_interval: float = REFRESH_INTERVAL) -> None:
        super().__init__()
        self._source = source
        self._interval = refresh_interval
        self._flows_shown: tuple[object, ...] = ()
        self.snapshot: AnalysisSnapshot | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="stats-summary")
        with Horizontal(id="stats-top"):
            with VerticalScroll(classes="stats-pane"):
                yield Label("Protocol hierarchy", classes="stats-title")
                yield Static(id="stats-protocols")
            with VerticalScroll(classes="stats-pane"):
                yield Label("Top talkers (bytes)", classes="stats-title")
                yield Static(id="stats-talkers")
        with Vertical(id="stats-rate-pane"):
            yield Label("Packets per second, last 5 minutes", classes="stats-title")
            yield Sparkline([], id="stats-rate")
            yield Static(id="stats-rate-label")
        with Vertical(id="stats-flows-pane"):
            yield DataTable(id="stats-flows", zebra_stripes=True, cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        """Set up the table and start redrawing."""
        table = self.query_one("#stats-flows", DataTable)
        table.add_columns("Proto", "A", "B", "Packets", "Bytes", "Duration", "Stream")
        self.set_interval(self._interval, self.refresh_stats)
        self.refresh_stats()

    def action_close(self) -> None:
        """Back to where the screen was opened from."""
        self.dismiss(None)

    def refresh_stats(self) -> None:
        """Take a fresh snapshot and redraw every part from it."""
        snapshot = self._source()
        self.snapshot = snapshot
        self._summary(snapshot)
        self.query_one("#stats-protocols", Static).update(self._protocols(snapshot))
        self.query_one("#stats-talkers", Static).update(self._talkers(snapshot))
        self._rate(snapshot)
        self._flows(snapshot)

    # -- parts ---------------------------------------------------------------------

    def _summary(self, s: AnalysisSnapshot) -> None:
        text = (
            f"{s.packets:,} packets · {human_bytes(s.bytes)} · {s.duration:,.1f} s · "
            f"{s.rate_now:,} packets/s now · {s.ip_conversations:,} IP conversations · "
            f"{s.tcp_streams:,} TCP streams · {s.udp_flows:,} UDP flows · "
            f"{s.http_requests:,} HTTP requests · {s.dns_queries:,} DNS queries"
        )
        if s.credentials:
            text += f" · {s.credentials:,} cleartext credentials"
        self.query_one("#stats-summary", Static).update(text)

    def _colour(self, protocol: str) -> Style:
        variables = self.app.theme_variables
        key = protocol_key(display_name(protocol))
        return Style(color=variables.get(f"proto-{key}", variables.get("text", "default")))

    def _protocols(self, s: AnalysisSnapshot) -> Text:
        if not s.protocols:
            return Text("No packets yet.", style="dim")
        text = Text()
        width = max(len(row.protocol) + 2 * row.depth for row in s.protocols[:MAX_PROTOCOL_ROWS])
        for row in s.protocols[:MAX_PROTOCOL_ROWS]:
            name = "  " * row.depth + row.protocol
            text.append(name.ljust(width + 2), style=self._colour(row.protocol))
            text.append(
                f"{row.frames:>10,}  {row.frames_percent:6.2f}%  {human_bytes(row.bytes)}\n"
            )
        text.rstrip()
        return text

    def _talkers(self, s: AnalysisSnapshot) -> Text:
        if not s.talkers:
            return Text("No IP traffic yet.", style="dim")
        variables = self.app.theme_variables
        bar_style = Style(color=variables.get("accent", "default"))
        top = max(t.bytes for t in s.talkers) or 1
        labels = [t.address + (f" ({t.name})" if t.name else "") for t in s.talkers]
        room = self.query_one("#stats-talkers", Static).size.width or 80
        figures = 24  # " 12.3 kB  1,234 pkts"
        width = max(12, min(max(len(label) for label in labels), room - figures - 8))
        bar = max(4, min(BAR_WIDTH, room - figures - width - 1))
        text = Text()
        for talker, label in zip(s.talkers, labels, strict=True):
            filled = max(1, round(bar * talker.bytes / top))
            shown = label if len(label) <= width else label[: width - 1] + "…"
            text.append(shown.ljust(width + 1))
            text.append("█" * filled + " " * (bar - filled), style=bar_style)
            text.append(f" {human_bytes(talker.bytes):>9} {talker.packets:>7,} pkts\n")
        text.rstrip()
        return text

    def _rate(self, s: AnalysisSnapshot) -> None:
        sparkline = self.query_one("#stats-rate", Sparkline)
        sparkline.data = [float(value) for value in s.rate] or [0.0]
        peak = max(s.rate) if s.rate else 0
        seconds = len(s.rate)
        self.query_one("#stats-rate-label", Static).update(
            f"peak {peak:,}/s over the last {seconds} s" if seconds else "no packets yet"
        )

    def _flows(self, s: AnalysisSnapshot) -> None:
        rows = tuple(
            (
                flow.protocol,
                f"{flow.a}:{flow.a_port}" + (f" ({flow.a_name})" if flow.a_name else ""),
                f"{flow.b}:{flow.b_port}" + (f" ({flow.b_name})" if flow.b_name else ""),
                f"{flow.packets:,}",
                human_bytes(flow.bytes),
                f"{flow.last - flow.first:,.1f} s",
                "" if flow.stream is None else str(flow.stream),
            )
            for flow in s.flows
        )
        if rows == self._flows_shown:
            return
        self._flows_shown = rows
        table = self.query_one("#stats-flows", DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            table.add_row(*row)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))
