"""The reports as aligned text tables, rendered from the same dicts the JSON prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine.analysis import hierarchy

_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0)) if code != 0x0A}
"""C0 and C1 control characters (all but the newline) and their visible escapes."""


def visible(text: str) -> str:
    """Text from a packet made safe for a terminal: control characters shown as \\xNN.

    Host names, paths and user agents come off the wire; printed raw, an escape
    sequence in one could retitle the terminal, clear it or worse.
    """
    return text.translate(_CONTROLS)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: str = "") -> str:
    """Aligned columns; ``right`` lists (comma-separated) the column numbers to right-align."""
    text_rows = [["" if cell is None else visible(str(cell)) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    align_right = {int(i) for i in right.split(",") if i}

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in align_right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(row) for row in text_rows)
    return "\n".join(out)


def _size(count: int) -> str:
    """Bytes in a short human form (1.5 MB)."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"


def _named(address: str, name: str | None) -> str:
    return f"{address} ({name})" if name else address


def _endpoint(address: str, port: int | None, name: str | None) -> str:
    text = f"{address}:{port}" if port is not None else address
    return f"{text} ({name})" if name else text


def _title(text: str) -> str:
    return f"{text}\n{'=' * len(text)}"


def render_text(reports: dict[str, Any]) -> str:
    """Every report in ``reports`` as titled, aligned tables."""
    renderers: dict[str, Callable[[dict[str, Any]], str]] = {
        "summary": _summary_text,
        "protocols": _protocols_text,
        "conversations": _conversations_text,
        "talkers": _talkers_text,
        "http": _http_text,
        "dns": _dns_text,
        "patterns": _patterns_text,
        "threats": _threats_text,
        "credentials": _credentials_text,
        "deep": _deep_text,
    }
    parts = [renderers[name](report) for name, report in reports.items() if name in renderers]
    return visible("\n\n".join(parts)) + "\n"


def _summary_text(r: dict[str, Any]) -> str:
    rate = r["average_packets_per_second"]
    bits = r["average_bits_per_second"]
    lines = [
        ("Packets", f"{r['packets']:,}"),
        ("Bytes", f"{r['bytes']:,} ({_size(r['bytes'])})"),
        ("First packet", r["first_time_iso"] or "-"),
        ("Last packet", r["last_time_iso"] or "-"),
        ("Duration", f"{r['duration']:.3f} s"),
        ("Average rate", f"{rate:,.1f} packets/s, {bits / 1000:,.1f} kbit/s" if rate else "-"),
        ("Average size", f"{r['average_packet_size']} bytes" if r["average_packet_size"] else "-"),
        ("Link types", ", ".join(f"{k} ({v:,})" for k, v in r["link_types"].items()) or "-"),
    ]
    if r["unknown_link_type_packets"]:
        lines.append(("Unknown link", f"{r['unknown_link_type_packets']:,} packets"))
    untracked = sum(r["untracked_packets"].values())
    if untracked:
        lines.append(("Untracked", f"{untracked:,} packets (conversation tables full)"))
    width = max(len(k) for k, _ in lines)
    body = "\n".join(f"{k.ljust(width)}  {v}" for k, v in lines)
    packets = r["packets"] or 1
    protocol_rows = [
        (name, f"{count:,}", f"{100 * count / packets:.1f}%")
        for name, count in r["protocols"].items()
    ]
    return (
        f"{_title('Summary')}\n{body}\n\n"
        f"{table(['Protocol', 'Packets', 'Share'], protocol_rows, right='1,2')}"
    )


def _protocols_text(r: dict[str, Any]) -> str:
    rows = [
        (
            "  " * depth + row["protocol"],
            f"{row['frames']:,}",
            f"{row['frames_percent']:.2f}%",
            f"{row['bytes']:,}",
            f"{row['bytes_percent']:.2f}%",
        )
        for depth, row in hierarchy.flatten(r["tree"])
    ]
    title = "Protocol hierarchy" + (" (tshark)" if r.get("source") == "tshark" else "")
    headers = ["Protocol", "Frames", "Frames %", "Bytes", "Bytes %"]
    return f"{_title(title)}\n{table(headers, rows, right='1,2,3,4')}"


def _conversations_text(r: dict[str, Any]) -> str:
    parts = [_title("Conversations")]
    labels = {"ipv4": "IPv4", "ipv6": "IPv6", "tcp": "TCP", "udp": "UDP"}
    for kind, label in labels.items():
        rows = r.get(kind, [])
        total = r.get(f"{kind}_total", len(rows))
        heading = f"{label} ({total:,})"
        if not rows:
            parts.append(f"{heading}: none")
            continue
        extra = {"tcp": ["Stream", "Protocol"], "udp": ["Protocol"]}.get(kind, [])
        body = [
            (
                _endpoint(c["a"], c.get("a_port"), c["a_name"]),
                _endpoint(c["b"], c.get("b_port"), c["b_name"]),
                f"{c['frames_a_to_b']:,}",
                f"{c['bytes_a_to_b']:,}",
                f"{c['frames_b_to_a']:,}",
                f"{c['bytes_b_to_a']:,}",
                f"{c['frames']:,}",
                f"{c['bytes']:,}",
                f"{c['relative_start']:.6f}",
                f"{c['duration']:.4f}",
                *([c["stream"]] if kind == "tcp" else []),
                *([c["protocol"] or ""] if extra else []),
            )
            for c in rows
        ]
        headers = [
            "A",
            "B",
            "A→B frames",
            "A→B bytes",
            "B→A frames",
            "B→A bytes",
            "Frames",
            "Bytes",
            "Rel start",
            "Duration",
            *extra,
        ]
        more = f"\n({total - len(rows):,} more not listed)" if total > len(rows) else ""
        right = "2,3,4,5,6,7,8,9" + (",10" if kind == "tcp" else "")
        parts.append(f"{heading}\n{table(headers, body, right=right)}{more}")
    return "\n\n".join(parts)


