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
    "RARP": "arp",
}


def protocol_key(protocol: str) -> str:
    """The theme colour key (``proto-<key>``) for a protocol name."""
    return PROTOCOL_COLOUR_KEYS.get(protocol, "other")


@dataclass(frozen=True, slots=True)
class Columns:
    """Column widths of the packet list for one width; 0 means the column is left out."""

    number: int
    input: int
    """The input a packet came from (frame.source): only when several are read."""
    time: int
    source: int
    destination: int
    protocol: int
    length: int
    process: int
    """The program that sent or received it: only on a live capture that attributes."""
    info: int

    @property
    def shown(self) -> tuple[str, ...]:
        """The names of the columns shown, in order (for tests and the README)."""
        return tuple(name for name in COLUMN_ORDER if getattr(self, name))


COLUMN_ORDER = (
    "number",
    "input",
    "time",
    "source",
    "destination",
    "protocol",
    "length",
    "process",
    "info",
)
WIDTHS = {
    "number": 7,
    "input": 10,
    "time": 11,
    "source": 15,
    "destination": 15,
    "protocol": 8,
    "length": 6,
    "process": 16,
}
"""The narrowest each column is shown (addresses grow with the room, up to ADDRESS_MAX)."""
ADDRESS_MAX = 39
INFO_MIN = 24
"""Info is the column that says what a packet is: it keeps at least this much room."""
DROP_ORDER = ("process", "time", "length", "input", "number", "destination", "source")
"""Which columns give their room to Info first when the list is narrow; Protocol and Info
are never left out. The README's "Using it" section lists this order."""


def columns(width: int, inputs: bool = False, processes: bool = False) -> Columns:
    """Fit the columns to ``width``, leaving out columns in DROP_ORDER until Info has room.

    ``inputs``: several inputs are read, so the Input column (frame.source) is shown;
    ``processes``: packets are tied to programs, so the Process column is.
    """
    shown = dict(WIDTHS)
    if not inputs:
        del shown["input"]
    if not processes:
        del shown["process"]

    def fixed() -> int:
        return sum(shown.values()) + len(shown)  # one space before each column after No.

    for name in DROP_ORDER:
        if width - fixed() >= INFO_MIN:
            break
        shown.pop(name, None)
    addresses = [name for name in ("source", "destination") if name in shown]
    spare = width - fixed() - INFO_MIN
    if addresses and spare > 0:
        # addresses take half of what Info does not need, up to ADDRESS_MAX each
        grow = min(ADDRESS_MAX - WIDTHS["source"], spare // (2 * len(addresses)))
        for name in addresses:
            shown[name] += grow
    info = max(0, width - fixed())
    return Columns(**{name: shown.get(name, 0) for name in WIDTHS}, info=info)


def _fit(text: str, width: int) -> str:
    """Left-aligned text cut to ``width`` with an ellipsis when it does not fit."""
    if len(text) <= width:
        return text.ljust(width)
    return text[: width - 1] + "…" if width > 0 else ""


def _join(cells: tuple[str, ...], layout: Columns) -> str:
    """Cells in column order, leaving out the columns that have no room."""
    widths = tuple(getattr(layout, name) for name in COLUMN_ORDER)
    return " ".join(cell for cell, width in zip(cells, widths, strict=True) if width)


def header_text(layout: Columns) -> str:
    """The column titles, aligned like the rows."""
    return _join(
        (
            "No.".rjust(layout.number),
            _fit("Input", layout.input),
            "Time".rjust(layout.time),
            _fit("Source", layout.source),
            _fit("Destination", layout.destination),
            _fit("Protocol", layout.protocol),
            "Length".rjust(layout.length),
            _fit("Process", layout.process),
            _fit("Info", layout.info),
        ),
        layout,
    )


def row_text(packet: PacketSummary, origin: float, layout: Columns, process: str = "") -> str:
    """One packet list row; time is seconds since the first packet shown.

    ``process``: the Process cell (``curl 4121``, ``—``), when that column is shown.
    """
    return _join(
        (
            str(packet.index).rjust(layout.number)[-layout.number :] if layout.number else "",
            _fit(packet.source, layout.input),
            f"{packet.timestamp - origin:.6f}".rjust(layout.time)[-layout.time :]
            if layout.time
            else "",
            _fit(packet.src, layout.source),
            _fit(packet.dst, layout.destination),
            _fit(packet.protocol, layout.protocol),
            str(packet.length).rjust(layout.length) if layout.length else "",
            _fit(process, layout.process),
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
