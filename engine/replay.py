"""Packets from a pcap/pcapng file or from a command that writes a pcap stream.

Both read with the struct-level reader in :mod:`engine.pcapio`; a BPF filter
runs in user space through libpcap. A file is read as fast as possible, or at
its original pace with ``realtime``. A command (``ssh host tcpdump -U -w -``)
is run without a shell, its arguments split like a POSIX shell would.
"""

from __future__ import annotations

import shlex
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

from engine import bpf
from engine.errors import BadInputError, NotFoundError, UnavailableError, UsageError
from engine.file_ring import FileRing
from engine.pcapio import PcapReader, PcapRecord, open_pcap


class StreamSource:
    """Records from a pcap stream, filtered in user space, optionally paced."""

    can_wait = True
    """Reading can pause (e.g. for the live statistics) without losing anything."""
    ring: FileRing | None = None
    """Set by :class:`IndexedFileSource`: the file is the buffer."""

    def __init__(
        self,
        reader: PcapReader,
        description: str,
        expression: str = "",
        realtime: bool = False,
        snaplen: int = 262144,
    ) -> None:
        self.description = description
        self.source_names: tuple[str, ...] = (description.partition(" ")[2] or description,)
        """The file's name or the command: what the Source column and frame.source show."""
        self.snaplen = snaplen
        self.linktype = reader.linktype
        self.source_linktypes: tuple[int, ...] = (reader.linktype,)
        self.filter_linktype = reader.linktype
        self.filter = bpf.compile_filter(expression, reader.linktype, snaplen)
        self._filters: dict[int, bpf.CompiledFilter | None] = {reader.linktype: self.filter}
        self._reader = reader
        self._realtime = realtime
        self._pace_origin: tuple[float, float] | None = None
        """(first record's timestamp, monotonic time it was released)."""
        self._held: list[PcapRecord] = []
        self.finished = False
        self.path: Path | None = None
        """The file read, when it can be read again from its start (None for a stream)."""

    @property
    def warnings(self) -> list[str]:
        """What the reader noticed (a truncated file, corrupt records)."""
        return self._reader.warnings

    def set_filter(self, expression: str) -> bpf.CompiledFilter:
        """Filter the records read from now on; the old filter stays on error."""
        compiled = bpf.compile_filter(expression, self.filter_linktype, self.snaplen)
        self.filter = compiled
        self._filters = {self.filter_linktype: compiled}
        return compiled

    def reread(self, expression: str) -> StreamSource | None:
        """A new source reading the same file from its start through ``expression``.

        A capture filter set on a file must apply to the packets already read, not
        only to those still to come. None for a stream (a command's output), which
        cannot be read again. Raises FilterError (nothing changes) on a bad filter.
        """
        if self.path is None:
            return None
        return open_file_source(self.path, expression, self._realtime, self.snaplen)

    def kernel_drops(self) -> int | None:
        """Files and pipes have no kernel queue to overflow."""
        return None

    def _filter_for(self, linktype: int) -> bpf.CompiledFilter | None:
        """The current expression compiled for another interface's link type (pcapng)."""
        if linktype not in self._filters:
            try:
                self._filters[linktype] = bpf.compile_filter(
                    self.filter.expression, linktype, self.snaplen
                )
            except BadInputError:
                self._filters[linktype] = None  # cannot apply: such frames never match
        return self._filters[linktype]

    def _keep(self, record: PcapRecord) -> bool:
        """Whether the current filter passes this record."""
        if self.filter.accepts_everything:
            return True
        compiled = self._filter_for(record.linktype)
        return compiled is not None and compiled.matches(record.data, record.length)

    def read_batch(self, timeout: float, max_records: int = 8192) -> list[PcapRecord]:
        """Up to ``max_records`` records that pass the filter; [] with ``finished`` at the end."""
        if self.finished:
            time.sleep(timeout)
            return []
        records = self._held or self._reader.read_batch(max_records)
        self._held = []
        if not records:
            self.finished = True
            return []
        if self._realtime:
            records = self._pace(records, timeout)
        return [record for record in records if self._keep(record)]

    def _pace(self, records: list[PcapRecord], timeout: float) -> list[PcapRecord]:
        """Release records when their original time comes; hold back the rest."""
        now = time.monotonic()
        if self._pace_origin is None:
            self._pace_origin = (records[0].timestamp, now)
        first_ts, started = self._pace_origin
        due = [r for r in records if r.timestamp - first_ts <= now - started]
        self._held = records[len(due) :]
        if not due and self._held:
            wait = self._held[0].timestamp - first_ts - (now - started)
            time.sleep(min(max(wait, 0.0), timeout))
        return due

    def close(self) -> None:
        """Close the underlying stream."""
        self._reader.close()


