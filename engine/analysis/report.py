"""The reports as JSON-ready dicts (the README documents their schema).

:func:`build_reports` reads an :class:`~engine.analysis.aggregate.Analyzer` (its lock
held by the caller) and returns one dict per requested report; the text output
(:mod:`engine.analysis.text`) is rendered from these dicts, so text and JSON always
say the same.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from engine import linktypes
from engine.analysis import hierarchy, patterns, talkers
from engine.analysis.addresses import format_endpoint
from engine.analysis.aggregate import ALL_REPORTS
from engine.analysis.conversations import (
    ADDR_A,
    Conversation,
    ip_conversations,
    tcp_conversations,
    udp_conversations,
)
from engine.analysis.credentials import masked_url
from engine.analysis.threats import find_threats
from engine.packet.walk import IEEE802_11, IEEE802_11_RADIOTAP, KNOWN_LINKTYPES

if TYPE_CHECKING:
    from engine.analysis.aggregate import Analyzer

REPORTS = ALL_REPORTS
"""Every report, in the order ``--report all`` prints them."""
MAX_ROWS = 1000
"""Rows listed per table (conversations, requests, queries); the rest are counted."""


def build_reports(analyzer: Analyzer, names: Sequence[str]) -> dict[str, Any]:
    """The named reports (``all`` for every one), in :data:`REPORTS` order."""
    wanted = set(REPORTS) if "all" in names else set(names)
    unknown = wanted - set(REPORTS)
    if unknown:
        raise ValueError(f"unknown reports: {sorted(unknown)}")
    builders: dict[str, Callable[[Analyzer], dict[str, Any]]] = {
        "summary": summary,
        "protocols": protocols,
        "conversations": conversations,
        "talkers": talkers_report,
        "http": http,
        "dns": dns,
        "patterns": patterns_report,
        "threats": threats,
        "credentials": credentials,
    }
    return {name: builders[name](analyzer) for name in REPORTS if name in wanted}


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    try:
        moment = datetime.datetime.fromtimestamp(timestamp, datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


_WLAN_NAMES = {IEEE802_11: "802.11", IEEE802_11_RADIOTAP: "802.11 radiotap"}


def linktype_name(linktype: int) -> str:
    """A link type's name (the 802.11 ones too, which the packet list does not read)."""
    return _WLAN_NAMES.get(linktype) or linktypes.name(linktype)


def _paths(analyzer: Analyzer) -> dict[tuple[str, ...], list[int]]:
    """Protocol paths with their counts (keys that spell the same path merged)."""
    merged: dict[tuple[str, ...], list[int]] = {}
    for (chain, l4, app), (frames, size) in analyzer.paths.items():
        path = chain + ((l4,) if l4 else ()) + app
        counts = merged.setdefault(path, [0, 0])
        counts[0] += frames
        counts[1] += size
    return merged


# -- summary and protocols ---------------------------------------------------------------


def summary(analyzer: Analyzer) -> dict[str, Any]:
    """Packets, bytes, time span, rates, link types and packets per protocol."""
    packets = analyzer.packets
    seen = analyzer.first_frame_time is not None
    first = analyzer.first if seen else None
    last = analyzer.last if seen else None
    duration = (last - first) if first is not None and last is not None else 0.0
    unknown = sum(
        count
        for kind, count in analyzer.linktypes.items()
        if linktypes.normalise(kind) not in KNOWN_LINKTYPES
    )
    return {
        "packets": packets,
        "bytes": analyzer.bytes,
        "first_time": first,
        "last_time": last,
        "first_time_iso": _iso(first),
        "last_time_iso": _iso(last),
        "duration": round(duration, 6),
        "average_packets_per_second": round(packets / duration, 3) if duration > 0 else None,
        "average_bits_per_second": round(analyzer.bytes * 8 / duration, 3)
        if duration > 0
        else None,
        "average_packet_size": round(analyzer.bytes / packets, 1) if packets else None,
        "link_types": {
            linktype_name(kind): count for kind, count in sorted(analyzer.linktypes.items())
        },
        "unknown_link_type_packets": unknown,
        "protocols": hierarchy.by_protocol(_paths(analyzer).items()),
        "untracked_packets": {
            "ip": analyzer.ip.untracked_packets,
            "tcp": analyzer.tcp.untracked_packets,
            "udp": analyzer.udp.untracked_packets,
        },
    }


