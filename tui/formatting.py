"""Text for the packet list and the status bar, computed from engine records."""

from __future__ import annotations

from dataclasses import dataclass

from engine.events import PacketSummary

PROTOCOL_COLOUR_KEYS: dict[str, str] = {
    "TCP": "tcp",
    "UDP": "udp",
    "DNS": "dns",
    "MDNS": "dns",
    "LLMNR": "dns",
    "HTTP": "http",
    "TLS": "tls",
    "ICMP": "icmp",
    "ICMPv6": "icmp",
    "ARP": "arp",
}


def protocol_key(protocol: str) -> str:
    """The theme colour key (``proto-<key>``) for a protocol name."""
    return PROTOCOL_COLOUR_KEYS.get(protocol, "other")


@dataclass(frozen=True, slots=True)
class Columns:
    """Column widths of the packet list for one terminal width."""

    number: int
    time: int
    address: int
    protocol: int
    length: int
    info: int


NARROW = 110
"""Below this width the time and length columns give their room to the info column."""


def columns(width: int) -> Columns:
    """Fit the columns to ``width``: addresses grow with the room, info takes the rest."""
    number, protocol = 7, 8
    time, length = (11, 6) if width >= NARROW else (0, 0)
    gaps = 6 if width >= NARROW else 4  # one space between each pair of shown columns
    fixed = number + time + protocol + length + gaps
    address = max(15, min(39, (width - fixed) // 4))
    info = max(0, width - fixed - 2 * address)
    return Columns(number, time, address, protocol, length, info)


def _fit(text: str, width: int) -> str:
    """Left-aligned text cut to ``width`` with an ellipsis when it does not fit."""
    if len(text) <= width:
        return text.ljust(width)
    return text[: width - 1] + "…" if width > 0 else ""


def _join(cells: tuple[str, ...], layout: Columns) -> str:
    """Cells in column order, leaving out the columns that have no room."""
    widths = (
        layout.number,
        layout.time,
        layout.address,
        layout.address,
        layout.protocol,
        layout.length,
        layout.info,
    )
    return " ".join(cell for cell, width in zip(cells, widths, strict=True) if width)


def header_text(layout: Columns) -> str:
    """The column titles, aligned like the rows."""
    return _join(
        (
            "No.".rjust(layout.number),
            "Time".rjust(layout.time),
            _fit("Source", layout.address),
            _fit("Destination", layout.address),
            _fit("Protocol", layout.protocol),
            "Length".rjust(layout.length),
            _fit("Info", layout.info),
        ),
        layout,
    )


def row_text(packet: PacketSummary, origin: float, layout: Columns) -> str:
    """One packet list row; time is seconds since the first packet shown."""
    return _join(
        (
            str(packet.index).rjust(layout.number)[-layout.number :],
            f"{packet.timestamp - origin:.6f}".rjust(layout.time)[-layout.time :]
            if layout.time
            else "",
            _fit(packet.src, layout.address),
            _fit(packet.dst, layout.address),
            _fit(packet.protocol, layout.protocol),
            str(packet.length).rjust(layout.length) if layout.length else "",
            _fit(packet.info, layout.info),
        ),
        layout,
    )


def human_bytes(count: float) -> str:
    """A byte count as people read it: 512 B, 1.5 KiB, 12.3 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"  # pragma: no cover - the loop returns at GiB
