"""Which protocol Wireshark dissects on which port, and which ports are usual services.

The port registrations (:data:`TCP_APPS`, :data:`UDP_APPS` and their lookups) are the
packet model's (:mod:`engine.packet.ports`), re-exported here for the analysis; the
ports the patterns report does not mention are the analysis's own.
"""

from __future__ import annotations

from typing import Final

from engine.packet.ports import TCP_APPS, UDP_APPS, tcp_label, udp_label

__all__ = [
    "HTTP_PORTS",
    "TCP_APPS",
    "UDP_APPS",
    "USUAL_PORTS",
    "tcp_label",
    "udp_label",
]

HTTP_PORTS: Final = frozenset(port for port, name in TCP_APPS.items() if name == "http")

USUAL_PORTS: Final = frozenset(
    {
        *TCP_APPS,
        *UDP_APPS,
        20,
        88,
        135,
        389,
        443,
        636,
        853,
        1194,
        1433,
        3306,
        3389,
        3478,
        5222,
        5228,
        5432,
        5900,
        6379,
        8443,
        9200,
        27017,
        51820,
    }
)
"""Service ports that are not worth a mention in the patterns report."""