def protocols(analyzer: Analyzer) -> dict[str, Any]:
    """The protocol hierarchy, as tshark's ``-z io,phs`` builds it."""
    tree = hierarchy.build(_paths(analyzer).items())
    return {
        "source": "livetap",
        "frames": analyzer.packets,
        "bytes": analyzer.bytes,
        "tree": hierarchy.to_json(tree, analyzer.packets, analyzer.bytes),
    }


# -- conversations and talkers -------------------------------------------------------------


def _conversation_row(
    row: Conversation, origin: float, names: Callable[[str], str | None]
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "a": row.a,
        "a_port": row.a_port,
        "a_name": names(row.a),
        "b": row.b,
        "b_port": row.b_port,
        "b_name": names(row.b),
        "frames_a_to_b": row.frames_ab,
        "bytes_a_to_b": row.bytes_ab,
        "frames_b_to_a": row.frames_ba,
        "bytes_b_to_a": row.bytes_ba,
        "frames": row.frames,
        "bytes": row.bytes,
        "relative_start": round(row.first - origin, 6),
        "duration": round(row.last - row.first, 6),
    }
    if row.kind in ("ipv4", "ipv6"):
        del out["a_port"], out["b_port"]
    if row.kind == "tcp":
        out["stream"] = row.stream
    if row.kind in ("tcp", "udp"):
        out["protocol"] = row.protocol
    return out


def conversations(analyzer: Analyzer) -> dict[str, Any]:
    """IPv4, IPv6, TCP and UDP conversations with tshark's totals and order."""
    ip_records = analyzer.ip.records
    v4 = [r for r in ip_records if len(r[ADDR_A]) == 4]
    v6 = [r for r in ip_records if len(r[ADDR_A]) != 4]
    return conversation_tables(
        {
            "ipv4": (ip_conversations(v4, MAX_ROWS), len(v4)),
            "ipv6": (ip_conversations(v6, MAX_ROWS), len(v6)),
            "tcp": (
                tcp_conversations(analyzer.tcp.streams, MAX_ROWS),
                sum(1 for s in analyzer.tcp.streams if s.counts[0] or s.counts[2]),
            ),
            "udp": (udp_conversations(analyzer.udp.records, MAX_ROWS), len(analyzer.udp.records)),
        },
        analyzer.first_frame_time or 0.0,
        analyzer.names.name_of_text,
    )


def conversation_tables(
    tables: dict[str, tuple[list[Conversation], int]],
    origin: float,
    names: Callable[[str], str | None],
) -> dict[str, Any]:
    """The conversations report from its four tables: (rows in order, total) by kind."""
    report: dict[str, Any] = {}
    for kind, (rows, total) in tables.items():
        report[kind] = [_conversation_row(row, origin, names) for row in rows]
        report[f"{kind}_total"] = total
    return report


def talkers_report(analyzer: Analyzer) -> dict[str, Any]:
    """The top N endpoints by bytes and by packets."""
    found = talkers.endpoints(analyzer.ip.records, analyzer.names)
    count = analyzer.top_n
    return {
        "endpoints": len(found),
        "top_n": count,
        "by_bytes": [e.to_json() for e in talkers.top(found, count, "bytes")],
        "by_packets": [e.to_json() for e in talkers.top(found, count, "packets")],
    }


# -- application layer -----------------------------------------------------------------


def _top(counts: dict[Any, int], count: int) -> list[tuple[Any, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))[:count]


