"""The ``proc.*`` fields: the program a packet was tied to when it was captured.

Read through :mod:`engine.process.registry`, so only a live capture that attributes its
packets gives them values; elsewhere (files, packets of other hosts, unknown owners)
the fields are absent, and ``proc.name == "curl"`` is simply false.
"""

from __future__ import annotations

from typing import Any

from engine.display_filter.packet_fields import PacketGetter, PacketView
from engine.process import registry


def process_part(name: str) -> PacketGetter:
    """A getter for one attribute of the packet's known process (``name``, ``pid`` ...)."""

    def get(view: PacketView) -> tuple[Any, ...]:
        summary = view.summary
        owner = registry.owner_of(view.packet, summary.timestamp, summary.index)
        if owner is None or not owner.known:
            return ()
        return (getattr(owner, name),)

    return get
