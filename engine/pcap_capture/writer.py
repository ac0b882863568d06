"""Whole records into files that rotate (tcpdump's -C and -W), privately, never corrupt."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import struct
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.errors import (
    BadInputError,
    LivetapError,
    from_os_error,
)
from engine.pcapio import MAX_RECORD, PcapRecord, PcapWriter, idb_block, nul_name_error
from engine.pcapio.write import MAX_COMMENT

SECRETS_INTERVAL = 1.0
"""Seconds between two reads of the key log while capturing with ``--embed-secrets``."""
FLUSH_SIZE = 1 << 20
"""Buffered bytes that are handed to the operating system at once."""
_PCAP_HEADER = 24
_PCAP_RECORD = 16
_PCAPNG_EPB = 32
_PCAP_LENGTHS = struct.Struct("<8xII").unpack_from  # a pcap record's captured, original length
_PCAPNG_BLOCK = struct.Struct("<II").unpack_from  # block type, total length
_PCAPNG_EPB_LENGTH = struct.Struct("<24xI").unpack_from  # an EPB's original length
_PCAPNG_EPB_TYPE = 6


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
        names: Sequence[str] = (),
        secrets: Callable[[], bytes] | None = None,
    ) -> None:
        self.base = absolute(path)
        self.secrets = secrets
        """The TLS key log lines known now (``--embed-secrets``): each file gets them in a
        Decryption Secrets Block before its packets, and new ones before the next batch."""
        self._embedded: set[bytes] = set()
        self._secrets_checked = 0.0
        self.format = fmt
        self.linktype = linktype
        self.names = tuple(names)
        """The inputs' names by ``PcapRecord.source``: pcapng interface names."""
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
        self._interfaces: set[tuple[int, int]] = set()
        """(source, link type) pairs the current pcapng file has described."""
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
        self._writer = PcapWriter(
            header, self.linktype, self.snaplen, fmt=self.format, names=self.names
        )
        self._buffer = header
        self._interfaces = {(0, self.linktype)}
        self._file_packets = 0
        self._embedded = set()
        self._embed_secrets(force=True)
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

    def _record_size(self, record: PcapRecord, comment: str = "") -> int:
        """The bytes one record takes in the file, interface description included."""
        caplen = min(len(record.data), self.snaplen)
        if self.format == "pcap":
            return _PCAP_RECORD + caplen
        size = _PCAPNG_EPB + caplen + (-caplen % 4)
        if comment:  # the comment option (padded) and the end of options
            text = len(comment.encode("utf-8", "replace")[:MAX_COMMENT])
            size += 4 + text + (-text % 4) + 4
        if (record.source, record.linktype) in self._interfaces:
            return size
        name = self.names[record.source] if record.source < len(self.names) else ""
        return size + len(idb_block(record.linktype, self.snaplen, name))

    def write(self, records: Sequence[PcapRecord], comments: Sequence[str] = ()) -> int:
        """Write records in order; returns how many (fewer once the size cap is reached).

        ``comments[i]``: the i-th record's pcapng packet comment ("" or missing: none).
        """
        if self._fd < 0 or self.failed:
            raise LivetapError("the capture file is closed")
        self._file_size += self._embed_secrets()
        written = 0
        rotate_size = self.rotate_size
        for number, record in enumerate(records):
            comment = comments[number] if number < len(comments) else ""
            size = self._record_size(record, comment)
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
                self._writer.write(record, comment)
            except LivetapError:  # a record no file can hold: keep the ones before it
                self._flush()
                raise
            self._interfaces.add((record.source, record.linktype))
            self._file_size += size
            self._file_packets += 1
            self._pending_packets += 1
            self._pending_wire += record.length
            written += 1
            if self._buffer.tell() >= FLUSH_SIZE:
                self._flush()
        self._flush()
        return written

    def _embed_secrets(self, *, force: bool = False) -> int:
        """Buffer a DSB with the key log lines this file lacks; the bytes it takes.

        The key log is read at most once a SECRETS_INTERVAL (and for each new file).
        """
        now = time.monotonic()
        if self.secrets is None or (not force and now - self._secrets_checked < SECRETS_INTERVAL):
            return 0
        self._secrets_checked = now
        lines = self.secrets().splitlines(keepends=True)
        new = [line for line in lines if line not in self._embedded]
        if not new:
            return 0
        before = self._buffer.tell()
        self._writer.write_secrets(b"".join(new))
        self._embedded.update(new)
        return self._buffer.tell() - before

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
