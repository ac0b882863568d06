"""What the packet list shows of each packet: its columns, its time format, its colours.

The list widget draws rows; this object decides their text and which colouring rule
they take, from the settings (``packetColumns``, ``timeFormat``, ``colouringRules``).
A custom column is a display-filter field's value for the row's packet, read by the
field's one getter and written as ``tshark -T fields -e FIELD`` writes it (several
values joined with commas).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from engine.display_filter.fields import FIELDS, FLOAT, IPV4, IPV6, MAC, PROTOCOL
from engine.display_filter.packet_fields import FrameTimes, PacketView
from engine.events import PacketSummary
from engine.list_config import DEFAULT_COLUMNS, DEFAULT_RULES, ColourRule, ColumnSpec
from engine.ring_analysis import RingAnalysis
from tui.colouring import Colouring, KnownAnalysis
from tui.formatting import Columns, columns, row_text
from tui.time_formats import TimeColumn, next_format

if TYPE_CHECKING:
    from engine.config import Settings
    from engine.session import CaptureSession

MAX_CELL = 256
"""A custom cell's text is cut here (a payload field can be long)."""


def value_text(kind: str, value: Any, name: str = "") -> str:
    """One field value as tshark writes it in ``-T fields`` output."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if kind == IPV4 and isinstance(value, int):
        return str(ipaddress.IPv4Address(value))
    if kind == IPV6 and isinstance(value, int):
        return str(ipaddress.IPv6Address(value))
    if kind == MAC and isinstance(value, bytes | bytearray):
        return ":".join(f"{byte:02x}" for byte in value)
    if isinstance(value, bytes | bytearray):
        return value[: MAX_CELL // 2].hex()
    if kind == FLOAT and isinstance(value, float):
        if name.startswith("frame.time"):
            # timestamps are floats (about 0.2 µs apart at today's epoch): microseconds
            # are what they hold exactly, written with tshark's nine digits
            return f"{round(value, 6):.9f}"
        return repr(value)
    return str(value)


def field_text(name: str, view: PacketView) -> str:
    """A field's values for one packet, comma-joined ("" when the packet lacks it)."""
    spec = FIELDS.get(name)
    getter = spec.getter if spec is not None else None
    if spec is None or getter is None:
        return ""
    try:
        values = getter(view)
    except Exception:  # a damaged packet: the cell stays empty, the list goes on
        return ""
    if spec.kind == PROTOCOL:
        return ""  # tshark writes nothing for a protocol (or a flag like tcp.analysis.*)
    return ",".join(value_text(spec.kind, value, name) for value in values)[:MAX_CELL]


class PacketLook:
    """The packet list's columns, time format, time references and colouring rules."""

    def __init__(
        self,
        times: FrameTimes,
        analysis: RingAnalysis | None = None,
        *,
        specs: tuple[ColumnSpec, ...] = DEFAULT_COLUMNS,
        time_format: str = "relative",
        rules: tuple[ColourRule, ...] = DEFAULT_RULES,
        colouring: bool = True,
    ) -> None:
        self.specs = specs
        self.time = TimeColumn(times, time_format)
        self.colouring = Colouring(rules, times, analysis, colouring)
        self.fields = KnownAnalysis(times, analysis)
        """What custom columns read: the buffer's times and the analysis done so far."""
        self.sort: tuple[str, bool] | None = None
        self._layouts: dict[tuple[int, bool, bool, tuple[ColumnSpec, ...], int], Columns] = {}
        """The column the rows are sorted by and whether descending (None: arrival order)."""

    @property
    def needs_previous(self) -> bool:
        """Rows need the previous row's time (since the previous displayed packet)."""
        return self.time.format.name == "delta_displayed" or any(
            spec.name == "frame.time_delta_displayed" for spec in self.specs
        )

    def rebind(self, times: FrameTimes, analysis: RingAnalysis | None) -> None:
        """Read another buffer (a capture filter read the file again): the packet numbers
        mean other packets now, so references, remembered colours and the sort go."""
        keep = self.time.format.name
        self.time = TimeColumn(times, keep)
        self.colouring = Colouring(
            self.colouring.rules, times, analysis, enabled=self.colouring.enabled
        )
        self.fields = KnownAnalysis(times, analysis)
        self.sort = None

    def layout(self, width: int, inputs: bool, processes: bool) -> Columns:
        """The columns fitted to ``width`` (remembered: every row drawn asks)."""
        key = (width, inputs, processes, self.specs, self.time.format.width)
        found = self._layouts.get(key)
        if found is None:
            if len(self._layouts) > 64:
                self._layouts.clear()
            found = self._layouts[key] = columns(*key)
        return found

    def row(
        self,
        packet: PacketSummary,
        previous: float | None,
        layout: Columns,
        process: str = "",
    ) -> str:
        """One row's text; ``previous``: the previous row's timestamp (for since displayed)."""
        self.fields.displayed_time = previous
        view = PacketView(packet, self.fields) if layout.custom else None

        def custom(name: str) -> str:
            return field_text(name, view) if view is not None else ""

        time_text = self.time.text(packet, previous) if layout.time else ""
        return row_text(packet, layout, time_text, process, custom)

    def cycle_time_format(self) -> str:
        """Show the next time format; returns its description."""
        self.time.format = next_format(self.time.format.name)
        return self.time.format.label

    def toggle_colouring(self) -> bool:
        """Colour rows by the rules, or not; True when they now are."""
        self.colouring.enabled = not self.colouring.enabled
        return self.colouring.enabled


def packet_look(session: CaptureSession, settings: Settings | None) -> PacketLook:
    """The look of a session's packet list, from the settings (the defaults without)."""
    from engine.view import RingTimes

    ring = session.ring
    if settings is None:
        return PacketLook(RingTimes(ring), ring.analysis)
    return PacketLook(
        RingTimes(ring),
        ring.analysis,
        specs=settings.packet_columns,
        time_format=settings.time_format,
        rules=settings.colour_rules,
        colouring=settings.colouring,
    )
