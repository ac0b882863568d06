"""Headless capture: packets from a source written to pcap/pcapng files, then a report.

:class:`RotatingPcapWriter` writes whole records into a file, starts a new one
every ``rotate_size`` bytes (tcpdump's ``-C``) and keeps at most
``rotate_files`` of them (tcpdump's ``-W``); ``max_total`` caps the bytes of a
whole run (the config's ``maxCaptureSize``). :class:`PcapCapture` reads a
source into such a writer until a count, a duration, a stop request or an
error ends it, and returns a :class:`CaptureReport`.

File names: the first file is the path given (``out.pcap``); the next ones put
their number before the suffix (``out.1.pcap``, ``out.2.pcap`` ...), as the
NDJSON capture does. Numbers only grow, so names sort in capture order; with a
ring of N files the oldest is deleted when file N+1 starts.

Captures hold secrets: files are created with mode 0600, and never through a
symbolic link planted at the path (``O_NOFOLLOW``). A failed write (disk full,
permission denied) truncates the file back to its last whole record, so every
file a capture leaves is valid to the last byte.
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
import stat
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from engine.errors import (
    BadInputError,
    ExitCode,
    LivetapError,
    UsageError,
    from_os_error,
)
from engine.pcapio import MAX_RECORD, PcapRecord, PcapWriter, nul_name_error
from engine.source import PacketSource

MB = 1_000_000
"""tcpdump's -C unit: millions of bytes, not MiB."""
READ_TIMEOUT = 0.1
"""How long one read waits for packets before the stop conditions are checked again."""
DRAIN_TIMEOUT = 0.05
"""Longer than the live ring's block retire time (20 ms): a partly filled block arrives."""
DRAIN_LIMIT = 1.0
"""At most this long is spent collecting packets that arrived before a stop."""
FLUSH_SIZE = 1 << 20
"""Buffered bytes that are handed to the operating system at once."""
PROGRESS_INTERVAL = 0.5

_PCAP_HEADER = 24
_PCAP_RECORD = 16
_PCAPNG_EPB = 32
_PCAPNG_IDB = 20
_PCAP_LENGTHS = struct.Struct("<8xII").unpack_from  # a pcap record's captured, original length
_PCAPNG_BLOCK = struct.Struct("<II").unpack_from  # block type, total length
_PCAPNG_EPB_LENGTH = struct.Struct("<24xI").unpack_from  # an EPB's original length
_PCAPNG_EPB_TYPE = 6


class StopReason(StrEnum):
    """Why a capture ended; the JSON report carries the value."""

    COUNT = "count"
    DURATION = "duration"
    STOPPED = "stopped"
    """Asked to stop (Ctrl-C, SIGTERM, the UI)."""
    SIZE_LIMIT = "size-limit"
    """The config's maxCaptureSize was reached."""
    SOURCE_ENDED = "source-ended"
    """A file or command source reached its end."""
    ERROR = "error"


