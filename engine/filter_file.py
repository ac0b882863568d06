"""A display filter applied to a capture file or a capture, like ``tshark -r FILE -Y EXPR``.

The display filter (:mod:`engine.display_filter`) tests :class:`PacketSummary` records;
this module turns records read from a file or an interface into those summaries,
numbered as Wireshark numbers frames (from 1, every record counted, matching or not):

- :func:`record_predicate` makes a test of (frame number, record) for the analysis
  reader (``livetap analyze -Y``) and the capture (``livetap capture pcap -Y``);
- :func:`filter_file` reads a file and hands over the matching frames, with their
  list columns, and writes them to a new capture file on request (``livetap filter``);
- :class:`FilteredSource` wraps a capture source so that only matching packets
  reach the writer, counting what was captured and what matched.

Reading goes through the analysis reader (:func:`engine.analysis.reader.read_batches`),
so a missing, unreadable, empty, truncated or corrupt file behaves exactly as it does
for ``livetap analyze``: a typed error before anything is read, or the frames up to the
break with a warning and ``partial``.
"""

from __future__ import annotations

import contextlib
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import bpf
from engine.analysis.aggregate import Analyzer
from engine.analysis.reader import ProgressCallback, ReadState, file_names, read_merged_batches
from engine.decode import decode
from engine.display_filter import DisplayFilter, DisplayFilterError, compile_display_filter
from engine.display_filter.packet_fields import ProtocolPath
from engine.errors import BadInputError, ExitCode, LivetapError, UsageError
from engine.events import PacketSummary
from engine.file_ring import FileRing
from engine.http_column import HttpColumns
from engine.packet.model import Packet
from engine.packet.streams import FrameAnalysis, StreamTracker
from engine.packet_range import PacketRange
from engine.pcap_capture import RotatingPcapWriter
from engine.pcapio import PcapRecord
from engine.source import PacketSource

RecordPredicate = Callable[[int, PcapRecord], bool]
"""Whether the record with this frame number (from 1) is kept."""


class InvalidDisplayFilterError(BadInputError):
    """A ``-Y`` expression that does not compile: the filter, the column and why."""

    def __init__(self, text: str, column: int, reason: str) -> None:
        shown = text if len(text) <= 80 else text[:77] + "..."
        super().__init__(f"invalid display filter {shown!r} at column {column}: {reason}")
        self.text = text
        self.column = column
        self.reason = reason


def compile_filter(text: str) -> DisplayFilter:
    """Compile a ``-Y`` expression; a bad one raises InvalidDisplayFilterError (exit 3)."""
    try:
        return compile_display_filter(text)
    except DisplayFilterError as error:
        raise InvalidDisplayFilterError(text, error.column, error.reason) from None


def summarize(number: int, record: PcapRecord, source_names: tuple[str, ...] = ()) -> PacketSummary:
    """The packet list's summary of one record: what a display filter tests."""
    timestamp, length, linktype, data, source = record
    src, dst, sport, dport, protocol, info = decode(linktype, data)
    name = source_names[source] if source < len(source_names) else ""
    return PacketSummary(
        number, timestamp, length, linktype, src, dst, sport, dport, protocol, info, data, name
    )


class SequentialTimes:
    """What a filter needs of the packets before the one it tests, for packets read in order.

    The first packet's and the previous one's times, the last one the filter passed
    (frame.time_delta_displayed), and, with ``track``, the stream numbers and TCP analysis
    of every packet (fed by :meth:`advance`, so each is observed once and in order).
    """

    def __init__(self, track: bool = False) -> None:
        self.first_time: float | None = None
        self.displayed_time: float | None = None
        self._previous: tuple[int, float] | None = None
        self._current: tuple[int, float] | None = None
        self.tracker = StreamTracker() if track else None
        self._analysis: FrameAnalysis | None = None

    def advance(self, number: int, record: PcapRecord) -> FrameAnalysis | None:
        """Packet ``number`` is the one being tested now; its stateful fields if tracked."""
        timestamp = record.timestamp
        if self.first_time is None:
            self.first_time = timestamp
        self._previous, self._current = self._current, (number, timestamp)
        if self.tracker is not None:
            self._analysis = self.tracker.observe(
                number, timestamp, Packet(record.linktype, record.data)
            )
        return self._analysis

    def shown(self, timestamp: float) -> None:
        """The packet being tested passed the filter."""
        self.displayed_time = timestamp

    def time_of(self, index: int) -> float | None:
        """The previous packet's time (the only other one a sequential reader keeps)."""
        for known in (self._previous, self._current):
            if known is not None and known[0] == index:
                return known[1]
        return None

    def analysis_of(self, index: int) -> FrameAnalysis | None:
        """The current packet's stateful fields (only it is kept)."""
        current = self._current
        return self._analysis if current is not None and current[0] == index else None


