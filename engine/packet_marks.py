"""Marked and ignored packets (Wireshark's Ctrl+M and Ctrl+D), kept by packet index.

A user marks packets to come back to them or to save just those, and ignores packets that
are in the way: an ignored packet leaves the list, the searches and the saves until it is
un-ignored. Both are sets of capture indices on the session, so every front end and every
save reads the same ones; indices that left a live buffer are forgotten.

:class:`UnignoredRows` is the list's rows without the ignored packets: it wraps any rows
(every buffered packet, or a display filter's matches) and maps row positions past the
hidden ones.
"""

from __future__ import annotations

import bisect
import threading
from typing import Protocol


class PacketMarks:
    """The marked and the ignored packets of one capture, by index (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._marked: set[int] = set()
        self._ignored: set[int] = set()
        self.version = 0
        """Goes up with every change (the list redraws, the rows recount)."""

    @property
    def marked(self) -> frozenset[int]:
        """The marked packets' indices."""
        with self._lock:
            return frozenset(self._marked)

    @property
    def ignored(self) -> frozenset[int]:
        """The ignored packets' indices."""
        with self._lock:
            return frozenset(self._ignored)

    @property
    def any_ignored(self) -> bool:
        """Whether some packet is ignored (cheap: the list asks on every row)."""
        return bool(self._ignored)

    def is_marked(self, index: int) -> bool:
        """Whether packet ``index`` is marked."""
        return index in self._marked

    def is_ignored(self, index: int) -> bool:
        """Whether packet ``index`` is ignored."""
        return index in self._ignored

    def toggle_mark(self, index: int) -> bool:
        """Mark packet ``index``, or unmark it; returns whether it is marked now."""
        return self._toggle(self._marked, index)

    def toggle_ignore(self, index: int) -> bool:
        """Ignore packet ``index``, or take it back; returns whether it is ignored now."""
        return self._toggle(self._ignored, index)

    def _toggle(self, found: set[int], index: int) -> bool:
        with self._lock:
            now = index not in found
            if now:
                found.add(index)
            else:
                found.discard(index)
            self.version += 1
            return now

    def clear_marks(self) -> int:
        """Unmark every packet; returns how many were marked."""
        with self._lock:
            count = len(self._marked)
            self._marked.clear()
            self.version += 1
            return count

    def clear_ignored(self) -> int:
        """Take every ignored packet back; returns how many were ignored."""
        with self._lock:
            count = len(self._ignored)
            self._ignored.clear()
            self.version += 1
            return count

    def forget_before(self, first_index: int) -> None:
        """Drop the indices of packets that left the buffer (a live ring's oldest)."""
        with self._lock:
            if any(i < first_index for i in self._marked) or any(
                i < first_index for i in self._ignored
            ):
                self._marked = {i for i in self._marked if i >= first_index}
                self._ignored = {i for i in self._ignored if i >= first_index}
                self.version += 1

    def next_marked(self, after: int | None, forward: bool = True) -> int | None:
        """The marked packet after ``after`` (before it, backwards), going round; None: none."""
        marked = sorted(self._marked - self._ignored)
        if not marked:
            return None
        if after is None:
            return marked[0] if forward else marked[-1]
        if forward:
            position = bisect.bisect_right(marked, after)
            return marked[position % len(marked)]
        position = bisect.bisect_left(marked, after) - 1
        return marked[position % len(marked)]


class Rows(Protocol):
    """Rows by position, as the packet list reads them (tui/widgets/packet_rows.py);
    ``trimmed`` counts rows that left the front (the scroll shift)."""

    @property
    def trimmed(self) -> int: ...

    def __len__(self) -> int: ...

    def index_at(self, row: int) -> int | None: ...

    def rows_up_to(self, index: int) -> int: ...

    def row_of(self, index: int) -> int | None: ...


class UnignoredRows:
    """Other rows without the ignored packets: the list shows these.

    Without ignored packets every call goes straight through; with some, the rows they
    sit on are looked up once per change of the rows (a few, so a few lookups).
    """

    def __init__(self, rows: Rows, marks: PacketMarks) -> None:
        self.rows = rows
        self.marks = marks
        self._cache: tuple[tuple[int, int, int, int], list[int], list[int]] | None = None
        """(what the rows looked like, hidden rows, shown rows before each): one tuple, so
        a search thread and the UI never see a half-updated pair."""

    @property
    def trimmed(self) -> int:
        """Rows that left the front (the underlying rows')."""
        return self.rows.trimmed

    def _hidden_rows(self) -> tuple[list[int], list[int]]:
        """The underlying rows of the ignored packets, sorted, and each one less its place
        in that list (how many shown rows come before it)."""
        rows = self.rows
        key = (self.marks.version, rows.trimmed, len(rows), rows.index_at(0) or 0)
        cached = self._cache
        if cached is None or cached[0] != key:
            found = (rows.row_of(index) for index in self.marks.ignored)
            hidden = sorted(row for row in found if row is not None)
            cached = self._cache = (key, hidden, [row - k for k, row in enumerate(hidden)])
        return cached[1], cached[2]

    def __len__(self) -> int:
        if not self.marks.any_ignored:
            return len(self.rows)
        return max(0, len(self.rows) - len(self._hidden_rows()[0]))

    def index_at(self, row: int) -> int | None:
        """The packet on a row, past the ignored ones."""
        if not self.marks.any_ignored or row < 0:
            return self.rows.index_at(row)
        # the k-th hidden row has (row - k) shown rows before it: skip each that does not
        # exceed ``row`` (these differences never go down, so one bisect finds them all)
        under = row + bisect.bisect_right(self._hidden_rows()[1], row)
        return self.rows.index_at(under)

    def row_of(self, index: int) -> int | None:
        """The row of a packet (None when it is ignored or not shown)."""
        row = self.rows.row_of(index)
        if row is None or not self.marks.any_ignored:
            return row
        if self.marks.is_ignored(index):
            return None
        return row - bisect.bisect_left(self._hidden_rows()[0], row)

    def rows_up_to(self, index: int) -> int:
        """How many rows show packets up to ``index`` (for a paused view)."""
        count = self.rows.rows_up_to(index)
        if not self.marks.any_ignored:
            return count
        return count - bisect.bisect_left(self._hidden_rows()[0], count)
