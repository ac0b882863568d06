"""The protocol hierarchy: frames and bytes per protocol path, as ``tshark -z io,phs``.

Each packet adds its frame length once to every protocol on its path (``eth > ip >
tcp > tls``). Counting happens per distinct path (a handful of them), the tree is
built only for a report; children keep the order in which they first appeared, as
tshark prints them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from engine.packet.walk import IP_DISPATCH

PAYLOAD_NAMES: Final = frozenset(
    {"data", "data-text-lines", "media", "json", "xml", "urlencoded-form", "_ws.malformed"}
)
"""Layers that only name what a payload holds: a packet's protocol is the one above."""

DISPLAY_NAMES: Final = {
    "eth": "Ethernet",
    "vlan": "802.1Q",
    "sll": "SLL",
    "null": "Null",
    "raw": "Raw IP",
    "ip": "IPv4",
    "ipv6": "IPv6",
    "arp": "ARP",
    "rarp": "RARP",
    "llc": "LLC",
    "lldp": "LLDP",
    "tcp": "TCP",
    "udp": "UDP",
    "icmp": "ICMP",
    "icmpv6": "ICMPv6",
    "igmp": "IGMP",
    "gre": "GRE",
    "dns": "DNS",
    "mdns": "MDNS",
    "llmnr": "LLMNR",
    "http": "HTTP",
    "tls": "TLS",
    "ftp": "FTP",
    "ssh": "SSH",
    "telnet": "TELNET",
    "smtp": "SMTP",
    "pop": "POP",
    "imap": "IMAP",
    "nbss": "NBSS",
    "nbns": "NBNS",
    "dhcp": "DHCP",
    "ntp": "NTP",
    "snmp": "SNMP",
    "syslog": "Syslog",
    "ssdp": "SSDP",
    "tftp": "TFTP",
    "user_dlt": "User DLT",
}

PathCounts = dict[tuple[str, ...], list[int]]
"""Protocol path -> [frames, bytes]."""


def display_name(protocol: str) -> str:
    """How the summary writes a protocol (Wireshark's Protocol column style)."""
    return DISPLAY_NAMES.get(protocol) or protocol.upper()


def top_protocol(path: tuple[str, ...]) -> str:
    """The protocol a packet with this path is "about": the last one above mere payload."""
    for name in reversed(path):
        if name not in PAYLOAD_NAMES:
            return name
    return path[0] if path else "unknown"


@dataclass(slots=True)
class Node:
    """One protocol at one place in the tree."""

    name: str
    frames: int = 0
    bytes: int = 0
    children: dict[str, Node] = field(default_factory=dict)


UNLISTED: Final = frozenset({"nflog", IP_DISPATCH})
"""Layers tshark's hierarchy leaves out (its NFLOG frames start at ``ip``, a raw IPv4 link
holding IPv6 at ``ipv6``), though ``frame.protocols`` names them."""
RENAMED: Final = {"juniper": "text"}
"""Layers tshark's hierarchy names otherwise than ``frame.protocols``: the Juniper
dissector's header is a text item, which ``-z io,phs`` counts under ``text``."""


def build(paths: Iterable[tuple[tuple[str, ...], list[int]]]) -> list[Node]:
    """The tree's roots, children in order of first appearance."""
    roots: dict[str, Node] = {}
    for path, (frames, size) in paths:
        level = roots
        for name in path:
            if name in UNLISTED:
                continue
            shown = RENAMED.get(name, name)
            node = level.get(shown)
            if node is None:
                node = level[shown] = Node(shown)
            node.frames += frames
            node.bytes += size
            level = node.children
    return list(roots.values())


def to_json(nodes: list[Node], total_frames: int, total_bytes: int) -> list[dict[str, Any]]:
    """The tree as nested report rows with percentages of all frames and bytes."""
    return [
        {
            "protocol": node.name,
            "frames": node.frames,
            "bytes": node.bytes,
            "frames_percent": _percent(node.frames, total_frames),
            "bytes_percent": _percent(node.bytes, total_bytes),
            "children": to_json(list(node.children.values()), total_frames, total_bytes),
        }
        for node in nodes
    ]


def flatten(rows: list[dict[str, Any]], depth: int = 0) -> list[tuple[int, dict[str, Any]]]:
    """(depth, row) for every node, depth first: how a text table or the TUI lists them."""
    out: list[tuple[int, dict[str, Any]]] = []
    for row in rows:
        out.append((depth, row))
        out.extend(flatten(row["children"], depth + 1))
    return out


def by_protocol(paths: Iterable[tuple[tuple[str, ...], list[int]]]) -> dict[str, int]:
    """Packets per top protocol (by display name), most first."""
    counts: dict[str, int] = {}
    for path, (frames, _size) in paths:
        name = display_name(top_protocol(path))
        counts[name] = counts.get(name, 0) + frames
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0
