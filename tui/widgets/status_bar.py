"""The status bar: source, filter, rates, totals, drops, evictions, view state, browser."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from rich.text import Text
from textual.widgets import Static

from engine.browser.records import BrowserStatus, ConnectionState
from engine.events import CaptureStats
from engine.ndjson.capture import NdjsonStats
from tui.formatting import human_bytes


class Part(NamedTuple):
    """One piece of the status line; a higher priority stays longer on a short line."""

    priority: int
    text: Text
    short: Text | None = None
    shortened: bool = False
    """Already in its short form (it was longer)."""


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
        *,
        following: bool | None = None,
        browser: BrowserStatus | None = None,
        requests_following: bool | None = None,
        recording: NdjsonStats | None = None,
        display: str = "",
        display_short: str = "",
        hint: str = "",
    ) -> None:
        """Render the state, most important parts kept when the line is short.

        Only state lives here (what runs, how much, FOLLOWING or HELD); results of an
        action (saved, stopped, errors) are notifications.
        """
        parts: list[Part] = []
        if recording is not None:
            parts.append(self._recording(recording))
        if stats is not None:
            parts += self._packets(stats, paused, following)
        if browser is not None:
            parts.append(self._browser(browser, requests_following))
        if display:
            accent = self.app.theme_variables.get("accent", "cyan")
            short = Text(display_short, style=f"bold {accent}") if display_short else None
            parts.append(Part(9, Text(display, style=f"bold {accent}"), short))
        if hint:
            parts.append(Part(1, Text(hint, style="dim")))
        self.update(self.fit(parts, self.size.width - 2), layout=False)

    @staticmethod
    def fit(parts: list[Part], width: int) -> Text:
        """Join the parts with bars; while the line is too long, the least important part
        takes its short form ("125 pkts" for "125 packets 18 KiB") or, having none, goes.

        A part already in its short form goes only once no other part can take a short
        form: the packet count stays while the browser's and the state's words shorten.
        """
        separator = Text(" │ ", style="dim")
        kept = list(parts)

        def length() -> int:
            return sum(len(part.text) + 3 for part in kept) - 3

        while len(kept) > 1 and length() > max(width, 0):
            lowest = min(part.priority for part in kept)
            at = max(i for i, part in enumerate(kept) if part.priority == lowest)
            longer = [(part.priority, i) for i, part in enumerate(kept) if part.short is not None]
            if kept[at].shortened and kept[at].short is None and longer:
                at = min(longer)[1]
            part = kept[at]
            if part.short is not None:
                kept[at] = Part(part.priority, part.short, shortened=True)
            else:
                del kept[at]
        return separator.join(part.text for part in kept)

    def _packets(self, stats: CaptureStats, paused: bool, following: bool | None) -> list[Part]:
        variables = self.app.theme_variables
        parts = [Part(2, Text(stats.source, style="bold"))]
        if stats.filter:
            parts.append(Part(4, Text(f"filter: {stats.filter}")))
        else:
            parts.append(Part(1, Text("filter: (none)", style="dim")))
        if not stats.finished:
            parts.append(Part(3, Text(f"{stats.packets_per_second:,.0f} pkt/s")))
        counts = f"{stats.packets:,} packets  {human_bytes(stats.bytes)}"
        parts.append(Part(7, Text(counts), Text(f"{stats.packets:,} pkts")))
        drops = "n/a" if stats.kernel_drops is None else f"{stats.kernel_drops:,}"
        drop_text = Text("drops ")
        drop_text.append(drops, style=variables.get("error", "red") if stats.kernel_drops else "")
        parts.append(Part(9 if stats.kernel_drops else 3, drop_text))
        parts.append(Part(5 if stats.evicted else 2, Text(f"evicted {stats.evicted:,}")))
        state = Text()
        if stats.error:
            state.append(f"✖ {stats.error}", style=f"bold {variables.get('error', 'red')}")
        elif paused:
            state.append("❚❚ PAUSED", style=f"bold {variables.get('warning', 'yellow')}")
        elif stats.finished:
            state.append("■ end of input", style="bold")
        elif stats.running:
            state.append("● LIVE", style=f"bold {variables.get('success', 'green')}")
        else:
            state.append("■ stopped", style="dim")
        short = None
        if following is not None and not paused:
            short = state.copy()
            for line, noun in ((state, "packets"), (short, "pkts")):
                line.append(f" · {noun}: ")
                line.append_text(self._follow_word(following))
        parts.append(Part(10, state, short))
        if stats.warning:
            warning = Text(f"⚠ {stats.warning}", style=variables.get("warning", "yellow"))
            parts.append(Part(6, warning))
        return parts

    def _follow_word(self, following: bool) -> Text:
        """FOLLOWING (the list moves to the newest) or HELD (it stays; End follows again).

        Each list has its own, so the word always comes after the list's name
        ("packets: HELD", "14 requests: FOLLOWING", at 80 columns "pkts: HELD" and
        "14 req: FOLLOWING"): two bare FOLLOWINGs side by side did not say which was which.
        """
        variables = self.app.theme_variables
        if following:
            return Text("FOLLOWING", style=f"bold {variables.get('success', 'green')}")
        return Text("HELD", style=f"bold {variables.get('warning', 'yellow')}")

    def _recording(self, recording: NdjsonStats) -> Part:
        variables = self.app.theme_variables
        name = Path(recording.file).name
        text = Text()
        if recording.error:
            text.append(
                f"✖ REC {name}: {recording.error}", style=f"bold {variables.get('error', 'red')}"
            )
        else:
            text.append("● REC ", style=f"bold {variables.get('error', 'red')}")
            text.append(f"{name} {recording.events:,} events {human_bytes(recording.bytes)}")
        return Part(9, text)

    def _browser(self, browser: BrowserStatus, following: bool | None) -> Part:
        variables = self.app.theme_variables
        colour = {
            ConnectionState.CONNECTED: variables.get("success", "green"),
            ConnectionState.CONNECTING: variables.get("warning", "yellow"),
        }.get(browser.state, variables.get("error", "red"))
        text = Text("browser ")
        text.append(browser.state.value, style=f"bold {colour}")
        text.append(f" {browser.requests:,} requests")
        short = Text("browser", style=f"bold {colour}")
        short.append(f" {browser.requests:,} req")
        if browser.controls:  # blocking, throttling, no cache: always in sight while on
            warning = f"bold {variables.get('warning', 'yellow')}"
            text.append(f" [{browser.controls}]", style=warning)
            short.append(" [net changed]", style=warning)
        if following is not None:
            for line in (text, short):
                line.append(": ")
                line.append_text(self._follow_word(following))
        return Part(8, text, short)
