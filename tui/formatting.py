"""Text for the packet list and the status bar, computed from engine records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.display_filter.fields import FIELDS, FLOAT, INT
from engine.events import PacketSummary
from engine.list_config import BUILTIN_COLUMNS, DEFAULT_COLUMNS, ColumnSpec

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


COLUMN_ORDER = BUILTIN_COLUMNS
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
TITLES = {
    "number": "No.",
    "input": "Input",
    "time": "Time",
    "source": "Source",
    "destination": "Destination",
    "protocol": "Protocol",
    "length": "Length",
    "process": "Process",
    "info": "Info",
}
RIGHT = frozenset({"number", "time", "length"})
"""Built-in columns of numbers, aligned right (so are custom columns of number fields)."""
CUSTOM_MIN = 8
"""A custom column without a width is at least this wide (or as wide as its title)."""
ADDRESS_MAX = 39
INFO_MIN = 24
"""Info is the column that says what a packet is: it keeps at least this much room."""
DROP_ORDER = ("process", "time", "length", "input", "number", "destination", "source")
"""Which columns give their room to Info first when the list is narrow (after custom
columns, the last first); Protocol and Info are never left out. The README's "Using it"
section lists this order."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One column shown: what it is, its width, its title, and how it aligns."""

    spec: ColumnSpec
    width: int

    @property
    def name(self) -> str:
        """The built-in column's name or the custom column's field."""
        return self.spec.name

    @property
    def title(self) -> str:
        """The header text."""
        return self.spec.title or TITLES.get(self.spec.name, self.spec.name)

    @property
    def right(self) -> bool:
        """Numbers align right."""
        if not self.spec.custom:
            return self.spec.name in RIGHT
        field = FIELDS.get(self.spec.name)
        return field is not None and field.kind in (INT, FLOAT)


class _Width:
    """A built-in column's width on :class:`Columns` (0: not shown)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, layout: Columns | None, owner: type) -> int:
        return 0 if layout is None else layout.width_of(self.name)


@dataclass(frozen=True, slots=True)
class Columns:
    """The packet list's columns fitted to one width, in order; columns with no room are
    left out."""

    cells: tuple[Cell, ...]
    number = _Width()
    input = _Width()
    time = _Width()
    source = _Width()
    destination = _Width()
    protocol = _Width()
    length = _Width()
    process = _Width()
    info = _Width()

    def width_of(self, name: str) -> int:
        """A column's width (0 when it is not shown)."""
        return next((cell.width for cell in self.cells if cell.name == name), 0)

    @property
    def shown(self) -> tuple[str, ...]:
        """The names of the columns shown, in order (for tests and the README)."""
        return tuple(cell.name for cell in self.cells)

    @property
    def custom(self) -> tuple[str, ...]:
        """The fields of the custom columns shown."""
        return tuple(cell.name for cell in self.cells if cell.spec.custom)


def _narrowest(spec: ColumnSpec, time_width: int) -> int:
    if spec.width:
        return spec.width
    if spec.name == "time":
        return time_width
    if spec.custom:
        return max(CUSTOM_MIN, len(spec.title or spec.name))
    return WIDTHS.get(spec.name, INFO_MIN)


def columns(
    width: int,
    inputs: bool = False,
    processes: bool = False,
    specs: tuple[ColumnSpec, ...] = DEFAULT_COLUMNS,
    time_width: int = WIDTHS["time"],
) -> Columns:
    """Fit the columns to ``width``, leaving out columns until Info has room: custom ones
    first (the last first), then those of DROP_ORDER.

    ``inputs``: several inputs are read, so the Input column (frame.source) is shown;
    ``processes``: packets are tied to programs, so the Process column is. ``specs``: the
    columns in order (the config file's ``packetColumns``); ``time_width``: the Time
    column's width for the time format shown.
    """
    wanted = [
        spec
        for spec in specs
        if not (spec.name == "input" and not inputs)
        and not (spec.name == "process" and not processes)
    ]
    shown = {spec.name: _narrowest(spec, time_width) for spec in wanted if spec.name != "info"}
    info_min = next((spec.width for spec in wanted if spec.name == "info" and spec.width), 0)
    info_min = info_min or INFO_MIN

    def fixed() -> int:
        return sum(shown.values()) + len(shown)  # one space between columns

    custom = [spec.name for spec in reversed(wanted) if spec.custom]
    for name in (*custom, *DROP_ORDER):
        if width - fixed() >= info_min:
            break
        shown.pop(name, None)
    addresses = [
        spec.name
        for spec in wanted
        if spec.name in ("source", "destination") and spec.name in shown and not spec.width
    ]
    spare = width - fixed() - info_min
    if addresses and spare > 0:
        # addresses take half of what Info does not need, up to ADDRESS_MAX each
        grow = min(ADDRESS_MAX - WIDTHS["source"], spare // (2 * len(addresses)))
        for name in addresses:
            shown[name] += grow
    shown["info"] = max(0, width - fixed())
    if not any(spec.name == "info" for spec in wanted):
        wanted.append(ColumnSpec("info"))
    return Columns(tuple(Cell(spec, shown[spec.name]) for spec in wanted if shown.get(spec.name)))


def _fit(text: str, width: int, right: bool = False) -> str:
    """Text cut to ``width`` with an ellipsis when it does not fit, else padded."""
    if len(text) <= width:
        return text.rjust(width) if right else text.ljust(width)
    return text[: width - 1] + "…" if width > 0 else ""


def header_text(layout: Columns, sort: tuple[str, bool] | None = None) -> str:
    """The column titles, aligned like the rows; ``sort``: (column, descending) marked ▲ ▼."""

    def title(cell: Cell) -> str:
        if sort is None or sort[0] != cell.name:
            return cell.title
        mark = "▼" if sort[1] else "▲"
        if cell.right:
            return f"{mark}{cell.title}"[: cell.width]  # the mark stays; the title gives way
        return cell.title[: max(0, cell.width - 1)] + mark

    return " ".join(_fit(title(cell), cell.width, cell.right) for cell in layout.cells)


CellText = Callable[[str], str]
"""A custom column's field name → its value for the row's packet."""


def row_text(
    packet: PacketSummary,
    layout: Columns,
    time_text: str,
    process: str = "",
    custom: CellText | None = None,
) -> str:
    """One packet list row.

    ``time_text``: the Time cell in the format shown; ``process``: the Process cell
    (``curl 4121``, ``—``), when that column is shown; ``custom``: the custom columns'
    values.
    """
    builtin = {
        "number": str(packet.index),
        "input": packet.source,
        "time": time_text,
        "source": packet.src,
        "destination": packet.dst,
        "protocol": packet.protocol,
        "length": str(packet.length),
        "process": process,
        "info": packet.info,
    }
    parts = []
    for cell in layout.cells:
        if cell.spec.custom:
            text = custom(cell.name) if custom is not None else ""
        else:
            text = builtin[cell.name]
        if cell.name in ("number", "time") and len(text) > cell.width:
            text = text[-cell.width :]  # the end of a number says most
        parts.append(_fit(text, cell.width, cell.right))
    return " ".join(parts)


def human_bytes(count: float) -> str:
    """A byte count as people read it: 512 B, 1.5 KiB, 12.3 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"  # pragma: no cover - the loop returns at GiB
