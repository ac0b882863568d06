"""Expert info: the packets with warnings and errors, grouped as Wireshark groups them.

Wireshark's dissectors attach *expert items* to frames (a severity, a group, a protocol
and a summary) and ``tshark -q -z expert`` or the Expert Information dialog count them
by summary within each severity. livetap makes the items it knows from the packet model
and the stream analysis (:mod:`engine.packet.streams`), with Wireshark's words, so the
counts agree with tshark's for these items (tests/test_expert.py compares them):

- TCP analysis (``tcp.analysis.*``): retransmissions, out-of-order segments, lost and
  ACKed-unseen segments, duplicate ACKs, zero windows, window full/update, keep-alives,
  reused ports;
- TCP connection events: SYN, SYN+ACK, FIN (chats) and RST (a warning);
- malformed DNS over UDP port 53: a message whose questions or records run past its end
  (tshark's "Malformed Packet (Exception occurred)").

Not made (Wireshark has them): the connection-closing notes (which side initiated the
close), checksum errors (Wireshark does not check checksums by default either), and the
items of protocols the model does not dissect (HTTP chats, TLS alerts, ...).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from engine.packet.app import Malformed, skip_dns_name
from engine.packet.model import Packet
from engine.packet.streams import FrameAnalysis
from engine.packet.structs import DNS, U16
from engine.packet.tcp_analysis import (
    ACK_LOST_PACKET,
    DUPLICATE_ACK,
    FAST_RETRANSMISSION,
    KEEP_ALIVE,
    KEEP_ALIVE_ACK,
    LOST_PACKET,
    OUT_OF_ORDER,
    RETRANSMISSION,
    REUSED_PORTS,
    SPURIOUS_RETRANSMISSION,
    WINDOW_FULL,
    WINDOW_UPDATE,
    ZERO_WINDOW,
    ZERO_WINDOW_PROBE,
    ZERO_WINDOW_PROBE_ACK,
)
from engine.ring_analysis import Buffer

ERROR, WARNING, NOTE, CHAT = "Error", "Warning", "Note", "Chat"
SEVERITIES = (ERROR, WARNING, NOTE, CHAT)
"""Most severe first, as Wireshark lists them."""

_ANALYSIS: tuple[tuple[int, str, str], ...] = (
    (
        RETRANSMISSION | FAST_RETRANSMISSION | SPURIOUS_RETRANSMISSION,
        NOTE,
        "This frame is a (suspected) retransmission",  # fast and spurious ones too
    ),
    (FAST_RETRANSMISSION, NOTE, "This frame is a (suspected) fast retransmission"),
    (SPURIOUS_RETRANSMISSION, NOTE, "This frame is a (suspected) spurious retransmission"),
    (OUT_OF_ORDER, WARNING, "This frame is a (suspected) out-of-order segment"),
    (
        REUSED_PORTS,
        NOTE,
        "A new tcp session is started with the same ports as an earlier session in this trace",
    ),
    (LOST_PACKET, WARNING, "Previous segment(s) not captured (common at capture start)"),
    (ACK_LOST_PACKET, WARNING, "ACKed segment that wasn't captured (common at capture start)"),
    (WINDOW_UPDATE, CHAT, "TCP window update"),
    (WINDOW_FULL, WARNING, "TCP window specified by the receiver is now completely full"),
    (KEEP_ALIVE, NOTE, "TCP keep-alive segment"),
    (KEEP_ALIVE_ACK, NOTE, "ACK to a TCP keep-alive segment"),
    (ZERO_WINDOW_PROBE, NOTE, "TCP Zero Window Probe"),
    (ZERO_WINDOW, WARNING, "TCP Zero Window segment"),
    (ZERO_WINDOW_PROBE_ACK, NOTE, "ACK to a TCP Zero Window Probe"),
)
"""Each TCP analysis flag's expert item in packet-tcp.c (severity, summary)."""
_DNS_PORT = 53
_DNS_RECORDS_READ = 4096
"""Records checked at most per message (each is at least one byte, so the payload ends
the loop first in practice)."""


@dataclass(frozen=True, slots=True)
class ExpertItem:
    """One expert item of a frame: how bad, what kind, which protocol, what it says."""

    severity: str
    group: str
    protocol: str
    summary: str


