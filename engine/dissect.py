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
from engine.events import PacketSummary

MAX_CHILDREN = 200
"""Long repeated fields (options, DNS records) are cut here with a note."""
_PRINTABLE = frozenset(string.ascii_letters + string.digits + string.punctuation + " ")


@dataclass(frozen=True, slots=True)
class FieldNode:
    """A layer or a field in the detail tree; layers and nested packets have children."""

    label: str
    children: tuple[FieldNode, ...] = ()


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


def _field_nodes(layer: Any) -> Iterable[FieldNode]:
    """One node per field of a scapy layer; nested packets become subtrees."""
    packet_class = _scapy().Packet
    for field in layer.fields_desc:
        value = layer.getfieldval(field.name)
        if isinstance(value, packet_class):
            yield FieldNode(f"{field.name}", tuple(_layers(value)))
        elif isinstance(value, list) and value and isinstance(value[0], packet_class):
            children = [_item_node(item) for item in value[:MAX_CHILDREN]]
            if len(value) > MAX_CHILDREN:
                children.append(FieldNode(f"... {len(value) - MAX_CHILDREN} more"))
            yield FieldNode(f"{field.name} ({len(value)})", tuple(children))
        else:
            try:
                shown = field.i2repr(layer, value)
            except Exception:  # scapy's repr of odd values can fail; show the raw value
                shown = repr(value)
            yield FieldNode(f"{field.name}: {_one_line(str(shown))}")


def _item_node(item: Any) -> FieldNode:
    """One element of a list of records (DNS answers, options): its name and fields."""
    layers = tuple(_layers(item))
    if len(layers) == 1:
        return layers[0]
    return FieldNode(item.name, layers)


def _layers(packet: Any) -> Iterable[FieldNode]:
    """The chain of layers of a scapy packet, each with its fields."""
    layer = packet
    while layer is not None and layer.__class__.__name__ != "NoPayload":
        yield FieldNode(layer.name, tuple(_field_nodes(layer)))
        layer = layer.payload if layer.payload else None


def _one_line(text: str, limit: int = 300) -> str:
    """Field values as one safe line: control characters escaped, length capped."""
    cleaned = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"


def dissect(packet: PacketSummary, show_input: bool = False) -> PacketDetail:
    """The full layer tree and hex dump of one packet; never raises on odd bytes.

    ``show_input``: several inputs are read, so the frame says which one it came from.
    """
    fields = [
        FieldNode(f"Link type: {linktypes.name(packet.linktype)} ({packet.linktype})"),
        FieldNode(f"Timestamp: {packet.timestamp:.6f}"),
    ]
    if show_input and packet.source:
        fields.insert(0, FieldNode(f"Input: {_one_line(packet.source)} (frame.source)"))
    frame = FieldNode(
        f"Frame {packet.index}: {packet.length} bytes on wire, {packet.captured_length} captured",
        tuple(fields),
    )
    dump = hexdump_lines(packet.data)
    try:
        parsed = _layer_class(packet.linktype)(packet.data)
        layers = (frame, *_layers(parsed))
    except Exception as error:  # scapy raises many kinds on hostile bytes
        return PacketDetail(packet.index, (frame,), dump, f"scapy could not dissect it: {error}")
    return PacketDetail(packet.index, layers, dump)


def warm_up() -> None:
    """Import scapy ahead of the first selection (call from a background thread)."""
    _scapy()
