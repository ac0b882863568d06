"""Reading pcap and pcapng, struct by struct, from files and pipes.

scapy's PcapReader builds a packet object per record (a few thousand records a
second here); this reader slices records out of a large buffer (several
hundred thousand a second) and works on a non-seekable pipe, such as
``tcpdump -U -w -`` over ssh. It never trusts a declared length: a record or
block longer than the bounds ends the reading with a warning, and no
allocation ever follows a length read from the input.
"""

from __future__ import annotations

import errno
import io
import os
import select
import stat
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple, cast

from engine import linktypes
from engine.errors import (
    BadInputError,
    LivetapError,
    NotFoundError,
    PermissionDeniedError,
    from_os_error,
)
from engine.pcapio.formats import (
    _BLOCK_HEAD,
    _BYTE_ORDERS,
    _EPB,
    _I64,
    _IDB,
    _OPTION,
    _PB,
    _PCAP_HEADER,
    _PCAP_MAGICS,
    _PCAP_RECORD,
    _SHB_MAGIC,
    _SHB_VERSION,
    _U32,
    BLOCK_EPB,
    BLOCK_IDB,
    BLOCK_PB,
    BLOCK_SPB,
    CHUNK,
    DEFAULT_SNAPLEN,
    MAX_BLOCK,
    MAX_RECORD,
    MAX_WARNINGS,
    OPT_END,
    OPT_IF_TSOFFSET,
    OPT_IF_TSRESOL,
    PCAPNG_SHB,
    PcapRecord,
    RecordTuple,
    _new_record,
    nul_name_error,
)


def _named(record: RecordTuple) -> Any:
    """The record as a :class:`PcapRecord` (``tuple.__new__`` skips its Python-level
    ``__new__``). Typed ``Any`` for mypyc (engine.native): compiled, a value typed as the
    plain tuple is stored as one, and the named record would become a plain tuple."""
    return _RECORD_NEW(PcapRecord, record)


_RECORD_NEW: Any = _new_record


def _le32(buf: bytes, at: int) -> int:
    """A little-endian 32-bit field, read byte by byte (a C read each when compiled)."""
    return buf[at] | buf[at + 1] << 8 | buf[at + 2] << 16 | buf[at + 3] << 24


class _Interface(NamedTuple):
    """A pcapng interface: link type, snap length and how to turn ticks into seconds."""

    linktype: int
    snaplen: int
    """0 when the interface declares no limit."""
    units: int
    """Timestamp ticks per second (a power of 10 or of 2)."""
    offset: int
    """if_tsoffset: seconds to add to every timestamp."""


class _Stop(Exception):
    """Reading cannot go on; the message is the warning to keep."""


