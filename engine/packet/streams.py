"""Fields that depend on earlier packets: stream numbers, relative sequence numbers, TCP analysis.

Wireshark numbers each TCP and UDP conversation in order of first appearance
(``tcp.stream``, ``udp.stream``), shows sequence numbers relative to each side's first
one, and flags segments that look retransmitted, lost, out of order, duplicate
acknowledgements, zero windows and keep-alives (``tcp.analysis.*``). None of that can
be read from one frame alone, so a :class:`StreamTracker` is fed the frames in order and
answers, for each one, a :class:`FrameAnalysis`.

The TCP rules follow ``tcp_analyze_sequence_number`` in Wireshark's
``epan/dissectors/packet-tcp.c`` check by check and in its order (see
:mod:`engine.packet.tcp_analysis`); the results are checked against tshark 4.0 by the
tests. A tracker's memory is its conversations: :meth:`StreamTracker.forget_before`
drops those not seen since a frame number (a live view calls it as the ring evicts).
"""

from __future__ import annotations

from typing import NamedTuple

from engine.packet.model import Packet
from engine.packet.tcp_analysis import TcpConversation, TcpFrame, tcp_options_window_scale

__all__ = ["FrameAnalysis", "StreamTracker", "TcpFrame"]

Endpoint = tuple[bytes, int]
"""An address (4 or 16 bytes) and a port."""


class FrameAnalysis(NamedTuple):
    """What earlier frames say about this one (a tuple: made for every packet observed)."""

    tcp: TcpFrame | None
    """The TCP fields (stream, relative numbers, analysis flags); None without TCP."""
    udp_streams: tuple[int, ...]
    """``udp.stream`` of each UDP header (a tunnel's outer one first)."""


NOTHING = FrameAnalysis(None, ())


class _UdpConversation:
    __slots__ = ("last", "stream")

    def __init__(self, stream: int, last: int) -> None:
        self.stream = stream
        self.last = last


def _key(a: Endpoint, b: Endpoint) -> tuple[Endpoint, Endpoint]:
    return (a, b) if a <= b else (b, a)


class StreamTracker:
    """Conversations seen so far, fed frames in capture order, one at a time."""

    def __init__(self) -> None:
        self._tcp: dict[tuple[Endpoint, Endpoint], TcpConversation] = {}
        self._udp: dict[tuple[Endpoint, Endpoint], _UdpConversation] = {}
        self.tcp_streams = 0
        """How many TCP streams were numbered (the next one's number)."""
        self.udp_streams = 0

    def observe(self, number: int, timestamp: float, packet: Packet) -> FrameAnalysis:
        """Frame ``number`` (its successor must come next): its stateful fields."""
        layers = packet.layers
        plain = layers.fragment is None and layers.family
        udp = self._udp_streams(number, packet) if layers.outer or layers.proto in (17, -2) else ()
        if layers.proto != 6 or not plain or layers.sport < 0:
            return FrameAnalysis(None, udp) if udp else NOTHING
        half = len(layers.pair) // 2
        src = (layers.pair[:half], layers.sport)
        dst = (layers.pair[half:], layers.dport)
        key = _key(src, dst)
        conversation = self._tcp.get(key)
        flags = layers.flags
        reused = False
        if conversation is not None and flags & 0x12 == 0x02:
            reused = conversation.reused_by(src, layers.seq)
        if conversation is None or reused:
            conversation = self._tcp[key] = TcpConversation(self.tcp_streams, key[0])
            self.tcp_streams += 1
        start = layers.l4
        data = packet.data
        scale = (
            tcp_options_window_scale(data, start + 20, layers.start)
            if layers.start > start + 20
            else None
        )
        frame = conversation.segment(
            number,
            timestamp,
            src,
            layers,
            window=data[start + 14] << 8 | data[start + 15],
            window_scale=scale,
            reused=reused,
        )
        return FrameAnalysis(frame, udp)

    def _udp_streams(self, number: int, packet: Packet) -> tuple[int, ...]:
        """Each UDP header's stream: a tunnel's outer ones, then the innermost."""
        layers = packet.layers
        headers: list[tuple[bytes, int, int]] = [
            (outer.pair, outer.sport, outer.dport) for outer in layers.outer if outer.sport >= 0
        ]
        if layers.sport >= 0 and (packet.transport() == 17 or layers.proto == -2):
            headers.append((layers.pair, layers.sport, layers.dport))
        if not headers:
            return ()
        found = []
        for pair, sport, dport in headers:
            half = len(pair) // 2
            key = _key((pair[:half], sport), (pair[half:], dport))
            conversation = self._udp.get(key)
            if conversation is None:
                conversation = self._udp[key] = _UdpConversation(self.udp_streams, number)
                self.udp_streams += 1
            conversation.last = number
            found.append(conversation.stream)
        return tuple(found)

    def forget_before(self, number: int) -> int:
        """Drop conversations whose last frame is older than ``number``; how many went.

        A conversation seen again afterwards is a new one with a new stream number
        (Wireshark, which keeps every conversation of a file, would give the old one).
        """
        gone = 0
        for table in (self._tcp, self._udp):
            old = [key for key, value in table.items() if value.last < number]
            for key in old:
                del table[key]
            gone += len(old)
        return gone

    def __len__(self) -> int:
        """Conversations held."""
        return len(self._tcp) + len(self._udp)
