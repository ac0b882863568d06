"""The request detail's Messages tab: a WebSocket's frames or an EventSource's events.

Each message gets a line (direction, number, opcode, size, time) and its payload in
the body viewer's forms (JSON pretty-printed, text, or a hex dump), newest last, so a
live connection reads like a chat. Only the newest :data:`MESSAGES_SHOWN` are drawn,
each payload to :data:`PAYLOAD_SHOWN` bytes; the engine keeps more (its caps are said).
The tab is drawn again as each message comes: 20 JSON messages of 1 kB take about 11 ms
to build and draw (50 of 4 kB took 200 ms, too slow for a live connection).
"""

from __future__ import annotations

import time

from rich.console import Group, RenderableType
from rich.text import Text

from engine.browser.records import RequestRecord, ResponseBody
from engine.browser.streams import (
    MAX_CONNECTION_BYTES,
    MAX_MESSAGES,
    StreamMessage,
    StreamSummary,
)
from engine.dissect import hexdump_lines
from tui.formatting import human_bytes
from tui.widgets.request_sections import body_text

MESSAGES_SHOWN = 20
"""Messages drawn in the tab (the newest)."""
PAYLOAD_SHOWN = 1024
"""Bytes of each payload drawn."""
ARROWS = {"sent": ("↑", "green"), "received": ("↓", "cyan"), "error": ("✖", "red")}


def message_head(message: StreamMessage) -> Text:
    """One message's line: ↑ #3 text 13 B 20:09:40.268 (and the event's name and id)."""
    arrow, colour = ARROWS.get(message.direction, ("·", ""))
    clock = time.strftime("%H:%M:%S", time.localtime(message.timestamp))
    millis = int(message.timestamp * 1000) % 1000
    line = Text()
    line.append(f"\n{arrow} #{message.index} ", style=f"bold {colour}")
    line.append(f"{message.direction} {message.opcode_name}", style="bold")
    line.append(f"  {human_bytes(message.size)}  {clock}.{millis:03d}")
    if message.kind == "sse":
        line.append(f"  event {message.event or 'message'}")
        if message.event_id:
            line.append(f"  id {message.event_id}")
    if message.truncated:
        line.append(f"  (livetap kept the first {human_bytes(len(message.data))})", style="dim")
    return line


def payload(message: StreamMessage) -> RenderableType:
    """The payload as the Response tab shows a body: JSON, text, or a hex dump."""
    data = message.data[:PAYLOAD_SHOWN]
    cut = Text(
        f"… the first {human_bytes(len(data))} of {human_bytes(message.size)} shown",
        style="dim",
    )
    text = body_text(ResponseBody("", data, "")) if message.text else None
    shown: RenderableType = Text(text) if text is not None else Text("\n".join(hexdump_lines(data)))
    return Group(shown, cut) if len(message.data) > PAYLOAD_SHOWN else shown


def messages_tab(
    record: RequestRecord,
    messages: tuple[StreamMessage, ...],
    summary: StreamSummary | None,
) -> RenderableType:
    """The connection's figures, then its newest messages, each with its payload."""
    noun = "events" if record.resource_type == "EventSource" else "frames"
    if summary is None or not messages:
        waiting = "none yet" if not record.messages else "none kept"
        return Text(f"\nNo {noun} {waiting}: they appear here as they come.", style="italic")
    title = Text(f"\n{summary.total:,} {noun}", style="bold underline")
    received = f"↓ received {human_bytes(summary.received_bytes)}"
    figures = Text(
        received
        if record.resource_type == "EventSource"
        else f"↑ sent {human_bytes(summary.sent_bytes)} · {received}"
    )
    kept = Text(
        f"livetap keeps the newest {MAX_MESSAGES:,} {noun} of a connection and "
        f"{human_bytes(MAX_CONNECTION_BYTES)} of their payloads"
        + (f"; {summary.dropped:,} older ones dropped" if summary.dropped else ""),
        style="dim",
    )
    parts: list[RenderableType] = [title, figures, kept]
    shown = messages[-MESSAGES_SHOWN:]
    if len(shown) < len(messages):
        parts.append(Text(f"the newest {len(shown)} of those kept:", style="dim"))
    for message in shown:
        parts += [message_head(message), payload(message)]
    return Group(*parts)
