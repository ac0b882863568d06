"""What the packet list's rows are: every buffered packet, or a display filter's matches."""

from __future__ import annotations

from typing import Protocol

from engine.file_ring import FileRing
from engine.ring import PacketRing


class PacketRows(Protocol):
    """Rows by position; ``trimmed`` counts rows that left the front (the scroll shift)."""

    @property
    def trimmed(self) -> int: ...

    def __len__(self) -> int: ...

    def index_at(self, row: int) -> int | None: ...

    def rows_up_to(self, index: int) -> int: ...

    def row_of(self, index: int) -> int | None: ...


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