class IndexedFileSource(StreamSource):
    """A file read once to index it; its packets stay in the file, read back when shown."""

    def __init__(self, reader: PcapReader, path: Path, expression: str, snaplen: int) -> None:
        super().__init__(reader, f"file {path.name}", expression, False, snaplen)
        self.index = FileRing(path)
        """Where each record is in the file: the session's buffer."""
        self.ring = self.index

    def read_batch(self, timeout: float, max_records: int = 8192) -> list[PcapRecord]:
        """The next records that pass the filter; where their bytes are goes to the ring."""
        if self.finished:
            time.sleep(timeout)
            return []
        offsets: list[int] = []
        records = self._reader.read_batch(max_records, offsets)
        if not records:
            self.finished = True
            return []
        kept = [
            (record, offset)
            for record, offset in zip(records, offsets, strict=True)
            if self._keep(record)
        ]
        self.index.pending_offsets = [offset for _record, offset in kept]
        return [record for record, _offset in kept]

    def close(self) -> None:
        """Close the reader and the ring's file."""
        super().close()
        self.index.close()


def open_file_source(
    path: str | Path, expression: str = "", realtime: bool = False, snaplen: int = 262144
) -> StreamSource:
    """A source reading a pcap or pcapng file; errors name the file and the problem.

    At its own pace (the default) the file is indexed rather than loaded, so a
    file of any size opens at once; ``realtime`` replays it at its original pace.
    """
    reader = open_pcap(path)
    try:
        source = (
            StreamSource(reader, f"file {Path(path).name}", expression, realtime, snaplen)
            if realtime
            else IndexedFileSource(reader, Path(path), expression, snaplen)
        )
        source.path = Path(path)
        return source
    except BaseException:
        reader.close()
        raise


EXIT_GRACE = 1.0
"""Seconds a command whose output ended may take to exit before its status is read."""


class CommandSource(StreamSource):
    """A source reading the pcap stream a command writes to its standard output."""

    def __init__(
        self, process: subprocess.Popen[bytes], reader: PcapReader, command: str, **kw: object
    ) -> None:
        super().__init__(reader, f"command {command}", **kw)  # type: ignore[arg-type]
        self._process = process

    def read_batch(self, timeout: float, max_records: int = 8192) -> list[PcapRecord]:
        """Like a file; when the stream ends, say if the command failed."""
        records = super().read_batch(timeout, max_records)
        if self.finished and self._exit_status() not in (None, 0):
            self.warnings.append(
                f"the source command exited with status {self._process.returncode}"
            )
            self._process.returncode = 0  # report once
        return records

    def _exit_status(self) -> int | None:
        """The command's status; its output just ended, so give it a moment to exit."""
        try:
            return self._process.wait(timeout=EXIT_GRACE)
        except subprocess.TimeoutExpired:
            return None  # still running with its output closed: nothing to report

    def close(self) -> None:
        """Stop the command and close its pipe."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        super().close()


def open_command_source(
    command: str, expression: str = "", snaplen: int = 262144, header_timeout: float = 30.0
) -> CommandSource:
    """Start ``command`` (no shell) and read the pcap header it writes first."""
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise UsageError(f"cannot split the source command {command!r}: {error}") from None
    if not argv:
        raise UsageError("the source command is empty")
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    except FileNotFoundError:
        raise NotFoundError(f"the source command {argv[0]!r} was not found on PATH") from None
    except PermissionError:
        raise UsageError(f"the source command {argv[0]!r} is not executable") from None
    assert process.stdout is not None
    reader = _read_header(process, process.stdout, command, header_timeout)
    return CommandSource(process, reader, command, expression=expression, snaplen=snaplen)


def _read_header(
    process: subprocess.Popen[bytes], stream: IO[bytes], command: str, timeout: float
) -> PcapReader:
    """Wait for the pcap header, killing the command if it never comes."""
    result: list[PcapReader | BaseException] = []

    def read() -> None:
        try:
            result.append(PcapReader(stream, name=f"output of {command!r}"))
        except BaseException as error:  # handed to the caller below
            result.append(error)

    reader_thread = threading.Thread(target=read, daemon=True)
    reader_thread.start()
    reader_thread.join(timeout)
    if not result:
        process.kill()
        process.wait()
        raise UnavailableError(
            f"the source command {command!r} wrote no pcap header in {timeout:.0f} s"
        )
    outcome = result[0]
    if isinstance(outcome, BaseException):
        process.kill()
        process.wait()
        if isinstance(outcome, BadInputError):
            status = process.returncode
            raise BadInputError(
                f"the source command {command!r} did not write a pcap stream "
                f"(exit status {status}); use e.g. `tcpdump -U -w -`"
            ) from None
        raise outcome
    return outcome
