"""The request list's Waterfall column: when each request started and where its time
went (queueing, DNS, connect, send, wait, receive), as DevTools draws it.

Every bar is drawn against one :class:`Scale`, the time the rows on screen span, so
scrolling to a burst of requests spreads them over the column. The list draws only the
rows on screen, so a new scale redraws only those, never every row of the list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text

from engine.browser.records import RequestRecord

PHASES = (
    ("queue", "grey50", "░"),
    ("dns", "dark_cyan", "█"),
    ("connect", "dark_orange", "█"),
    ("send", "grey70", "█"),
    ("wait", "green", "█"),
    ("receive", "dodger_blue1", "█"),
)
"""Phase, colour and block; queueing is what the browser's phases leave of the duration
(waiting for a socket, a cache lookup). TLS is drawn inside connect, as CDP times it."""
PENDING = ("pending", "grey50", "▒")


def phases(record: RequestRecord) -> list[tuple[str, float]]:
    """The request's phases in seconds, in order (one ``pending`` span while it loads)."""
    if record.duration is None:
        return []
    total = record.duration
    timing = record.timing
    if timing is None:
        return [("wait", total)]
    spans = [
        ("dns", timing.dns or 0.0),
        ("connect", timing.connect or 0.0),
        ("send", timing.send or 0.0),
        ("wait", timing.wait or 0.0),
        ("receive", timing.receive or 0.0),
    ]
    spans = [(name, ms / 1000) for name, ms in spans]
    queue = max(0.0, total - sum(seconds for _name, seconds in spans))
    return [("queue", queue), *spans]


def end_of(record: RequestRecord) -> float:
    """When the request ended as far as is known (its start while it is still loading)."""
    return record.started + (record.duration or 0.0)


@dataclass(slots=True)
class Scale:
    """The time the column spans: from ``start`` for ``span`` seconds."""

    start: float = 0.0
    span: float = 0.0

    @classmethod
    def of(cls, records: Iterable[RequestRecord]) -> Scale:
        """The span from the first start to the last end among ``records``."""
        starts_ends = [(r.started, end_of(r)) for r in records if r.started]
        if not starts_ends:
            return cls()
        start = min(s for s, _e in starts_ends)
        end = max(e for _s, e in starts_ends)
        return cls(start, max(end - start, 0.001))


STYLES = {name: (colour, block) for name, colour, block in (*PHASES, PENDING)}


def bar(record: RequestRecord, scale: Scale, width: int) -> Text:
    """The request's bar across ``width`` cells: each cell shows the phase covering most
    of it; a request shorter than a cell still gets one."""
    text = Text(no_wrap=True, end="")
    if width <= 0 or scale.span <= 0 or not record.started:
        return text
    per_cell = scale.span / width
    position = (record.started - scale.start) / per_cell
    spans = [(name, seconds / per_cell) for name, seconds in phases(record)]
    if record.duration is None and not (record.error or record.from_cache):
        spans = [("pending", max(width - position, 1.0))]
    cells: list[tuple[str, float]] = [("", 0.0)] * width  # the phase with most of each cell
    for name, length in spans:
        end = position + length
        first, last = int(position), min(int(end), width - 1)
        for cell in range(max(first, 0), last + 1):
            covered = min(end, cell + 1) - max(position, cell)
            if covered > cells[cell][1]:
                cells[cell] = (name, covered)
        position = end
    start_cell = min(max(int((record.started - scale.start) / per_cell), 0), width - 1)
    if all(name == "" for name, _covered in cells):
        first_phase = next((name for name, length in spans if length > 0), "wait")
        cells[start_cell] = (first_phase, 1.0)
    for name, covered in cells:
        if not name:
            text.append(" ")
            continue
        colour, block = STYLES[name]
        text.append(block if covered >= 0.5 or block != "█" else "▌", style=colour)
    return text
