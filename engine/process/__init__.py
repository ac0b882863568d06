"""Which program sent a packet: the local process behind a TCP/UDP socket.

:class:`Attributor` is the entry point: ``for_packet`` answers per packet from a per-flow
cache, resolving a new flow through netlink ``sock_diag`` (:mod:`.sockdiag`) and
``/proc`` (:mod:`.procfs`). :class:`SynWatcher` resolves new TCP connections the moment
their SYN is sent, before a short-lived program exits.
"""

from engine.process.attribution import Attributor, Counters
from engine.process.procfs import ProcessInfo, unit_of

__all__ = ["Attributor", "Counters", "ProcessInfo", "unit_of"]