def frame_items(packet: Packet, analysis: FrameAnalysis | None) -> list[ExpertItem]:
    """The expert items livetap knows for one frame (its stream analysis, if tracked)."""
    items: list[ExpertItem] = []
    tcp = analysis.tcp if analysis is not None else None
    if tcp is not None and tcp.flags:
        for bit, severity, summary in _ANALYSIS:
            if tcp.flags & bit:
                items.append(ExpertItem(severity, "Sequence", "TCP", summary))
        if tcp.flags & DUPLICATE_ACK:
            summary = f"Duplicate ACK (#{tcp.dupack_num})"
            items.append(ExpertItem(NOTE, "Sequence", "TCP", summary))
    if packet.tcp_header() >= 0:
        items.extend(_connection_items(packet))
    if _malformed_dns(packet):
        items.append(ExpertItem(ERROR, "Malformed", "DNS", "Malformed Packet (Exception occurred)"))
    return items


def _connection_items(packet: Packet) -> Iterator[ExpertItem]:
    """SYN, SYN+ACK and FIN (chats) and RST (a warning), as packet-tcp.c adds them."""
    layers = packet.layers
    flags = layers.flags
    if flags & 0x02:
        if flags & 0x10:
            summary = f"Connection establish acknowledge (SYN+ACK): server port {layers.sport}"
        else:
            summary = f"Connection establish request (SYN): server port {layers.dport}"
        yield ExpertItem(CHAT, "Sequence", "TCP", summary)
    if flags & 0x01:
        yield ExpertItem(CHAT, "Sequence", "TCP", "Connection finish (FIN)")
    if flags & 0x04:
        yield ExpertItem(WARNING, "Sequence", "TCP", "Connection reset (RST)")


def _malformed_dns(packet: Packet) -> bool:
    """A DNS message over UDP port 53 whose header, questions or records run past its end."""
    ports = packet.ports()
    if packet.transport() != 17 or ports is None or _DNS_PORT not in ports:
        return False
    payload = packet.payload()
    if not payload:
        return False
    if len(payload) < 12:
        return True
    _ident, _flags, questions, answers = DNS(payload, 0)
    others = U16(payload, 8)[0] + U16(payload, 10)[0]
    end = len(payload)
    try:
        position = 12
        for _ in range(min(questions, _DNS_RECORDS_READ)):
            position = skip_dns_name(payload, position, end) + 4
            if position > end:
                return True
        for _ in range(min(answers + others, _DNS_RECORDS_READ)):
            position = skip_dns_name(payload, position, end)
            if position + 10 > end:
                return True
            position += 10 + U16(payload, position + 8)[0]
            if position > end:
                return True
    except Malformed:
        return True
    return False


class Analysis(Protocol):
    """Each buffered packet's stream analysis (the ring's one RingAnalysis)."""

    def analysis_of(self, index: int) -> FrameAnalysis | None: ...


@dataclass(slots=True)
class ExpertGroup:
    """The frames that have one item (same severity, protocol and summary)."""

    item: ExpertItem
    frames: list[int] = field(default_factory=list)


@dataclass(slots=True)
class ExpertInfo:
    """Every item found, grouped by severity then summary, with the frames of each."""

    groups: dict[ExpertItem, ExpertGroup] = field(default_factory=dict)
    packets: int = 0
    """Packets looked through."""

    def add(self, number: int, items: list[ExpertItem]) -> None:
        """Frame ``number``'s items."""
        for item in items:
            group = self.groups.get(item)
            if group is None:
                group = self.groups[item] = ExpertGroup(item)
            if not group.frames or group.frames[-1] != number:
                group.frames.append(number)

    def by_severity(self) -> list[tuple[str, list[ExpertGroup]]]:
        """Each severity with its groups (most frames first), most severe first."""
        found = []
        for severity in SEVERITIES:
            groups = [g for g in self.groups.values() if g.item.severity == severity]
            if groups:
                groups.sort(key=lambda g: (-len(g.frames), g.item.summary))
                found.append((severity, groups))
        return found

    def counts(self) -> dict[tuple[str, str, str], int]:
        """(severity, protocol, summary) → frames, as ``tshark -q -z expert`` counts."""
        return {
            (g.item.severity, g.item.protocol, g.item.summary): len(g.frames)
            for g in self.groups.values()
        }


def expert_info(buffer: Buffer, analysis: Analysis, limit: int | None = None) -> ExpertInfo:
    """The expert items of the buffered packets (the newest ``limit`` of them at most)."""
    info = ExpertInfo()
    first = buffer.first_index
    last = buffer.last_index
    if limit is not None:
        first = max(first, last - limit + 1)
    for number in range(first, last + 1):
        record = buffer.record(number)
        if record is None:
            continue
        info.packets += 1
        packet = Packet(record.linktype, record.data)
        info.add(number, frame_items(packet, analysis.analysis_of(number)))
    return info
