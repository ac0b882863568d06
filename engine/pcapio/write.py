"""Writing pcap and pcapng files: whole files at once or record by record, privately."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import stat
import struct
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from engine import linktypes
from engine.errors import (
    BadInputError,
    LivetapError,
    from_os_error,
)
from engine.pcapio.formats import (
    _PCAP_HEADER,
    _U32,
    BLOCK_EPB,
    BLOCK_IDB,
    CHUNK,
    DEFAULT_SNAPLEN,
    MAX_RECORD,
    OPT_COMMENT,
    OPT_END,
    OPT_IF_NAME,
    OPT_IF_TSRESOL,
    OPT_SHB_USERAPPL,
    PCAP_MAGIC_NS,
    PCAP_MAGIC_US,
    PCAPNG_BYTE_ORDER,
    PCAPNG_SHB,
    PcapRecord,
    nul_name_error,
)
from engine.pcapio.secrets import dsb_block

MAX_COMMENT = 4096
"""Bytes of a packet comment kept (a command line can be long; an option holds 65,535)."""


class PcapWriter:
    """Writes records to pcap (one link type) or pcapng (one IDB per source and link type).

    In pcapng each input (``PcapRecord.source``) gets interface blocks of its own, named
    by ``names`` (the ``if_name`` option), so tshark's ``frame.interface_name`` and
    ``frame.interface_id`` tell the inputs of a several-source capture apart.
    """

    def __init__(
        self,
        stream: IO[bytes],
        linktype: int,
        snaplen: int = DEFAULT_SNAPLEN,
        fmt: str = "pcap",
        nanosecond: bool = False,
        *,
        names: Sequence[str] = (),
    ) -> None:
        """Write the file header at once, so even an empty capture is a valid file."""
        if fmt not in ("pcap", "pcapng"):
            raise ValueError(f"unknown capture format {fmt!r} (use 'pcap' or 'pcapng')")
        self._stream = stream
        self._format = fmt
        self._snaplen = snaplen if 0 < snaplen <= MAX_RECORD else DEFAULT_SNAPLEN
        self._units = 1_000_000_000 if nanosecond else 1_000_000
        self._nanosecond = nanosecond
        self._linktype = linktype
        self._names = tuple(names)
        self._interfaces: dict[tuple[int, int], int] = {}
        self._record = struct.Struct("<IIII")
        self._epb = struct.Struct("<IIIIIII")
        if fmt == "pcap":
            magic = PCAP_MAGIC_NS if nanosecond else PCAP_MAGIC_US
            stream.write(
                _PCAP_HEADER["<"].pack(magic, 2, 4, 0, 0, self._snaplen, linktype & 0xFFFF)
            )
        else:
            application = _option(OPT_SHB_USERAPPL, b"livetap") + _option(OPT_END, b"")
            body = struct.pack("<IHHq", PCAPNG_BYTE_ORDER, 1, 0, -1) + application
            stream.write(_pcapng_block(PCAPNG_SHB, body))
            self._interface_for(linktype, 0)

    def _interface_for(self, linktype: int, source: int) -> int:
        """The pcapng interface id for a source's link type, described on first use."""
        interface = self._interfaces.get((source, linktype))
        if interface is None:
            name = self._names[source] if source < len(self._names) else ""
            self._stream.write(idb_block(linktype, self._snaplen, name, self._nanosecond))
            interface = self._interfaces[(source, linktype)] = len(self._interfaces)
        return interface

    def _ticks(self, timestamp: float) -> tuple[int, int]:
        """Whole seconds and sub-second units, rounded without float overflow of the units."""
        if not math.isfinite(timestamp):
            raise BadInputError(f"a packet has an invalid timestamp ({timestamp})")
        seconds = math.floor(timestamp)
        fraction = round((timestamp - seconds) * self._units)
        if fraction >= self._units:
            seconds, fraction = seconds + 1, fraction - self._units
        return seconds, fraction

    def write(self, record: PcapRecord, comment: str = "") -> None:
        """Append one record (pcap: only the file's link type); bytes past snaplen are cut.

        ``comment``: pcapng only, the packet's ``opt_comment`` (tshark: ``frame.comment``);
        livetap writes each packet's process there. A pcap file has no room for it.
        """
        data = record.data
        if len(data) > self._snaplen:
            data = data[: self._snaplen]
        caplen = len(data)
        length = max(record.length, caplen)
        seconds, fraction = self._ticks(record.timestamp)
        if self._format == "pcap":
            if record.linktype != self._linktype:
                raise BadInputError(
                    f"a pcap file holds one link type ({linktypes.name(self._linktype)}), but "
                    f"this packet is {linktypes.name(record.linktype)}: save as .pcapng instead"
                )
            if not 0 <= seconds <= 0xFFFFFFFF:
                raise BadInputError(
                    f"a packet's timestamp ({record.timestamp}) does not fit in a pcap file"
                )
            self._stream.write(self._record.pack(seconds, fraction, caplen, length))
            self._stream.write(data)
            return
        interface = self._interface_for(record.linktype, record.source)
        ticks = seconds * self._units + fraction
        if not 0 <= ticks <= 0xFFFFFFFFFFFFFFFF:
            raise BadInputError(
                f"a packet's timestamp ({record.timestamp}) does not fit in a pcapng file"
            )
        padding = -caplen % 4
        options = (
            _option(OPT_COMMENT, comment.encode("utf-8", "replace")[:MAX_COMMENT])
            + _option(OPT_END, b"")
            if comment
            else b""
        )
        total = 32 + caplen + padding + len(options)
        self._stream.write(
            self._epb.pack(
                BLOCK_EPB, total, interface, ticks >> 32, ticks & 0xFFFFFFFF, caplen, length
            )
        )
        self._stream.write(data)
        self._stream.write(b"\x00" * padding + options + _U32["<"].pack(total))

    def write_secrets(self, secrets: bytes) -> None:
        """Embed TLS key log lines (a Decryption Secrets Block; pcapng only, before packets)."""
        if not secrets:
            return
        if self._format != "pcapng":
            raise BadInputError("only a pcapng file can hold TLS secrets: save as .pcapng")
        self._stream.write(dsb_block(secrets))

    def flush(self) -> None:
        """Push what was written to the operating system (a pipe reader sees it now)."""
        self._stream.flush()


