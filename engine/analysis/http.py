"""HTTP/1.x requests and responses, read from TCP segments as Wireshark reassembles them.

Each direction of a stream has a small reader: it collects a message's headers across
segments, then counts off the body by Content-Length or chunk sizes. A message belongs
to the segment that completes it, which is where tshark's hierarchy puts ``http``
(segments in between are plain ``tcp``), and its body's media type gives the child
tshark shows (``data-text-lines``, ``json``, ``urlencoded-form``, ``media``...).

Requests are kept (bounded) with method, host, path and user agent; a response fills
in the status of the oldest unanswered request of its stream. Basic auth headers and
form posts with password fields go to the credentials log.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, NamedTuple

from engine.analysis.addresses import format_address, format_endpoint
from engine.analysis.credentials import Credential, CredentialLog, form_secrets, http_basic
from engine.analysis.threats import Sightings, normalise_host, normalise_url
from engine.packet.app import HTTP_STARTS
from engine.packet.walk import Raw

if TYPE_CHECKING:
    from engine.analysis.conversations import TcpStream

HTTP: Final[tuple[str, ...]] = ("http",)
DATA: Final[tuple[str, ...]] = ("data",)
MAX_HEAD: Final = 64 * 1024
"""Header bytes collected for one message before giving up on it."""
MAX_FORM_BODY: Final = 16 * 1024
"""Form bodies read for password fields, at most."""
MAX_TEXT: Final = 2048
"""Longest method, host, path or user agent kept."""
_LABELS: Final[dict[str, tuple[str, ...]]] = {}
_MEDIA: Final = {
    "application/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/x-www-form-urlencoded": "urlencoded-form",
    "application/octet-stream": "data",
    "": "data",
}
_WANTED: Final = frozenset(
    {
        b"host",
        b"user-agent",
        b"content-type",
        b"content-length",
        b"transfer-encoding",
        b"authorization",
    }
)
_NO_BODY_STATUS: Final = frozenset({204, 304})
_HEADER_NAMES: Final[dict[bytes, bytes | None]] = {}
"""Header names as sent -> the name livetap reads them by (None: not read)."""
_HOST_KEYS: Final[dict[str, str]] = {}
"""Host headers as the host counts key them (normalised once per name)."""


def _wanted_header(name: bytes) -> bytes | None:
    """A header name as sent, stripped and lower-cased if livetap reads it, else None."""
    key = name.strip().lower()
    wanted = key if key in _WANTED else None
    if len(_HEADER_NAMES) >= 4096:
        _HEADER_NAMES.clear()
    _HEADER_NAMES[name] = wanted
    return wanted


def media_label(content_type: str) -> tuple[str, ...]:
    """``("http", child)``: the dissector tshark hands a body of this media type to."""
    found = _MEDIA_LABELS.get(content_type)
    if found is None:
        found = _media_label(content_type)
        if len(_MEDIA_LABELS) >= 4096:
            _MEDIA_LABELS.clear()
        _MEDIA_LABELS[content_type] = found
    return found


_MEDIA_LABELS: Final[dict[str, tuple[str, ...]]] = {}
"""Content-Type values as sent -> their label (a capture repeats a few of them)."""


def _media_label(content_type: str) -> tuple[str, ...]:
    kind = content_type.split(";", 1)[0].strip().lower()
    child = _MEDIA.get(kind) or ("data-text-lines" if kind.startswith("text/") else "media")
    label = _LABELS.get(child)
    if label is None:
        label = _LABELS[child] = ("http", child)
    return label


def _spoke_http(stream: TcpStream) -> bool:
    """Whether either direction of the stream carried an HTTP message already."""
    return any(isinstance(reader, _Reader) and reader.seen for reader in stream.app)


def _reassembled(label: tuple[str, ...]) -> tuple[str, ...]:
    """``label`` with ``tcp.segments`` appended (one tuple object per label)."""
    found = _REASSEMBLED.get(label)
    if found is None:
        found = _REASSEMBLED[label] = (*label, "tcp.segments")
    return found


_REASSEMBLED: Final[dict[tuple[str, ...], tuple[str, ...]]] = {}


def _text(raw: bytes) -> str:
    return raw[:MAX_TEXT].decode("latin-1")


@dataclass(slots=True)
class HttpRequest:
    """A request and, once seen, its response's status."""

    time: float
    stream: int
    client: bytes
    client_port: int
    server: bytes
    server_port: int
    method: str
    host: str
    target: str
    user_agent: str
    status: int | None = None
    reason: str = ""
    content_type: str = ""
    response_time: float | None = None

    @property
    def url(self) -> str:
        """The request's URL (absolute-form targets as they are)."""
        if "://" in self.target:
            return self.target
        host = self.host or format_endpoint(self.server, self.server_port)
        if self.server_port not in (80, 0) and self.host and ":" not in self.host:
            host = f"{self.host}:{self.server_port}"
        return f"http://{host}{self.target}"


