"""The attribution of the capture running in this process, for readers of its packets.

A live capture of this host that attributes its packets registers its
:class:`~engine.process.attribution.Attributor` here; the display filter's ``proc.*``
fields and reports read the answers learnt at capture time through it. A file or a
command's stream registers none, so their packets have no process (never today's
owner of an old four-tuple).
"""

from __future__ import annotations

from engine.packet.model import Packet
from engine.process.attribution import Attributor
from engine.process.procfs import ProcessInfo

_active: list[Attributor] = []


def register(attributor: Attributor) -> None:
    """Make ``attributor`` the one packets are read through (until :func:`unregister`)."""
    _active[:] = [attributor]


def unregister(attributor: Attributor) -> None:
    """Stop reading through ``attributor`` (if it is the registered one)."""
    if _active and _active[0] is attributor:
        _active.clear()


def owner_of(packet: Packet, timestamp: float) -> ProcessInfo | None:
    """The process learnt for this packet while it was captured; None when there is none."""
    return _active[0].cached(packet, timestamp) if _active else None