class FramePaths:
    """Each frame's protocols after reassembly, for packets read in capture order.

    tshark decides ``http`` (and ``udp`` on a fragmented datagram, ``dns`` over TCP)
    on the frame that completes the message; that frame is known when it is read, so
    one pass in order gives tshark's answer. The reading is the analysis's own (its
    protocol hierarchy: TCP streams, HTTP messages, IP fragments), fed every frame.
    """

    def __init__(self) -> None:
        self._analyzer = Analyzer(reports=("protocols",))

    def path(self, record: PcapRecord) -> ProtocolPath:
        """The protocols of the next frame of the capture."""
        return self._analyzer.frame_path(
            record.timestamp, record.length, record.linktype, record.data
        )

    def path_of(self, packet: PacketSummary) -> ProtocolPath:
        """The protocols of the next frame, from its packet-list summary."""
        return self._analyzer.frame_path(
            packet.timestamp, packet.length, packet.linktype, packet.data
        )


def _columns(paths: FramePaths | None) -> HttpColumns:
    """The Protocol and Info columns after HTTP reassembly: from the filter's own paths
    when it reassembles (each frame's path is then passed in), else from paths of their
    own, asked only for the frames of connections that carried HTTP."""
    return HttpColumns((paths or FramePaths()).path)


def frame_paths(display_filter: DisplayFilter) -> FramePaths | None:
    """A reassembling reader when the filter names a protocol that needs one, else None."""
    return FramePaths() if display_filter.uses_reassembly else None


def record_predicate(
    display_filter: DisplayFilter, source_names: tuple[str, ...] = ()
) -> RecordPredicate:
    """A test of (frame number, record) by a compiled display filter; it never raises.

    ``source_names`` name the inputs by ``record.source``, for ``frame.source``. The
    records must come in capture order, each once (frame numbers from 1): a stateful field
    (``tcp.stream``) counts what came before, and the test reassembles as it goes when the
    filter needs it (see :class:`FramePaths`).
    """
    matches = display_filter.matches_packet
    times = SequentialTimes(track=display_filter.stateful)
    paths = frame_paths(display_filter)

    def test(number: int, record: PcapRecord) -> bool:
        times.advance(number, record)
        path = paths.path(record) if paths is not None else None
        if matches(summarize(number, record, source_names), times, path):
            times.shown(record.timestamp)
            return True
        return False

    return test


def with_notes(info: str, analysis: FrameAnalysis | None) -> str:
    """The Info text with Wireshark's TCP analysis notes in front (``[TCP Retransmission]``)."""
    if analysis is None or analysis.tcp is None or not analysis.tcp.flags:
        return info
    return analysis.tcp.info_prefix() + info


def output_format(path: Path) -> str:
    """``pcapng`` for a .pcapng name, else ``pcap``: as ``livetap capture pcap -w`` decides."""
    return "pcapng" if path.suffix.lower() == ".pcapng" else "pcap"


@dataclass(frozen=True, slots=True)
class MatchedFrame:
    """One matching packet as ``tshark -r FILE -Y EXPR`` lists it."""

    number: int
    time: float
    """Seconds since the file's first packet (Wireshark's frame.time_relative)."""
    src: str
    dst: str
    protocol: str
    length: int
    info: str
    source: str = ""
    """The file it came from, when several are read (``frame.source``); else empty."""

    def to_dict(self) -> dict[str, Any]:
        """The frame in the JSON output (``source`` only when several files are read)."""
        document: dict[str, Any] = {
            "number": self.number,
            "time": round(self.time, 6),
            "src": self.src,
            "dst": self.dst,
            "protocol": self.protocol,
            "length": self.length,
            "info": self.info,
        }
        if self.source:
            document["source"] = self.source
        return document

    def text_line(self) -> str:
        """One line in tshark's default layout: No., time, [input,] source → destination, ..."""
        source = f" {self.source}" if self.source else ""
        return (
            f"{self.number:5d} {self.time:10.6f}{source} {self.src:>12} → {self.dst:<12} "
            f"{self.protocol} {self.length} {self.info}"
        )


