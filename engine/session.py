"""The capture session: one packet source read by one thread into a bounded ring.

The thread stores each frame as captured in the ring (a summary is decoded
only when something asks for it) and counts. The UI, a test or the CLI calls
:meth:`CaptureSession.poll` on a timer to learn what arrived, as one batch, and
reads the packets it shows from the ring. Nothing a user does can stop the
capture: a bad filter raises and leaves the old filter running.

On a live capture of this host it also ties each packet to the program that sent it
(:class:`~engine.process.packet_owners.PacketOwners`): a small id per packet in the
ring, read back by :meth:`CaptureSession.process_of` and the ``proc.*`` filter fields.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.bpf import compile_filter
from engine.capture_loop import LoopEnd, run_loop
from engine.display_filter import compile_display_filter
from engine.errors import LivetapError, UsageError
from engine.events import CaptureStats, PacketBatch, PacketSummary
from engine.file_ring import FileRing
from engine.live_analysis import LiveAnalysis
from engine.packet_marks import PacketMarks
from engine.packet_range import PacketRange
from engine.pcapio import PcapRecord, write_pcap_file
from engine.process import registry
from engine.process.packet_owners import PacketOwners
from engine.process.procfs import ProcessInfo
from engine.process.program import (
    ProgramMatcher,
    kernel_expression,
    split_process_clause,
    user_expression,
)
from engine.process.saved import packet_comment
from engine.ring import PacketRing
from engine.source import PacketSource
from engine.view import DisplayView

RATE_WINDOW = 1.0
"""Packets per second are averaged over about this many seconds."""


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What ``save_pcap`` wrote, for the status line and the CLI."""

    path: Path
    packets: int
    first_index: int
    last_index: int
    ignored: int = 0
    """Ignored packets left out of the file."""


SAVE_CHOICES = ("all", "displayed", "marked", "range")
"""Which packets ``save_packets`` writes (Wireshark's Export Specified Packets)."""