def _talkers_text(r: dict[str, Any]) -> str:
    def rows(items: list[dict[str, Any]]) -> list[tuple[object, ...]]:
        return [
            (
                _named(e["address"], e["name"]),
                f"{e['packets']:,}",
                f"{e['bytes']:,}",
                f"{e['tx_bytes']:,}",
                f"{e['rx_bytes']:,}",
            )
            for e in items
        ]

    headers = ["Address", "Packets", "Bytes", "Sent", "Received"]
    title = _title(f"Top talkers ({r['endpoints']:,} endpoints)")
    text = (
        f"{title}\n"
        f"By bytes\n{table(headers, rows(r['by_bytes']), right='1,2,3,4')}\n\n"
        f"By packets\n{table(headers, rows(r['by_packets']), right='1,2,3,4')}"
    )
    if r.get("by_process"):
        body = [
            (p["process"], p["user"], f"{p['packets']:,}", f"{p['bytes']:,}")
            for p in r["by_process"]
        ]
        processes = table(["Process", "User", "Packets", "Bytes"], body, right="2,3")
        text += f"\n\nBy process ({r['processes_total']:,}, from the file's packet comments)\n"
        text += processes
    return text


def _decrypted_text(r: dict[str, Any] | None) -> str:
    """The decrypted HTTP/2 requests (analyze --keylog), or nothing."""
    if r is None:
        return ""
    head = f"Decrypted TLS ({r['protocol']}, by {r['source']}): {r['requests']:,} requests"
    rows = [
        (i["packet"], i["stream"], i["method"], i["authority"], i["path"], i["status"] or "-")
        for i in r["items"]
    ]
    listed = table(["Packet", "Stream", "Method", "Authority", "Path", "Status"], rows, "0,1")
    more = f"\n({r['items_omitted']:,} more not listed)" if r["items_omitted"] else ""
    return f"\n\n{head}\n{listed}{more}" if rows else f"\n\n{head}"


def _http_text(r: dict[str, Any]) -> str:
    head = f"{r['requests']:,} requests, {r['responses']:,} responses"
    if not r["items"]:
        return f"{_title('HTTP')}\n{head}{_decrypted_text(r.get('decrypted'))}"
    hosts = table(["Host", "Requests"], [(h["host"], h["requests"]) for h in r["hosts"]], "1")
    rows = [
        (
            f"{i['relative_time']:.3f}",
            i["client"],
            i["method"],
            i["host"] or i["server"],
            i["path"],
            i["status"] or "-",
            i["user_agent"],
        )
        for i in r["items"]
    ]
    requests = table(["Time", "Client", "Method", "Host", "Path", "Status", "User agent"], rows)
    more = f"\n({r['items_omitted']:,} more not listed)" if r["items_omitted"] else ""
    decrypted = _decrypted_text(r.get("decrypted"))
    return f"{_title('HTTP')}\n{head}\n\n{hosts}\n\n{requests}{more}{decrypted}"


def _dns_text(r: dict[str, Any]) -> str:
    head = f"{r['queries']:,} queries, {r['responses']:,} responses"
    if r["malformed"]:
        head += f", {r['malformed']:,} malformed"
    if not r["items"]:
        return f"{_title('DNS')}\n{head}"
    names = table(["Name", "Queries"], [(n["name"], n["queries"]) for n in r["top_names"]], "1")
    rows = [
        (
            f"{q['relative_time']:.3f}",
            q["client"],
            q["type"],
            q["name"],
            q["rcode"] or "-",
            ", ".join(q["answers"]) or "-",
        )
        for q in r["items"]
    ]
    queries = table(["Time", "Client", "Type", "Name", "Rcode", "Answers"], rows)
    more = f"\n({r['items_omitted']:,} more not listed)" if r["items_omitted"] else ""
    return f"{_title('DNS')}\n{head}\n\n{names}\n\n{queries}{more}"


