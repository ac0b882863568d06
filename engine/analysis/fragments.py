"""IP fragments put back together, so a datagram counts once, where tshark counts it.

With reassembly on (tshark's default), every fragment is an IP packet (``ip > data``
in the hierarchy, one frame of the IP conversation), and the TCP/UDP datagram counts
in the frame that completes it, with that frame's length. Pending datagrams and their
bytes are bounded; the oldest are let go first.
"""

from __future__ import annotations

from typing import Final

from engine.packet.walk import Layers, reassembled

MAX_PENDING: Final = 1024
"""Datagrams waiting for fragments."""
MAX_DATAGRAM: Final = 65535 + 64


class _Datagram:
    """What arrived of one datagram so far."""

    __slots__ = ("first", "first_frame", "pieces", "size", "total")

    def __init__(self) -> None:
        self.first: Layers | None = None
        self.first_frame = b""
        self.pieces: list[tuple[int, int, bytes]] = []
        """(offset, end on the wire, captured bytes) per fragment."""
        self.total: int | None = None
        self.size = 0


class Fragments:
    """Fragments by (addresses, protocol, identification) until their datagram is whole."""

    def __init__(self) -> None:
        self._pending: dict[tuple[bytes, int, int], _Datagram] = {}
        self.incomplete_dropped = 0

    def add(self, fields: Layers, data: bytes) -> tuple[Layers, bytes] | None:
        """Keep a fragment; the whole datagram's fields and bytes when this one completes it."""
        where = fields.fragment
        if where is None:
            return None
        ident, offset, more, start, length = where
        key = (fields.pair, fields.proto, ident)
        datagram = self._pending.get(key)
        if datagram is None:
            if len(self._pending) >= MAX_PENDING:
                self._pending.pop(next(iter(self._pending)))
                self.incomplete_dropped += 1
            datagram = self._pending[key] = _Datagram()
        piece = data[start : start + length]
        datagram.size += len(piece)
        if datagram.size > MAX_DATAGRAM:
            del self._pending[key]
            self.incomplete_dropped += 1
            return None
        datagram.pieces.append((offset, offset + length, piece))
        if offset == 0:
            datagram.first = fields
            datagram.first_frame = data[:start]
        if not more:
            datagram.total = offset + length
        if datagram.first is None or datagram.total is None:
            return None
        covered = 0
        for begin, end, _piece in sorted(datagram.pieces):
            if begin > covered:
                return None
            covered = max(covered, end)
        if covered < datagram.total:
            return None
        del self._pending[key]
        return _join(datagram.first, datagram)


def _join(first: Layers, datagram: _Datagram) -> tuple[Layers, bytes]:
    """The datagram's frame: the first fragment's headers, then every payload byte."""
    payload = bytearray()
    for begin, _end, piece in sorted(datagram.pieces):
        if begin > len(payload):
            break  # a fragment cut by the snap length leaves a hole
        if begin + len(piece) > len(payload):
            payload[begin:] = piece
    frame = datagram.first_frame + bytes(payload)
    return reassembled(first, frame, datagram.total or 0), frame
