"""What stands out: SYN scans, retransmissions and resets, beaconing, odd ports, big flows.

Everything here is computed when a report is asked for, from the conversation tables
the analyzer keeps anyway; nothing costs anything per packet. Thresholds are module
constants and are written into the report, so a reader knows what "stands out" meant.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engine.analysis.addresses import format_address
from engine.analysis.conversations import (
    ADDR_A,
    ADDR_B,
    BYTES_AB,
    BYTES_BA,
    EVENTS,
    FIRST,
    FRAMES_AB,
    FRAMES_BA,
    LAST,
    PORT_A,
    PORT_B,
    TcpStream,
)
from engine.analysis.ports import USUAL_PORTS

SCAN_MIN_TARGETS = 10
"""A source with at least this many unfinished handshakes to distinct host:port targets..."""
SCAN_MIN_SHARE = 0.5
"""...making up at least this share of its connection attempts, is scanning."""
BEACON_MIN_SESSIONS = 6
"""Sessions to one endpoint before their rhythm is judged."""
BEACON_MIN_INTERVAL = 1.0
"""Seconds between sessions at least (faster is a stream, not a beacon)."""
BEACON_MAX_JITTER = 0.1
"""Standard deviation of the intervals over their mean, at most."""
MAX_ROWS = 1000

Names = Callable[[bytes], str | None]


@dataclass(slots=True)
class _Source:
    """A scanning suspect's connection attempts."""

    attempts: int = 0
    completed: int = 0
    refused: int = 0
    half_open: int = 0
    unanswered: int = 0
    targets: set[tuple[bytes, int]] = field(default_factory=set)
    first: float = 0.0
    last: float = 0.0


def syn_scans(streams: list[TcpStream], names: Names) -> list[dict[str, Any]]:
    """Sources whose SYNs mostly went unanswered, were refused or were never completed."""
    sources: dict[bytes, _Source] = {}
    for s in streams:
        if not s.syn:
            continue
        source = sources.get(s.a)
        if source is None:
            source = sources[s.a] = _Source(first=s.first, last=s.last)
        source.attempts += 1
        source.first = min(source.first, s.first)
        source.last = max(source.last, s.last)
        if s.completed:
            source.completed += 1
            continue
        if s.resets[1]:
            source.refused += 1
        elif s.synack:
            source.half_open += 1
        else:
            source.unanswered += 1
        source.targets.add((s.b, s.bport))
    rows: list[dict[str, Any]] = []
    for raw, source in sources.items():
        incomplete = source.attempts - source.completed
        if len(source.targets) < SCAN_MIN_TARGETS or incomplete < SCAN_MIN_SHARE * source.attempts:
            continue
        hosts = {host for host, _port in source.targets}
        ports = sorted({port for _host, port in source.targets})
        rows.append(
            {
                "source": format_address(raw),
                "name": names(raw),
                "attempts": source.attempts,
                "targets": len(source.targets),
                "hosts": len(hosts),
                "ports": len(ports),
                "completed": source.completed,
                "refused": source.refused,
                "half_open": source.half_open,
                "unanswered": source.unanswered,
                "first_time": source.first,
                "last_time": source.last,
                "sample_ports": ports[:20],
                "sample_hosts": sorted(format_address(host) for host in hosts)[:10],
            }
        )
    rows.sort(key=lambda row: -row["targets"])
    return rows[:MAX_ROWS]


def tcp_problems(streams: list[TcpStream], names: Names) -> dict[str, Any]:
    """Retransmission and reset rates, overall and per stream that had either."""
    data_segments = sum(s.data_segments for s in streams)
    retransmissions = sum(s.retransmissions for s in streams)
    rows: list[dict[str, Any]] = []
    for s in streams:
        resets = s.resets[0] + s.resets[1]
        if not s.retransmissions and not (resets and s.data_segments):
            continue
        rows.append(
            {
                "stream": s.index,
                "a": format_address(s.a),
                "a_port": s.aport,
                "a_name": names(s.a),
                "b": format_address(s.b),
                "b_port": s.bport,
                "b_name": names(s.b),
                "packets": s.counts[0] + s.counts[2],
                "data_segments": s.data_segments,
                "retransmissions": s.retransmissions,
                "retransmission_percent": _percent(s.retransmissions, s.data_segments),
                "resets": resets,
            }
        )
    rows.sort(key=lambda row: (-row["retransmissions"], -row["resets"], row["stream"]))
    streams_reset = sum(1 for s in streams if s.resets[0] or s.resets[1])
    return {
        "data_segments": data_segments,
        "retransmissions": retransmissions,
        "retransmission_percent": _percent(retransmissions, data_segments),
        "streams": len(streams),
        "streams_reset": streams_reset,
        "reset_percent": _percent(streams_reset, len(streams)),
        "conversations": rows[:MAX_ROWS],
    }


