"""The status bar: source, filter, rates, totals, drops, evictions, view state, browser."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from engine.browser.records import BrowserStatus, ConnectionState
from engine.events import CaptureStats
from engine.ndjson.capture import NdjsonStats
from tui.formatting import human_bytes


class StatusBar(Static):
    """One line of capture figures, refreshed a few times a second."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    def show(
        self,
        stats: CaptureStats | None,
        paused: bool,
        note: str = "",
        *,
        browser: BrowserStatus | None = None,
        recording: NdjsonStats | None = None,
        display: str = "",
    ) -> None:
        """Render the figures; errors and warnings in the theme's colours."""
        text = Text()
        if recording is not None:
            self._recording(text, recording)
        if stats is not None:
            self._packets(text, stats, paused)
        if browser is not None:
            if text:
                text.append("  │  ")
            self._browser(text, browser)
        if display:
            text.append(
                f"  │  {display}", style=f"bold {self.app.theme_variables.get('accent', 'cyan')}"
            )
        if note:
            text.append(f"  {note}", style="italic")
        self.update(text, layout=False)  # one line, fixed height: no relayout of the screen

    def _packets(self, text: Text, stats: CaptureStats, paused: bool) -> None:
        variables = self.app.theme_variables
        text.append(stats.source, style="bold")
        text.append("  │  filter: ")
        text.append(stats.filter or "(none)", style="bold" if stats.filter else "dim")
        if not stats.finished:
            text.append(f"  │  {stats.packets_per_second:,.0f} pkt/s")
        text.append(f"  │  {stats.packets:,} packets  {human_bytes(stats.bytes)}")
        drops = "n/a" if stats.kernel_drops is None else f"{stats.kernel_drops:,}"
        text.append("  │  drops ")
        text.append(drops, style=variables.get("error", "red") if stats.kernel_drops else "")
        text.append(f"  │  evicted {stats.evicted:,}")
        text.append("  │  ")
        if stats.error:
            text.append(f"✖ {stats.error}", style=f"bold {variables.get('error', 'red')}")
        elif paused:
            text.append("❚❚ PAUSED", style=f"bold {variables.get('warning', 'yellow')}")
        elif stats.finished:
            text.append("■ end of input", style="bold")
        elif stats.running:
            text.append("● LIVE", style=f"bold {variables.get('success', 'green')}")
        else:
            text.append("■ stopped", style="dim")
        if stats.warning:
            text.append(f"  ⚠ {stats.warning}", style=variables.get("warning", "yellow"))

    def _recording(self, text: Text, recording: NdjsonStats) -> None:
        variables = self.app.theme_variables
        name = Path(recording.file).name
        if recording.error:
            text.append(
                f"✖ REC {name}: {recording.error}", style=f"bold {variables.get('error', 'red')}"
            )
        else:
            text.append("● REC ", style=f"bold {variables.get('error', 'red')}")
            text.append(f"{name} {recording.events:,} events {human_bytes(recording.bytes)}")
        text.append("  │  ")

    def _browser(self, text: Text, browser: BrowserStatus) -> None:
        variables = self.app.theme_variables
        colour = {
            ConnectionState.CONNECTED: variables.get("success", "green"),
            ConnectionState.CONNECTING: variables.get("warning", "yellow"),
        }.get(browser.state, variables.get("error", "red"))
        text.append("browser ")
        text.append(browser.state.value, style=f"bold {colour}")
        text.append(f" {browser.requests:,} requests")
