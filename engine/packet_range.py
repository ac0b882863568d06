"""Packet ranges as Wireshark writes them: ``1-100,250,300-`` (numbers from 1).

The save dialog (``w`` → range) and ``livetap filter --range`` read the same text; a
range ``A-`` runs to the last packet, ``-B`` from the first.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass

from engine.errors import UsageError

MAX_PARTS = 1000
"""Parts of one range (a typo should not build a huge list)."""


@dataclass(frozen=True, slots=True)
class PacketRange:
    """Sorted, merged spans of packet numbers (``last`` None: to the end)."""

    spans: tuple[tuple[int, int | None], ...]
    text: str
    starts: tuple[int, ...] = ()
    """Each span's first number (looked up with bisect)."""

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, int):
            return False
        position = bisect.bisect_right(self.starts, number) - 1
        if position < 0:
            return False
        last = self.spans[position][1]
        return last is None or number <= last

    @property
    def last(self) -> int | None:
        """The highest number in the range (None: it runs to the end)."""
        return self.spans[-1][1] if self.spans else 0

    def indices(self, first: int, last: int) -> Iterator[int]:
        """The numbers of the range between ``first`` and ``last`` (both included), in order."""
        for start, end in self.spans:
            low = max(start, first)
            high = last if end is None else min(end, last)
            yield from range(low, high + 1)


def parse_range(text: str) -> PacketRange:
    """Read ``1-100,250,300-``; raises UsageError (exit 2) saying what is wrong."""
    parts = [part.strip() for part in text.replace(" ", ",").split(",") if part.strip()]
    if not parts:
        raise UsageError("give a packet range, e.g. 1-100,250 (numbers from 1)")
    if len(parts) > MAX_PARTS:
        raise UsageError(f"a packet range has at most {MAX_PARTS} parts")
    spans: list[tuple[int, int | None]] = []
    for part in parts:
        low, dash, high = part.partition("-")
        try:
            first = int(low) if low.strip() else 1
            last = (int(high) if high.strip() else None) if dash else first
        except ValueError:
            raise UsageError(
                f"{part!r} is not a packet number or range (e.g. 10, 10-20, 300-)"
            ) from None
        if first < 1 or (last is not None and last < first):
            raise UsageError(f"{part!r}: packet numbers start at 1 and a range goes upwards")
        spans.append((first, last))
    spans.sort(key=lambda span: span[0])
    merged: list[tuple[int, int | None]] = [spans[0]]
    for first, last in spans[1:]:
        previous_first, previous_last = merged[-1]
        if previous_last is None or first <= previous_last + 1:
            end = None if previous_last is None or last is None else max(previous_last, last)
            merged[-1] = (previous_first, end)
        else:
            merged.append((first, last))
    return PacketRange(tuple(merged), text.strip(), tuple(first for first, _ in merged))
