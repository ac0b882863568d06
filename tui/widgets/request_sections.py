"""What each tab of the request detail says, as Rich renderables built from one record.

Kept apart from the widget so the text of every tab can be made (and tested, and copied)
without a screen: the detail shows them one tab at a time, ``plain_text`` all of them.
"""

from __future__ import annotations

import contextlib
import json
import time
from urllib.parse import parse_qsl, urlsplit

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from engine.browser.records import RequestRecord, ResponseBody
from engine.correlate import ConnectionFigures
from engine.dissect import hexdump_lines
from engine.process.chromium import chromium_role
from engine.process.procfs import ProcessInfo
from tui.formatting import human_bytes
from tui.widgets.waterfall import STYLES

MAX_BODY_SHOWN = 256 * 1024
PROTOCOL_NAMES = {"http/1.1": "h1", "http/1.0": "h1", "h2": "h2", "h3": "h3", "h3-29": "h3"}
PHASE_BAR = 30
"""Cells of the widest bar in the Timing tab."""


def pairs(title: str, rows: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> RenderableType:
    """A titled two-column table of names and values (plain text, never markup)."""
    table = Table(box=None, show_header=False, padding=(0, 1), expand=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(Text(name), Text(value))
    return Group(Text(f"\n{title}", style="bold underline"), table)


def general_rows(record: RequestRecord) -> list[tuple[str, str]]:
    """The request's summary lines."""
    rows = [("URL", record.url), ("Method", record.method)]
    if record.replay_of:
        edited = ", edited before it was sent (E)" if record.replay_edited else " (r)"
        rows.append(("Replay of", f"request #{record.replay_of}{edited}"))
    if record.status is not None:
        rows.append(("Status", f"{record.status} {record.status_text}".strip()))
    if record.error:
        rows.append(("Failed", record.error + (" (canceled)" if record.canceled else "")))
    if record.remote_ip:
        rows.append(("Remote", f"{record.remote_ip}:{record.remote_port}"))
    if record.protocol:
        name = PROTOCOL_NAMES.get(record.protocol, record.protocol)
        rows.append(("Protocol", f"{name} ({record.protocol})"))
    rows += [("Type", record.resource_type), ("MIME", record.mime_type)]
    if record.from_cache:
        rows.append(("Cache", f"served from the {record.from_cache} cache"))
    if record.redirected_to:
        rows.append(("Redirects to", record.redirected_to))
    if record.redirect_from:
        rows.append(("Redirected from", f"request {record.redirect_from}"))
    if record.messages:
        noun = "event" if record.resource_type == "EventSource" else "frame"
        noun += "s" * (record.messages != 1)
        rows.append(("Messages", f"{record.messages:,} {noun} (the Messages tab)"))
    if record.encoded_length is not None:
        rows.append(("Transferred", human_bytes(record.encoded_length)))
    if record.duration is not None:
        rows.append(("Duration", f"{record.duration * 1000:.0f} ms"))
    if not (record.finished or record.error or record.redirected_to or record.from_cache):
        rows += pending_rows(record)
    return [(name, value) for name, value in rows if value]


def pending_rows(record: RequestRecord) -> list[tuple[str, str]]:
    """What is known of a request the browser never said finished loading."""
    started = time.strftime("%H:%M:%S", time.localtime(record.started)) if record.started else ""
    length = next(
        (value for name, value in record.response_headers if name.lower() == "content-length"),
        "",
    )
    stage = "response headers received" if record.status is not None else "no response yet"
    return [
        ("Transferred", f"pending ({stage}" + (f", Content-Length {length})" if length else ")")),
        ("Duration", f"pending (started {started})" if started else "pending"),
    ]


def headers_tab(record: RequestRecord, note: str = "") -> RenderableType:
    """General, then the response and request headers, as DevTools' Headers tab."""
    parts: list[RenderableType] = [pairs("General", general_rows(record))]
    if note:
        parts.append(Text(f"\n{note}", style="italic"))
    if record.response_headers:
        parts.append(pairs("Response headers", record.response_headers))
    parts.append(pairs("Request headers", record.request_headers))
    return Group(*parts)


def payload_tab(record: RequestRecord, post_data: str | None) -> RenderableType:
    """The query string's parameters and the request body (post data)."""
    parts: list[RenderableType] = []
    query = parse_qsl(urlsplit(record.url).query, keep_blank_values=True)
    if query:
        parts.append(pairs("Query parameters", query))
    body = post_data if post_data is not None else record.post_data
    if body is not None:
        parts.append(Group(Text("\nRequest body", style="bold underline"), Text(body)))
    elif record.has_post_data:
        parts.append(Text("\nThe request has a body: b fetches it.", style="italic"))
    if not parts:
        parts.append(Text("\nNo query parameters and no request body.", style="dim"))
    return Group(*parts)


def timing_rows(record: RequestRecord) -> list[tuple[str, str]]:
    """DNS, connect, TLS, send, wait, receive in milliseconds."""
    if record.timing is None:
        return []
    return [
        (name, f"{value:.1f} ms")
        for name, value in record.timing.as_dict().items()
        if value is not None
    ]


def timing_tab(record: RequestRecord) -> RenderableType:
    """Each phase in milliseconds with a bar in the Waterfall's colours, as DevTools' Timing
    tab."""
    if record.timing is None:
        return Text("\nNo timing from the browser (cached, failed early or still pending).")
    phases = [(n, v) for n, v in record.timing.as_dict().items() if v is not None]
    longest = max((value for _name, value in phases), default=0.0) or 1.0
    table = Table(box=None, show_header=False, padding=(0, 1), expand=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    table.add_column(no_wrap=True)
    for name, value in phases:
        cells = max(1, round(value / longest * PHASE_BAR)) if value else 0
        colour = STYLES.get("connect" if name == "tls" else name, ("cyan", ""))[0]
        table.add_row(Text(name), Text(f"{value:.1f} ms"), Text("█" * cells, style=colour))
    parts: list[RenderableType] = [Text("\nTiming", style="bold underline"), table]
    if record.duration is not None:
        parts.append(Text(f"\nTotal {record.duration * 1000:.1f} ms"))
    return Group(*parts)


FRAME_ROWS = 12
"""Frames of a request's HTTP/2 stream listed in its "On the wire" section."""


def connection_rows(figures: ConnectionFigures | None) -> list[tuple[str, str]]:
    """The request's TCP connection as captured on the wire."""
    if figures is None:
        return [
            ("Wire", "no packets of this connection in the buffer (capture the interface it used)")
        ]
    rtt = (
        f"{figures.handshake_rtt * 1000:.3f} ms"
        if figures.handshake_rtt is not None
        else "handshake not seen"
    )
    return [
        (
            "Connection",
            f"{figures.local_ip}:{figures.local_port} ⇄ {figures.remote_ip}:{figures.remote_port}",
        ),
        ("Packets", f"{len(figures.packets)} (press g to select them)"),
        ("Handshake RTT", rtt),
        ("Retransmissions", str(figures.retransmissions)),
        ("Sent on wire", human_bytes(figures.bytes_sent)),
        ("Received on wire", human_bytes(figures.bytes_received)),
        *stream_rows(figures),
        *process_rows(figures.process),
    ]


def process_rows(owner: ProcessInfo | None) -> list[tuple[str, str]]:
    """The Chromium process that owns the connection: pid, role (its ``--type=``), user."""
    if owner is None:
        return []
    if not owner.known:
        return [("Process", f"unknown: {owner.reason}")]
    return [
        ("Process", f"{owner.name} {owner.pid}: {chromium_role(owner.cmdline)}"),
        ("Process user", owner.user or str(owner.uid)),
    ]


def stream_rows(figures: ConnectionFigures) -> list[tuple[str, str]]:
    """The request's own HTTP/2 stream, decrypted with the key log: its frames and their times."""
    if figures.stream is None or not figures.frames:
        return []
    first = figures.frames[0].timestamp
    rows = [
        (
            "HTTP/2 stream",
            f"{figures.stream}: {len(figures.frames)} frames in "
            f"{len(figures.stream_packets)} packets (g selects them)",
        )
    ]
    for frame in figures.frames[:FRAME_ROWS]:
        offset = (frame.timestamp - first) * 1000
        what = frame.kind + (f" {frame.length} B" if frame.kind == "DATA" else "")
        if frame.status:
            what += f" :status {frame.status}"
        rows.append((f"  +{offset:.3f} ms", f"{what} (packet {frame.index})"))
    if len(figures.frames) > FRAME_ROWS:
        rows.append(("  …", f"{len(figures.frames) - FRAME_ROWS} more frames"))
    return rows


def wire_tab(record: RequestRecord, figures: ConnectionFigures | None) -> RenderableType:
    """The connection among the captured packets, or why there is none."""
    if not record.remote_ip:
        return Text("\nThe browser named no remote address (cached, failed or a data: URL).")
    return pairs("On the wire", connection_rows(figures))


def initiator_tab(record: RequestRecord) -> RenderableType:
    """What started the request (parser, script and its URL, redirect, preload…)."""
    kind, _space, where = record.initiator.partition(" ")
    return pairs("Initiator", [("Type", kind), ("From", where)] if where else [("Type", kind)])


def body_text(body: ResponseBody) -> str | None:
    """The body as text (JSON pretty-printed), or None when it is not text."""
    data = body.data[:MAX_BODY_SHOWN]
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not all(c.isprintable() or c in "\r\n\t" for c in decoded):
        return None
    if "json" in body.mime_type or decoded.lstrip()[:1] in ("{", "["):
        with contextlib.suppress(ValueError):
            return json.dumps(json.loads(decoded), indent=2, ensure_ascii=False)
    return decoded


def body_renderable(body: ResponseBody) -> RenderableType:
    """JSON pretty-printed, text as text, anything else as a hex dump."""
    note = (
        f" (first {human_bytes(MAX_BODY_SHOWN)} of {human_bytes(len(body.data))})"
        if len(body.data) > MAX_BODY_SHOWN
        else ""
    )
    title = Text(f"\nResponse body, {human_bytes(len(body.data))}{note}", style="bold underline")
    text = body_text(body)
    if text is None:
        return Group(title, Text("\n".join(hexdump_lines(body.data[:MAX_BODY_SHOWN]))))
    return Group(title, Text(text))


def response_tab(body: ResponseBody | None, note: str = "") -> RenderableType:
    """The response body, or how to get it."""
    if body is not None:
        return body_renderable(body)
    return Text(f"\n{note}" if note else "\nPress b to fetch the response body.", style="italic")
