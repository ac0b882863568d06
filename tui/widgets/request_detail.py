"""The selected request in full: headers, query, timing, connection on the wire, body."""

from __future__ import annotations

import contextlib
import io
import json
import time
from urllib.parse import parse_qsl, urlsplit

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from engine.browser.records import RequestRecord, ResponseBody
from engine.correlate import ConnectionFigures
from engine.dissect import hexdump_lines
from tui.formatting import human_bytes

MAX_BODY_SHOWN = 256 * 1024
PROTOCOL_NAMES = {"http/1.1": "h1", "http/1.0": "h1", "h2": "h2", "h3": "h3", "h3-29": "h3"}


def _pairs(
    title: str, pairs: tuple[tuple[str, str], ...] | list[tuple[str, str]]
) -> RenderableType:
    """A titled two-column table of names and values (plain text, never markup)."""
    table = Table(box=None, show_header=False, padding=(0, 1), expand=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in pairs:
        table.add_row(Text(name), Text(value))
    return Group(Text(f"\n{title}", style="bold underline"), table)


def _timing_rows(record: RequestRecord) -> list[tuple[str, str]]:
    """DNS, connect, TLS, send, wait, receive in milliseconds."""
    if record.timing is None:
        return []
    return [
        (name, f"{value:.1f} ms")
        for name, value in record.timing.as_dict().items()
        if value is not None
    ]


def general_rows(record: RequestRecord) -> list[tuple[str, str]]:
    """The request's summary lines."""
    rows = [("URL", record.url), ("Method", record.method)]
    if record.status is not None:
        rows.append(("Status", f"{record.status} {record.status_text}".strip()))
    if record.error:
        rows.append(("Failed", record.error + (" (canceled)" if record.canceled else "")))
    if record.remote_ip:
        rows.append(("Remote", f"{record.remote_ip}:{record.remote_port}"))
    if record.protocol:
        rows.append(
            (
                "Protocol",
                f"{PROTOCOL_NAMES.get(record.protocol, record.protocol)} ({record.protocol})",
            )
        )
    rows += [
        ("Type", record.resource_type),
        ("MIME", record.mime_type),
        ("Initiator", record.initiator),
    ]
    if record.from_cache:
        rows.append(("Cache", f"served from the {record.from_cache} cache"))
    if record.redirected_to:
        rows.append(("Redirects to", record.redirected_to))
    if record.redirect_from:
        rows.append(("Redirected from", f"request {record.redirect_from}"))
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
    ]


def body_renderable(body: ResponseBody) -> RenderableType:
    """JSON pretty-printed, text as text, anything else as a hex dump."""
    data = body.data[:MAX_BODY_SHOWN]
    note = (
        f" (first {human_bytes(MAX_BODY_SHOWN)} of {human_bytes(len(body.data))})"
        if len(body.data) > MAX_BODY_SHOWN
        else ""
    )
    title = Text(f"\nResponse body, {human_bytes(len(body.data))}{note}", style="bold underline")
    text: str | None = None
    try:
        decoded = data.decode("utf-8")
        text = (
            decoded
            if decoded.isprintable() or all(c.isprintable() or c in "\r\n\t" for c in decoded)
            else None
        )
    except UnicodeDecodeError:
        text = None
    if text is not None and ("json" in body.mime_type or text.lstrip()[:1] in ("{", "[")):
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    if text is None:
        return Group(title, Text("\n".join(hexdump_lines(data))))
    return Group(title, Text(text))


class RequestDetail(VerticalScroll):
    """Everything about the selected request, in sections."""

    DEFAULT_CSS = """
    RequestDetail {
        height: 2fr;
        border-top: solid $panel;
        background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: RenderableType = Text("")

    def compose(self) -> ComposeResult:
        yield Static(
            "Select a request (↑ ↓); b shows its body, g its packets.", id="request-detail-text"
        )
        yield Static("", id="request-body")

    def scroll_to_body(self) -> None:
        """Bring the response body to the top of the detail (b asked for it)."""
        body = self.query_one("#request-body", Static)
        if body.display:
            self.scroll_to_widget(body, animate=False, top=True)

    def show(
        self,
        record: RequestRecord,
        figures: ConnectionFigures | None = None,
        body: ResponseBody | None = None,
        post_data: str | None = None,
        note: str = "",
    ) -> None:
        """Render one request, with what was fetched for it so far."""
        parts: list[RenderableType] = [_pairs("General", general_rows(record))]
        if note:
            parts.append(Text(f"\n{note}", style="italic"))
        query = parse_qsl(urlsplit(record.url).query, keep_blank_values=True)
        if query:
            parts.append(_pairs("Query parameters", query))
        timing = _timing_rows(record)
        if timing:
            parts.append(_pairs("Timing", timing))
        if record.remote_ip:
            parts.append(_pairs("On the wire", connection_rows(figures)))
        parts.append(_pairs("Request headers", record.request_headers))
        if post_data is not None:
            parts.append(Group(Text("\nRequest body", style="bold underline"), Text(post_data)))
        if record.response_headers:
            parts.append(_pairs("Response headers", record.response_headers))
        self._shown = Group(*parts)
        self.query_one("#request-detail-text", Static).update(self._shown)
        body_view = self.query_one("#request-body", Static)
        body_view.display = body is not None
        if body is not None:
            self._shown = Group(*parts, body_renderable(body))
            body_view.update(body_renderable(body))

    def show_message(self, text: str) -> None:
        """A line of text instead of a request."""
        self._shown = Text(text)
        self.query_one("#request-detail-text", Static).update(self._shown)
        self.query_one("#request-body", Static).display = False

    def plain_text(self, width: int = 120) -> str:
        """What the detail shows, as plain text (for tests, copying and tools)."""
        console = Console(width=width, record=True, file=io.StringIO())
        console.print(self._shown)
        return console.export_text()
