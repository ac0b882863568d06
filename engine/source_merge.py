"""Several sources read as one, as ``tshark -i a -i b`` and ``mergecap`` do.

Every record is tagged with the number of the input it came from (``PcapRecord.source``),
so the list, the display filter (``frame.source``) and the pcapng writer (one interface
block per input) can tell them apart. Two ways to merge, because the inputs differ:

- files (``-r a -r b``) are merged by timestamp, like ``mergecap``: the oldest record of
  all files comes first (of records with the same time, that of the file named last, as
  mergecap 4.0 orders them). The files are indexed together in
  one :class:`FileRing`, so nothing is copied into memory;
- live interfaces and commands (``-i a -i b``, ``--source-cmd`` repeated) are
  interleaved as they arrive: each is read by a thread of its own (an idle command must
  not hold back a busy interface), and what arrived together is put in time order.
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path

from engine import bpf
from engine.errors import LivetapError
from engine.file_ring import FileRing
from engine.pcapio import PcapRecord, open_pcap
from engine.replay import IndexedFileSource, StreamSource, open_file_source
from engine.source import PacketSource

_Item = tuple[float, int, PcapRecord, int]
"""A file's record in the merge: timestamp, minus its input number, the record, its offset."""
Batches = Iterable[tuple[list[PcapRecord], Sequence[int]]]
"""One file's records in batches, each record with where it is in its file (or 0)."""

QUEUE_BATCHES = 64
"""Batches a live input may have waiting; beyond that its thread waits (as the loop would)."""


def _tagged(records: list[PcapRecord], number: int) -> list[PcapRecord]:
    """The records marked as input ``number``'s (the first input's are already: 0)."""
    if number == 0:
        return records
    return [
        PcapRecord(t, length, linktype, data, number) for t, length, linktype, data, _ in records
    ]


def merge_by_time(inputs: Sequence[Batches]) -> Iterator[_Item]:
    """Several files' records as one, in mergecap's order, each tagged with its input number.

    The oldest record of all inputs comes first; of records with the same time, that of
    the input named last (mergecap 4.0's order). Items compare as (timestamp, -input
    number), so the merge runs in C without key calls; the record is ``item[2]``.
    """
    return heapq.merge(*(_numbered(number, batches) for number, batches in enumerate(inputs)))


def _numbered(number: int, batches: Batches) -> Iterator[_Item]:
    """One input's records tagged with its number, each with where its bytes are."""
    rank = -number
    for records, offsets in batches:
        for record, offset in zip(_tagged(records, number), offsets, strict=True):
            yield record[0], rank, record, offset


def unique_names(sources: Sequence[PacketSource]) -> tuple[str, ...]:
    """Each input's name; two files of the same name in different folders stay apart."""
    return distinct_names([source.source_names[0] for source in sources])


def distinct_names(names: Sequence[str]) -> tuple[str, ...]:
    """The names, a repeated one numbered by its place: ``a.pcap (1)``, ``a.pcap (3)``."""
    return tuple(
        f"{name} ({number + 1})" if names.count(name) > 1 else name
        for number, name in enumerate(names)
    )


class _Merged:
    """What both merges share: the inputs, their names, filter, drops and warnings."""

    def __init__(self, sources: Sequence[PacketSource]) -> None:
        self._sources = list(sources)
        self.source_names = unique_names(sources)
        self.description = f"{len(sources)} sources: " + ", ".join(
            source.description for source in sources
        )
        self.linktype = sources[0].linktype
        self.source_linktypes = tuple(source.linktype for source in sources)
        self.filter: bpf.CompiledFilter = sources[0].filter

    @property
    def warnings(self) -> list[str]:
        """Every input's warnings, each with the input's name."""
        return [
            f"{name}: {warning}"
            for name, source in zip(self.source_names, self._sources, strict=True)
            for warning in source.warnings
        ]

    def set_filter(self, expression: str) -> bpf.CompiledFilter:
        """The filter on every input, or on none (an input refusing it restores the others)."""
        done: list[tuple[PacketSource, str]] = []
        try:
            for source in self._sources:
                old = source.filter.expression
                source.set_filter(expression)
                done.append((source, old))
        except LivetapError:
            for source, old in done:
                source.set_filter(old)
            raise
        self.filter = self._sources[0].filter
        return self.filter

    def kernel_drops(self) -> int | None:
        """The drops of every input that has a kernel queue; None when none has."""
        drops = [d for d in (source.kernel_drops() for source in self._sources) if d is not None]
        return sum(drops) if drops else None


def _file(path: Path, expression: str, realtime: bool, snaplen: int) -> StreamSource:
    """One file to merge: indexed, or (to replay the merge at its pace) read as a stream."""
    if not realtime:
        return open_file_source(path, expression, False, snaplen)
    reader = open_pcap(path)
    try:
        return StreamSource(reader, f"file {path.name}", expression, False, snaplen)
    except BaseException:
        reader.close()
        raise


