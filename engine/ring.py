"""A bounded buffer of the most recent packets, addressed by capture index.

It keeps what a capture must keep and nothing more: each packet's bytes, its
timestamp, original length, link type, source (which of several inputs) and, on a live
capture that attributes packets, a small id of its process (a table the session keeps),
in flat arrays (about 64 bytes of overhead a packet beside the bytes themselves). The list's
summary of a packet (addresses, protocol, info) is decoded when something asks for it, and the
last few thousand are cached: the list only ever shows a screenful, so the
capture thread never decodes at all.

One thread appends (the capture thread), others read. Reads need no lock: a
reader checks the index stored with a slot before and after reading it, so an
evicted packet reads as ``None`` rather than as its successor.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat

from engine.decode import decode
from engine.events import PacketSummary
from engine.pcapio import PcapRecord
from engine.ring_analysis import RingAnalysis

SUMMARY_CACHE = 8192
"""Decoded summaries kept (a few screens' worth, plus what workers walk)."""


class SummaryCache:
    """Summaries decoded on demand from whatever :meth:`record` returns; the last few kept."""

    def __init__(self) -> None:
        self._summaries: dict[int, PacketSummary] = {}
        self.source_names: tuple[str, ...] = ()
        """Each input's name by ``PcapRecord.source`` (set by the session)."""
        self._analysis: RingAnalysis | None = None
        self._analysis_lock = threading.Lock()

    @property
    def analysis(self) -> RingAnalysis:
        """The buffer's stream numbers and TCP analysis (the Info notes, the detail pane),
        computed in order when asked: the capture thread never pays for them."""
        if self._analysis is None:
            with self._analysis_lock:
                if self._analysis is None:
                    self._analysis = RingAnalysis(self)
        return self._analysis

    @property
    def first_index(self) -> int:
        raise NotImplementedError

    @property
    def last_index(self) -> int:
        raise NotImplementedError

    def record(self, index: int) -> PcapRecord | None:
        raise NotImplementedError

    def owner_id(self, index: int) -> int:
        """The process id (into the session's table) stored with a packet; 0: none."""
        return 0

    def get(self, index: int) -> PacketSummary | None:
        """The packet's summary (decoded on first use), or None once it left the buffer."""
        summary = self._summaries.get(index)
        if summary is not None:
            return summary if index >= self.first_index else None
        record = self.record(index)
        if record is None:
            return None
        timestamp, length, linktype, data, source = record
        src, dst, sport, dport, protocol, info = decode(linktype, data)
        names = self.source_names
        summary = PacketSummary(
            index,
            timestamp,
            length,
            linktype,
            src,
            dst,
            sport,
            dport,
            protocol,
            info,
            data,
            names[source] if source < len(names) else "",
        )
        if len(self._summaries) >= SUMMARY_CACHE:
            self._summaries.clear()
        self._summaries[index] = summary
        return summary

    def records(self, first: int | None = None, last: int | None = None) -> Iterator[PcapRecord]:
        """The packets held (or a range of them) as captured, oldest first."""
        start = max(first or 1, self.first_index)
        end = min(last if last is not None else self.last_index, self.last_index)
        for index in range(start, end + 1):
            record = self.record(index)
            if record is not None:
                yield record

    def __iter__(self) -> Iterator[PacketSummary]:
        """The packets held, oldest first, decoded as iteration reaches each one."""
        for index in range(self.first_index, self.last_index + 1):
            packet = self.get(index)
            if packet is not None:
                yield packet


class PacketRing(SummaryCache):
    """Keeps the last ``capacity`` packets; counts what scrolled out."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("the ring needs room for at least one packet")
        super().__init__()
        self.capacity = capacity
        self._data: list[bytes] = [b""] * capacity
        self._times = array("d", bytes(8 * capacity))
        self._lengths = array("I", bytes(4 * capacity))
        self._linktypes = array("H", bytes(2 * capacity))
        self._sources = array("B", bytes(capacity))
        """Which input each packet came from (at most 256 inputs: one byte a packet)."""
        self._owners = array("I", bytes(4 * capacity))
        """Per packet, an id into the session's table of processes (0: none)."""
        self._indices = array("q", bytes(8 * capacity))
        self._last = 0
        """Index of the newest packet; 0 while empty. Indices start at 1."""

    @property
    def last_index(self) -> int:
        """Index of the newest packet held (0 when nothing was ever added)."""
        return self._last

    @property
    def first_index(self) -> int:
        """Index of the oldest packet still held (``last_index + 1`` when empty)."""
        return max(1, self._last - self.capacity + 1)

    @property
    def evicted(self) -> int:
        """How many packets were pushed out to make room for newer ones."""
        return max(0, self._last - self.capacity)

    def __len__(self) -> int:
        return min(self._last, self.capacity)

    def add(
        self, timestamp: float, length: int, linktype: int, data: bytes, source: int = 0
    ) -> int:
        """Store the next packet (capture thread); returns its index."""
        index = self._last + 1
        slot = (index - 1) % self.capacity
        self._indices[slot] = 0  # readers of the old packet now see it as gone
        self._data[slot] = data
        self._times[slot] = timestamp
        self._lengths[slot] = length
        self._linktypes[slot] = linktype
        self._sources[slot] = source
        self._owners[slot] = 0
        self._indices[slot] = index
        self._last = index
        return index

    def add_records(self, records: list[PcapRecord], owners: Sequence[int] = ()) -> int:
        """Store a batch (with each packet's process id, when given); returns the last index."""
        capacity, data, times, lengths = self.capacity, self._data, self._times, self._lengths
        linktypes, sources, indices = self._linktypes, self._sources, self._indices
        owner_ids = self._owners
        index = self._last
        ids: Iterable[int] = owners or repeat(0)
        for (timestamp, length, linktype, frame, source), owner in zip(records, ids, strict=False):
            index += 1
            slot = (index - 1) % capacity
            indices[slot] = 0
            data[slot] = frame
            times[slot] = timestamp
            lengths[slot] = length
            linktypes[slot] = linktype
            sources[slot] = source
            owner_ids[slot] = owner
            indices[slot] = index
            self._last = index
        return index

    def owner_id(self, index: int) -> int:
        """The process id stored with a packet (0: none, or the packet left the ring)."""
        if index < 1 or index > self._last:
            return 0
        slot = (index - 1) % self.capacity
        found = self._owners[slot]
        return found if self._indices[slot] == index else 0

    def record(self, index: int) -> PcapRecord | None:
        """The packet as captured (no decoding), or None if it was evicted or never seen."""
        if index < 1 or index > self._last:
            return None
        slot = (index - 1) % self.capacity
        if self._indices[slot] != index:
            return None
        record = PcapRecord(
            self._times[slot],
            self._lengths[slot],
            self._linktypes[slot],
            self._data[slot],
            self._sources[slot],
        )
        return record if self._indices[slot] == index else None