def _patterns_text(r: dict[str, Any]) -> str:
    parts = [_title("Patterns")]
    scans = r["syn_scans"]
    rows: list[tuple[object, ...]]
    if scans:
        rows = [
            (
                _named(s["source"], s["name"]),
                s["attempts"],
                s["targets"],
                s["hosts"],
                s["ports"],
                s["completed"],
                s["refused"],
                s["half_open"],
                s["unanswered"],
            )
            for s in scans
        ]
        headers = [
            "Source",
            "SYNs",
            "Targets",
            "Hosts",
            "Ports",
            "Done",
            "Refused",
            "Half-open",
            "No reply",
        ]
        parts.append(f"SYN scans\n{table(headers, rows, right='1,2,3,4,5,6,7,8')}")
    else:
        parts.append("SYN scans: none")
    tcp = r["tcp"]
    parts.append(
        f"TCP: {tcp['retransmissions']:,} retransmissions in {tcp['data_segments']:,} data "
        f"segments ({tcp['retransmission_percent']}%), {tcp['streams_reset']:,} of "
        f"{tcp['streams']:,} streams reset ({tcp['reset_percent']}%)"
    )
    if tcp["conversations"]:
        rows = [
            (
                c["stream"],
                _endpoint(c["a"], c["a_port"], c["a_name"]),
                _endpoint(c["b"], c["b_port"], c["b_name"]),
                c["data_segments"],
                c["retransmissions"],
                f"{c['retransmission_percent']}%",
                c["resets"],
            )
            for c in tcp["conversations"]
        ]
        headers = ["Stream", "A", "B", "Data segs", "Retrans", "Rate", "Resets"]
        parts.append(table(headers, rows, right="0,3,4,5,6"))
    if r["beacons"]:
        rows = [
            (
                _named(b["source"], b["source_name"]),
                _endpoint(b["destination"], b["port"], b["destination_name"]),
                b["protocol"],
                b["sessions"],
                f"{b['interval']:.3f} s",
                f"{b['jitter']:.3f}",
            )
            for b in r["beacons"]
        ]
        headers = ["Source", "Destination", "Proto", "Sessions", "Interval", "Jitter"]
        parts.append(f"Beaconing\n{table(headers, rows, right='3,4,5')}")
    else:
        parts.append("Beaconing: none")
    if r["unusual_ports"]:
        rows = [
            (
                p["protocol"],
                p["port"],
                p["conversations"],
                f"{p['packets']:,}",
                f"{p['bytes']:,}",
                ", ".join(p["servers"]),
            )
            for p in r["unusual_ports"]
        ]
        headers = ["Proto", "Port", "Convs", "Packets", "Bytes", "Servers"]
        parts.append(f"Unusual service ports\n{table(headers, rows, right='1,2,3,4')}")
    else:
        parts.append("Unusual service ports: none")
    if r["largest_flows"]:
        rows = [
            (
                f["protocol"],
                _endpoint(f["a"], f["a_port"], f["a_name"]),
                _endpoint(f["b"], f["b_port"], f["b_name"]),
                f"{f['packets']:,}",
                f"{f['bytes']:,}",
                f"{f['duration']:.3f} s",
            )
            for f in r["largest_flows"]
        ]
        headers = ["Proto", "A", "B", "Packets", "Bytes", "Duration"]
        parts.append(f"Largest flows\n{table(headers, rows, right='3,4,5')}")
    return "\n\n".join(parts)


def _threats_text(r: dict[str, Any]) -> str:
    if r["blocklist"] is None:
        return f"{_title('Threats')}\n{r['note']}"
    info = r["blocklist"]
    checked = r["checked"]
    head = (
        f"Blocklist: {info['entries']:,} entries from {', '.join(info['files'])}; checked "
        f"{checked['addresses']:,} addresses, {checked['hosts']:,} host names, "
        f"{checked['urls']:,} URLs"
    )
    if not r["matches"]:
        return f"{_title('Threats')}\n{head}\nNo matches."
    rows = [
        (m["kind"], m["indicator"], m["entry"], m["reason"], ", ".join(m["seen_in"]))
        for m in r["matches"]
    ]
    body = table(["Kind", "Indicator", "Blocklist entry", "Why", "Seen in"], rows)
    return f"{_title('Threats')}\n{head}\n\n{body}"


def _credentials_text(r: dict[str, Any]) -> str:
    if not r["items"]:
        return f"{_title('Credentials')}\nNone found in cleartext."
    verdicts = {True: "accepted", False: "refused", None: "-"}
    rows = [
        (
            c["protocol"],
            c["client"],
            c["server"],
            c["username"] or "-",
            c["secret"],
            verdicts[c["accepted"]],
            c["where"],
        )
        for c in r["items"]
    ]
    note = "" if r["secrets_shown"] else " (secrets masked; --show-secrets shows them)"
    body = table(["Protocol", "Client", "Server", "User", "Secret", "Result", "Where"], rows)
    return f"{_title('Credentials')}\n{r['found']:,} found{note}\n\n{body}"


def _deep_text(r: dict[str, Any]) -> str:
    rows = [(name, f"{count:,}") for name, count in r["protocols"].items()]
    head = f"{r['tool']}: {r['packets']:,} packets decoded by Wireshark's dissectors"
    return (
        f"{_title('Deep decode (tshark)')}\n{head}\n\n"
        f"{table(['Protocol', 'Packets'], rows, right='1')}"
    )
