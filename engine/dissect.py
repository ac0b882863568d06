"""Full dissection of one selected packet, by scapy, into a plain tree and a hex dump.

Only the packet a user selects comes here (scapy needs ~170 µs a packet, the
list's decoder 0.5 µs). The result holds strings only, so the UI never touches
a scapy object.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from engine import linktypes
from engine.detail_fields import DetailFields
from engine.display_filter.prepare import quote
from engine.events import PacketSummary
from engine.packet.streams import FrameAnalysis
from engine.packet.tcp_analysis import FLAG_FIELDS

MAX_CHILDREN = 200
"""Long repeated fields (options, DNS records) are cut here with a note."""
_PRINTABLE = frozenset(string.ascii_letters + string.digits + string.punctuation + " ")


@dataclass(frozen=True, slots=True)
class FieldNode:
    """A layer or a field in the detail tree; layers and nested packets have children."""

    label: str
    children: tuple[FieldNode, ...] = ()
    field: str = ""
    """The display-filter field it shows (``ip.src``, ``tcp``), when the filter knows it."""
    value: str = ""
    """That field's value here as a filter literal (``10.0.0.5``); "" for a protocol."""
    span: tuple[int, int] | None = None
    """Where its bytes lie in the frame (start, length): the hex dump highlights them."""

    @property
    def filter(self) -> str:
        """The display filter that selects packets with this field's value ("" for none)."""
        if not self.field:
            return ""
        return f"{self.field} == {self.value}" if self.value else self.field


@dataclass(frozen=True, slots=True)
class PacketDetail:
    """What the detail pane shows for one packet."""

    index: int
    layers: tuple[FieldNode, ...]
    hexdump: tuple[str, ...]
    error: str | None = None
    """Set when scapy could not dissect the packet; the hex dump is still there."""


@cache
def _scapy() -> Any:
    """Import scapy's layers once, on first use (about a second)."""
    import scapy.all

    return scapy.all


def _layer_class(linktype: int) -> Any:
    """The scapy class that dissects frames of this link type."""
    scapy = _scapy()
    linktype = linktypes.normalise(linktype)
    if linktype in (linktypes.RAW, linktypes.IPV4, linktypes.IPV6):
        return scapy.IP if linktype != linktypes.IPV6 else scapy.IPv6
    return scapy.conf.l2types.get(linktype, scapy.conf.raw_layer)


def hexdump_lines(data: bytes) -> tuple[str, ...]:
    """Offset, 16 bytes in hex and their printable characters, per line."""
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset : offset + 16]
        hex_part = " ".join(f"{b:02x}" for b in chunk[:8])
        if len(chunk) > 8:
            hex_part += "  " + " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if chr(b) in _PRINTABLE else "." for b in chunk)
        lines.append(f"{offset:04x}  {hex_part:<49} {text}")
    return tuple(lines)


def _field_nodes(layer: Any, refs: DetailFields | None, occurrence: int) -> Iterable[FieldNode]:
    """One node per field of a scapy layer; nested packets become subtrees."""
    packet_class = _scapy().Packet
    for field in layer.fields_desc:
        value = layer.getfieldval(field.name)
        if isinstance(value, packet_class):
            yield FieldNode(f"{field.name}", tuple(_layers(value, refs)))
        elif isinstance(value, list) and value and isinstance(value[0], packet_class):
            children = [_item_node(item, refs) for item in value[:MAX_CHILDREN]]
            if len(value) > MAX_CHILDREN:
                children.append(FieldNode(f"... {len(value) - MAX_CHILDREN} more"))
            yield FieldNode(f"{field.name} ({len(value)})", tuple(children))
        else:
            try:
                shown = field.i2repr(layer, value)
            except Exception:  # scapy's repr of odd values can fail; show the raw value
                shown = repr(value)
            label = f"{field.name}: {_one_line(str(shown))}"
            ref = refs.field(layer, occurrence, field.name, value) if refs is not None else None
            if ref is None:
                yield FieldNode(label)
            else:
                yield FieldNode(label, (), ref.field, ref.value, ref.span)


def _item_node(item: Any, refs: DetailFields | None) -> FieldNode:
    """One element of a list of records (DNS answers, options): its name and fields."""
    layers = tuple(_layers(item, refs))
    if len(layers) == 1:
        return layers[0]
    return FieldNode(item.name, layers)