class PcapReader:
    """Reads pcap or pcapng records from a binary stream, which may be a pipe (no seek)."""

    format: str
    """"pcap" or "pcapng"."""
    linktype: int
    """Link type of the pcap header, or of the first pcapng interface (else Ethernet)."""
    snaplen: int
    """The header's snap length (262144 when it says 0 or something absurd)."""

    def __init__(self, stream: IO[bytes], name: str = "<stream>") -> None:
        """Read the file header now, so a wrong file is refused before any record is asked for.

        Raises :class:`BadInputError` when the stream is empty or is neither
        pcap nor pcapng.
        """
        self._stream = stream
        self.name = name
        self.warnings: list[str] = []
        self.truncated = False
        self.records_read = 0
        self._buf = b""
        self._pos = 0
        self._base = 0
        """Offset in the stream of ``_buf[0]`` (for the file index of ``livetap -r``)."""
        self._eof = False
        self._done = False
        self._closed = False
        self._owns_stream = False
        self._order = "<"
        self._interfaces: list[_Interface] = []
        self._blocks = 0
        self._units = 1_000_000
        read1 = getattr(stream, "read1", None)
        self._read_some: Callable[[int], bytes | None] = read1 if callable(read1) else stream.read
        self._poll_fd = _poll_descriptor(stream)
        try:
            self._read_file_header()
        except OSError as error:
            raise from_os_error(error, f"read {name}") from None

    # -- buffered input ----------------------------------------------------------

    def _readable_now(self) -> bool:
        """Whether reading would return at once (always, for regular files and buffers)."""
        if self._poll_fd is None:
            return True
        try:
            ready, _, _ = select.select([self._poll_fd], [], [], 0)
        except (OSError, ValueError):
            return True  # let the read itself report the problem
        return bool(ready)

    def _fill(self, need: int, wait: bool = True) -> bool:
        """Make ``need`` bytes available at the read position.

        Pipes give short reads, so this loops until there is enough or the
        stream ends; with ``wait`` false it stops when the next read could
        block. ``need`` is always bounded (MAX_RECORD or MAX_BLOCK plus a
        header), so memory never follows a declared length further than that.
        """
        have = len(self._buf) - self._pos
        if have >= need:
            return True
        if self._eof or self._closed:
            return False
        parts = [self._buf[self._pos :]] if have else []
        try:
            while have < need:
                if not wait and not self._readable_now():
                    break
                chunk = self._read_some(max(CHUNK, need - have))
                if chunk is None:  # a non-blocking stream with nothing to give yet
                    if not wait:
                        break
                    self._wait_readable()
                    continue
                if not chunk:
                    self._eof = True
                    break
                parts.append(chunk)
                have += len(chunk)
        finally:
            self._base += self._pos
            self._buf = parts[0] if len(parts) == 1 else b"".join(parts)
            self._pos = 0
        return have >= need

    def _wait_readable(self) -> None:
        """Sleep until a non-blocking stream has data."""
        if self._poll_fd is None:
            time.sleep(0.005)
        else:
            select.select([self._poll_fd], [], [], 1.0)

    def _warn(self, message: str) -> None:
        """Keep a warning, up to a bound."""
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)
        elif len(self.warnings) == MAX_WARNINGS:
            self.warnings.append(f"{self.name}: further warnings were left out")

    # -- file header -------------------------------------------------------------

    def _read_file_header(self) -> None:
        """Tell pcap from pcapng and read the header (pcapng: up to the first interface)."""
        self._fill(4)
        head = self._buf[:4]
        if not head:
            raise BadInputError(f"{self.name} is empty: it holds no pcap or pcapng header")
        if len(head) < 4:
            raise BadInputError(
                f"{self.name} is only {len(head)} bytes long, too short for a pcap or pcapng header"
            )
        if head == _SHB_MAGIC:
            self.format = "pcapng"
            try:
                self._section_header(None)
            except _Stop as stop:
                raise BadInputError(str(stop)) from None
            self._read_leading_blocks()
            first = self._interfaces[0] if self._interfaces else None
            self.linktype = first.linktype if first else linktypes.ETHERNET
            self.snaplen = first.snaplen if first and first.snaplen else DEFAULT_SNAPLEN
            return
        if head not in _PCAP_MAGICS:
            hint = ""
            if head[:2] == b"\x1f\x8b":
                hint = " (it is gzip-compressed: decompress it first)"
            raise BadInputError(
                f"{self.name} is not a pcap or pcapng file{hint}: it starts with {head.hex()}"
            )
        self.format = "pcap"
        self._order, self._units = _PCAP_MAGICS[head]
        if not self._fill(24):
            raise BadInputError(
                f"{self.name} ends inside the 24-byte pcap file header "
                f"(it has {len(self._buf)} bytes)"
            )
        fields = _PCAP_HEADER[self._order].unpack_from(self._buf, 0)
        snaplen, network = fields[5], fields[6]
        self._pos = 24
        self.linktype = network & 0xFFFF  # the upper bits may carry FCS information
        self.snaplen = snaplen if 0 < snaplen <= MAX_RECORD else DEFAULT_SNAPLEN

    def _section_header(self, records: int | None) -> None:
        """A Section Header Block: it sets the byte order and forgets the interfaces."""
        initial = records is None
        where = "starts with" if initial else f"has (after {records} records)"
        if not self._fill(12):
            if initial:
                raise _Stop(f"{self.name} ends inside its pcapng section header")
            raise EOFError
        order = _BYTE_ORDERS.get(self._buf[self._pos + 8 : self._pos + 12])
        if order is None:
            raise _Stop(
                f"{self.name} {where} a pcapng section header with an unknown byte-order magic"
            )
        total = _U32[order].unpack_from(self._buf, self._pos + 4)[0]
        if total < 28 or total % 4 or total > MAX_BLOCK:
            raise _Stop(f"{self.name} {where} a pcapng section header of impossible length {total}")
        if not self._fill(total):
            if initial:
                raise _Stop(f"{self.name} ends inside its pcapng section header")
            raise EOFError
        pos = self._pos
        if _U32[order].unpack_from(self._buf, pos + total - 4)[0] != total:
            raise _Stop(f"{self.name} {where} a pcapng section header whose two lengths differ")
        major, minor = _SHB_VERSION[order].unpack_from(self._buf, pos + 12)
        if major != 1:
            raise _Stop(
                f"{self.name} {where} a pcapng section of version {major}.{minor}, "
                "which livetap cannot read (only 1.x)"
            )
        self._pos = pos + total
        self._order = order
        self._interfaces = []
        self._blocks += 1

    def _read_leading_blocks(self) -> None:
        """Consume the blocks before the first packet, so the first interface is known.

        Problems here are left for the first read() to report as warnings.
        """
        while not self._interfaces and self._fill(8):
            pos = self._pos
            if self._buf[pos : pos + 4] == _SHB_MAGIC:
                return
            block_type, total = _BLOCK_HEAD[self._order].unpack_from(self._buf, pos)
            if block_type in (BLOCK_EPB, BLOCK_SPB, BLOCK_PB):
                return
            if total < 12 or total % 4 or total > MAX_BLOCK or not self._fill(total):
                return
            pos = self._pos
            if _U32[self._order].unpack_from(self._buf, pos + total - 4)[0] != total:
                return
            if block_type == BLOCK_IDB:
                self._add_interface(self._buf[pos + 8 : pos + total - 4])
            self._pos = pos + total
            self._blocks += 1

    def _add_interface(self, body: bytes) -> None:
        """An Interface Description Block, with its if_tsresol and if_tsoffset options."""
        order = self._order
        if len(body) < 8:
            self._warn(f"{self.name}: interface {len(self._interfaces)} is described too briefly")
            self._interfaces.append(_Interface(linktypes.ETHERNET, 0, 1_000_000, 0))
            return
        linktype, _reserved, snaplen = _IDB[order].unpack_from(body)
        units, offset = 1_000_000, 0
        option = _OPTION[order]
        pos = 8
        while pos + 4 <= len(body):
            code, size = option.unpack_from(body, pos)
            if code == OPT_END:
                break
            value = body[pos + 4 : pos + 4 + size]
            if code == OPT_IF_TSRESOL and size >= 1:
                exponent = value[0] & 0x7F
                if value[0] & 0x80:
                    units = 1 << exponent
                elif exponent <= 18:
                    units = 10**exponent
                else:
                    self._warn(
                        f"{self.name}: interface {len(self._interfaces)} declares a timestamp "
                        f"resolution of 10^-{exponent} s; read as microseconds"
                    )
            elif code == OPT_IF_TSOFFSET and size >= 8:
                offset = _I64[order].unpack_from(value)[0]
            pos += 4 + (size + 3) // 4 * 4
        self._interfaces.append(_Interface(linktype, snaplen, units, offset))

    # -- records -----------------------------------------------------------------

    def read_batch(self, max_records: int, offsets: list[int] | None = None) -> list[PcapRecord]:
        """Up to ``max_records`` records: what is at hand, blocking only for the first.

        An empty list means the end (clean, truncated or corrupt: see
        ``truncated`` and ``warnings``). On a regular file this fills the batch;
        on a pipe it returns as soon as more would mean waiting. With ``offsets``,
        the stream offset of each record's frame bytes is appended to it.
        """
        return cast(list[PcapRecord], self._read(max_records, offsets, True))

    def read_tuples(self, max_records: int) -> list[RecordTuple]:
        """:meth:`read_batch` as plain tuples (the same fields in the same order).

        For a reader that only unpacks them (the analysis): building the named record
        costs a second tuple, and Python unpacks an exact tuple faster (together a
        tenth of ``livetap analyze``'s time on a big file).
        """
        return self._read(max_records, None, False)

    def _read(self, max_records: int, offsets: list[int] | None, named: bool) -> list[RecordTuple]:
        if self._done or max_records <= 0:
            return []
        out: list[RecordTuple] = []
        try:
            if self.format == "pcap":
                self._pcap_batch(out, max_records, offsets, named)
            else:
                self._pcapng_batch(out, max_records, offsets, named)
        except _Stop as stop:
            self._warn(str(stop))
            self._done = True
        except EOFError:
            self.truncated = True
            self._warn(
                f"{self.name} ends in the middle of a record (after "
                f"{self.records_read + len(out)} records)"
            )
            self._done = True
        except OSError as error:
            self._warn(f"reading {self.name} failed: {error.strerror or error}")
            self._done = True
        self.records_read += len(out)
        if self._done and self._owns_stream:
            self.close()
        return out

    def _need(self, size: int, wait: bool) -> bool:
        """Have ``size`` bytes at hand; False to end the batch; EOFError when cut short."""
        if self._fill(size, wait):
            return True
        if not self._eof:
            return False  # more may come, but not without waiting
        if len(self._buf) - self._pos:
            raise EOFError
        self._done = True  # a clean end, exactly between records
        return False

    def _pcap_batch(
        self, out: list[RecordTuple], max_records: int, offsets: list[int] | None, named: bool
    ) -> None:
        """The hot loop for pcap: unpack a header, slice the frame, repeat."""
        unpack = _PCAP_RECORD[self._order].unpack_from
        little = self._order == "<"
        units = self._units
        linktype = self.linktype
        snaplen = self.snaplen
        buf, pos, end = self._buf, self._pos, len(self._buf)
        count = 0
        while count < max_records:
            if end - pos < 16:
                self._pos = pos
                if not self._need(16, wait=not count):
                    return
                buf, pos, end = self._buf, 0, len(self._buf)
            if little:  # byte by byte: compiled (engine.native), C reads, no tuple
                seconds, fraction = _le32(buf, pos), _le32(buf, pos + 4)
                caplen, length = _le32(buf, pos + 8), _le32(buf, pos + 12)
            else:
                seconds, fraction, caplen, length = unpack(buf, pos)
            if caplen > MAX_RECORD:  # more than the snap length is read, as tshark does
                self._pos = pos
                raise _Stop(
                    f"{self.name}: record {self.records_read + count + 1} declares "
                    f"{caplen:,} captured bytes (snap length {snaplen:,}, wire length "
                    f"{length:,}); the file is corrupt from there, reading stopped"
                )
            start = pos + 16
            stop = start + caplen
            if stop > end:
                self._pos = pos
                if not self._need(16 + caplen, wait=not count):
                    return
                buf, pos, end = self._buf, 0, len(self._buf)
                start = 16
                stop = start + caplen
            record = (seconds + fraction / units, length, linktype, buf[start:stop], 0)
            out.append(_named(record) if named else record)  # _named: Any, kept as it is
            if offsets is not None:
                offsets.append(self._base + start)
            pos = stop
            count += 1
        self._pos = pos

    def _pcapng_batch(
        self, out: list[RecordTuple], max_records: int, offsets: list[int] | None, named: bool
    ) -> None:
        """Walk pcapng blocks, turning packet blocks into records and skipping the rest.

        The buffer, position and unpackers live in locals and are reloaded only
        after a refill or a new section: this loop is the pcapng hot path.
        """
        interfaces = self._interfaces
        order = self._order
        head, u32, epb = _block_unpackers(order)
        buf, pos, available = self._buf, self._pos, len(self._buf)
        count = 0
        while count < max_records:
            if available - pos < 8:
                self._pos = pos
                if not self._need(8, wait=not count):
                    return
                buf, pos, available = self._buf, 0, len(self._buf)
            block_type, total = head(buf, pos)
            if block_type == PCAPNG_SHB:  # the same number in either byte order
                self._pos = pos
                self._section_header(self.records_read + count)
                interfaces = self._interfaces
                order = self._order
                head, u32, epb = (
                    _BLOCK_HEAD[order].unpack_from,
                    _U32[order].unpack_from,
                    _EPB[order],
                )
                buf, pos, available = self._buf, self._pos, len(self._buf)
                continue
            if total < 12 or total & 3 or total > MAX_BLOCK:
                self._pos = pos
                raise _Stop(
                    f"{self.name}: pcapng block {self._blocks + 1} (after "
                    f"{self.records_read + count} records) declares an impossible length "
                    f"of {total} bytes; the file is corrupt from there, reading stopped"
                )
            end = pos + total
            if end > available:
                self._pos = pos
                if not self._need(total, wait=not count):
                    return
                buf, pos, available = self._buf, 0, len(self._buf)
                end = total
            if u32(buf, end - 4)[0] != total:
                self._pos = pos
                raise _Stop(
                    f"{self.name}: pcapng block {self._blocks + 1} (after "
                    f"{self.records_read + count} records) has two different lengths; "
                    "the file is corrupt from there, reading stopped"
                )
            self._blocks += 1
            if block_type == BLOCK_EPB and total >= 32:
                interface_id, high, low, caplen, length = epb.unpack_from(buf, pos + 8)
                start = pos + 28
            elif block_type == BLOCK_IDB:
                self._add_interface(buf[pos + 8 : end - 4])
                pos = end
                continue
            elif block_type == BLOCK_SPB and total >= 16:
                interface_id, high, low = 0, -1, 0
                length = u32(buf, pos + 8)[0]
                start = pos + 12
                caplen = min(length, end - 4 - start)
                if interfaces and interfaces[0].snaplen:
                    caplen = min(caplen, interfaces[0].snaplen)
            elif block_type == BLOCK_PB and total >= 32:
                interface_id, _drops, high, low, caplen, length = _PB[order].unpack_from(
                    buf, pos + 8
                )
                start = pos + 28
            elif block_type in (BLOCK_EPB, BLOCK_SPB, BLOCK_PB):
                self._bad_block(self.records_read + count, "is too short")
                pos = end
                continue
            else:  # name resolution, statistics, decryption secrets, custom, unknown
                pos = end
                continue
            stop = start + caplen
            if stop > end - 4:
                self._bad_block(self.records_read + count, f"claims {caplen:,} captured bytes")
                pos = end
                continue
            if interface_id >= len(interfaces):
                self._warn(
                    f"{self.name}: a packet (after {self.records_read + count} records) "
                    f"refers to undefined interface {interface_id}; skipped"
                )
                pos = end
                continue
            linktype, _snaplen, units, offset = interfaces[interface_id]
            if high < 0:
                timestamp = 0.0  # a Simple Packet Block carries no time
            else:
                seconds, ticks = divmod((high << 32) | low, units)
                timestamp = seconds + offset + ticks / units
            record = (timestamp, length, linktype, buf[start:stop], 0)
            out.append(_named(record) if named else record)  # _named: Any, kept as it is
            if offsets is not None:
                offsets.append(self._base + start)
            count += 1
            pos = end
        self._pos = pos

    def _bad_block(self, records: int, why: str) -> None:
        """A packet block whose lengths disagree: skip it, say so."""
        self._warn(f"{self.name}: a pcapng packet block (after {records} records) {why}; skipped")

    def read(self) -> PcapRecord | None:
        """The next record, or None at the end (then check ``warnings`` and ``truncated``)."""
        batch = self.read_batch(1)
        return batch[0] if batch else None

    def __iter__(self) -> Iterator[PcapRecord]:
        """Every record, in batches under the hood; a pipe yields each batch as it arrives."""
        while batch := self.read_batch(4096):
            yield from batch

    def close(self) -> None:
        """Close the underlying stream; further reads return nothing."""
        self._done = True
        if not self._closed:
            self._closed = True
            self._buf = b""
            self._pos = 0
            self._stream.close()

    def __enter__(self) -> PcapReader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _block_unpackers(
    order: str,
) -> tuple[
    Callable[[bytes, int], tuple[int, ...]], Callable[[bytes, int], tuple[int, ...]], struct.Struct
]:
    """The block header and trailer unpackers and the EPB struct of one byte order."""
    return _BLOCK_HEAD[order].unpack_from, _U32[order].unpack_from, _EPB[order]