_EXIT_CODES = {
    StopReason.COUNT: ExitCode.SUCCESS,
    StopReason.DURATION: ExitCode.SUCCESS,
    StopReason.SOURCE_ENDED: ExitCode.SUCCESS,
    StopReason.STOPPED: ExitCode.INTERRUPTED,
    StopReason.SIZE_LIMIT: ExitCode.PARTIAL,
}


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    """What to write and when to stop; checked on creation (UsageError)."""

    path: Path
    """The first file; later ones are numbered (see the module docstring)."""
    fmt: str | None = None
    """``pcap`` or ``pcapng``; None picks from the suffix (``.pcapng``: pcapng)."""
    count: int | None = None
    duration: float | None = None
    """Seconds."""
    rotate_size: int | None = None
    """Bytes per file before a new one starts."""
    rotate_files: int | None = None
    """Keep at most this many files (a ring); needs ``rotate_size``."""
    max_total: int | None = None
    """Stop before the run has written more than this many bytes."""
    snaplen: int = 262144

    def __post_init__(self) -> None:
        if self.fmt not in (None, "pcap", "pcapng"):
            raise UsageError(f"unknown capture format {self.fmt!r}: use pcap or pcapng")
        for name in ("count", "rotate_size", "rotate_files", "max_total"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UsageError(f"{name.replace('_', ' ')} must be greater than zero")
        if self.duration is not None and not (math.isfinite(self.duration) and self.duration > 0):
            raise UsageError("the duration must be greater than zero")
        if self.rotate_files is not None and self.rotate_size is None:
            raise UsageError("a ring of files (--rotate-files) needs a file size (--rotate-size)")

    @property
    def format(self) -> str:
        """The file format actually written."""
        if self.fmt:
            return self.fmt
        return "pcapng" if self.path.suffix.lower() == ".pcapng" else "pcap"


@dataclass(frozen=True, slots=True)
class CaptureProgress:
    """The counters while a capture runs, for a progress line or a status bar."""

    packets: int
    bytes_written: int
    kernel_drops: int | None
    elapsed: float
    file: Path


@dataclass(frozen=True, slots=True)
class CaptureReport:
    """What a capture did: the files it left, what it counted, and why it ended."""

    source: str
    filter: str
    format: str
    files: tuple[Path, ...]
    """The files the capture left, oldest first (absolute paths)."""
    files_removed: int
    """Older files deleted to keep the ring at ``rotate_files``."""
    packets: int
    """Packets written (all files of the run, removed ones included)."""
    bytes_written: int
    """Bytes written to files in this run, file headers included."""
    wire_bytes: int
    """The written packets' original lengths, summed."""
    kernel_drops: int | None
    """Packets the kernel dropped because the capture could not keep up; None: unknowable."""
    not_written: int
    """Packets that arrived before a failed write ended the capture but are in no file."""
    started: float
    """Seconds since the epoch."""
    duration: float
    stop_reason: StopReason
    error: LivetapError | None = field(default=None, compare=False)
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        """The process exit code this ending deserves (the CLI's return value)."""
        if self.error is not None:
            return self.error.exit_code
        return _EXIT_CODES.get(self.stop_reason, ExitCode.FAILURE)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the ``data`` of the CLI's document)."""
        return {
            "source": self.source,
            "filter": self.filter,
            "format": self.format,
            "files": [str(path) for path in self.files],
            "files_removed": self.files_removed,
            "packets": self.packets,
            "kernel_drops": self.kernel_drops,
            "bytes": self.bytes_written,
            "wire_bytes": self.wire_bytes,
            "not_written": self.not_written,
            "started": datetime.fromtimestamp(self.started, UTC).isoformat(),
            "duration": round(self.duration, 3),
            "stop_reason": self.stop_reason.value,
            "error": None
            if self.error is None
            else {"code": self.error.code_name, "message": self.error.message},
            "notes": list(self.notes),
        }

    def text_lines(self) -> list[str]:
        """The report for people, one fact per line."""
        drops = "unknown" if self.kernel_drops is None else f"{self.kernel_drops:,}"
        lines = [
            f"capture of {self.source}"
            + (f" (filter {self.filter!r})" if self.filter else "")
            + f" ended: {_REASON_TEXT[self.stop_reason]}",
            "files:" if self.files else "files: none",
            *(f"  {path}" for path in self.files),
        ]
        if self.files_removed:
            lines.append(f"older files removed (ring): {self.files_removed:,}")
        lines += [
            f"packets captured: {self.packets:,}",
            f"packets dropped by the kernel: {drops}",
            f"bytes written: {self.bytes_written:,} (packets: {self.wire_bytes:,} on the wire)",
            f"duration: {self.duration:.2f} s",
        ]
        if self.not_written:
            lines.append(f"packets lost to the error: {self.not_written:,}")
        lines += [f"note: {note}" for note in self.notes]
        if self.error is not None:
            lines.append(f"error: {self.error.message}")
        return lines


_REASON_TEXT = {
    StopReason.COUNT: "the packet count was reached",
    StopReason.DURATION: "the duration was reached",
    StopReason.STOPPED: "stopped on request",
    StopReason.SIZE_LIMIT: "the capture size cap was reached",
    StopReason.SOURCE_ENDED: "the source ended",
    StopReason.ERROR: "stopped by an error",
}


def rotated_name(path: Path, number: int) -> Path:
    """The name of file ``number`` of a rotating capture: out.pcap, out.1.pcap, out.2.pcap."""
    if number == 0:
        return path
    if path.suffix:
        return path.with_name(f"{path.stem}.{number}{path.suffix}")
    return path.with_name(f"{path.name}.{number}")


def absolute(path: Path) -> Path:
    """An absolute path without following a link in its last component."""
    return path.parent.resolve() / path.name


class RotatingPcapWriter:
    """Writes whole records into size-limited files, keeping a ring of the newest.

    Also usable as a sink by a running session: call :meth:`write` with each
    batch of records and :meth:`close` at the end. It raises a
    :class:`LivetapError` when the operating system refuses a write, after
    cutting the file back to its last whole record.
    """

    def __init__(
        self,
        path: Path,
        linktype: int,
        *,
        snaplen: int = 262144,
        fmt: str = "pcap",
        rotate_size: int | None = None,
        rotate_files: int | None = None,
        max_total: int | None = None,
    ) -> None:
        self.base = absolute(path)
        self.format = fmt
        self.linktype = linktype
        self.snaplen = snaplen if 0 < snaplen <= MAX_RECORD else MAX_RECORD
        self.rotate_size = rotate_size
        self.rotate_files = rotate_files
        self.max_total = max_total
        self.files: list[Path] = []
        """The files still on disk, oldest first."""
        self.files_removed = 0
        self.packets = 0
        self.bytes_written = 0
        self.wire_bytes = 0
        self.limit_reached = False
        self.failed = False
        """A write failed: nothing more is written, the files end on whole records."""
        self.notes: list[str] = []
        self._number = -1
        self._fd = -1
        self._regular = False
        self._buffer = io.BytesIO()
        self._writer: PcapWriter  # set by _open_next, with each file
        self._file_size = 0
        """Bytes of the current file, buffered ones included."""
        self._file_packets = 0
        self._pending_packets = 0
        self._pending_wire = 0
        self._interfaces: set[int] = set()
        self._first_header_size = 0
        self._open_next()
        self._first_header_size = self._file_size

    @property
    def current(self) -> Path:
        """The file being written."""
        return self.files[-1]

    # -- files ------------------------------------------------------------------------

    def _header_size(self) -> int:
        """Bytes a new file starts with (pcapng: section header and one interface)."""
        return self._first_header_size

    def _open_next(self) -> None:
        """Start the next file: create it safely, write its header, trim the ring."""
        self._number += 1
        path = rotated_name(self.base, self._number)
        self._fd, self._regular = _create(path)
        self.files.append(path)
        header = io.BytesIO()
        self._writer = PcapWriter(header, self.linktype, self.snaplen, fmt=self.format)
        self._buffer = header
        self._interfaces = {self.linktype}
        self._file_packets = 0
        try:
            _write_all(self._fd, header.getvalue())
        except OSError as error:
            self._discard_current()
            raise _file_error(error, path) from None
        self._file_size = header.tell()
        self.bytes_written += self._file_size
        header.seek(0)
        header.truncate()
        if self.rotate_files is not None and len(self.files) > self.rotate_files:
            self._remove_oldest()

    def _discard_current(self) -> None:
        """Remove a file that could not even take its header (it would be invalid)."""
        path = self.files.pop()
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = -1
        if self._regular:
            with contextlib.suppress(OSError):
                path.unlink()

    def _remove_oldest(self) -> None:
        """Delete the oldest file of the ring; a file already gone is fine."""
        oldest = self.files.pop(0)
        try:
            oldest.unlink()
        except FileNotFoundError:
            pass
        except OSError as error:
            self.notes.append(f"could not remove old capture file {oldest}: {error.strerror}")
        self.files_removed += 1

    # -- records ----------------------------------------------------------------------

    def _record_size(self, record: PcapRecord) -> int:
        """The bytes one record takes in the file, interface description included."""
        caplen = min(len(record.data), self.snaplen)
        if self.format == "pcap":
            return _PCAP_RECORD + caplen
        size = _PCAPNG_EPB + caplen + (-caplen % 4)
        return size if record.linktype in self._interfaces else size + _PCAPNG_IDB

    def write(self, records: Sequence[PcapRecord]) -> int:
        """Write records in order; returns how many (fewer once the size cap is reached)."""
        if self._fd < 0 or self.failed:
            raise LivetapError("the capture file is closed")
        written = 0
        rotate_size = self.rotate_size
        for record in records:
            size = self._record_size(record)
            if (
                rotate_size is not None
                and self._file_packets
                and (self._file_size + size > rotate_size)
            ):
                if not self._fits(self._header_size() + size):
                    break
                self._flush()
                self._close_current()
                self._open_next()
            if not self._fits(size):
                break
            try:
                self._writer.write(record)
            except LivetapError:  # a record no file can hold: keep the ones before it
                self._flush()
                raise
            self._interfaces.add(record.linktype)
            self._file_size += size
            self._file_packets += 1
            self._pending_packets += 1
            self._pending_wire += record.length
            written += 1
            if self._buffer.tell() >= FLUSH_SIZE:
                self._flush()
        self._flush()
        return written

    def _fits(self, size: int) -> bool:
        """Whether ``size`` more bytes stay within the run's cap; note it when not."""
        pending = self._buffer.tell()
        if self.max_total is None or self.bytes_written + pending + size <= self.max_total:
            return True
        if not self.limit_reached:
            self.limit_reached = True
            self.notes.append(
                f"stopped at the capture size cap of {self.max_total:,} bytes "
                "(maxCaptureSize in the config)"
            )
        return False

    def _flush(self) -> None:
        """Hand the buffer to the OS; on failure cut the file back to whole records."""
        data = self._buffer.getbuffer()
        done = 0
        try:
            while done < len(data):
                done += os.write(self._fd, data[done:])
        except OSError as error:
            whole, packets, wire = _whole_records(data, done, self.format)
            data.release()
            self._cut_back(done, whole)
            self.bytes_written += whole
            self.packets += packets
            self.wire_bytes += wire
            self._pending_packets = self._pending_wire = 0
            self._buffer.seek(0)
            self._buffer.truncate()
            self.failed = True
            raise _file_error(error, self.current) from None
        data.release()
        self.bytes_written += done
        self.packets += self._pending_packets
        self.wire_bytes += self._pending_wire
        self._pending_packets = self._pending_wire = 0
        self._buffer.seek(0)
        self._buffer.truncate()

    def _cut_back(self, done: int, whole: int) -> None:
        """Truncate a partly written record off the end of the file."""
        if done == whole or not self._regular:
            return
        try:
            end = os.lseek(self._fd, 0, os.SEEK_CUR) - (done - whole)
            os.ftruncate(self._fd, end)
            os.lseek(self._fd, end, os.SEEK_SET)
        except OSError as error:
            self.notes.append(
                f"could not cut {self.current} back to its last whole packet: {error.strerror}"
            )

    def _close_current(self) -> None:
        """Close the current file; a close the OS refuses is an error too (NFS)."""
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError as error:
                raise _file_error(error, self.current) from None

    def close(self) -> None:
        """Write what is buffered and close the file; safe to call twice."""
        if self._fd < 0:
            return
        try:
            if not self.failed:
                self._flush()
        finally:
            self._close_current()


def _write_all(fd: int, data: bytes) -> None:
    """os.write until everything is written (a write may take only part)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _whole_records(data: memoryview, done: int, fmt: str) -> tuple[int, int, int]:
    """Of ``done`` bytes of records that reached the file, how many end a record.

    Returns those bytes, the packets in them and the packets' original lengths.
    """
    position = packets = wire = 0
    while True:
        if fmt == "pcap":
            if position + _PCAP_RECORD > done:
                break
            caplen, length = _PCAP_LENGTHS(data, position)
            size, is_packet = _PCAP_RECORD + caplen, True
        else:
            if position + 8 > done:
                break
            block_type, size = _PCAPNG_BLOCK(data, position)
            is_packet = block_type == _PCAPNG_EPB_TYPE and position + 28 <= done
            length = _PCAPNG_EPB_LENGTH(data, position)[0] if is_packet else 0
        if size <= 0 or position + size > done:
            break
        position += size
        packets += is_packet
        wire += length
    return position, packets, wire


def _create(path: Path) -> tuple[int, bool]:
    """Create (or truncate) a capture file: mode 0600, never through a symbolic link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as error:
        raise _file_error(error, path) from None
    except ValueError:  # a NUL in the name: no file can have it
        raise nul_name_error(path) from None
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if regular:  # an existing file keeps its mode through O_CREAT; a device is not ours
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)
    return fd, regular