def http(analyzer: Analyzer) -> dict[str, Any]:
    """HTTP requests with their status, and counts by method, status and host."""
    log = analyzer.http
    origin = analyzer.first_frame_time or 0.0
    names = analyzer.names.name
    shown: Callable[[str], str] = str if analyzer.show_secrets else masked_url
    items = []
    for r in log.items[:MAX_ROWS]:
        items.append(
            {
                "time": r.time,
                "relative_time": round(r.time - origin, 6),
                "stream": r.stream,
                "client": format_endpoint(r.client, r.client_port),
                "server": format_endpoint(r.server, r.server_port),
                "server_name": names(r.server),
                "method": r.method,
                "host": r.host,
                "path": shown(r.target),
                "url": shown(r.url),
                "user_agent": r.user_agent,
                "status": r.status,
                "reason": r.reason,
                "content_type": r.content_type,
                "response_ms": round((r.response_time - r.time) * 1000, 3)
                if r.response_time is not None
                else None,
            }
        )
    return {
        "requests": log.requests,
        "responses": log.responses,
        "methods": dict(_top(log.methods, 100)),
        "status_codes": {str(code): n for code, n in _top(log.statuses, 100)},
        "hosts": [{"host": host, "requests": n} for host, n in _top(log.hosts, analyzer.top_n)],
        "items": items,
        "items_omitted": max(log.requests - len(items), 0),
    }


def dns(analyzer: Analyzer) -> dict[str, Any]:
    """DNS queries with their answers, the most asked names, and the passive name table."""
    log = analyzer.dns
    origin = analyzer.first_frame_time or 0.0
    items = []
    for q in log.items[:MAX_ROWS]:
        items.append(
            {
                "time": q.time,
                "relative_time": round(q.time - origin, 6),
                "client": format_endpoint(q.client, q.client_port),
                "server": format_endpoint(q.server, q.server_port),
                "protocol": q.protocol,
                "id": q.id,
                "name": q.name,
                "type": q.type,
                "rcode": q.rcode,
                "answers": list(q.answers),
                "response_ms": round((q.response_time - q.time) * 1000, 3)
                if q.response_time is not None and q.query_seen
                else None,
                "query_seen": q.query_seen,
            }
        )
    resolved = analyzer.names.items()
    return {
        "queries": log.queries,
        "responses": log.responses,
        "malformed": log.malformed,
        "rcodes": dict(_top(log.by_rcode, 100)),
        "top_names": [{"name": n, "queries": c} for n, c in _top(log.by_name, analyzer.top_n)],
        "items": items,
        "items_omitted": max(len(log.items) - len(items), 0) + max(log.queries - len(log.items), 0),
        "resolved": [{"address": a, "name": n} for a, n in resolved[:MAX_ROWS]],
        "resolved_total": len(resolved),
    }


def patterns_report(analyzer: Analyzer) -> dict[str, Any]:
    """SYN scans, TCP trouble, beaconing, unusual ports and the largest flows."""
    names = analyzer.names.name
    streams = analyzer.tcp.streams
    udp_records = analyzer.udp.records
    return {
        "thresholds": patterns.thresholds(),
        "syn_scans": patterns.syn_scans(streams, names),
        "tcp": patterns.tcp_problems(streams, names),
        "beacons": patterns.beacons(streams, udp_records, names),
        "unusual_ports": patterns.unusual_ports(streams, udp_records, names),
        "largest_flows": patterns.largest_flows(streams, udp_records, analyzer.top_n, names),
    }


def threats(analyzer: Analyzer) -> dict[str, Any]:
    """Blocklist matches, or a note that no blocklist was given."""
    blocklist = analyzer.blocklist
    if blocklist is None:
        return {
            "blocklist": None,
            "matches": [],
            "note": "no blocklist given: use --blocklist FILE (URLhaus CSV or one entry a line)",
        }
    found = talkers.endpoints(analyzer.ip.records, analyzer.names)
    matches = find_threats(blocklist, found, analyzer.sightings)
    return {
        "blocklist": blocklist.describe(),
        "checked": {
            "addresses": len(found),
            "hosts": len(analyzer.sightings.hosts),
            "urls": len(analyzer.sightings.urls),
        },
        "matches": matches[:MAX_ROWS],
    }


def credentials(analyzer: Analyzer) -> dict[str, Any]:
    """Cleartext credentials, secrets masked unless asked otherwise."""
    log = analyzer.credentials
    names = analyzer.names.name_of_text
    items = []
    for credential in log.items[:MAX_ROWS]:
        row = credential.to_json(analyzer.show_secrets)
        row["server_name"] = names(_host_of(credential.server))
        items.append(row)
    return {"found": log.total, "secrets_shown": analyzer.show_secrets, "items": items}


def _host_of(endpoint: str) -> str:
    """The address of ``address:port`` or ``[v6]:port``."""
    host = endpoint.rpartition(":")[0]
    return host.strip("[]")