def _layers(packet: Any, refs: DetailFields | None = None) -> Iterable[FieldNode]:
    """The chain of layers of a scapy packet, each with its fields (and, with ``refs``,
    the display-filter field and bytes of each)."""
    layer = packet
    while layer is not None and layer.__class__.__name__ != "NoPayload":
        ref, occurrence = refs.layer(layer) if refs is not None else (None, 0)
        fields = tuple(_field_nodes(layer, refs, occurrence))
        if ref is None:
            yield FieldNode(layer.name, fields)
        else:
            yield FieldNode(layer.name, fields, ref.field, "", ref.span)
        layer = layer.payload if layer.payload else None


def _one_line(text: str, limit: int = 300) -> str:
    """Field values as one safe line: control characters escaped, length capped."""
    cleaned = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"


def stream_nodes(analysis: FrameAnalysis | None) -> tuple[FieldNode, ...]:
    """What earlier packets say about this one: stream numbers, relative numbers, notes."""
    if analysis is None:
        return ()
    nodes = [
        FieldNode(f"UDP stream index: {stream}", (), "udp.stream", str(stream))
        for stream in analysis.udp_streams
    ]
    tcp = analysis.tcp
    if tcp is not None:
        nodes += [
            FieldNode(f"TCP stream index: {tcp.stream}", (), "tcp.stream", str(tcp.stream)),
            FieldNode(f"Sequence number (relative): {tcp.seq}", (), "tcp.seq", str(tcp.seq)),
            FieldNode(
                f"Next sequence number (relative): {tcp.nxtseq}", (), "tcp.nxtseq", str(tcp.nxtseq)
            ),
            FieldNode(f"Acknowledgment number (relative): {tcp.ack}", (), "tcp.ack", str(tcp.ack)),
            FieldNode(
                f"Calculated window size: {tcp.window_size}",
                (),
                "tcp.window_size",
                str(tcp.window_size),
            ),
        ]
        notes = tcp.info_prefix().strip()
        if notes:
            flags = tuple(
                FieldNode(f"tcp.analysis.{name}", (), f"tcp.analysis.{name}")
                for name, mask in FLAG_FIELDS.items()
                if tcp.flags & mask
            )
            nodes.append(FieldNode(f"SEQ/ACK analysis: {notes}", flags, "tcp.analysis.flags"))
    return (FieldNode("Stream analysis (Wireshark's tcp.stream, tcp.analysis)", tuple(nodes)),)


def dissect(
    packet: PacketSummary, show_input: bool = False, analysis: FrameAnalysis | None = None
) -> PacketDetail:
    """The full layer tree and hex dump of one packet; never raises on odd bytes.

    ``show_input``: several inputs are read, so the frame says which one it came from.
    ``analysis`` (from the buffer's :class:`~engine.ring_analysis.RingAnalysis`) adds the
    stream numbers, relative sequence numbers and TCP analysis notes under the frame.
    """
    fields = [
        FieldNode(f"Link type: {linktypes.name(packet.linktype)} ({packet.linktype})"),
        FieldNode(f"Timestamp: {packet.timestamp:.6f}"),
        *stream_nodes(analysis),
    ]
    if show_input and packet.source:
        source = FieldNode(
            f"Input: {_one_line(packet.source)} (frame.source)",
            (),
            "frame.source",
            quote(packet.source),
        )
        fields.insert(0, source)
    frame = FieldNode(
        f"Frame {packet.index}: {packet.length} bytes on wire, {packet.captured_length} captured",
        tuple(fields),
        "frame.number",
        str(packet.index),
        (0, len(packet.data)),
    )
    dump = hexdump_lines(packet.data)
    try:
        parsed = _layer_class(packet.linktype)(packet.data)
        layers = (frame, *_layers(parsed, DetailFields(packet)))
    except Exception as error:  # scapy raises many kinds on hostile bytes
        return PacketDetail(packet.index, (frame,), dump, f"scapy could not dissect it: {error}")
    return PacketDetail(packet.index, layers, dump)


def warm_up() -> None:
    """Import scapy ahead of the first selection (call from a background thread)."""
    _scapy()
