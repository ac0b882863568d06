"""The pcap and pcapng formats: magic numbers, limits, struct layouts, the record type."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import NamedTuple

from engine.errors import BadInputError

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAPNG_SHB = 0x0A0D0D0A
PCAPNG_BYTE_ORDER = 0x1A2B3C4D
BLOCK_IDB = 1
BLOCK_PB = 2
"""The obsolete Packet Block of pcapng drafts, still written by old tools."""
BLOCK_SPB = 3
BLOCK_EPB = 6
OPT_END = 0
OPT_COMMENT = 1
OPT_SHB_USERAPPL = 4
OPT_IF_NAME = 2
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14

MAX_RECORD = 256 * 1024
"""No link layer livetap reads carries more than this in one record (libpcap's maximum)."""
MAX_BLOCK = 16 * 1024 * 1024
"""A pcapng block longer than this is taken for corruption, not read."""
DEFAULT_SNAPLEN = 262144
CHUNK = 1 << 20
"""How much is asked of the stream at once: big reads keep the per-record cost low."""
MAX_WARNINGS = 50
"""A corrupt file must not grow the warning list without bound."""

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000),
}
_SHB_MAGIC = b"\x0a\x0d\x0d\x0a"
_BYTE_ORDERS = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}
_PCAP_HEADER = {order: struct.Struct(order + "IHHiIII") for order in "<>"}
_PCAP_RECORD = {order: struct.Struct(order + "IIII") for order in "<>"}
_BLOCK_HEAD = {order: struct.Struct(order + "II") for order in "<>"}
_U32 = {order: struct.Struct(order + "I") for order in "<>"}
_EPB = {order: struct.Struct(order + "IIIII") for order in "<>"}
_PB = {order: struct.Struct(order + "HHIIII") for order in "<>"}
_IDB = {order: struct.Struct(order + "HHI") for order in "<>"}
_OPTION = {order: struct.Struct(order + "HH") for order in "<>"}
_I64 = {order: struct.Struct(order + "q") for order in "<>"}
_SHB_VERSION = {order: struct.Struct(order + "HH") for order in "<>"}

_new_record = tuple.__new__
"""Building the NamedTuple through tuple.__new__ skips a Python-level call per record."""


RecordTuple = tuple[float, int, int, bytes, int]
"""A :class:`PcapRecord`'s fields as a plain tuple (:meth:`PcapReader.read_tuples`)."""


class PcapRecord(NamedTuple):
    """One captured frame as files store it."""

    timestamp: float
    """Seconds since the epoch."""
    length: int
    """The original length on the wire."""
    linktype: int
    """The LINKTYPE_* of the interface the frame came from."""
    data: bytes
    """The captured bytes (at most the snap length)."""
    source: int = 0
    """Which input it came from when several are read at once (``-i a -i b``, ``-r a -r b``):
    an index into the source's ``source_names``; 0 for the only one."""


def nul_name_error(path: Path) -> BadInputError:
    """The error for a file name with a NUL character (typed or pasted into a prompt)."""
    return BadInputError(f"{str(path)!r} is not a usable file name: it contains a NUL character")
