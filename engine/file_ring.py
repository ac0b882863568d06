"""Capture files as the packet buffer: indexed as they are read, frames read back on demand.

``livetap -r`` on a big file must show its first screen at once and scroll
anywhere without holding the file in memory. The reader goes through the file
once in the background (the capture thread), keeping for each record only
where its bytes are, its time, lengths, link type and which file (27 bytes a
record); the list reads a frame back from the file with one ``pread`` when it is
shown. Several files read at once (``-r a -r b``, merged by time) share one index:
a record's ``source`` is the number of its file.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Sequence
from pathlib import Path

from engine.errors import LivetapError, from_os_error
from engine.pcapio import PcapRecord
from engine.ring import SummaryCache

BLOCK_LIMIT = 4 << 20
"""The most bytes :meth:`FileRing.record_block` reads at once."""


class FileRing(SummaryCache):
    """Every packet of one or more capture files, by index (1-based); nothing is evicted."""

    def __init__(self, path: str | Path, *more: str | Path) -> None:
        super().__init__()
        self.paths: Sequence[Path] = tuple(Path(p) for p in (path, *more))
        self.path = self.paths[0]
        self._fds = [-1] * len(self.paths)
        for number in range(len(self.paths)):
            self._open(number)
        self._offsets = array("Q")
        self._caplens = array("I")
        self._lengths = array("I")
        self._times = array("d")
        self._linktypes = array("H")
        self._files = array("B")
        self.capacity = 1 << 62
        self.pending_offsets: list[int] = []
        """Where the frames of the batch being stored start (filled by the source)."""

    def _open(self, number: int) -> int:
        """The descriptor of file ``number``, opened now if it was closed."""
        if self._fds[number] < 0:
            path = self.paths[number]
            try:
                self._fds[number] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as error:
                raise from_os_error(error, f"open {path}") from None
        return self._fds[number]

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
        for (timestamp, length, linktype, data, source), offset in zip(
            records, offsets, strict=True
        ):
            self._offsets.append(offset)
            self._caplens.append(len(data))
            self._lengths.append(length)
            self._linktypes.append(linktype)
            self._files.append(source)
            self._times.append(timestamp)  # last: readers see the index only once complete
        return len(self._times)

    def record(self, index: int) -> PcapRecord | None:
        """The packet as captured, read back from its file."""
        if index < 1 or index > len(self._times):
            return None
        slot = index - 1
        number = self._files[slot]
        try:
            fd = self._open(number)  # closed with its session: the index is still good
            data = os.pread(fd, self._caplens[slot], self._offsets[slot])
        except (OSError, LivetapError):  # the file went away since it was indexed
            return None
        return PcapRecord(
            self._times[slot], self._lengths[slot], self._linktypes[slot], data, number
        )

    def record_block(self, first: int, last: int) -> list[PcapRecord | None]:
        """Packets ``first`` to ``last`` read with one ``pread`` when they lie one after the
        other in one file (a search walks thousands in a row: one read each costs more
        than the search); otherwise one by one."""
        first, last = max(first, 1), min(last, len(self._times))
        if last < first:
            return []
        start, end = first - 1, last
        files, offsets, caplens = self._files, self._offsets, self._caplens
        number = files[start]
        span_end = offsets[end - 1] + caplens[end - 1]
        contiguous = all(files[slot] == number for slot in range(start, end)) and all(
            offsets[slot] < offsets[slot + 1] for slot in range(start, end - 1)
        )
        if not contiguous or span_end - offsets[start] > BLOCK_LIMIT:
            return [self.record(index) for index in range(first, last + 1)]
        try:
            block = os.pread(self._open(number), span_end - offsets[start], offsets[start])
        except (OSError, LivetapError):
            return [None] * (end - start)
        base = offsets[start]
        times, lengths, linktypes = self._times, self._lengths, self._linktypes
        found: list[PcapRecord | None] = []
        for slot in range(start, end):
            at = offsets[slot] - base
            data = block[at : at + caplens[slot]]
            whole = len(data) == caplens[slot]
            record = PcapRecord(times[slot], lengths[slot], linktypes[slot], data, number)
            found.append(record if whole else None)
        return found

    def close(self) -> None:
        """Close the files (a later read opens them again); safe to call twice."""
        for number, fd in enumerate(self._fds):
            if fd >= 0:
                os.close(fd)
                self._fds[number] = -1
