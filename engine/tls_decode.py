"""The HTTP/2 frames inside a TLS connection, decrypted by tshark with the run's key log.

livetap cannot decrypt TLS itself; tshark can, given the key log and the
connection's packets from its handshake on. :func:`decrypt_http2` runs tshark
once over one connection's packets (``-T json``) and returns every HTTP/2 frame
with the packet that carried it. :class:`Http2Frames` keeps the answers per
connection, so the packet list's Info column, ``g`` on a request and the
request's "on the wire" section all read one pass. Every pass is bounded
(:data:`MAX_PACKETS` packets of a connection, :data:`TIMEOUT` seconds) and is
meant to run off the UI thread.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from engine.dissector.tshark import find_tshark
from engine.errors import UnavailableError, from_os_error
from engine.events import PacketSummary
from engine.pcapio import PcapRecord, write_pcap_file

if TYPE_CHECKING:
    from engine.correlate import ConnectionFigures

TIMEOUT = 30.0
MAX_PACKETS = 5_000
"""Packets of one connection handed to tshark at most (its start: the handshake)."""
MAX_CONNECTIONS = 256
"""Connections whose frames are kept (the oldest are forgotten first)."""
FRAME_TYPES = {
    0: "DATA",
    1: "HEADERS",
    2: "PRIORITY",
    3: "RST_STREAM",
    4: "SETTINGS",
    5: "PUSH_PROMISE",
    6: "PING",
    7: "GOAWAY",
    8: "WINDOW_UPDATE",
    9: "CONTINUATION",
}


@dataclass(frozen=True, slots=True)
class H2Frame:
    """One decrypted HTTP/2 frame and the packet (ring index) whose TLS record carried it."""

    index: int
    timestamp: float
    stream: int
    kind: str
    """DATA, HEADERS, SETTINGS, RST_STREAM, GOAWAY, ..."""
    length: int = 0
    method: str = ""
    path: str = ""
    """``:path`` of a request's HEADERS (path and query)."""
    status: str = ""
    """``:status`` of a response's HEADERS."""
    authority: str = ""
    connection: int = -1
    """tshark's ``tcp.stream`` (which connection of the file), -1 when not known."""


def frame_label(frames: Sequence[H2Frame]) -> str:
    """What the Info column says of a TLS packet: ``HTTP/2 s1 HEADERS GET /x, s1 DATA``."""
    parts = []
    for frame in frames:
        text = f"s{frame.stream} {frame.kind}"
        if frame.method or frame.path:
            text += f" {frame.method} {frame.path}".rstrip()
        elif frame.status:
            text += f" {frame.status}"
        parts.append(text)
    return "HTTP/2 " + ", ".join(parts) if parts else ""


def _streams(value: Any) -> Iterator[dict[str, Any]]:
    """Every ``http2.stream`` object (a frame) in a packet's http2 layer(s)."""
    if isinstance(value, list):
        for item in value:
            yield from _streams(item)
    elif isinstance(value, dict):
        if "http2.type" in value:
            yield value
            return
        for key, item in value.items():
            if key == "http2.stream" or key.startswith("http2"):
                yield from _streams(item)


def _header(stream: dict[str, Any], name: str) -> str:
    """The value of a pseudo-header (``:path``) in a HEADERS frame's decoded header list."""
    headers = stream.get("http2.header", [])
    for header in headers if isinstance(headers, list) else [headers]:
        if isinstance(header, dict) and header.get("http2.header.name") == name:
            return str(header.get("http2.header.value", ""))
    return ""


def _frames_of(packet: dict[str, Any], indices: Sequence[int] | None) -> list[H2Frame]:
    """The HTTP/2 frames of one packet of tshark's JSON output."""
    layers = packet.get("_source", {}).get("layers", {})
    frame = layers.get("frame", {})
    try:
        number = int(frame.get("frame.number", 0))
        timestamp = float(frame.get("frame.time_epoch", 0.0))
    except (TypeError, ValueError):
        return []
    if indices is not None and not 1 <= number <= len(indices):
        return []
    index = indices[number - 1] if indices is not None else number
    try:
        connection = int(layers.get("tcp", {}).get("tcp.stream", -1))
    except (AttributeError, TypeError, ValueError):
        connection = -1
    found = []
    for stream in _streams(layers.get("http2", {})):
        try:
            kind = int(stream.get("http2.type", -1))
            stream_id = int(stream.get("http2.streamid", 0))
            length = int(stream.get("http2.length", 0))
        except (TypeError, ValueError):
            continue
        found.append(
            H2Frame(
                index,
                timestamp,
                stream_id,
                FRAME_TYPES.get(kind, f"type {kind}"),
                length,
                _header(stream, ":method"),
                _header(stream, ":path"),
                _header(stream, ":status"),
                _header(stream, ":authority"),
                connection,
            )
        )
    return found


