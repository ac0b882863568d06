"""Which captured packets carried a browser request: the correlation no other tool shows.

A response names its server's address and port (``remoteIPAddress``,
``remotePort``). Among the TCP connections to that endpoint in the packet
buffer, the request's connection is the one carrying its request line (plain
HTTP), or else the one active when the request was made. The connection's
figures come from its packets: handshake round trip, retransmissions, bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.events import PacketSummary
from engine.packet import walk
from engine.tls_decode import H2Frame

if TYPE_CHECKING:
    from engine.process.procfs import ProcessInfo

TCP_SYN, TCP_ACK = 0x02, 0x10


@dataclass(frozen=True, slots=True)
class TcpSegment:
    """The TCP fields correlation needs, read from a frame's bytes."""

    flags: int
    seq: int
    payload: bytes


def tcp_segment(packet: PacketSummary) -> TcpSegment | None:
    """The TCP header and payload of a packet (read by the packet model), or None."""
    layers = walk(packet.linktype, packet.data)
    if layers.proto != 6 or layers.sport < 0 or layers.fragment is not None:
        return None
    return TcpSegment(layers.flags, layers.seq, packet.data[layers.start : layers.end])


@dataclass(frozen=True, slots=True)
class ConnectionFigures:
    """One TCP connection between the browser and a server, as seen on the wire."""

    remote_ip: str
    remote_port: int
    local_ip: str
    local_port: int
    packets: tuple[int, ...]
    """Packet indices, in capture order."""
    handshake_rtt: float | None
    """Seconds from the SYN to the SYN/ACK, when the handshake is in the buffer."""
    retransmissions: int
    bytes_sent: int
    bytes_received: int
    carries_request: bool = False
    stream: int | None = None
    """The request's HTTP/2 stream, when the connection was decrypted (a key log)."""
    frames: tuple[H2Frame, ...] = ()
    """That stream's decrypted frames, in order."""

    @property
    def stream_packets(self) -> tuple[int, ...]:
        """The packets carrying the request's own stream (all of the connection's if unknown)."""
        if not self.frames:
            return self.packets
        return tuple(sorted({frame.index for frame in self.frames}))

    process: ProcessInfo | None = None
    """The local process of the browser's end (Chromium's network service), when the
    capture tied its packets to programs."""


def _belongs(packet: PacketSummary, ip: str, port: int) -> str | None:
    """The local port of a packet to or from ip:port (as a key), or None."""
    if packet.src == ip and packet.sport == port and packet.dport is not None:
        return f"{packet.dst}:{packet.dport}"
    if packet.dst == ip and packet.dport == port and packet.sport is not None:
        return f"{packet.src}:{packet.sport}"
    return None


def find_connection(
    packets: Iterable[PacketSummary],
    remote_ip: str,
    remote_port: int,
    started: float,
    request_line: bytes = b"",
) -> ConnectionFigures | None:
    """The connection that most likely carried a request made at ``started`` (epoch seconds)."""
    groups: dict[str, list[PacketSummary]] = {}
    for packet in packets:
        key = _belongs(packet, remote_ip, remote_port)
        if key is not None:
            groups.setdefault(key, []).append(packet)
    if not groups:
        return None
    figures = [_figures(group, remote_ip, remote_port, request_line) for group in groups.values()]
    with_request = [f for f in figures if f.carries_request]
    if len(with_request) == 1:
        return with_request[0]
    candidates = with_request or figures
    by_key = {f"{f.local_ip}:{f.local_port}": f for f in candidates}
    return by_key[min(by_key, key=lambda key: _distance(groups[key], started))]


def _distance(group: list[PacketSummary], started: float) -> float:
    """0 when the connection was open at ``started``, else how far outside it was."""
    first, last = group[0].timestamp, group[-1].timestamp
    if first <= started + 0.5 and last >= started - 0.5:
        return 0.0
    return min(abs(first - started), abs(last - started))


def _figures(
    group: list[PacketSummary], ip: str, port: int, request_line: bytes
) -> ConnectionFigures:
    """Count what one connection's packets show."""
    local = _belongs(group[0], ip, port) or ":0"
    local_ip, _, local_port = local.rpartition(":")
    syn_time: float | None = None
    rtt: float | None = None
    seen: set[tuple[bool, int, int]] = set()
    retransmissions = sent = received = 0
    carries = False
    for packet in group:
        outgoing = not (packet.src == ip and packet.sport == port)
        if outgoing:
            sent += packet.length
        else:
            received += packet.length
        segment = tcp_segment(packet)
        if segment is None:
            continue
        if segment.flags & TCP_SYN and not segment.flags & TCP_ACK and outgoing:
            syn_time = packet.timestamp
        elif (
            segment.flags & TCP_SYN
            and segment.flags & TCP_ACK
            and syn_time is not None
            and rtt is None
        ):
            rtt = packet.timestamp - syn_time
        if segment.payload:
            key = (outgoing, segment.seq, len(segment.payload))
            if key in seen:
                retransmissions += 1
            seen.add(key)
            if outgoing and request_line and segment.payload.startswith(request_line):
                carries = True
    return ConnectionFigures(
        remote_ip=ip,
        remote_port=port,
        local_ip=local_ip,
        local_port=int(local_port),
        packets=tuple(p.index for p in group),
        handshake_rtt=rtt,
        retransmissions=retransmissions,
        bytes_sent=sent,
        bytes_received=received,
        carries_request=carries,
    )


def request_line(method: str, url: str) -> bytes:
    """The HTTP/1.x request line prefix a plain-HTTP request starts with on the wire."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme != "http":
        return b""
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return f"{method} {target} HTTP/1.".encode("latin-1", "replace")