def idb_block(linktype: int, snaplen: int, name: str = "", nanosecond: bool = False) -> bytes:
    """A pcapng Interface Description Block, with its name (``if_name``) when it has one."""
    options = b""
    if name:
        options += _option(OPT_IF_NAME, name.encode("utf-8", "replace"))
    if nanosecond:
        options += _option(OPT_IF_TSRESOL, b"\x09")
    if options:
        options += _option(OPT_END, b"")
    return _pcapng_block(BLOCK_IDB, struct.pack("<HHI", linktype & 0xFFFF, 0, snaplen) + options)


def _option(code: int, value: bytes) -> bytes:
    """A pcapng option: code, length, value padded to 4 bytes."""
    return struct.pack("<HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def _pcapng_block(block_type: int, body: bytes) -> bytes:
    """A little-endian pcapng block: type, length, body (padded), length again."""
    body += b"\x00" * (-len(body) % 4)
    total = len(body) + 12
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


def write_pcap_file(
    path: str | os.PathLike[str],
    records: Iterable[PcapRecord],
    fmt: str | None = None,
    names: Sequence[str] = (),
    *,
    secrets: bytes = b"",
    comments: Sequence[str] = (),
) -> int:
    """Write records to a file readable only by its owner (captures are private).

    ``names`` name the inputs of a several-source capture (pcapng interface names);
    ``comments[i]`` is the i-th record's packet comment (pcapng only; "" for none).
    ``secrets`` (TLS key log lines) go into a Decryption Secrets Block before the
    packets, which needs pcapng: the file then decrypts anywhere.

    ``fmt`` None picks pcapng for a .pcapng path or mixed link types, else
    pcap. On any failure the file is removed, so no half-written capture is
    left looking complete. Returns the number of records written.
    """
    path = Path(path)
    items = list(records)
    kinds = list(dict.fromkeys(record.linktype for record in items))
    suffix = path.suffix.lower()
    if fmt is None and secrets and suffix != ".pcap":
        fmt = "pcapng"
    if fmt is None:
        # a .pcap name promises a pcap file: mixed link types there are refused below
        fmt = "pcapng" if suffix == ".pcapng" or (len(kinds) > 1 and suffix != ".pcap") else "pcap"
    if fmt not in ("pcap", "pcapng"):
        raise BadInputError(f"unknown capture format {fmt!r}: use pcap or pcapng")
    if fmt == "pcap" and secrets:
        raise BadInputError(
            f"could not write {path}: TLS secrets go only into a pcapng file; "
            "save to a .pcapng file instead"
        )
    if fmt == "pcap" and len(kinds) > 1:
        names = ", ".join(linktypes.name(kind) for kind in kinds)
        raise BadInputError(
            f"could not write {path}: the packets have {len(kinds)} link types ({names}) and "
            "a pcap file holds one; save to a .pcapng file instead"
        )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise _write_error(error, path) from None
    except ValueError:  # a NUL in the name: no file can have it
        raise nul_name_error(path) from None
    try:
        # only a regular file is ours to tighten or remove: never chmod or unlink a
        # device or FIFO the user named (livetap often runs as root)
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    try:
        if regular:
            with contextlib.suppress(OSError):  # a file system without modes (vfat)
                os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        with os.fdopen(fd, "wb", buffering=CHUNK) as stream:
            writer = PcapWriter(
                stream, kinds[0] if kinds else linktypes.ETHERNET, fmt=fmt, names=names
            )
            writer.write_secrets(secrets)
            if fmt == "pcapng" and comments:
                for record, comment in zip(items, comments, strict=False):
                    writer.write(record, comment)
                for record in items[len(comments) :]:
                    writer.write(record)
            else:
                for record in items:
                    writer.write(record)
    except OSError as error:
        if regular:
            path.unlink(missing_ok=True)
        raise _write_error(error, path) from None
    except BaseException:
        if regular:
            path.unlink(missing_ok=True)
        raise
    return len(items)


def _write_error(error: OSError, path: Path) -> LivetapError:
    """The typed error for a failed write, with the cases from_os_error cannot know."""
    if error.errno == errno.EISDIR:
        return BadInputError(f"could not write {path}: it is a directory")
    if error.errno == errno.ELOOP:
        return BadInputError(
            f"could not write {path}: it is a symbolic link, which livetap does not write through"
        )
    return from_os_error(error, f"write {path}")
