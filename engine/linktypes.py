"""Link-layer header types (the LINKTYPE_* values stored in pcap files)."""

from __future__ import annotations

NULL = 0
"""BSD loopback: a 4-byte address family in the writer's byte order."""
ETHERNET = 1
RAW = 101
"""Raw IPv4 or IPv6, told apart by the version nibble."""
LOOP = 108
"""OpenBSD loopback: a 4-byte address family in network byte order."""
LINUX_SLL = 113
IPV4 = 228
IPV6 = 229
LINUX_SLL2 = 276

DLT_RAW_ALIASES = frozenset({12, 14})
"""DLT_RAW as some platforms number it; treated as :data:`RAW`."""

NAMES: dict[int, str] = {
    NULL: "null/loopback",
    ETHERNET: "ethernet",
    RAW: "raw IP",
    LOOP: "OpenBSD loopback",
    LINUX_SLL: "Linux cooked (SLL)",
    IPV4: "raw IPv4",
    IPV6: "raw IPv6",
    LINUX_SLL2: "Linux cooked (SLL2)",
}


def normalise(linktype: int) -> int:
    """Map platform DLT aliases onto the LINKTYPE value the decoder knows."""
    return RAW if linktype in DLT_RAW_ALIASES else linktype


def name(linktype: int) -> str:
    """A person-readable name for a link type, for status lines and reports."""
    return NAMES.get(normalise(linktype), f"linktype {linktype}")
