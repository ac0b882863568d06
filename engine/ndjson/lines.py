"""The NDJSON line for each event: the contract's fields first, then what a user needs.

Secrets are redacted unless asked otherwise (``include_sensitive``), as browsers
do for their own HAR export: credential headers, tokens in URLs and the secret
fields of form and JSON bodies, by the one rule of :mod:`engine.redact`.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from engine.browser.records import BrowserEvent, Headers, RequestRecord, ResponseBody
from engine.browser.streams import StreamMessage
from engine.events import PacketSummary
from engine.process.procfs import ProcessInfo
from engine.redact import REDACTED, SENSITIVE_HEADERS, redact_body, redact_headers, redact_url

__all__ = ["REDACTED", "SENSITIVE_HEADERS", "browser_line", "header_object", "packet_line"]


_LAST_SECOND = 253402300799.999
"""9999-12-31T23:59:59.999Z, the last moment a datetime can show."""


def iso_time(timestamp: float) -> str:
    """Seconds since the epoch as ISO-8601 UTC with milliseconds and a Z.

    The browser supplies the timestamps: one that is not a finite time in years
    1970-9999 is clamped into that range, never allowed to stop the writer.
    """
    if not 0.0 <= timestamp <= _LAST_SECOND:  # also False for NaN
        timestamp = _LAST_SECOND if timestamp > _LAST_SECOND else 0.0
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def request_key(record: RequestRecord) -> str:
    """The stable id a capture gives a request (``req_<n>``)."""
    return f"req_{record.seq}"


def header_object(headers: Headers, include_sensitive: bool) -> dict[str, str]:
    """Headers as an object (repeated names joined by newlines), redacted by default."""
    result: dict[str, str] = {}
    for name, shown in redact_headers(headers, include_sensitive):
        result[name] = f"{result[name]}\n{shown}" if name in result else shown
    return result


def _content_type(headers: Headers) -> str:
    for name, value in headers:
        if name.lower() == "content-type":
            return value
    return ""


class _Shown:
    """The redaction of one line: URLs and bodies as written, secrets hidden unless asked."""

    def __init__(self, include_sensitive: bool) -> None:
        self.keep = include_sensitive

    def url(self, url: str | None) -> str | None:
        return url if self.keep or not url else redact_url(url)

    def body(self, text: str | None, content_type: str) -> str | None:
        return text if self.keep or not text else redact_body(text, content_type)


def _drop_empty(line: dict[str, Any]) -> dict[str, Any]:
    """Leave out optional fields that say nothing (None or empty)."""
    return {key: value for key, value in line.items() if value not in (None, "", {}, [])}


def browser_line(
    event: BrowserEvent,
    include_sensitive: bool = False,
    include_bodies: bool = False,
    body: ResponseBody | None = None,
    redirected_from: str | None = None,
) -> dict[str, Any]:
    """The line for one browser event (request, response, finished, failed, ws.frame,
    sse.message)."""
    record = event.record
    shown = _Shown(include_sensitive)
    head: dict[str, Any] = {"type": event.kind, "id": request_key(record)}
    when = iso_time(event.timestamp)
    if event.message is not None:
        return {**head, "timestamp": when, **message_fields(event.message, shown, include_bodies)}
    if event.kind == "request":
        line = {
            **head,
            "url": shown.url(record.url),
            "method": record.method,
            "timestamp": when,
            "headers": header_object(record.request_headers, include_sensitive),
        }
        extra = {
            "resourceType": record.resource_type,
            "initiator": shown.url(record.initiator),
            "redirectedFrom": shown.url(redirected_from),
            "replayOf": f"req_{record.replay_of}" if record.replay_of else None,
            "replayEdited": record.replay_edited or None,
            "hasPostData": record.has_post_data or None,
            "postData": shown.body(record.post_data, _content_type(record.request_headers))
            if include_bodies
            else None,
        }
        return {**line, **_drop_empty(extra)}
    if event.kind == "response":
        line = {
            **head,
            "status": record.status,
            "statusText": record.status_text,
            "timestamp": when,
            "headers": header_object(record.response_headers, include_sensitive),
        }
        remote = f"{record.remote_ip}:{record.remote_port}" if record.remote_ip else None
        extra = {
            "url": shown.url(record.url),
            "mimeType": record.mime_type,
            "remoteAddress": remote,
            "protocol": record.protocol,
            "fromCache": record.from_cache,
            "redirectedTo": shown.url(record.redirected_to),
        }
        return {**line, **_drop_empty(extra)}
    if event.kind == "finished":
        line = {**head, "bytesReceived": record.encoded_length or 0, "timestamp": when}
        finished: dict[str, Any] = {
            "duration": round(record.duration * 1000, 3) if record.duration is not None else None,
            "timing": {k: round(v, 3) for k, v in record.timing.as_dict().items() if v is not None}
            if record.timing
            else None,
        }
        if include_bodies and body is not None:
            fields = body_fields(body)
            if "bodyEncoding" not in fields:
                fields["body"] = shown.body(fields["body"], record.mime_type or "")
            finished.update(fields)
        return {**line, **_drop_empty(finished)}
    line = {**head, "errorText": record.error, "timestamp": when}
    return {
        **line,
        **_drop_empty({"canceled": record.canceled or None, "url": shown.url(record.url)}),
    }


def message_fields(message: StreamMessage, shown: _Shown, include_bodies: bool) -> dict[str, Any]:
    """A WebSocket frame's or server-sent event's fields; its payload only with bodies,
    redacted as a body is (a JSON payload's secret names hidden unless asked)."""
    fields: dict[str, Any] = {"direction": message.direction, "size": message.size}
    if message.kind == "ws":
        fields["opcode"] = message.opcode
    else:
        fields.update(event=message.event, eventId=message.event_id)
    if include_bodies or message.direction == "error":
        if message.text:
            text = message.data.decode("utf-8", errors="replace")
            payload = text if message.direction == "error" else shown.body(text, "")
        else:
            payload = base64.b64encode(message.data).decode("ascii")
            fields["payloadEncoding"] = "base64"
        fields["data" if message.kind == "sse" else "payload"] = payload
        fields["truncated"] = message.truncated or None
    return _drop_empty(fields)


def body_fields(body: ResponseBody) -> dict[str, Any]:
    """A body as text when it is UTF-8, else base64 (HAR's ``encoding``)."""
    try:
        return {"body": body.data.decode("utf-8"), "bodySize": len(body.data)}
    except UnicodeDecodeError:
        return {
            "body": base64.b64encode(body.data).decode("ascii"),
            "bodyEncoding": "base64",
            "bodySize": len(body.data),
        }


def packet_line(
    packet: PacketSummary, with_input: bool = False, process: ProcessInfo | None = None
) -> dict[str, Any]:
    """The line for one packet summary; ``with_input`` (several inputs): which it came from;
    ``process``: the program it was tied to when captured (only a known one is written)."""
    known = process is not None and process.known
    return _drop_empty(
        {
            "type": "packet",
            "index": packet.index,
            "input": packet.source if with_input else None,
            "timestamp": iso_time(packet.timestamp),
            "length": packet.length,
            "src": packet.src,
            "dst": packet.dst,
            "sport": packet.sport,
            "dport": packet.dport,
            "protocol": packet.protocol,
            "info": packet.info,
            "process": {"name": process.name, "pid": process.pid} if process and known else None,
        }
    )