class MergedFileSource(_Merged):
    """Capture files merged by time into one indexed buffer (``-r a -r b``)."""

    can_wait = True

    def __init__(
        self, paths: Sequence[str | Path], expression: str, realtime: bool, snaplen: int
    ) -> None:
        self._paths = [Path(path) for path in paths]
        sources: list[StreamSource] = []
        try:
            for path in self._paths:
                sources.append(_file(path, expression, realtime, snaplen))
            self._index: FileRing | None = None if realtime else FileRing(*self._paths)
        except BaseException:
            for source in sources:
                source.close()
            raise
        super().__init__(sources)
        self._files = sources
        self._realtime, self._snaplen = realtime, snaplen
        for source in sources:
            if isinstance(source, IndexedFileSource):
                source.index.close()  # the shared index reads the files back
        self._merged = merge_by_time([self._batches(source) for source in sources])
        self._pace_origin: tuple[float, float] | None = None
        self._held: list[tuple[PcapRecord, int]] = []
        self.finished = False

    @property
    def ring(self) -> FileRing | None:
        """The files, indexed together (None when replayed at their pace)."""
        return self._index

    @staticmethod
    def _batches(source: StreamSource) -> Batches:
        """One file's batches, each record with where its bytes are (for the shared index)."""
        index = source.index if isinstance(source, IndexedFileSource) else None
        while not source.finished:
            records = source.read_batch(0.0)
            offsets = index.pending_offsets if index is not None else [0] * len(records)
            if index is not None:
                index.pending_offsets = []
            yield records, offsets

    def read_batch(self, timeout: float, max_records: int = 8192) -> list[PcapRecord]:
        """The next records of all files in time order; [] with ``finished`` at the end."""
        if self.finished:
            time.sleep(timeout)
            return []
        items = self._held or [item[2:] for item in islice(self._merged, max_records)]
        self._held = []
        if not items:
            self.finished = True
            return []
        if self._realtime:
            items = self._pace(items, timeout)
        if self._index is not None:
            self._index.pending_offsets = [offset for _record, offset in items]
        return [record for record, _offset in items]

    def _pace(
        self, items: list[tuple[PcapRecord, int]], timeout: float
    ) -> list[tuple[PcapRecord, int]]:
        """Release records when their original time comes; hold back the rest."""
        now = time.monotonic()
        if self._pace_origin is None:
            self._pace_origin = (items[0][0].timestamp, now)
        first, started = self._pace_origin
        due = [item for item in items if item[0].timestamp - first <= now - started]
        self._held = items[len(due) :]
        if not due and self._held:
            wait = self._held[0][0].timestamp - first - (now - started)
            time.sleep(min(max(wait, 0.0), timeout))
        return due

    def reread(self, expression: str) -> MergedFileSource:
        """The same files from their start through ``expression`` (a new capture filter)."""
        return MergedFileSource(self._paths, expression, self._realtime, self._snaplen)

    def close(self) -> None:
        """Close every file and the shared index."""
        for source in self._files:
            source.close()
        if self._index is not None:
            self._index.close()


class MergedLiveSource(_Merged):
    """Interfaces and commands read side by side, interleaved as they arrive."""

    ring: FileRing | None = None

    def __init__(self, sources: Sequence[PacketSource]) -> None:
        super().__init__(sources)
        self.can_wait = all(source.can_wait for source in sources)
        self._queue: queue.Queue[tuple[int, list[PcapRecord]] | LivetapError] = queue.Queue(
            QUEUE_BATCHES
        )
        self._stop = threading.Event()
        self._running = len(sources)
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(
                target=self._read, args=(number, source), name="livetap-source", daemon=True
            )
            for number, source in enumerate(sources)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def finished(self) -> bool:
        """Every input ended (commands that exited) and everything was handed over."""
        return self._running == 0 and self._queue.empty()

    def _read(self, number: int, source: PacketSource) -> None:
        """One input's thread: read batches, tag them, queue them until stopped or ended."""
        try:
            while not self._stop.is_set():
                records = source.read_batch(0.1)
                if records:
                    self._put((number, _tagged(records, number)))
                elif source.finished:
                    break
        except LivetapError as error:
            if not self._stop.is_set():
                self._put(error)
        except (OSError, ValueError) as error:
            if not self._stop.is_set():
                name = self.source_names[number]
                self._put(LivetapError(f"reading {name} stopped: {error}"))
        finally:
            with self._lock:
                self._running -= 1

    def _put(self, item: tuple[int, list[PcapRecord]] | LivetapError) -> None:
        """Queue an item, waiting for room, unless the source is being closed."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read_batch(self, timeout: float, max_records: int = 8192) -> list[PcapRecord]:
        """What arrived from any input, waiting at most ``timeout`` for the first batch."""
        try:
            item = self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
        except queue.Empty:
            return []
        batches = 0
        records: list[PcapRecord] = []
        while True:
            if isinstance(item, LivetapError):
                raise item
            records.extend(item[1])
            batches += 1
            if len(records) >= max_records:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        if batches > 1:
            records.sort(key=lambda record: record.timestamp)
        return records

    def reread(self, expression: str) -> PacketSource | None:
        """Live inputs cannot be read again: the filter applies from the next packet."""
        return None

    def close(self) -> None:
        """Stop the threads, then close every input (never a ring a thread still reads)."""
        self._stop.set()
        others = [thread for thread in self._threads if thread is not threading.current_thread()]
        deadline = time.monotonic() + 0.5  # a live input returns from its 0.1 s read
        for thread in others:
            thread.join(max(0.0, deadline - time.monotonic()))
        for source in self._sources:
            source.close()  # a command still blocked on its pipe ends with its process
        for thread in others:
            thread.join(2)