def _poll_descriptor(stream: IO[bytes]) -> int | None:
    """The descriptor to poll before a read that must not block, None if reads never block."""
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None  # an in-memory buffer
    return None if stat.S_ISREG(mode) else fd


def open_pcap(path: str | os.PathLike[str]) -> PcapReader:
    """Open a pcap or pcapng file; the stream closes at the end of iteration or on close().

    Errors name the file and say what is wrong: NotFoundError,
    PermissionDeniedError, or BadInputError (a directory, empty, not a capture).
    """
    path = Path(path)
    try:
        stream = path.open("rb")
    except OSError as error:
        raise _open_error(error, path) from None
    except ValueError:  # a NUL in the name: no file can have it
        raise nul_name_error(path) from None
    try:
        reader = PcapReader(stream, name=str(path))
    except BaseException:
        stream.close()
        raise
    reader._owns_stream = True
    return reader


def _open_error(error: OSError, path: Path) -> LivetapError:
    """The typed error for a capture file that cannot be opened, in one sentence."""
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotFoundError(f"{path} does not exist: check the capture file's path")
    if error.errno == errno.EISDIR:
        return BadInputError(f"{path} is a directory, not a pcap or pcapng file")
    if error.errno in (errno.EACCES, errno.EPERM):
        return PermissionDeniedError(
            f"{path} cannot be read: permission denied (check its mode and owner)"
        )
    return from_os_error(error, f"open {path}")