@dataclass(slots=True)
class FilterResult:
    """What filtering a file found, and how complete the reading was."""

    path: str
    filter: str
    files: tuple[str, ...] = ()
    """The files merged by time, when several were read (``path`` then names them all)."""
    format: str = ""
    packets: int = 0
    """Records read (matching or not)."""
    matched: int = 0
    frames: list[MatchedFrame] = field(default_factory=list)
    """The matching frames, when they were kept."""
    output: str | None = None
    output_format: str | None = None
    written: int = 0
    packet_range: str | None = None
    """The --range the packets were taken from (None: all)."""
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    stopped: bool = False
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def exit_code(self) -> ExitCode:
        """INTERRUPTED after Ctrl-C, PARTIAL for a truncated or corrupt file (as analyze)."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.truncated or self.stopped:
            return ExitCode.PARTIAL
        return ExitCode.SUCCESS

    def document(self, with_frames: bool = True) -> dict[str, Any]:
        """The ``data`` of the JSON output."""
        data: dict[str, Any] = {
            "file": self.path,
            **({"files": list(self.files)} if self.files else {}),
            "format": self.format,
            "filter": self.filter,
            "range": self.packet_range,
            "packets": self.packets,
            "matched": self.matched,
            "complete": self.exit_code == ExitCode.SUCCESS,
            "truncated": self.truncated,
            "interrupted": self.interrupted,
            "warnings": list(self.warnings),
            "output": None
            if self.output is None
            else {"file": self.output, "format": self.output_format, "packets": self.written},
        }
        if with_frames:
            data["frames"] = [frame.to_dict() for frame in self.frames]
        return data


def _refuse_same_file(source: Path, output: Path) -> None:
    """Writing over the file being read would destroy it before it is read."""
    try:
        same = output.exists() and source.samefile(output)
    except (OSError, ValueError):  # ValueError: a NUL in the name, refused when writing
        same = False
    if same:
        raise UsageError(f"-w {output} is the file being read: write the matches to another file")


def filter_file(
    path: str | Path | Sequence[str | Path],
    display_filter: DisplayFilter,
    *,
    output: Path | None = None,
    on_match: Callable[[MatchedFrame], None] | None = None,
    keep_frames: bool = True,
    progress: ProgressCallback | None = None,
    packet_range: PacketRange | None = None,
    limit: int | None = None,
) -> FilterResult:
    """Read a pcap/pcapng file and find the packets ``display_filter`` matches.

    ``path`` may name several files: they are merged by time (as mergecap does) and
    numbered as one capture; each match names its file (``frame.source`` tests it), and
    ``output`` (pcapng) gets one interface per file.

    Each match goes to ``on_match`` as it is found (so a long file prints as it is
    read) and, with ``keep_frames``, into the result; with ``output`` the matching
    records are also written to that file (pcap, or pcapng for a .pcapng name; mode
    0600, never through a symbolic link). Ctrl-C stops the reading and returns what
    matched so far (``interrupted``). Opening errors raise the reader's typed errors.

    ``packet_range`` keeps only the packets with those numbers (the file's own, from 1;
    the others still count for frame numbers, times and TCP analysis), and the reading
    stops past its end; ``limit`` stops it after that many matches (``--count``).
    """
    files = [Path(path)] if isinstance(path, str | Path) else [Path(one) for one in path]
    names = file_names(files) if len(files) > 1 else ()
    result = FilterResult(
        ", ".join(str(one) for one in files),
        display_filter.text,
        tuple(str(one) for one in files) if names else (),
    )
    result.packet_range = packet_range.text if packet_range is not None else None
    range_end = packet_range.last if packet_range is not None else None
    if output is not None:
        for source in files:
            _refuse_same_file(source, output)
    state = ReadState()
    writer: RotatingPcapWriter | None = None
    matches = display_filter.matches_packet
    times = SequentialTimes(track=True)  # also for the Info column's TCP analysis notes
    paths = frame_paths(display_filter)
    columns = _columns(paths) if on_match is not None or keep_frames else None
    frames = result.frames
    first_time: float | None = None
    number = 0
    kept: list[PcapRecord] = []  # matches of the current batch not yet handed to the writer
    done = False  # past the range's end, or the count reached: the rest is not read
    started = time.monotonic()
    try:
        for batch in read_merged_batches(files, state, progress):
            if first_time is None:
                first_time = batch[0].timestamp
            if output is not None and writer is None:
                writer = _open_output(output, state.linktype, names)
            kept = []
            for record in batch:
                number += 1
                if (range_end is not None and number > range_end) or limit == result.matched:
                    done = True
                    break
                summary = summarize(number, record, names)
                analysis = times.advance(number, record)
                protocols = paths.path(record) if paths is not None else None
                if columns is not None:  # every frame: it follows HTTP messages
                    protocol, info = columns.columns(summary, record, protocols)
                if packet_range is not None and number not in packet_range:
                    continue
                if not matches(summary, times, protocols):
                    continue
                times.shown(record.timestamp)
                result.matched += 1
                kept.append(record)
                if columns is not None:
                    frame = MatchedFrame(
                        number,
                        summary.timestamp - first_time,
                        summary.src,
                        summary.dst,
                        protocol,
                        summary.length,
                        with_notes(info, analysis),
                        summary.source,
                    )
                    if keep_frames:
                        frames.append(frame)
                    if on_match is not None:
                        on_match(frame)
            if writer is not None and kept:
                batch_kept, kept = kept, []
                writer.write(batch_kept)
            if done:
                break
    except KeyboardInterrupt:
        state.interrupted = True
        if writer is not None and kept:  # the matches counted so far are all written
            writer.write(kept)
    except BaseException:
        if writer is not None:  # a file that would look complete but is not: removed
            _discard(writer)
        raise
    finally:
        if writer is not None:
            writer.close()
    if output is not None and writer is None:  # nothing read: still a valid, empty file
        writer = _open_output(output, state.linktype, names)
        writer.close()
    if writer is not None:
        result.output = str(writer.current)
        result.output_format = writer.format
        result.written = writer.packets
    result.format = state.format
    result.packets = number - 1 if done else number
    result.warnings = state.warnings
    result.truncated = state.truncated
    result.stopped = state.stopped
    result.interrupted = state.interrupted
    result.seconds = time.monotonic() - started
    return result


def _discard(writer: RotatingPcapWriter) -> None:
    """Close and remove what a failed -w wrote (a regular file only: never a device)."""
    with contextlib.suppress(LivetapError):
        writer.close()
    for path in writer.files:
        with contextlib.suppress(OSError):
            if stat.S_ISREG(path.lstat().st_mode):
                path.unlink()


def _open_output(output: Path, linktype: int, names: Sequence[str] = ()) -> RotatingPcapWriter:
    """The file the matches go to, in the format its name asks for (pcapng: named inputs)."""
    return RotatingPcapWriter(output, linktype, fmt=output_format(output), names=names)


class FilteredSource:
    """A capture source that hands over only the packets a predicate keeps.

    ``captured`` counts every packet read from the source (the kernel's capture
    filter has already run), ``matched`` those kept; frame numbers count from 1 over
    every captured packet, as Wireshark numbers them.
    """

    ring: FileRing | None = None
    """The packets kept are copied, never indexed in the wrapped source's file."""

    def __init__(self, source: PacketSource, predicate: RecordPredicate) -> None:
        self._source = source
        self._predicate = predicate
        self.description: str = source.description
        self.source_names: tuple[str, ...] = source.source_names
        self.source_linktypes: tuple[int, ...] = source.source_linktypes
        self.linktype: int = source.linktype
        self.filter: bpf.CompiledFilter = source.filter
        self.can_wait: bool = source.can_wait
        self.captured = 0
        self.matched = 0

    @property
    def finished(self) -> bool:
        """Whether a file or command source has ended (a live one never does)."""
        return self._source.finished

    @property
    def warnings(self) -> list[str]:
        """The wrapped source's warnings."""
        return self._source.warnings

    def set_filter(self, expression: str) -> bpf.CompiledFilter:
        """A new capture filter on the wrapped source."""
        self.filter = self._source.set_filter(expression)
        return self.filter

    def reread(self, expression: str) -> PacketSource | None:
        """Not re-read: the display filter's frame numbers count what was captured."""
        return None

    def close(self) -> None:
        """Close the wrapped source."""
        self._source.close()

    def read_batch(self, timeout: float, max_records: int = 8192) -> list[PcapRecord]:
        """The matching packets of the next batches, waiting at most about ``timeout``.

        A batch whose packets all fail the filter does not end the wait: the next
        one is read, so a drain after a stop request is not cut short by it.
        """
        deadline = time.monotonic() + timeout
        predicate = self._predicate
        while True:
            records = self._source.read_batch(max(deadline - time.monotonic(), 0.0), max_records)
            if not records:
                return records
            first = self.captured + 1
            self.captured += len(records)
            kept = [r for n, r in enumerate(records, first) if predicate(n, r)]
            self.matched += len(kept)
            if kept or time.monotonic() >= deadline:
                return kept

    def kernel_drops(self) -> int | None:
        """The wrapped source's kernel drop count."""
        return self._source.kernel_drops()