def _file_error(error: OSError, path: Path) -> LivetapError:
    """The typed error for a capture file the OS refused, in one sentence."""
    if error.errno == errno.ELOOP:
        return BadInputError(
            f"could not write {path}: it is a symbolic link, which livetap does not write through"
        )
    if error.errno == errno.EISDIR:
        return BadInputError(f"could not write {path}: it is a directory")
    if error.errno == errno.ENOENT:
        return from_os_error(error, f"write {path} (does its directory exist?)")
    return from_os_error(error, f"write {path}")


# -- the capture loop -------------------------------------------------------------------


class PcapCapture:
    """One headless capture: the first file is created on construction (errors raise)."""

    def __init__(self, source: PacketSource, options: CaptureOptions) -> None:
        self.source = source
        self.options = options
        self.writer = RotatingPcapWriter(
            options.path,
            source.linktype,
            snaplen=options.snaplen,
            fmt=options.format,
            rotate_size=options.rotate_size,
            rotate_files=options.rotate_files,
            max_total=options.max_total,
        )
        self._not_written = 0

    def run(
        self,
        stop_event: threading.Event | None = None,
        on_progress: Callable[[CaptureProgress], None] | None = None,
        progress_interval: float = PROGRESS_INTERVAL,
    ) -> CaptureReport:
        """Capture until a stop condition; never raises for what the OS or source refuse."""
        stop = stop_event or threading.Event()
        started_wall = time.time()
        started = time.monotonic()
        error: LivetapError | None = None
        try:
            reason = self._loop(stop, started_wall, started, on_progress, progress_interval)
        except LivetapError as failure:
            reason, error = StopReason.ERROR, failure
        except OSError as failure:
            reason, error = StopReason.ERROR, from_os_error(failure, "go on capturing")
        if error is not None and self.writer.failed:
            self._count_unwritten(time.time())
        try:
            self.writer.close()
        except LivetapError as failure:
            reason, error = StopReason.ERROR, error or failure
        return self._report(reason, error, started_wall, time.monotonic() - started)

    def _loop(
        self,
        stop: threading.Event,
        started_wall: float,
        started: float,
        on_progress: Callable[[CaptureProgress], None] | None,
        progress_interval: float,
    ) -> StopReason:
        """Read and write until something says stop; returns what did."""
        options = self.options
        deadline = started + options.duration if options.duration else None
        cutoff = started_wall + options.duration if options.duration else math.inf
        next_progress = started + progress_interval
        while True:
            if stop.is_set():
                return self._limit_reason() if self._drain(time.time()) else StopReason.STOPPED
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return self._limit_reason() if self._drain(cutoff) else StopReason.DURATION
            timeout = READ_TIMEOUT if deadline is None else min(READ_TIMEOUT, deadline - now)
            records = self.source.read_batch(timeout)
            if records:
                if records[-1].timestamp > cutoff:
                    if self._write([r for r in records if r.timestamp <= cutoff]):
                        return self._limit_reason()
                    return StopReason.DURATION
                if self._write(records):
                    return self._limit_reason()
            elif getattr(self.source, "finished", False):
                return StopReason.SOURCE_ENDED
            if on_progress is not None and now >= next_progress:
                next_progress = now + progress_interval
                on_progress(self.progress(now - started))

    def _write(self, records: list[PcapRecord]) -> bool:
        """Write a batch (cut to the count); True when a count or size limit ended it."""
        writer = self.writer
        count = self.options.count
        if count is not None:
            records = records[: count - writer.packets]
        before = writer.packets
        try:
            written = writer.write(records)
        except LivetapError:
            self._not_written += len(records) - (writer.packets - before)
            raise
        return (
            writer.limit_reached
            or written < len(records)
            or (count is not None and writer.packets >= count)
        )

    def _limit_reason(self) -> StopReason:
        """Which limit ended the capture."""
        return StopReason.SIZE_LIMIT if self.writer.limit_reached else StopReason.COUNT

    def _drain(self, cutoff: float) -> bool:
        """Keep what arrived before the stop but was still in the kernel's ring.

        Returns True when a count or size limit was reached meanwhile.
        """
        end = time.monotonic() + DRAIN_LIMIT
        while time.monotonic() < end:
            records = self.source.read_batch(DRAIN_TIMEOUT)
            if not records:
                return False
            kept = [r for r in records if r.timestamp <= cutoff]
            if self._write(kept):
                return True
            if len(kept) < len(records):
                return False
        return False

    def _count_unwritten(self, cutoff: float) -> None:
        """After a failed write, count what had arrived already: lost, and the report says so."""
        end = time.monotonic() + DRAIN_LIMIT
        try:
            while time.monotonic() < end:
                records = self.source.read_batch(DRAIN_TIMEOUT)
                before = [r for r in records if r.timestamp <= cutoff]
                self._not_written += len(before)
                if not records or len(before) < len(records):
                    return
        except (LivetapError, OSError):
            return

    def progress(self, elapsed: float) -> CaptureProgress:
        """The counters now."""
        return CaptureProgress(
            self.writer.packets,
            self.writer.bytes_written,
            self.source.kernel_drops(),
            elapsed,
            self.writer.files[-1] if self.writer.files else self.writer.base,
        )

    def _report(
        self, reason: StopReason, error: LivetapError | None, started: float, duration: float
    ) -> CaptureReport:
        """Freeze what happened into the report."""
        writer = self.writer
        return CaptureReport(
            source=self.source.description,
            filter=self.source.filter.expression,
            format=writer.format,
            files=tuple(writer.files),
            files_removed=writer.files_removed,
            packets=writer.packets,
            bytes_written=writer.bytes_written,
            wire_bytes=writer.wire_bytes,
            kernel_drops=self.source.kernel_drops(),
            not_written=self._not_written,
            started=started,
            duration=duration,
            stop_reason=reason,
            error=error,
            notes=tuple(writer.notes),
        )


def run_capture(
    source: PacketSource,
    options: CaptureOptions,
    stop_event: threading.Event | None = None,
    on_progress: Callable[[CaptureProgress], None] | None = None,
) -> CaptureReport:
    """Capture ``source`` into files as ``options`` say; errors after the start are reported."""
    return PcapCapture(source, options).run(stop_event, on_progress)
