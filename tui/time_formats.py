"""The packet list's Time column in Wireshark's display formats, with time references.

The times that count from other packets are the display filter's own fields
(``frame.time_relative``, ``frame.time_delta``, ``frame.time_delta_displayed``), read
through their getters, so the column and a filter never disagree. A time reference
(Wireshark's ``*REF*``, Ctrl+T) makes later packets' relative times count from it.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.display_filter.fields import FIELDS
from engine.display_filter.packet_fields import FrameTimes, PacketView
from engine.events import PacketSummary
from engine.packet.streams import FrameAnalysis


@dataclass(frozen=True, slots=True)
class TimeFormat:
    """One way of showing a packet's time: its config name, tshark's ``-t`` letter, words."""

    name: str
    tshark: str
    label: str
    width: int
    """The column's width for it (the longest usual value)."""


TIME_FORMATS: tuple[TimeFormat, ...] = (
    TimeFormat("relative", "r", "seconds since the first packet", 11),
    TimeFormat("delta", "d", "seconds since the previous captured packet", 11),
    TimeFormat("delta_displayed", "dd", "seconds since the previous displayed packet", 11),
    TimeFormat("absolute", "a", "time of day", 15),
    TimeFormat("utc", "ud", "UTC date and time", 26),
    TimeFormat("epoch", "e", "seconds since 1970 (epoch)", 17),
)
"""In the order the time key goes through them; the first is the default."""
FORMATS = {entry.name: entry for entry in TIME_FORMATS}
REFERENCE = "*REF*"
"""What the Time column shows for a time reference, as Wireshark does."""


def time_format(name: str) -> TimeFormat:
    """The format of that config name; ValueError listing the names otherwise."""
    try:
        return FORMATS[name]
    except KeyError:
        known = ", ".join(FORMATS)
        raise ValueError(f"unknown time format {name!r} (known: {known})") from None


def next_format(name: str) -> TimeFormat:
    """The format after ``name``, round to the first."""
    names = [entry.name for entry in TIME_FORMATS]
    return TIME_FORMATS[(names.index(name) + 1) % len(names)]


class RowTimes:
    """The times one row counts from, as the filter's fields read them (a FrameTimes).

    ``first_time`` is the time reference before the packet, else the capture's first
    packet; ``displayed_time`` is the previous row's packet (the previous displayed).
    """

    __slots__ = ("_base", "displayed_time", "first_time")

    def __init__(
        self, base: FrameTimes, first_time: float | None, displayed_time: float | None
    ) -> None:
        self._base = base
        self.first_time = first_time
        self.displayed_time = displayed_time

    def time_of(self, index: int) -> float | None:
        """Another packet's time, from the buffer."""
        return self._base.time_of(index)

    def analysis_of(self, index: int) -> FrameAnalysis | None:
        """Not needed for times."""
        return None


def _seconds(getter_name: str) -> Callable[[PacketView], tuple[object, ...]]:
    getter = FIELDS[getter_name].getter
    assert getter is not None
    return getter


_RELATIVE = _seconds("frame.time_relative")
_DELTA = _seconds("frame.time_delta")
_DELTA_DISPLAYED = _seconds("frame.time_delta_displayed")


class TimeColumn:
    """Formats the Time cell of each row; holds the format and the time references."""

    def __init__(self, base: FrameTimes, name: str = "relative") -> None:
        self.base = base
        """The buffer's times (frame.time_relative's first packet, frame.time_delta's previous)."""
        self.format = time_format(name)
        self._references: list[int] = []
        self._first: float | None = None
        """The first packet's time, once known: a live buffer that evicts its oldest packets
        does not move the times shown."""

    @property
    def first_time(self) -> float | None:
        """What relative times count from when no reference comes before."""
        if self._first is None:
            self._first = self.base.first_time
        return self._first

    @property
    def references(self) -> tuple[int, ...]:
        """The packets set as time references, in order."""
        return tuple(self._references)

    def toggle_reference(self, index: int) -> bool:
        """Set or unset a packet as a time reference; True when it now is one."""
        at = bisect.bisect_left(self._references, index)
        if at < len(self._references) and self._references[at] == index:
            del self._references[at]
            return False
        self._references.insert(at, index)
        return True

    def reference_before(self, index: int) -> int | None:
        """The latest time reference at or before packet ``index``."""
        at = bisect.bisect_right(self._references, index)
        return self._references[at - 1] if at else None

    def text(self, packet: PacketSummary, previous_shown: float | None) -> str:
        """The Time cell of ``packet``; ``previous_shown``: the previous row's timestamp."""
        reference = self.reference_before(packet.index)
        if reference == packet.index:
            return REFERENCE
        name = self.format.name
        stamp = packet.timestamp
        if name in ("absolute", "utc"):
            seconds, micros = divmod(round(stamp * 1_000_000), 1_000_000)
            if name == "absolute":
                return time.strftime("%H:%M:%S", time.localtime(seconds)) + f".{micros:06d}"
            return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}"
        if name == "epoch":
            return f"{stamp:.6f}"
        first = self.base.time_of(reference) if reference is not None else self.first_time
        view = PacketView(packet, RowTimes(self.base, first, previous_shown))
        getter = {"relative": _RELATIVE, "delta": _DELTA}.get(name, _DELTA_DISPLAYED)
        values = getter(view)
        return f"{values[0]:.6f}" if values and isinstance(values[0], float) else ""