def beacons(
    streams: list[TcpStream], udp_records: list[list[Any]], names: Names
) -> list[dict[str, Any]]:
    """Sessions to one endpoint at a steady rhythm (malware check-ins, but also cron jobs)."""
    import statistics  # only here: it adds ~5 ms to every start

    sessions: dict[tuple[bytes, bytes, int, str], list[float]] = {}
    for s in streams:
        if s.syn:
            sessions.setdefault((s.a, s.b, s.bport, "tcp"), []).append(s.first)
    for record in udp_records:
        key = (record[ADDR_A], record[ADDR_B], record[PORT_B], "udp")
        sessions.setdefault(key, []).extend(record[EVENTS])
    rows: list[dict[str, Any]] = []
    for (source, destination, port, protocol), times in sessions.items():
        if len(times) < BEACON_MIN_SESSIONS:
            continue
        times.sort()
        intervals = [later - earlier for earlier, later in itertools.pairwise(times)]
        mean = statistics.fmean(intervals)
        if mean < BEACON_MIN_INTERVAL:
            continue
        jitter = statistics.pstdev(intervals) / mean
        if jitter > BEACON_MAX_JITTER:
            continue
        rows.append(
            {
                "source": format_address(source),
                "source_name": names(source),
                "destination": format_address(destination),
                "destination_name": names(destination),
                "port": port,
                "protocol": protocol,
                "sessions": len(times),
                "interval": round(mean, 3),
                "jitter": round(jitter, 4),
                "first_time": times[0],
                "last_time": times[-1],
            }
        )
    rows.sort(key=lambda row: -row["sessions"])
    return rows[:MAX_ROWS]


def unusual_ports(
    streams: list[TcpStream], udp_records: list[list[Any]], names: Names
) -> list[dict[str, Any]]:
    """Service ports outside the usual ones, with how much traffic went to each."""
    ports: dict[tuple[str, int], dict[str, Any]] = {}

    def add(protocol: str, port: int, ends: tuple[bytes, bytes], counts: tuple[int, int]) -> None:
        if port in USUAL_PORTS:
            return
        client, server = ends
        frames, size = counts
        row = ports.get((protocol, port))
        if row is None:
            row = ports[(protocol, port)] = {
                "protocol": protocol,
                "port": port,
                "conversations": 0,
                "packets": 0,
                "bytes": 0,
                "servers": [],
                "clients": [],
            }
        row["conversations"] += 1
        row["packets"] += frames
        row["bytes"] += size
        for key, raw in (("servers", server), ("clients", client)):
            text = format_address(raw)
            if text not in row[key] and len(row[key]) < 5:
                row[key].append(text)

    for s in streams:
        if not (s.completed or s.data_segments):
            continue  # nothing answered there: a probe, not a service
        if s.syn:
            port, client, server = s.bport, s.a, s.b
        elif s.aport < s.bport:
            port, client, server = s.aport, s.b, s.a
        else:
            port, client, server = s.bport, s.a, s.b
        add("tcp", port, (client, server), (s.counts[0] + s.counts[2], s.counts[1] + s.counts[3]))
    for r in udp_records:
        if r[PORT_A] in USUAL_PORTS or r[PORT_B] in USUAL_PORTS:
            continue
        frames, size = r[FRAMES_AB] + r[FRAMES_BA], r[BYTES_AB] + r[BYTES_BA]
        add("udp", r[PORT_B], (r[ADDR_A], r[ADDR_B]), (frames, size))
    rows = sorted(ports.values(), key=lambda row: -row["bytes"])
    return rows[:MAX_ROWS]


def largest_flows(
    streams: list[TcpStream], udp_records: list[list[Any]], count: int, names: Names
) -> list[dict[str, Any]]:
    """The ``count`` TCP/UDP conversations that moved the most bytes."""
    rows: list[dict[str, Any]] = []
    for s in heapq.nlargest(count, streams, key=lambda s: s.counts[1] + s.counts[3]):
        ends = (s.a, s.aport, s.b, s.bport)
        rows.append(_flow("tcp", ends, s.counts, (s.first, s.last), names) | {"stream": s.index})
    for r in heapq.nlargest(count, udp_records, key=lambda r: r[BYTES_AB] + r[BYTES_BA]):
        ends = (r[ADDR_A], r[PORT_A], r[ADDR_B], r[PORT_B])
        counts = [r[FRAMES_AB], r[BYTES_AB], r[FRAMES_BA], r[BYTES_BA]]
        rows.append(_flow("udp", ends, counts, (r[FIRST], r[LAST]), names))
    rows.sort(key=lambda row: (-row["bytes"], -row["packets"]))
    return rows[:count]


def _flow(
    protocol: str,
    ends: tuple[bytes, int, bytes, int],
    counts: list[int],
    times: tuple[float, float],
    names: Names,
) -> dict[str, Any]:
    a, a_port, b, b_port = ends
    first, last = times
    return {
        "protocol": protocol,
        "a": format_address(a),
        "a_port": a_port,
        "a_name": names(a),
        "b": format_address(b),
        "b_port": b_port,
        "b_name": names(b),
        "packets": counts[0] + counts[2],
        "bytes": counts[1] + counts[3],
        "bytes_a_to_b": counts[1],
        "bytes_b_to_a": counts[3],
        "first_time": first,
        "duration": round(last - first, 6),
    }


def thresholds() -> dict[str, float]:
    """The thresholds behind the report, written into it."""
    return {
        "scan_min_targets": SCAN_MIN_TARGETS,
        "scan_min_share": SCAN_MIN_SHARE,
        "beacon_min_sessions": BEACON_MIN_SESSIONS,
        "beacon_min_interval": BEACON_MIN_INTERVAL,
        "beacon_max_jitter": BEACON_MAX_JITTER,
    }


def _percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0