def decrypt_http2(
    records: Sequence[PcapRecord],
    indices: Sequence[int],
    keys: Path,
    *,
    tshark: str | None = None,
) -> list[H2Frame]:
    """Every HTTP/2 frame tshark decrypts in one connection's packets (``indices``: theirs)."""
    with tempfile.TemporaryDirectory(prefix="livetap-tls-") as folder:
        capture = Path(folder) / "connection.pcapng"
        write_pcap_file(capture, records, fmt="pcapng")
        return http2_frames_in(capture, keys, indices, tshark=tshark)


def http2_frames_in(
    capture: Path,
    keys: Path | None,
    indices: Sequence[int] | None = None,
    *,
    tshark: str | None = None,
    timeout: float = TIMEOUT,
) -> list[H2Frame]:
    """The HTTP/2 frames tshark decrypts in a capture file (keys: a key log, or the file's DSB).

    ``indices`` renumber the file's frames (frame N is ``indices[N-1]``); without
    them a frame keeps its number in the file.
    """
    path = find_tshark(tshark)
    if path is None:
        raise UnavailableError("decrypting TLS needs tshark: install it (apt-get install tshark)")
    command = [path, "-n", "-r", str(capture), "-Y", "http2"]
    if keys is not None:
        command += ["-o", f"tls.keylog_file:{keys}"]
    command += ["-T", "json", "--no-duplicate-keys", "-J", "frame tcp http2"]
    try:
        result = subprocess.run(
            command, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        raise UnavailableError(f"tshark did not finish within {timeout:.0f} s") from None
    except OSError as error:
        raise from_os_error(error, f"run {path}") from None
    try:
        packets = json.loads(result.stdout or b"[]")
    except ValueError:
        return []
    frames: list[H2Frame] = []
    for packet in packets if isinstance(packets, list) else []:
        if isinstance(packet, dict):
            frames += _frames_of(packet, indices)
    return frames


def connection_key(packet: PacketSummary) -> tuple[str, int, str, int] | None:
    """Both ends of a TCP/UDP packet's connection, the same either way round."""
    if packet.sport is None or packet.dport is None:
        return None
    one, other = (packet.src, packet.sport), (packet.dst, packet.dport)
    low, high = sorted((one, other))
    return (low[0], low[1], high[0], high[1])


def request_stream(frames: Sequence[H2Frame], method: str, url: str, started: float) -> int | None:
    """The HTTP/2 stream that carried a request: its HEADERS name the same method and path.

    Of several (the same URL fetched twice), the one nearest in time to ``started``.
    """
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    matches = [
        frame
        for frame in frames
        if frame.kind == "HEADERS" and frame.path == target and frame.method in ("", method)
    ]
    if not matches:
        return None
    return min(matches, key=lambda frame: abs(frame.timestamp - started)).stream


class Http2Frames:
    """Decrypted HTTP/2 frames per connection (by its packets' ring indices), bounded.

    One tshark pass per connection and per change of its packets or keys; a pass
    for a connection already decrypted with the same packets is skipped.
    """

    def __init__(self, max_connections: int = MAX_CONNECTIONS) -> None:
        self._max = max_connections
        self._connections: OrderedDict[tuple[int, ...], list[H2Frame]] = OrderedDict()
        self._generations: dict[tuple[int, ...], int] = {}
        """How much key material each connection was decrypted with (more keys: again)."""
        self._labels: dict[int, str] = {}
        self._lock = threading.Lock()

    def known(self, indices: Sequence[int], generation: int = 0) -> list[H2Frame] | None:
        """The frames of a connection decrypted before (None: not yet, or with fewer keys)."""
        key = tuple(indices[:MAX_PACKETS])
        with self._lock:
            if self._generations.get(key, 0) < generation:
                return None
            return self._connections.get(key)

    def decrypt(
        self,
        records: Sequence[PcapRecord],
        indices: Sequence[int],
        keys: Path,
        *,
        tshark: str | None = None,
        generation: int = 0,
    ) -> list[H2Frame]:
        """The connection's frames (decrypting them now unless already known); any thread.

        ``generation`` grows with the key material (e.g. its size): a connection
        decrypted with less is decrypted again.
        """
        records, indices = records[:MAX_PACKETS], indices[:MAX_PACKETS]
        found = self.known(indices, generation)
        if found is not None:
            return found
        frames = decrypt_http2(records, indices, keys, tshark=tshark)
        by_packet: dict[int, list[H2Frame]] = {}
        for frame in frames:
            by_packet.setdefault(frame.index, []).append(frame)
        with self._lock:
            key = tuple(indices)
            for older in [k for k in self._connections if k and key and k[0] == key[0]]:
                self._forget(older)  # the same connection, fewer packets then
            self._connections[key] = frames
            self._generations[key] = generation
            self._labels.update((index, frame_label(group)) for index, group in by_packet.items())
            while len(self._connections) > self._max:
                self._forget(next(iter(self._connections)))
        return frames

    def _forget(self, key: tuple[int, ...]) -> None:
        """Drop one connection's frames and labels (the lock is held)."""
        self._generations.pop(key, None)
        for frame in self._connections.pop(key, []):
            self._labels.pop(frame.index, None)

    def by_first(self, index: int) -> list[H2Frame] | None:
        """The newest frames of the connection whose first packet is ``index`` (None: none)."""
        with self._lock:
            for key in reversed(self._connections):
                if key and key[0] == index:
                    return self._connections[key]
        return None

    def label(self, index: int) -> str:
        """The Info text for a packet whose TLS records carried HTTP/2 frames ("" if none)."""
        return self._labels.get(index, "")


RECENT = 20_000
"""Packets at the end of the ring a background pass looks through."""


class _Ring(Protocol):
    """What a pass reads of the packet ring (engine.ring.PacketRing)."""

    @property
    def first_index(self) -> int: ...

    @property
    def last_index(self) -> int: ...

    def get(self, index: int) -> PacketSummary | None: ...

    def record(self, index: int) -> PcapRecord | None: ...


def connections_to(
    ring: _Ring, endpoints: set[tuple[str, int]], window: int = RECENT, last: int | None = None
) -> dict[tuple[str, int, str, int], list[int]]:
    """The connections to any of ``endpoints`` among the newest ``window`` packets."""
    end = ring.last_index if last is None else min(last, ring.last_index)
    start = max(ring.first_index, end - window + 1)
    found: dict[tuple[str, int, str, int], list[int]] = {}
    for index in range(start, end + 1):
        packet = ring.get(index)
        if packet is None:
            continue
        if (packet.src, packet.sport) in endpoints or (packet.dst, packet.dport) in endpoints:
            key = connection_key(packet)
            if key is not None:
                found.setdefault(key, []).append(index)
    return found


def tls_endpoints(ring: _Ring, window: int = RECENT) -> set[tuple[str, int]]:
    """One end of each TLS connection among the newest ``window`` packets.

    Without a browser to name the servers (``-r FILE --keylog KEYS``). Which end is
    the server does not matter: :func:`connections_to` matches either end, and a
    client's address and port name its one connection only.
    """
    start = max(ring.first_index, ring.last_index - window + 1)
    found: set[tuple[str, int]] = set()
    for index in range(start, ring.last_index + 1):
        packet = ring.get(index)
        if packet is not None and packet.protocol == "TLS" and packet.sport is not None:
            found.add((packet.src, packet.sport))
    return found


def connection_of(ring: _Ring, index: int, window: int = RECENT) -> list[int]:
    """The packets of the connection of packet ``index``, up to it (the newest ``window``)."""
    packet = ring.get(index)
    if packet is None or packet.sport is None or packet.dport is None:
        return []
    ends = {(packet.src, packet.sport), (packet.dst, packet.dport)}
    key = connection_key(packet)
    found = connections_to(ring, ends, window, last=index)
    return found.get(key, []) if key is not None else []


def records_of(ring: _Ring, indices: Sequence[int]) -> tuple[list[PcapRecord], list[int]]:
    """The captured records of these packets (those still in the ring) and their indices."""
    records, kept = [], []
    for index in indices:
        record = ring.record(index)
        if record is not None:
            records.append(record)
            kept.append(index)
    return records, kept


def with_stream(
    figures: ConnectionFigures, frames: Sequence[H2Frame], method: str, url: str, started: float
) -> ConnectionFigures:
    """The connection's figures narrowed to the request's own HTTP/2 stream, when it is found."""
    stream = request_stream(frames, method, url, started)
    if stream is None:
        return figures
    own = tuple(frame for frame in frames if frame.stream == stream)
    return replace(figures, stream=stream, frames=own)


def decrypt_pass(
    frames: Http2Frames,
    ring: _Ring,
    endpoints: set[tuple[str, int]],
    keys: Path,
    generation: int = 0,
) -> int:
    """Decrypt the recent connections to ``endpoints`` not yet decrypted (or decrypted with
    less key material than ``generation``); how many were decrypted now."""
    done = 0
    for indices in connections_to(ring, endpoints).values():
        records, kept = records_of(ring, indices[:MAX_PACKETS])
        if not kept or frames.known(kept, generation) is not None:
            continue
        frames.decrypt(records, kept, keys, generation=generation)
        done += 1
    return done
