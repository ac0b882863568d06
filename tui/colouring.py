"""Colouring rules applied to the packet list's rows, through the display-filter engine.

Each rule is a display filter and a theme colour variable; the first rule that matches a
packet gives its row that background (Wireshark's View > Colorize Packet List). A row's
answer is computed once and cached by packet number, so scrolling and repaints of a long
list cost a dictionary lookup; a rule that reads TCP analysis (``tcp.analysis.flags``)
asks only what the background analysis already knows (never computing it on the UI
thread), and a packet not yet analysed is asked again later.
"""

from __future__ import annotations

from collections import OrderedDict

from engine.display_filter import DisplayFilter, compile_display_filter
from engine.display_filter.packet_fields import FrameTimes
from engine.events import PacketSummary
from engine.list_config import ColourRule
from engine.packet.streams import NOTHING, FrameAnalysis
from engine.ring_analysis import RingAnalysis

CACHED = 1 << 17
"""Rows whose colour is remembered (more than a 100,000-packet buffer)."""


class KnownAnalysis:
    """The buffer's times, with only the TCP analysis already computed (a FrameTimes)."""

    def __init__(self, times: FrameTimes, analysis: RingAnalysis | None) -> None:
        self._times = times
        self._analysis = analysis
        self.missing = False
        """Set when a packet's analysis was asked for before it was computed."""
        self.displayed_time: float | None = None
        """The previous row's time, set by whoever reads a row (frame.time_delta_displayed);
        None reads 0, as before the first displayed packet."""

    @property
    def first_time(self) -> float | None:
        """The capture's first packet (frame.time_relative)."""
        return self._times.first_time

    def time_of(self, index: int) -> float | None:
        """Another packet's time."""
        return self._times.time_of(index)

    def analysis_of(self, index: int) -> FrameAnalysis | None:
        """The packet's stream numbers and TCP analysis if the analysis reached it."""
        analysis = self._analysis
        if analysis is None:
            return None
        found = analysis.peek(index)
        if found is not None:
            return found
        if index <= analysis.observed:
            return NOTHING
        self.missing = True
        return None


class Colouring:
    """The colouring rules, compiled once, and each packet's answer, cached."""

    def __init__(
        self,
        rules: tuple[ColourRule, ...],
        times: FrameTimes,
        analysis: RingAnalysis | None = None,
        enabled: bool = True,
    ) -> None:
        self.rules = tuple(rule for rule in rules if rule.enabled)
        """The rules in force (the disabled ones are left out)."""
        self._compiled: tuple[tuple[ColourRule, DisplayFilter], ...] = tuple(
            (rule, compile_display_filter(rule.filter)) for rule in self.rules
        )
        self._times = KnownAnalysis(times, analysis)
        self.enabled = enabled
        """Rows are coloured (the colouring key switches it)."""
        self._cache: OrderedDict[int, ColourRule | None] = OrderedDict()

    @property
    def colours(self) -> frozenset[str]:
        """The theme variables the rules use."""
        return frozenset(rule.colour for rule in self.rules)

    def rule_for(self, packet: PacketSummary) -> ColourRule | None:
        """The first rule that matches the packet (None: none, or colouring is off)."""
        if not self.enabled or not self._compiled:
            return None
        index = packet.index
        cache = self._cache
        if index in cache:
            return cache[index]
        times = self._times
        times.missing = False
        found = next(
            (rule for rule, check in self._compiled if check.matches_packet(packet, times)),
            None,
        )
        if not times.missing:  # asked again once the analysis has reached it
            cache[index] = found
            if len(cache) > CACHED:
                cache.popitem(last=False)
        return found

    def clear(self) -> None:
        """Forget every answer (the buffer was read again)."""
        self._cache.clear()