class CaptureSession:
    """Reads one source in a background thread and keeps the last packets."""

    def __init__(
        self,
        source: PacketSource,
        ring_size: int = 100_000,
        analyze: bool = True,
        owners: PacketOwners | None = None,
    ) -> None:
        self.source = source
        self.owners = owners
        """Which program sent each packet (live captures of this host); None: not asked."""
        self._ring_size = ring_size
        self.generation = 0
        """Times the buffer was replaced: a capture filter set on a file reads it again, so
        the packets (and their indices) start over; a front end compares this to its own."""
        self.analysis = LiveAnalysis() if analyze else None
        """Live statistics of everything captured (protocols, talkers, conversations ...)."""
        self.ring: PacketRing | FileRing = (
            source.ring if source.ring is not None else PacketRing(ring_size)
        )
        """The buffer: the last packets in memory, or (for a file) the file itself, indexed."""
        self.ring.source_names = source.source_names
        self._packets = 0
        self._bytes = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: LivetapError | None = None
        self._finished = False
        self._polled_to = 0
        self._rate_samples: deque[tuple[float, int]] = deque()
        self._filter_lock = threading.Lock()
        self._can_wait = source.can_wait
        """Files and pipes can be read later; a live interface cannot."""
        self.view: DisplayView | None = None
        """The display filter's view of the buffer, when one is set."""
        self.on_packets: Callable[[], None] | None = None
        """Called from the capture thread after each batch (cheap; e.g. set an Event)."""
        self.marks = PacketMarks()
        """The packets the user marked and ignored (a file read again starts over)."""

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start the capture thread (once)."""
        if self._thread is not None:
            return
        if self.owners is not None:
            registry.register_reader(self.process_of)
        self._thread = threading.Thread(target=self._run, name="livetap-capture", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and close the source; safe to call more than once."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.source.close()
        if self.analysis is not None:
            self.analysis.stop()
        if self.owners is not None:
            self.owners.close()
            registry.unregister_reader(self.process_of)

    def __enter__(self) -> CaptureSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the capture thread is reading."""
        return self._thread is not None and self._thread.is_alive()

    def wait_finished(self, timeout: float) -> bool:
        """Wait until a file or command source is read to its end."""
        deadline = time.monotonic() + timeout
        while not self._finished and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._finished

    def _run(self) -> None:
        """The capture thread: the capture loop with the ring as its sink."""
        stop, source = self._stop, self.source  # this thread's, even once a file is re-read
        if self.owners is not None:
            self.owners.start()  # here, not in start(): the watcher takes ~0.1 s to start
        try:
            end = run_loop(source, self._store, stop)
            self._finished = end is LoopEnd.SOURCE_ENDED
        except LivetapError as error:
            if not stop.is_set():
                self._error = error
        except (OSError, ValueError) as error:
            if not stop.is_set():
                self._error = LivetapError(f"the capture stopped: {error}")

    def _store(self, records: list[PcapRecord]) -> bool:
        """The loop's sink: keep a batch as captured; the only place packets are numbered.

        Nothing is decoded here: the ring decodes a packet's summary when the
        list (or a display filter, or a writer) asks for it. Never asks to stop.
        """
        ring = self.ring
        owners = self.owners
        if owners is not None and isinstance(ring, PacketRing):
            records, ids = owners.select(records)  # --process keeps one program's
            if not records:
                return False
            last = ring.add_records(records, ids)
        else:
            last = ring.add_records(records)
        self._packets += len(records)
        self._bytes += sum(record.length for record in records)
        if self.analysis is not None:
            self.analysis.feed(records, wait=self._can_wait)
        view = self.view
        if view is not None:
            for number in range(last - len(records) + 1, last + 1):
                packet = ring.get(number)
                if packet is not None:
                    view.add(packet)
        callback = self.on_packets
        if callback is not None:
            callback()
        return False

    # -- the API the UI and the CLI use -------------------------------------------

    def poll(self) -> PacketBatch:
        """What arrived since the previous poll, with the current statistics."""
        first = self._polled_to + 1
        last = self.ring.last_index
        self._polled_to = last
        return PacketBatch(max(first, self.ring.first_index), last, self.stats())

    def stats(self) -> CaptureStats:
        """The counters as they are now."""
        source = self.source
        warnings = source.warnings
        expression = source.filter.expression
        owners = self.owners
        if owners is not None:
            if not warnings and owners.warning:
                warnings = [owners.warning]
            if owners.only is not None:
                expression += f" · process {owners.only.selector}"
        return CaptureStats(
            source=source.description,
            filter=expression,
            packets=self._packets,
            bytes=self._bytes,
            packets_per_second=self._rate(),
            kernel_drops=source.kernel_drops(),
            evicted=self.ring.evicted,
            buffered=len(self.ring),
            running=self.running,
            finished=self._finished,
            error=self._error.message if self._error else None,
            warning=warnings[-1] if warnings else None,
        )

    def _rate(self) -> float:
        """Packets per second over the last second or so."""
        now = time.monotonic()
        samples = self._rate_samples
        samples.append((now, self._packets))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW:
            samples.popleft()
        then, count = samples[0]
        elapsed = now - then
        return (self._packets - count) / elapsed if elapsed > 0.05 else 0.0

    def packet(self, index: int) -> PacketSummary | None:
        """The packet with this index, or None once it left the ring."""
        return self.ring.get(index)

    def process_of(self, index: int) -> ProcessInfo | None:
        """The program the packet with this index was tied to when captured.

        None when the session does not attribute, the packet is an input's that is not
        this host's interface, or it left the ring; an unknown (with its reason) when
        attribution could not tell.
        """
        owners = self.owners
        if owners is None:
            return None
        owner = owners.info(self.ring.owner_id(index))
        if owner is not None and not owner.known:
            later = self._learnt_later(owners, index)
            if later is not None:
                return later
        return owner

    def _learnt_later(self, owners: PacketOwners, index: int) -> ProcessInfo | None:
        """The flow's owner learnt after this packet was captured (a SYN read before the
        SYN watcher's answer came back under load), if it is this connection's; no lookup.
        """
        attributor = owners.attributor
        record = self.ring.record(index)
        if attributor is None or record is None:
            return None
        from engine.packet.model import Packet

        learnt = attributor.cached(Packet(record.linktype, record.data), record.timestamp)
        return learnt if learnt is not None and learnt.known else None

    def set_filter(self, expression: str) -> str:
        """Apply a new BPF filter to the running source.

        A live interface or a command's stream is filtered from the next packet on. A
        file is read again from its start through the new filter: its buffer, counters
        and statistics start over and :attr:`generation` goes up, so the front end shows
        the new list (the old one kept only what the old filter let through).

        ``[BPF and ] process NAME|PID`` captures by program, as ``--process`` does: the
        kernel filter narrows to TCP/UDP and each flow is kept when its process is the
        program or its child (a live capture of this host only). A filter without that
        clause keeps every program's packets again.

        Raises :class:`~engine.errors.FilterError` with libpcap's message when the
        expression is invalid (a :class:`~engine.errors.LivetapError` when capture by
        program is impossible here); the capture then goes on with its old filter.
        """
        bpf, program = split_process_clause(expression)
        owners = self.owners
        if program is None and (owners is None or owners.only is None):
            with self._filter_lock:
                fresh = self.source.reread(expression)
                if fresh is None:
                    return self.source.set_filter(expression).expression
                self._replace_source(fresh)
                return fresh.filter.expression
        return self._set_program_filter(bpf, program)

    def _set_program_filter(self, bpf: str, program: str | None) -> str:
        """Capture by program (or stop doing so) with ``bpf`` as the rest of the filter."""
        owners = self.owners
        matcher = ProgramMatcher(program) if program is not None else None
        if owners is None:
            raise UsageError(
                "process: capture by program keeps one program of this host's traffic; it "
                "needs a live capture of this host's interfaces with attribution on (not a "
                "file, a command's stream or --no-process)"
            )
        kernel = kernel_expression(bpf) if matcher is not None else bpf
        with self._filter_lock:
            compile_filter(kernel, self.source.filter.linktype, self.source.filter.snaplen)
            previous = owners.only
            owners.set_only(matcher)  # raises when attribution is not running
            try:
                applied = self.source.set_filter(kernel).expression
            except LivetapError:
                owners.set_only(previous)
                raise
        return user_expression(applied, matcher.selector) if matcher is not None else applied

    @property
    def capture_filter(self) -> str:
        """The capture filter as the user gives it (``… and process N`` by program)."""
        expression = self.source.filter.expression
        only = self.owners.only if self.owners is not None else None
        return user_expression(expression, only.selector) if only is not None else expression

    def _replace_source(self, fresh: PacketSource) -> None:
        """Stop reading the old source, start over on ``fresh`` with an empty buffer."""
        was_running = self._thread is not None
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self.source.close()
        if self.analysis is not None:
            self.analysis.stop()
            self.analysis = LiveAnalysis()
        self.source = fresh
        self.ring = fresh.ring if fresh.ring is not None else PacketRing(self._ring_size)
        self.ring.source_names = fresh.source_names
        self._can_wait = fresh.can_wait
        self._packets = self._bytes = self._polled_to = 0
        self._finished = False
        self._error = None
        self._rate_samples.clear()
        self.marks = PacketMarks()
        if self.view is not None:
            self.view = DisplayView(self.ring, self.view.filter)
            self.view.scan()  # an empty buffer: nothing to scan, new packets are added
        self.generation += 1
        self._stop = threading.Event()
        self._thread = None
        if was_running:
            self.start()

    def set_display_filter(self, text: str) -> DisplayView | None:
        """Show only the packets ``text`` matches (empty: all); raises DisplayFilterError.

        New packets are matched as they arrive; what is already buffered is scanned
        by :meth:`DisplayView.scan`, which the caller runs (it takes a while on a
        full buffer, so the UI runs it in a worker).
        """
        compiled = compile_display_filter(text)
        if compiled.matches_everything or not compiled.uses_packet_fields:
            self.view = None if compiled.matches_everything else DisplayView(self.ring, compiled)
            if self.view is not None:
                self.view.scanning = False  # a request-only filter hides every packet
            return self.view
        self.view = DisplayView(self.ring, compiled)
        return self.view

    def save_pcap(
        self,
        path: str | Path,
        first: int | None = None,
        last: int | None = None,
        *,
        secrets: bytes = b"",
    ) -> SaveResult:
        """Write the buffered packets (or a range of them) to a pcap/pcapng file.

        ``secrets`` (TLS key log lines, only when the user asked) are embedded.

        In pcapng each packet a live capture attributed carries its process as a packet
        comment (tshark's ``frame.comment``); a pcap file has no room for it.
        """
        start = max(first or 1, self.ring.first_index)
        end = min(last or self.ring.last_index, self.ring.last_index)
        names = self.source.source_names if len(self.source.source_names) > 1 else ()
        records = list(self.ring.records(start, end))
        comments = self._comments(range(start, end + 1)) if len(records) == end - start + 1 else []
        written = write_pcap_file(path, records, names=names, secrets=secrets, comments=comments)
        return SaveResult(Path(path).resolve(), written, start, end)

    def _comments(self, indices: Iterable[int]) -> list[str]:
        """Each packet's process as its pcapng comment ("" where none), one per index."""
        if self.owners is None:
            return []
        made: dict[ProcessInfo | None, str] = {}
        comments = []
        for index in indices:
            owner = self.process_of(index)
            text = made.get(owner)
            if text is None:
                text = made[owner] = packet_comment(owner)
            comments.append(text)
        return comments

    def save_packets(
        self,
        path: str | Path,
        which: str,
        packet_range: PacketRange | None = None,
        *,
        secrets: bytes = b"",
    ) -> SaveResult:
        """Write all, the displayed, the marked or a range of the buffered packets.

        ``which`` is one of :data:`SAVE_CHOICES`; ``displayed`` is the display filter's
        packets (all without one), ``range`` needs ``packet_range``. Ignored packets are
        left out and counted in the result. ``secrets`` (TLS key log lines, only when the
        user asked) are embedded; in pcapng each attributed packet carries its process as
        a packet comment.
        """
        ring, marks = self.ring, self.marks
        first, last = ring.first_index, ring.last_index
        chosen: Iterable[int]
        if which == "all":
            chosen = range(first, last + 1)
        elif which == "displayed":
            view = self.view
            chosen = range(first, last + 1) if view is None else _view_indices(view)
        elif which == "marked":
            chosen = sorted(i for i in marks.marked if first <= i <= last)
        elif which == "range" and packet_range is not None:
            chosen = packet_range.indices(first, last)
        else:
            raise UsageError(f"save which packets? one of {', '.join(SAVE_CHOICES)}")
        left_out = 0
        kept: list[int] = []
        records: list[PcapRecord] = []
        for index in chosen:
            if marks.is_ignored(index):
                left_out += 1
                continue
            record = ring.record(index)
            if record is not None:
                kept.append(index)
                records.append(record)
        names = self.source.source_names if len(self.source.source_names) > 1 else ()
        comments = self._comments(kept)
        written = write_pcap_file(path, records, names=names, secrets=secrets, comments=comments)
        return SaveResult(Path(path).resolve(), written, first, last, left_out)


def _view_indices(view: DisplayView) -> Iterator[int]:
    """The packets a display view shows, oldest first."""
    for row in range(len(view)):
        index = view.index_at(row)
        if index is not None:
            yield index
