"""The one capture loop: a source's batches handed to a sink until something stops it.

The TUI's session (its sink stores into the ring, feeds the live analysis and the
display view), the headless ``capture pcap`` (its sink writes rotating files) and the MCP
capture all run this loop; only the sink and the stop conditions differ. It reads only
through the declared :class:`~engine.source.PacketSource` members.
"""

from __future__ import annotations

import enum
import math
import threading
import time
from collections.abc import Callable

from engine.pcapio import PcapRecord
from engine.source import PacketSource

READ_TIMEOUT = 0.1
"""How long one read waits for packets before the stop conditions are checked again."""
DRAIN_TIMEOUT = 0.05
"""Longer than the live ring's block retire time (20 ms): a partly filled block arrives."""
DRAIN_LIMIT = 1.0
"""At most this long is spent collecting packets that arrived before a stop."""

Sink = Callable[[list[PcapRecord]], bool]
"""Takes a batch; returns True when it wants no more (a count or size limit was reached)."""


class LoopEnd(enum.Enum):
    """Why :func:`run_loop` returned."""

    STOPPED = "stopped"
    """The stop event was set."""
    DURATION = "duration"
    """The duration ran out."""
    SINK_DONE = "sink done"
    """The sink said it wants no more."""
    SOURCE_ENDED = "source ended"
    """A file was read to its end, a command exited."""


def run_loop(
    source: PacketSource,
    sink: Sink,
    stop: threading.Event,
    *,
    duration: float | None = None,
    drain: bool = False,
    on_tick: Callable[[float], None] | None = None,
    tick_interval: float = 0.5,
) -> LoopEnd:
    """Read ``source`` into ``sink`` until stopped, out of time, the sink is done or it ends.

    With ``drain``, what arrived before a stop or the end of the duration but still
    waits in the kernel's ring is read and handed over too (packets stamped after the
    cut are not). ``on_tick`` gets the seconds since the start every ``tick_interval``.
    Errors of the source or the sink propagate.
    """
    started_wall, started = time.time(), time.monotonic()
    deadline = started + duration if duration else None
    cutoff = started_wall + duration if duration else math.inf
    next_tick = started + tick_interval
    while True:
        if stop.is_set():
            done = drain and drain_source(source, sink, time.time())
            return LoopEnd.SINK_DONE if done else LoopEnd.STOPPED
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            done = drain and drain_source(source, sink, cutoff)
            return LoopEnd.SINK_DONE if done else LoopEnd.DURATION
        timeout = READ_TIMEOUT if deadline is None else min(READ_TIMEOUT, deadline - now)
        records = source.read_batch(timeout)
        if records:
            if records[-1].timestamp > cutoff:
                kept = [r for r in records if r.timestamp <= cutoff]
                return LoopEnd.SINK_DONE if kept and sink(kept) else LoopEnd.DURATION
            if sink(records):
                return LoopEnd.SINK_DONE
        elif source.finished:
            return LoopEnd.SOURCE_ENDED
        if on_tick is not None and now >= next_tick:
            next_tick = now + tick_interval
            on_tick(now - started)


def drain_source(source: PacketSource, sink: Sink, cutoff: float) -> bool:
    """Hand over what arrived before ``cutoff``; True when the sink wanted no more."""
    end = time.monotonic() + DRAIN_LIMIT
    while time.monotonic() < end:
        records = source.read_batch(DRAIN_TIMEOUT)
        if not records:
            return False
        kept = [r for r in records if r.timestamp <= cutoff]
        if kept and sink(kept):
            return True
        if len(kept) < len(records):
            return False
    return False
