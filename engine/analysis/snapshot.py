"""An immutable picture of a live analysis, for the stats screen (2-4 times a second).

Under the analyzer's lock it copies only small things: the protocol paths (a handful),
the per-second counts, the counters, and the lists of conversation records (a
shallow copy, C speed). The heavier work — the tree, top talkers, top flows — runs
after the lock is released, on the copies; a record's numbers may move on meanwhile,
which a live view does not mind.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.analysis import hierarchy, talkers
from engine.analysis.addresses import format_address
from engine.analysis.conversations import (
    ADDR_A,
    ADDR_B,
    BYTES_AB,
    BYTES_BA,
    FIRST,
    FRAMES_AB,
    FRAMES_BA,
    LAST,
    PORT_A,
    PORT_B,
)

if TYPE_CHECKING:
    from engine.analysis.aggregate import Analyzer

SPARKLINE_SECONDS = 300
"""The packets-per-second series covers the last five minutes."""


@dataclass(frozen=True, slots=True)
class ProtocolRow:
    """One line of the protocol hierarchy, depth first."""

    depth: int
    protocol: str
    frames: int
    bytes: int
    frames_percent: float


@dataclass(frozen=True, slots=True)
class TalkerRow:
    """One of the top endpoints by bytes."""

    address: str
    name: str | None
    packets: int
    bytes: int


@dataclass(frozen=True, slots=True)
class FlowRow:
    """One of the biggest TCP/UDP conversations."""

    protocol: str
    a: str
    a_port: int
    b: str
    b_port: int
    packets: int
    bytes: int
    first: float
    last: float
    a_name: str | None
    b_name: str | None
    stream: int | None


@dataclass(frozen=True, slots=True)
class AnalysisSnapshot:
    """What the analysis knows at one moment; safe to hand to another thread."""

    packets: int
    bytes: int
    first: float | None
    last: float | None
    protocols: tuple[ProtocolRow, ...]
    talkers: tuple[TalkerRow, ...]
    flows: tuple[FlowRow, ...]
    rate: tuple[int, ...]
    """Packets per second, oldest first, the last of them the current second."""
    rate_end: int | None
    """The second (epoch) of the last value of ``rate``."""
    tcp_streams: int
    udp_flows: int
    ip_conversations: int
    http_requests: int
    dns_queries: int
    credentials: int
    top_n: int
    rate_now: int = 0
    """Packets in the last whole second: the one before the second still being counted,
    which would read near 0 at each second's start (the only second, while there is one)."""

    @property
    def duration(self) -> float:
        """Seconds from the first packet to the last."""
        if self.first is None or self.last is None:
            return 0.0
        return self.last - self.first


def take_snapshot(analyzer: Analyzer, now: float | None = None) -> AnalysisSnapshot:
    """Copy under the lock, compute outside it."""
    with analyzer.lock:
        packets, size = analyzer.packets, analyzer.bytes
        first = analyzer.first if analyzer.first_frame_time is not None else None
        last = analyzer.last if analyzer.first_frame_time is not None else None
        paths = [(key, (counts[0], counts[1])) for key, counts in analyzer.paths.items()]
        ip_records = list(analyzer.ip.records)
        streams = list(analyzer.tcp.streams)
        udp_records = list(analyzer.udp.records)
        rate = list(analyzer.rate)
        current = analyzer.current_second()
        http_requests = analyzer.http.requests
        dns_queries = analyzer.dns.queries
        credentials = analyzer.credentials.total
        top_n = analyzer.top_n
    names = analyzer.names.name  # single dict look-ups are safe while the capture adds names
    merged: dict[tuple[str, ...], list[int]] = {}
    for (chain, l4, app), (frames, nbytes) in paths:
        path = chain + ((l4,) if l4 else ()) + app
        counts = merged.setdefault(path, [0, 0])
        counts[0] += frames
        counts[1] += nbytes
    tree = hierarchy.to_json(hierarchy.build(merged.items()), packets, size)
    protocols = tuple(
        ProtocolRow(depth, row["protocol"], row["frames"], row["bytes"], row["frames_percent"])
        for depth, row in hierarchy.flatten(tree)
    )
    found = talkers.endpoints(ip_records, analyzer.names)
    top_talkers = tuple(
        TalkerRow(e.address, e.name, e.packets, e.bytes) for e in talkers.top(found, top_n, "bytes")
    )
    flows: list[FlowRow] = []
    for s in heapq.nlargest(top_n, streams, key=lambda s: s.counts[1] + s.counts[3]):
        flows.append(
            FlowRow(
                "tcp",
                format_address(s.a),
                s.aport,
                format_address(s.b),
                s.bport,
                s.counts[0] + s.counts[2],
                s.counts[1] + s.counts[3],
                s.first,
                s.last,
                names(s.a),
                names(s.b),
                s.index,
            )
        )
    for r in heapq.nlargest(top_n, udp_records, key=lambda r: r[BYTES_AB] + r[BYTES_BA]):
        flows.append(
            FlowRow(
                "udp",
                format_address(r[ADDR_A]),
                r[PORT_A],
                format_address(r[ADDR_B]),
                r[PORT_B],
                r[FRAMES_AB] + r[FRAMES_BA],
                r[BYTES_AB] + r[BYTES_BA],
                r[FIRST],
                r[LAST],
                names(r[ADDR_A]),
                names(r[ADDR_B]),
                None,
            )
        )
    flows.sort(key=lambda flow: -flow.bytes)
    series, end = _series(rate, current, now)
    return AnalysisSnapshot(
        packets,
        size,
        first,
        last,
        protocols,
        top_talkers,
        tuple(flows[:top_n]),
        series,
        end,
        len(streams),
        len(udp_records),
        len(ip_records),
        http_requests,
        dns_queries,
        credentials,
        top_n,
        series[-2] if len(series) > 1 else sum(series),
    )


def _series(
    rate: list[tuple[int, int, int]], current: tuple[int, int], now: float | None
) -> tuple[tuple[int, ...], int | None]:
    """Packets per second over the last minutes, quiet seconds as zeros."""
    counts: dict[int, int] = {}
    # A second can be in ``rate`` more than once when timestamps step back across a second
    # boundary (several interfaces, or a file out of order): add them all up.
    for second, packets, _bytes in rate:
        counts[second] = counts.get(second, 0) + packets
    second, packets = current
    if packets:
        counts[second] = counts.get(second, 0) + packets
    if not counts:
        return (), None
    end = max(counts)
    if now is not None and 0 <= int(now) - end < SPARKLINE_SECONDS:
        end = int(now)  # a live capture: the quiet seconds since the last packet count too
    start = end - SPARKLINE_SECONDS + 1
    earliest = min(counts)
    start = max(start, earliest)
    return tuple(counts.get(s, 0) for s in range(start, end + 1)), end
