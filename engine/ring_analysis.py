"""Stream numbers and TCP analysis of buffered packets, computed in capture order on demand.

The stateful fields (``tcp.stream``, ``tcp.analysis.*``, relative sequence numbers)
need every packet before the one asked about. A :class:`RingAnalysis` feeds the buffer's
packets to a :class:`~engine.packet.streams.StreamTracker` in order, up to the one asked
for, and keeps the answers of the last :data:`KEPT` packets: a display view walking the
buffer, or the live view asking for each new packet, costs one observation a packet
(amortised O(1)); nothing is done for packets no one asks about.

Memory stays bounded: packets the ring evicted before being observed are skipped, and
conversations whose last packet left the ring are forgotten (seen again, they get a new
stream number; Wireshark, which keeps a whole file, would give the old one). Asking
about a packet older than the answers kept starts again from the oldest buffered packet.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

from engine.packet.model import Packet
from engine.packet.streams import NOTHING, FrameAnalysis, StreamTracker
from engine.pcapio import PcapRecord

KEPT = 1 << 16
"""Answers kept (the newest ones observed)."""
FORGET_EVERY = 4096
"""Observations between two sweeps of conversations that left the ring."""


class Buffer(Protocol):
    """What is read of the ring: packets by index, and the oldest one held."""

    @property
    def first_index(self) -> int: ...

    @property
    def last_index(self) -> int: ...

    def record(self, index: int) -> PcapRecord | None: ...


class RingAnalysis:
    """The stateful fields of a buffer's packets; any thread may ask."""

    def __init__(self, ring: Buffer) -> None:
        self.ring = ring
        self._lock = threading.Lock()
        self._restart(ring.first_index)

    def _restart(self, start: int) -> None:
        self._tracker = StreamTracker()
        self._results: OrderedDict[int, FrameAnalysis] = OrderedDict()
        self._next = start
        """The next packet to observe."""
        self._kept_from = start
        """Every packet observed from here on has its answer kept."""
        self._since_sweep = 0

    def analysis_of(self, index: int) -> FrameAnalysis | None:
        """The packet's stateful fields; None if it is not (or no longer) buffered."""
        first = self.ring.first_index
        if index < first:
            return None
        with self._lock:
            if index < self._kept_from:
                self._restart(first)
            if index >= self._next:
                self._observe_up_to(index)
            found = self._results.get(index)
            if found is not None:
                return found
            return NOTHING if self._kept_from <= index < self._next else None

    def advance(self, budget: int, *, behind: int | None = None) -> int:
        """Observe up to ``budget`` more buffered packets (a background worker keeping the
        Info notes current); returns how many were observed.

        With ``behind``: when more than that many packets wait, the oldest of them are
        skipped, as a capture drops packets under load (a gap reads as a segment not
        captured); asking about a skipped one later starts again from the oldest buffered.
        """
        with self._lock:
            last = self.ring.last_index
            if behind is not None and last - self._next >= behind:
                self._next = self._kept_from = last - budget + 1
            start = max(self._next, self.ring.first_index)
            stop = min(self.ring.last_index, start + budget - 1)
            if stop >= start:
                self._observe_up_to(stop)
            return max(0, stop - start + 1)

    def peek(self, index: int) -> FrameAnalysis | None:
        """The answer if it is already known (never observes anything)."""
        with self._lock:
            return self._results.get(index)

    @property
    def observed(self) -> int:
        """The newest packet observed (0 before any)."""
        return self._next - 1

    def _observe_up_to(self, index: int) -> None:
        ring = self.ring
        first = ring.first_index
        self._next = max(self._next, first)  # evicted before anyone asked: skipped
        index = min(index, ring.last_index)  # never past what was stored
        tracker, results = self._tracker, self._results
        for number in range(self._next, index + 1):
            record = ring.record(number)
            if record is None:
                continue
            found = tracker.observe(number, record.timestamp, Packet(record.linktype, record.data))
            if found is not NOTHING:
                results[number] = found
                if len(results) > KEPT:
                    dropped, _ = results.popitem(last=False)
                    self._kept_from = dropped + 1
            self._since_sweep += 1
        self._next = max(self._next, index + 1)
        if self._since_sweep >= FORGET_EVERY:
            self._since_sweep = 0
            tracker.forget_before(ring.first_index)
            while results:
                oldest = next(iter(results))
                if oldest >= ring.first_index:
                    break
                del results[oldest]
