"""Which program: the local process behind a packet's TCP/UDP socket.

:class:`Attributor` is the entry point: ``for_frame``/``for_packet`` answer per packet
from a per-flow cache, resolving a new flow through netlink ``sock_diag``
(:mod:`.sockdiag`) and ``/proc`` (:mod:`.procfs`). :mod:`.watch` resolves new
connections the moment their first packet is sent, before a short-lived program exits;
:class:`~engine.process.live.LiveAttribution` bundles both for a capture loop, and
:mod:`.registry` lets the display filter's ``proc.*`` fields read the answers.
:mod:`.top` counts traffic per process, :mod:`.program` keeps one program's packets.
"""

from engine.process.attribution import Attributor, Counters
from engine.process.procfs import ProcessInfo, unit_of

__all__ = ["Attributor", "Counters", "ProcessInfo", "unit_of"]
