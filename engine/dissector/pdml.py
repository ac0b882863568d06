"""Reading tshark's PDML (``-T pdml``) output packet by packet, in bounded memory.

PDML carries what the checker and the detail pane need and ``-T fields``
lacks: every item's label (``showname``), which items sit under our
protocol, expert infos with their message, and Lua errors. Packet text can hold
bytes XML forbids, so each line is cleaned before the parser sees it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

_BAD_REFERENCE = re.compile(
    r"&#(x0*[0-8bBcCeEfF]|x0*1[0-9a-fA-F]|0*(?:[0-8]|1[124-9]|2[0-9]|3[01]));"
)
_BAD_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
CHUNK_LINES = 256


def _clean(line: str) -> str:
    """A PDML line with the characters XML 1.0 forbids replaced by '?'."""
    return _BAD_CHARACTER.sub("?", _BAD_REFERENCE.sub("?", line))


def packets(stream: IO[bytes]) -> Iterator[ET.Element]:
    """Each ``<packet>`` element of a PDML stream, complete, then discarded."""
    reader = _PacketReader()
    pending: list[str] = []
    for raw in stream:
        pending.append(_clean(raw.decode("utf-8", "replace")))
        if len(pending) >= CHUNK_LINES:
            yield from reader.feed("".join(pending))
            pending.clear()
    yield from reader.feed("".join(pending))
    reader.close()


class _PacketReader:
    """An XML pull parser that hands out whole packets and then forgets them."""

    def __init__(self) -> None:
        self.parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        self.root: ET.Element | None = None

    def feed(self, text: str) -> Iterator[ET.Element]:
        self.parser.feed(text)
        for item in self.parser.read_events():
            if not isinstance(item, tuple) or len(item) != 2:
                continue
            event, element = item
            if not isinstance(element, ET.Element):
                continue
            if event == "start":
                if self.root is None:
                    self.root = element
                continue
            if element.tag == "packet":
                yield element
                element.clear()
                if self.root is not None:
                    del self.root[:]

    def close(self) -> None:
        self.parser.close()


def parse_packet(text: bytes) -> ET.Element:
    """One whole ``<packet>...</packet>`` of PDML as an element (raises ``ET.ParseError``)."""
    cleaned = "".join(_clean(line) for line in text.decode("utf-8", "replace").splitlines(True))
    return ET.fromstring(cleaned)


def read_packets(path: Path) -> Iterator[ET.Element]:
    """Each packet of a PDML file."""
    with path.open("rb") as stream:
        yield from packets(stream)


def frame_number(packet: ET.Element) -> int | None:
    """The packet's frame number (from the ``geninfo`` block)."""
    for proto in packet.iter("proto"):
        if proto.get("name") == "geninfo":
            for item in proto.iter("field"):
                if item.get("name") == "num":
                    try:
                        return int(item.get("show", ""))
                    except ValueError:
                        return None
    return None


def protocol_trees(packet: ET.Element, protocol: str) -> list[ET.Element]:
    """The ``<proto>`` elements of one protocol in a packet (several for TCP messages)."""
    return [proto for proto in packet.iter("proto") if proto.get("name") == protocol]


def field_names(trees: Iterable[ET.Element]) -> set[str]:
    """Every field name that appears under the given trees."""
    return {item.get("name", "") for tree in trees for item in tree.iter("field")}


def label(element: ET.Element) -> str:
    """What Wireshark shows for an item: its showname, else its show text."""
    return element.get("showname") or element.get("show") or element.get("name") or ""


def expert_items(trees: Iterable[ET.Element]) -> Iterator[tuple[str, str, str]]:
    """(severity, group, message) of each expert info under the trees."""
    for tree in trees:
        for item in tree.iter("field"):
            if item.get("name") != "_ws.expert":
                continue
            parts = {child.get("name", ""): child for child in item}
            message = parts.get("_ws.expert.message")
            severity = parts.get("_ws.expert.severity")
            group = parts.get("_ws.expert.group")
            yield (
                _after_colon(severity),
                _after_colon(group),
                message.get("show", "") if message is not None else label(item),
            )


def _after_colon(element: ET.Element | None) -> str:
    if element is None:
        return ""
    return label(element).partition(": ")[2] or label(element)


def lua_errors(packet: ET.Element) -> list[str]:
    """The Lua errors raised while this packet was dissected (``_ws.lua.error``)."""
    found = []
    for item in packet.iter("field"):
        if item.get("name") == "_ws.lua.error":
            found.append(label(item))
    return found


def malformed(packet: ET.Element, short_name: str) -> list[str]:
    """Exceptions one protocol let escape ("[Malformed Packet: SHORT]"), hidden markers aside."""
    found = []
    for proto in packet.iter("proto"):
        if proto.get("name") != "_ws.malformed" or proto.get("hide") == "yes":
            continue
        if f": {short_name}]" not in label(proto):
            continue
        messages = [
            child.get("show", "")
            for child in proto.iter("field")
            if child.get("name") == "_ws.expert.message"
        ]
        found.append(label(proto) + ": " + ("; ".join(m for m in messages if m) or "exception"))
    return found
