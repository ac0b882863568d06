"""Sorting the packet list by a column: each packet's sort key for a column.

Numbers sort as numbers (No., Length, times, numeric fields), addresses as addresses
(IPv4 before IPv6, then by value), text as text; a packet without a value sorts first,
as in Wireshark. Only a paused list or a file is sorted: a live list that follows the
newest packet stays in arrival order.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any

from engine.display_filter.fields import FIELDS, FLOAT, INT
from engine.display_filter.packet_fields import PacketView
from engine.events import PacketSummary
from tui.packet_look import PacketLook, field_text

SortKey = tuple[int, Any]
"""(0, nothing) for a missing value, (1, value) otherwise, so mixed rows compare."""
MISSING: SortKey = (0, 0)


def _address(text: str) -> SortKey:
    """IPv4 before IPv6, each by value; anything else (a MAC, a name) after, as text."""
    for family, rank in ((socket.AF_INET, 0), (socket.AF_INET6, 1)):
        try:
            return (1, (rank, socket.inet_pton(family, text), ""))
        except OSError:
            continue
    return (1, (2, b"", text))


def _number(text: str) -> SortKey:
    try:
        return (1, float(text.split(",", maxsplit=1)[0]))
    except ValueError:
        return (1, 0.0) if text else MISSING


def key_function(
    column: str, look: PacketLook, previous: Callable[[int], float | None]
) -> Callable[[PacketSummary], SortKey]:
    """How to sort packets by ``column`` (a built-in column's name or a field).

    ``previous``: the previous row's timestamp of a packet (for times since the previous
    displayed packet, which sort by that difference).
    """
    if column == "number":
        return lambda packet: (1, packet.index)
    if column == "length":
        return lambda packet: (1, packet.length)
    if column == "time":
        if look.time.format.name in ("delta", "delta_displayed"):
            return lambda packet: _number(look.time.text(packet, previous(packet.index)))
        return lambda packet: (1, packet.timestamp)
    if column in ("source", "destination"):
        return lambda packet: _address(packet.src if column == "source" else packet.dst)
    if column in ("protocol", "info", "input"):
        attribute = {"protocol": "protocol", "info": "info", "input": "source"}[column]
        return lambda packet: (1, str(getattr(packet, attribute)).lower())
    spec = FIELDS.get(column)
    numeric = spec is not None and spec.kind in (INT, FLOAT)
    times = look.fields

    def custom(packet: PacketSummary) -> SortKey:
        text = field_text(column, PacketView(packet, times))
        if not text:
            return MISSING
        return _number(text) if numeric else (1, text.lower())

    return custom


def sorted_indices(
    packets: Iterable[PacketSummary], column: str, look: PacketLook, descending: bool
) -> list[int]:
    """The packets' numbers in ``column``'s order; ``packets`` in arrival order (what
    "since the previous displayed packet" counts from), read one at a time so only the
    keys are held. Ties keep arrival order (reversed when descending)."""
    last: list[float | None] = [None]

    def previous(_index: int) -> float | None:
        return last[0]

    key = key_function(column, look, previous)
    keyed: list[tuple[SortKey, int]] = []
    for packet in packets:
        keyed.append((key(packet), packet.index))
        last[0] = packet.timestamp
    keyed.sort(reverse=descending)
    return [index for _, index in keyed]