class _Head(NamedTuple):
    """A message's start line, the headers livetap reads, and its media type."""

    first: bytes
    headers: dict[bytes, bytes]
    content_type: str


class _Reader:
    """One direction of one stream: where it is in the current message."""

    __slots__ = (
        "body",
        "carried",
        "chunk_left",
        "chunk_line",
        "chunked",
        "head",
        "label",
        "lost",
        "next_seq",
        "remaining",
        "request",
        "seen",
        "trailer",
    )

    def __init__(self) -> None:
        self.head: bytes | None = None
        self.remaining = 0
        self.chunked = False
        self.chunk_left = 0
        self.chunk_line = b""
        self.trailer = False
        self.label = HTTP
        self.body: bytearray | None = None
        self.request: HttpRequest | None = None
        """The request whose form body is being collected."""
        self.carried = False
        """The current message began in an earlier segment."""
        self.seen = False
        """A message was read in this direction."""
        self.next_seq: int | None = None
        """The sequence number the next segment should start at."""
        self.lost = False
        """Part of the current message was not captured: it never completes (as tshark)."""


class HttpLog:
    """Every request (bounded) and the counts the report shows."""

    def __init__(self, limit: int, credentials: CredentialLog, sightings: Sightings) -> None:
        self.items: list[HttpRequest] = []
        self.limit = limit
        self.requests = 0
        self.responses = 0
        self.methods: dict[str, int] = {}
        self.statuses: dict[int, int] = {}
        self.hosts: dict[str, int] = {}
        self._pending: dict[int, deque[HttpRequest]] = {}
        self._credentials = credentials
        self._sightings = sightings

    def segment(
        self,
        stream: TcpStream,
        direction: int,
        time: float,
        data: bytes,
        fields: Raw,
        *,
        registered: bool,
    ) -> tuple[str, ...]:
        """Read one segment's payload; returns the layers tshark would show above TCP.

        ``registered`` says the ports are HTTP's: elsewhere a stream is read only when
        it starts like HTTP, and its segments stay ``data`` in the hierarchy.
        """
        seq, start, end, seglen = fields[7], fields[9], fields[10], fields[11]
        side = direction >> 1
        reader = stream.app[side]
        if reader is None:
            if not registered and not data.startswith(HTTP_STARTS, start):
                return DATA
            reader = stream.app[side] = _Reader()
        elif not isinstance(reader, _Reader):
            return DATA if registered else ()
        expected = reader.next_seq
        reader.next_seq = (seq + seglen) & _SEQ_MASK
        if expected is not None:
            gap = (seq - expected) & _SEQ_MASK
            if 0 < gap < _SEQ_HALF:  # "previous segment not captured"
                _skip(reader, gap)
        payload = data[start:end]
        label = self._feed(reader, stream, direction, time, payload)
        missing = seglen - len(payload)
        if missing > 0 and reader.remaining:  # cut by the snap length: skip what is not there
            reader.remaining = max(reader.remaining - missing, 0)
            if not reader.remaining:
                label = self._complete(reader, time)
        if not registered:
            return DATA
        return label

    def _feed(
        self, reader: _Reader, stream: TcpStream, direction: int, time: float, payload: bytes
    ) -> tuple[str, ...]:
        """Walk the payload through the reader; the label of the last message completed."""
        label: tuple[str, ...] = ()
        position = 0
        size = len(payload)
        reader.carried = bool(reader.remaining or reader.chunked or reader.head)
        while position < size:
            if reader.remaining:
                take = min(reader.remaining, size - position)
                body = reader.body
                if body is not None and len(body) < MAX_FORM_BODY:
                    body += payload[position : position + take]
                reader.remaining -= take
                position += take
                if not reader.remaining:
                    label = self._completed(reader, time)
                continue
            if reader.chunked:
                position = self._chunks(reader, payload, position)
                if not reader.chunked:
                    label = self._completed(reader, time)
                continue
            head = reader.head
            if head is None and not payload.startswith(HTTP_STARTS, position):
                if label:
                    return label
                # a continuation of a stream that spoke HTTP, else not HTTP at all (tshark
                # then shows plain tcp)
                return HTTP if _spoke_http(stream) else ()
            head = head + payload[position:] if head else payload[position:]
            cut = head.find(b"\r\n\r\n")
            if cut < 0:
                if len(head) > MAX_HEAD:
                    reader.head = None
                    return label or HTTP
                reader.head = head
                return label
            position += cut + 4 - (len(reader.head) if reader.head else 0)
            reader.head = None
            self._message(reader, stream, direction, time, head[:cut])
            if not reader.remaining and not reader.chunked:
                label = self._completed(reader, time)
        return label

    def _completed(self, reader: _Reader, time: float) -> tuple[str, ...]:
        """A message ends in this segment; tshark marks it reassembled if it began earlier."""
        label = self._complete(reader, time)
        if reader.lost:  # a message with a hole: tshark's reassembly never completes it
            reader.lost = reader.carried = False
            return ()
        if reader.carried:
            reader.carried = False
            return _reassembled(label)
        return label

    def _chunks(self, reader: _Reader, payload: bytes, position: int) -> int:
        """Count off chunked body bytes; clears ``reader.chunked`` at the last chunk."""
        size = len(payload)
        while position < size:
            if reader.chunk_left:
                take = min(reader.chunk_left, size - position)
                reader.chunk_left -= take
                position += take
                continue
            newline = payload.find(b"\n", position)
            if newline < 0:
                reader.chunk_line = (reader.chunk_line + payload[position:])[-256:]
                return size
            line = (reader.chunk_line + payload[position:newline]).strip()
            reader.chunk_line = b""
            position = newline + 1
            if reader.trailer:
                if not line:
                    reader.chunked = reader.trailer = False
                    return position
                continue
            if not line:
                continue
            try:
                length = int(line.split(b";", 1)[0], 16)
            except ValueError:
                reader.chunked = False  # not chunked after all: end the message here
                return position
            if length == 0:
                reader.trailer = True
            else:
                reader.chunk_left = length + 2
        return position

    def _message(
        self, reader: _Reader, stream: TcpStream, direction: int, time: float, head: bytes
    ) -> None:
        """A complete header block: record the request or match the response."""
        reader.seen = True
        lines = head.split(b"\r\n")
        first = lines[0]
        headers: dict[bytes, bytes] = {}
        names = _HEADER_NAMES
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if colon:
                wanted = names.get(name, b"")
                if wanted == b"":
                    wanted = _wanted_header(name)
                if wanted is not None:
                    headers[wanted] = value.strip()
        try:
            length = int(headers.get(b"content-length", b"-1"))
        except ValueError:
            length = -1
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        content_type = _text(headers.get(b"content-type", b""))
        reader.label = HTTP
        reader.body = None
        reader.request = None
        if first.startswith(b"HTTP/"):
            body = self._response(stream, time, first, content_type)
            if not body:
                length, chunked = 0, False
            elif length < 0 and not chunked:
                length = 0  # read until the connection closes: the rest counts as body
        else:
            self._request(reader, stream, direction, time, _Head(first, headers, content_type))
            length = max(length, 0)
        if length > 0 or chunked:
            reader.label = media_label(content_type)
        reader.remaining = max(length, 0)
        reader.chunked = chunked

    def _request(
        self, reader: _Reader, stream: TcpStream, direction: int, time: float, head: _Head
    ) -> None:
        first, headers, content_type = head
        parts = first.split(b" ")
        if len(parts) < 3:
            return
        method, target = _text(parts[0]), _text(parts[1])
        host = _text(headers.get(b"host", b""))
        if direction:
            client, client_port, server, server_port = (
                stream.b,
                stream.bport,
                stream.a,
                stream.aport,
            )
        else:
            client, client_port, server, server_port = (
                stream.a,
                stream.aport,
                stream.b,
                stream.bport,
            )
        request = HttpRequest(
            time,
            stream.index,
            client,
            client_port,
            server,
            server_port,
            method,
            host,
            target,
            _text(headers.get(b"user-agent", b"")),
        )
        self.requests += 1
        self.methods[method] = self.methods.get(method, 0) + 1
        host_key = _HOST_KEYS.get(host) if host else format_address(server)
        if host_key is None:
            host_key = normalise_host(host)
            if len(_HOST_KEYS) >= 4096:
                _HOST_KEYS.clear()
            _HOST_KEYS[host] = host_key
        self.hosts[host_key] = self.hosts.get(host_key, 0) + 1
        if len(self.items) < self.limit:
            self.items.append(request)
        pending = self._pending.get(stream.index)
        if pending is None:
            pending = self._pending[stream.index] = deque(maxlen=256)
        pending.append(request)
        sightings = self._sightings
        if sightings.active:  # only for the threat report
            if host:
                sightings.host(host, "http", client, time)
            sightings.url(_normal_url(request.url), client, time)
        authorization = headers.get(b"authorization")
        query = target.partition("?")[2]
        if authorization is not None or query:
            self._secrets(stream, direction, request, authorization, query)
        if "x-www-form-urlencoded" in content_type.lower():
            reader.body = bytearray()
            reader.request = request

    def _secrets(
        self,
        stream: TcpStream,
        direction: int,
        request: HttpRequest,
        authorization: bytes | None,
        query: str,
    ) -> None:
        """Basic auth and password fields in the query string, to the credentials log."""
        credentials = self._credentials
        time = request.time
        url = request.url
        if authorization is not None:
            found = http_basic(_text(authorization))
            if found is not None:
                credentials.found(
                    stream,
                    direction == 0,
                    "HTTP Basic",
                    time,
                    username=found[0],
                    secret=found[1],
                    where=url,
                )
        if query:
            for user, secret, _field in form_secrets(query):
                credentials.found(
                    stream,
                    direction == 0,
                    "HTTP query",
                    time,
                    username=user,
                    secret=secret,
                    where=url,
                )

    def _response(self, stream: TcpStream, time: float, first: bytes, content_type: str) -> bool:
        """Match a status line to its request; returns whether a body may follow."""
        parts = first.split(b" ", 2)
        try:
            status = int(parts[1]) if len(parts) > 1 else 0
        except ValueError:
            status = 0
        if 100 <= status < 200:
            return False  # interim: the real response is still to come
        self.responses += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        pending = self._pending.get(stream.index)
        request = pending.popleft() if pending else None
        if pending is not None and not pending:
            del self._pending[stream.index]  # (bounded by the streams, but kept small)
        if request is not None:
            request.status = status
            request.reason = _text(parts[2]) if len(parts) > 2 else ""
            request.content_type = content_type
            request.response_time = time
            if request.method == "HEAD":
                return False
        return status not in _NO_BODY_STATUS

    def _complete(self, reader: _Reader, time: float) -> tuple[str, ...]:
        """A message ended in this segment: check a collected form body, give its label."""
        body, request = reader.body, reader.request
        reader.body = reader.request = None
        if body is not None and request is not None:
            stream_index = request.stream
            for user, secret, _field in form_secrets(body.decode("latin-1")):
                self._credentials.add(_form_credential(request, stream_index, time, user, secret))
        return reader.label


_SEQ_MASK: Final = 0xFFFFFFFF
_SEQ_HALF: Final = 0x80000000


def _skip(reader: _Reader, gap: int) -> None:
    """``gap`` bytes of this direction were not captured: count them off the current
    message (which then never completes), or, when they reach past its end, drop it so
    that the segment after the hole starts a new one, as tshark's reassembly does."""
    if reader.remaining > gap:
        reader.remaining -= gap
        reader.lost = True
        return
    reader.remaining = 0
    reader.chunked = reader.trailer = reader.lost = False
    reader.chunk_left = 0
    reader.chunk_line = b""
    reader.head = None
    reader.body = reader.request = None


def _form_credential(
    request: HttpRequest, stream: int, time: float, user: str | None, secret: str
) -> Credential:
    """The credential of a form post (built here: the request knows both sides)."""
    return Credential(
        "HTTP form",
        time,
        format_endpoint(request.client, request.client_port),
        format_endpoint(request.server, request.server_port),
        user,
        secret,
        stream,
        request.url,
    )


def _normal_url(url: str) -> str:
    """The URL as the blocklist stores them (lower-case scheme and host)."""
    return normalise_url(url) or url
