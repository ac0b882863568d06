"""The packets a display filter lets through, kept in step with the ring.

The view holds the indices of matching packets in the buffer: the capture
thread adds new ones as they arrive (a display filter costs a few microseconds
a packet), a scan fills in what was buffered before the filter was set, and
indices that left the ring are dropped from the front. The UI reads rows by
position, like it reads the ring.
"""

from __future__ import annotations

import bisect
import threading
from typing import TYPE_CHECKING

from engine.display_filter import DisplayFilter
from engine.events import PacketSummary
from engine.file_ring import FileRing
from engine.packet.streams import FrameAnalysis
from engine.ring import PacketRing
from engine.ring_analysis import RingAnalysis

if TYPE_CHECKING:
    from engine.filter_file import FramePaths


class RingTimes:
    """Other packets' times, looked up in the buffer (for frame.time_relative and _delta),
    and, for a filter that names them, the stateful fields (tcp.stream, tcp.analysis.*).

    The first packet is the capture's first (number 1) while it is buffered, then the
    oldest one still buffered; a file source keeps them all, so its times are Wireshark's.
    The stateful fields count from the oldest packet buffered when first asked (the whole
    file for a file source), each packet observed once, in order (the buffer's one
    :class:`~engine.ring_analysis.RingAnalysis`, shared with the list's Info notes).
    """

    def __init__(self, ring: PacketRing | FileRing, track: bool = False) -> None:
        self.ring = ring
        self._first: float | None = None
        self.displayed_time: float | None = None
        """The newest packet the filter passed (frame.time_delta_displayed)."""
        self.analysis: RingAnalysis | None = ring.analysis if track else None
        """The buffer's one analysis, shared with the list's Info notes."""

    @property
    def first_time(self) -> float | None:
        """The first packet's timestamp."""
        if self._first is None:
            record = self.ring.record(1) or self.ring.record(self.ring.first_index)
            if record is None:
                return None
            if self.ring.first_index == 1:
                self._first = record.timestamp  # the capture's own first: it never changes
            return record.timestamp
        return self._first

    def time_of(self, index: int) -> float | None:
        """The timestamp of packet ``index`` while it is buffered."""
        record = self.ring.record(index)
        return None if record is None else record.timestamp

    def analysis_of(self, index: int) -> FrameAnalysis | None:
        """Packet ``index``'s stream numbers and TCP analysis, when the filter needs them."""
        return None if self.analysis is None else self.analysis.analysis_of(index)


class DisplayView:
    """Indices of buffered packets that pass a display filter, oldest first."""

    def __init__(self, ring: PacketRing | FileRing, display_filter: DisplayFilter) -> None:
        self.ring = ring
        self.filter = display_filter
        self._lock = threading.Lock()
        self._indices: list[int] = []
        self._start = 0
        """Rows before this position were evicted (dropped lazily, in bulk)."""
        self.trimmed = 0
        """How many matching rows have left the front, ever (the list's scroll shift)."""
        self.scanned_to = ring.last_index
        """Packets up to here are scanned by :meth:`scan`; newer ones by :meth:`add`."""
        self.scanning = True
        self.times = RingTimes(ring, track=display_filter.stateful)
        self._paths: FramePaths | None = None
        """A file's packets reassembled in order, when the filter names http, udp...: the
        file view answers as ``livetap filter`` (tshark's frames); a live ring, which loses
        its oldest packets, filters each packet on its own."""
        if isinstance(ring, FileRing) and display_filter.uses_reassembly:
            from engine.filter_file import FramePaths  # (only for such a filter on a file)

            self._paths = FramePaths()
        self._pending: list[PacketSummary] = []
        """Packets that arrived while the scan reassembles (they come after it, in order)."""
        self._paths_lock = threading.Lock()

    def add(self, packet: PacketSummary) -> None:
        """A new packet from the capture thread."""
        if packet.index <= self.scanned_to:
            return
        paths = self._paths
        if paths is None:
            matched = self.filter.matches_packet(packet, self.times)
        else:
            with self._paths_lock:
                if self.scanning:
                    self._pending.append(packet)
                    return
                path = paths.path_of(packet)
            matched = self.filter.matches_packet(packet, self.times, path)
        if matched:
            self.times.displayed_time = packet.timestamp
            with self._lock:
                self._indices.append(packet.index)

    def scan(self) -> None:
        """Match what was buffered before the filter was set (any thread, once)."""
        found = []
        paths = self._paths
        for index in range(self.ring.first_index, self.scanned_to + 1):
            packet = self.ring.get(index)
            if packet is None:
                continue
            path = paths.path_of(packet) if paths is not None else None
            if self.filter.matches_packet(packet, self.times, path):
                self.times.displayed_time = packet.timestamp
                found.append(index)
        while paths is not None:  # then what arrived meanwhile, in order
            with self._paths_lock:
                pending, self._pending = self._pending, []
                if not pending:
                    self.scanning = False
                    break
            for packet in pending:
                if self.filter.matches_packet(packet, self.times, paths.path_of(packet)):
                    self.times.displayed_time = packet.timestamp
                    found.append(packet.index)
        with self._lock:
            self._indices[self._start : self._start] = found
        self.scanning = False

    def trim(self) -> int:
        """Forget rows whose packets were evicted; returns how many rows went."""
        first = self.ring.first_index
        with self._lock:
            cut = bisect.bisect_left(self._indices, first, self._start)
            gone = cut - self._start
            self._start = cut
            if self._start > 4096 and self._start * 2 > len(self._indices):
                del self._indices[: self._start]
                self._start = 0
        self.trimmed += gone
        return gone

    def __len__(self) -> int:
        return len(self._indices) - self._start

    def index_at(self, row: int) -> int | None:
        """The packet index on a row, or None past the end."""
        with self._lock:
            position = self._start + row
            return self._indices[position] if row >= 0 and position < len(self._indices) else None

    def rows_up_to(self, index: int) -> int:
        """How many rows show packets with an index up to ``index`` (for a paused view)."""
        with self._lock:
            return bisect.bisect_right(self._indices, index, self._start) - self._start

    def row_of(self, index: int) -> int | None:
        """The row of a packet index, if it matches and is still held."""
        with self._lock:
            position = bisect.bisect_left(self._indices, index, self._start)
            if position < len(self._indices) and self._indices[position] == index:
                return position - self._start
        return None
