"""WebSocket frames and server-sent events of each connection, kept within a memory cap.

Chromium reports a WebSocket's frames (``Network.webSocketFrameSent/Received``, and
``webSocketFrameError``) and an EventSource's messages
(``Network.eventSourceMessageReceived``) as events of the request that opened them;
nothing keeps them afterwards. The request tracker turns each into a
:class:`StreamMessage` and keeps it here, for the request detail's Messages tab.

Bounded: per connection the newest :data:`MAX_MESSAGES` messages and at most
:data:`MAX_CONNECTION_BYTES` of their payloads (oldest dropped first, counted), each
payload cut to :data:`MAX_PAYLOAD`; only the :data:`MAX_CONNECTIONS` connections that
last had a message keep theirs.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

MAX_MESSAGES = 1000
"""Messages kept per connection (the newest)."""
MAX_PAYLOAD = 64 * 1024
"""Bytes of one message's payload kept (its size is always the whole)."""
MAX_CONNECTION_BYTES = 1 << 20
"""Payload bytes kept per connection."""
MAX_CONNECTIONS = 64
"""Connections whose messages are kept (those with the most recent message)."""
OPCODES = {0: "cont", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
"""WebSocket opcodes by number (RFC 6455 §5.2)."""


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """One WebSocket frame or server-sent event, as the browser reported it."""

    kind: str
    """``ws`` (a WebSocket frame) or ``sse`` (a server-sent event)."""
    direction: str
    """``sent``, ``received``, or ``error`` (a WebSocket frame error; ``data`` says what)."""
    timestamp: float
    """Wall-clock seconds since the epoch."""
    size: int
    """The payload's length in bytes (all of it, even when ``data`` holds less)."""
    data: bytes
    """The payload, its first :data:`MAX_PAYLOAD` bytes at most."""
    text: bool
    """Whether the payload is text (a text frame, an event, an error)."""
    opcode: int | None = None
    event: str = ""
    """A server-sent event's name (``message`` when the server named none)."""
    event_id: str = ""
    """A server-sent event's id (its ``lastEventId``)."""
    index: int = 0
    """1-based, per connection, in arrival order."""

    @property
    def truncated(self) -> bool:
        """Whether livetap kept only the start of the payload."""
        return self.size > len(self.data)

    @property
    def opcode_name(self) -> str:
        """text, binary, ping…, or the number when it is not one RFC 6455 names."""
        if self.kind == "sse":
            return "event"
        if self.opcode is None:
            return "error" if self.direction == "error" else ""
        return OPCODES.get(self.opcode, str(self.opcode))


def frame_message(direction: str, params: Mapping[str, Any], timestamp: float) -> StreamMessage:
    """A ``webSocketFrameSent/Received`` or ``webSocketFrameError`` event as a message."""
    if direction == "error":
        data = str(params.get("errorMessage", "")).encode("utf-8")
        return StreamMessage("ws", "error", timestamp, len(data), data[:MAX_PAYLOAD], True)
    frame = params["response"]
    opcode = frame.get("opcode")
    opcode = int(opcode) if isinstance(opcode, int | float) else None
    payload = str(frame.get("payloadData", ""))
    text = opcode != 2
    if text:
        raw = payload.encode("utf-8", errors="surrogatepass")
    else:
        try:
            raw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):  # not base64 after all: keep what came
            raw, text = payload.encode("utf-8", errors="surrogatepass"), True
    return StreamMessage("ws", direction, timestamp, len(raw), raw[:MAX_PAYLOAD], text, opcode)


def event_message(params: Mapping[str, Any], timestamp: float) -> StreamMessage:
    """A ``eventSourceMessageReceived`` event as a message."""
    raw = str(params.get("data", "")).encode("utf-8", errors="surrogatepass")
    return StreamMessage(
        "sse",
        "received",
        timestamp,
        len(raw),
        raw[:MAX_PAYLOAD],
        True,
        event=str(params.get("eventName", "")),
        event_id=str(params.get("eventId", "")),
    )


@dataclass
class _Connection:
    """The kept messages of one connection, and what was dropped."""

    messages: deque[StreamMessage] = field(default_factory=deque)
    kept_bytes: int = 0
    total: int = 0
    dropped: int = 0
    sent_bytes: int = 0
    received_bytes: int = 0


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """What a connection carried so far, and how much of it livetap still holds."""

    total: int
    """Messages seen."""
    dropped: int
    """Messages no longer kept (the caps)."""
    sent_bytes: int
    received_bytes: int


class StreamStore:
    """Messages by request id; thread-safe (the browser thread adds, the UI reads)."""

    def __init__(
        self,
        max_messages: int = MAX_MESSAGES,
        max_bytes: int = MAX_CONNECTION_BYTES,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.max_connections = max_connections
        self._connections: OrderedDict[str, _Connection] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, request_id: str, message: StreamMessage) -> StreamMessage:
        """Keep a message (numbered within its connection); returns it numbered."""
        with self._lock:
            connection = self._connections.pop(request_id, None) or _Connection()
            self._connections[request_id] = connection  # the most recent last
            while len(self._connections) > self.max_connections:
                self._connections.popitem(last=False)
            connection.total += 1
            numbered = replace(message, index=connection.total)
            if message.direction == "sent":
                connection.sent_bytes += message.size
            elif message.direction == "received":
                connection.received_bytes += message.size
            connection.messages.append(numbered)
            connection.kept_bytes += len(numbered.data)
            while connection.messages and (
                len(connection.messages) > self.max_messages
                or connection.kept_bytes > self.max_bytes
            ):
                old = connection.messages.popleft()
                connection.kept_bytes -= len(old.data)
                connection.dropped += 1
            return numbered

    def messages(self, request_id: str) -> tuple[StreamMessage, ...]:
        """The kept messages of a connection, oldest first."""
        with self._lock:
            connection = self._connections.get(request_id)
            return tuple(connection.messages) if connection else ()

    def summary(self, request_id: str) -> StreamSummary | None:
        """The connection's counts, or None when livetap holds nothing of it."""
        with self._lock:
            c = self._connections.get(request_id)
            if c is None:
                return None
            return StreamSummary(c.total, c.total - len(c.messages), c.sent_bytes, c.received_bytes)

    def drop(self, request_id: str) -> None:
        """Forget a connection (its request left the tracker)."""
        with self._lock:
            self._connections.pop(request_id, None)

    def clear(self) -> None:
        """Forget every connection."""
        with self._lock:
            self._connections.clear()
