"""The attribution of the capture running in this process, for readers of its packets.

A live capture session that attributes its packets registers a reader of the answer it
stored with each packet (by capture index); a bare
:class:`~engine.process.attribution.Attributor` (``livetap top``, tests) registers
itself and is read per flow. The display filter's ``proc.*`` fields and reports read
the answers learnt at capture time through here. A file or a command's stream registers
none, so their packets have no process (never today's owner of an old four-tuple).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.packet.model import Packet
from engine.process.attribution import Attributor
from engine.process.procfs import ProcessInfo

IndexReader = Callable[[int], ProcessInfo | None]
"""A packet's capture index → the answer stored with it (None: none stored)."""

_active: list[Attributor] = []
_readers: list[IndexReader] = []


def register(attributor: Attributor) -> None:
    """Make ``attributor`` the one packets are read through (until :func:`unregister`)."""
    _active[:] = [attributor]


def unregister(attributor: Attributor) -> None:
    """Stop reading through ``attributor`` (if it is the registered one)."""
    if _active and _active[0] is attributor:
        _active.clear()


def register_reader(reader: IndexReader) -> None:
    """Read packets' answers by index through ``reader`` (a capture session's store)."""
    _readers[:] = [reader]


def unregister_reader(reader: IndexReader) -> None:
    """Stop reading through ``reader`` (if it is the registered one)."""
    if _readers and _readers[0] == reader:
        _readers.clear()


def owner_of(packet: Packet, timestamp: float, index: int | None = None) -> ProcessInfo | None:
    """The process learnt for this packet while it was captured; None when there is none.

    With ``index`` (the packet's number in the registered session's buffer), the answer
    stored with that very packet; else the per-flow cache of a registered attributor.
    """
    if index is not None and _readers:
        return _readers[0](index)
    return _active[0].cached(packet, timestamp) if _active else None
