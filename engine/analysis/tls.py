"""TLS on its ports: record boundaries across segments, and the server name of a ClientHello.

tshark shows ``tls`` for a segment that starts a record, ``tls > tcp.segments`` for
one that completes a record begun earlier, plain ``tcp`` for one in the middle of a
record, and ``data`` for a payload on a TLS port that is not TLS at all; following
the record lengths per direction tells them apart. The ClientHello's SNI names a host for
the threat check and the reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from engine.analysis.threats import Sightings
from engine.packet.app import client_hello_sni
from engine.packet.structs import TLS_RECORD
from engine.packet.walk import Raw

if TYPE_CHECKING:
    from engine.analysis.conversations import TcpStream

TLS: Final[tuple[str, ...]] = ("tls",)
TLS_REASSEMBLED: Final[tuple[str, ...]] = ("tls", "tcp.segments")
"""A record that began in an earlier segment ends here: tshark adds its reassembly."""
TLS_REASSEMBLED_MORE: Final[tuple[str, ...]] = ("tls", "tcp.segments", "tls")
"""...and another record starts after it, in the same segment."""
DATA: Final[tuple[str, ...]] = ("data",)
NONE: Final[tuple[str, ...]] = ()
MAX_RECORDS: Final = 64
"""Records walked in one segment at most."""


class _Reader:
    """Bytes still owed to the record that the last segment started."""

    __slots__ = ("remaining",)

    def __init__(self) -> None:
        self.remaining = 0


def _is_record(data: bytes, position: int) -> bool:
    """A record header: content type 20-24, protocol version 3.x (SSL 3 to TLS 1.3)."""
    return 20 <= data[position] <= 24 and data[position + 1] == 3 and data[position + 2] <= 4


def tls_segment(
    stream: TcpStream,
    direction: int,
    time: float,
    data: bytes,
    fields: Raw,
    *,
    sightings: Sightings,
) -> tuple[str, ...]:
    """Follow the records of one segment; the layers tshark shows above TCP."""
    start, end, seglen = fields[9], fields[10], fields[11]
    side = direction >> 1
    reader = stream.app[side]
    if reader is None:
        reader = stream.app[side] = _Reader()
    elif not isinstance(reader, _Reader):
        return DATA
    position = start
    wire_end = start + seglen
    spanned = False
    if reader.remaining:
        if reader.remaining > seglen:
            reader.remaining -= seglen
            return NONE  # the middle of a record: tshark waits for the rest (plain tcp)
        position += reader.remaining
        reader.remaining = 0
        spanned = True
    valid = False
    for _ in range(MAX_RECORDS):
        if position + 5 > wire_end:
            break
        if position + 5 > end or not _is_record(data, position):
            break  # not captured, or not TLS from here on
        valid = True
        content, _major, _minor, length = TLS_RECORD(data, position)
        body = position + 5
        if content == 22 and body + 4 <= end and data[body] == 1 and sightings.active:
            name = client_hello_sni(data, body + 4, min(body + length, end))
            if name:
                sightings.host(name, "tls", stream.b if direction else stream.a, time)
        position = body + length
    if position > wire_end:
        reader.remaining = position - wire_end
    if spanned:
        return TLS_REASSEMBLED_MORE if valid else TLS_REASSEMBLED
    return TLS if valid else DATA
