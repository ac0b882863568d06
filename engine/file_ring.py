"""A capture file as the packet buffer: indexed as it is read, frames read back on demand.

``livetap -r`` on a big file must show its first screen at once and scroll
anywhere without holding the file in memory. The reader goes through the file
once in the background (the capture thread), keeping for each record only
where its bytes are and its time, lengths and link type (26 bytes a record);
the list reads a frame back from the file with one ``pread`` when it is shown.
"""

from __future__ import annotations

import os
from array import array
from pathlib import Path

from engine.errors import from_os_error
from engine.pcapio import PcapRecord
from engine.ring import SummaryCache


class FileRing(SummaryCache):
    """Every packet of one capture file, by index (1-based); nothing is evicted."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as error:
            raise from_os_error(error, f"open {self.path}") from None
        self._offsets = array("Q")
        self._caplens = array("I")
        self._lengths = array("I")
        self._times = array("d")
        self._linktypes = array("H")
        self.capacity = 1 << 62
        self.pending_offsets: list[int] = []
        """Where the frames of the batch being stored start (filled by the source)."""

    @property
    def first_index(self) -> int:
        return 1

    @property
    def last_index(self) -> int:
        return len(self._times)

    @property
    def evicted(self) -> int:
        """A file loses nothing."""
        return 0

    def __len__(self) -> int:
        return len(self._times)

    def add_records(self, records: list[PcapRecord]) -> int:
        """Index a batch (capture thread); ``pending_offsets`` holds where each frame is."""
        offsets, self.pending_offsets = self.pending_offsets, []
        if len(offsets) != len(records):
            raise ValueError("every record needs the offset of its bytes in the file")
        for (timestamp, length, linktype, data), offset in zip(records, offsets, strict=True):
            self._offsets.append(offset)
            self._caplens.append(len(data))
            self._lengths.append(length)
            self._linktypes.append(linktype)
            self._times.append(timestamp)  # last: readers see the index only once complete
        return len(self._times)

    def record(self, index: int) -> PcapRecord | None:
        """The packet as captured, read back from the file."""
        if index < 1 or index > len(self._times):
            return None
        slot = index - 1
        try:
            if self._fd < 0:  # closed with its session: the index is still good
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            data = os.pread(self._fd, self._caplens[slot], self._offsets[slot])
        except OSError:
            return None
        return PcapRecord(self._times[slot], self._lengths[slot], self._linktypes[slot], data)

    def close(self) -> None:
        """Close the file (a later read opens it again); safe to call twice."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
