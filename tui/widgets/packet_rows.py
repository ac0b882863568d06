"""What the packet list's rows are: every buffered packet, or a display filter's matches."""

from __future__ import annotations

from engine.file_ring import FileRing
from engine.packet_marks import Rows as PacketRows
from engine.ring import PacketRing

__all__ = ["PacketRows", "RingRows", "SortedRows"]


class RingRows:
    """Every packet the ring holds, one row each."""

    def __init__(self, ring: PacketRing | FileRing) -> None:
        self.ring = ring

    @property
    def trimmed(self) -> int:
        """Rows that left the front: the ring's evictions."""
        return self.ring.first_index - 1

    def __len__(self) -> int:
        return len(self.ring)

    def index_at(self, row: int) -> int | None:
        index = self.ring.first_index + row
        return index if row >= 0 and index <= self.ring.last_index else None

    def rows_up_to(self, index: int) -> int:
        return max(0, min(index, self.ring.last_index) - self.ring.first_index + 1)

    def row_of(self, index: int) -> int | None:
        first = self.ring.first_index
        return index - first if first <= index <= self.ring.last_index else None


class SortedRows:
    """The rows shown when sorting began, in a column's order (a paused or file view).

    A snapshot: rows that arrive later are not added (a live list that follows stays in
    arrival order), and nothing is trimmed, so the positions never shift.
    """

    def __init__(self, base: PacketRows, order: list[int]) -> None:
        self.base = base
        """The rows in arrival order, given back when the sort ends."""
        self._order = order
        self._rows = {index: row for row, index in enumerate(order)}

    @property
    def trimmed(self) -> int:
        """Never shifts."""
        return 0

    def __len__(self) -> int:
        return len(self._order)

    def index_at(self, row: int) -> int | None:
        return self._order[row] if 0 <= row < len(self._order) else None

    def rows_up_to(self, index: int) -> int:
        return len(self._order)  # paused or not, the snapshot is shown whole

    def row_of(self, index: int) -> int | None:
        return self._rows.get(index)
