"""Decoding one frame with a generated dissector, for the detail pane.

The frame is written to a one-packet capture, pyshark has tshark decode it with
the script (``-X lua_script:``, ``-T pdml``; :mod:`engine.dissector.pyshark_pdml`)
and the protocol's subtrees come back as
:class:`engine.dissect.FieldNode` trees: labels as Wireshark shows them,
expert infos and Lua errors included.
"""

from __future__ import annotations

import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from engine.dissect import MAX_CHILDREN, FieldNode
from engine.dissector import pdml
from engine.dissector.pyshark_pdml import run_pdml
from engine.dissector.tshark import lua_messages, open_tshark, other_errors, staged
from engine.errors import BadInputError, NotFoundError, UnavailableError
from engine.pcapio import PcapRecord, write_pcap_file

DECODE_TIMEOUT = 30.0
MAX_LABEL = 300


def decode_frame(
    lua_path: Path,
    linktype: int,
    data: bytes,
    timestamp: float,
    protocol_name: str,
    *,
    tshark: str | None = None,
    timeout: float = DECODE_TIMEOUT,
) -> tuple[FieldNode, ...]:
    """The frame as the script decodes it: one node per message of ``protocol_name``.

    An empty tuple means the script did not claim the frame (another port, no
    magic). Lua errors raised while decoding appear as nodes; a script that
    does not load raises :class:`BadInputError`. Raises
    :class:`UnavailableError` when tshark is missing or runs no Lua.
    """
    lua_path = Path(lua_path)
    if not lua_path.is_file():
        raise NotFoundError(f"{lua_path} does not exist: export the dissector first")
    tool = open_tshark(tshark)
    if tool is None:
        raise UnavailableError(
            "decoding with a Lua dissector needs tshark: install Wireshark's tshark"
        )
    with tempfile.TemporaryDirectory(prefix="livetap-decode-") as directory:
        frame = Path(directory) / "frame.pcap"
        write_pcap_file(frame, [PcapRecord(timestamp, len(data), linktype, data)], fmt="pcap")
        with staged(tool, [lua_path, frame]) as (script, capture):
            result = run_pdml(tool, capture, ["-X", f"lua_script:{script}"], timeout=timeout)
    stderr = result.stderr
    problems = lua_messages(stderr)
    if problems:
        first = problems[0].splitlines()
        raise BadInputError(f"{lua_path.name} does not load in tshark: {' '.join(first[:2])}")
    if result.returncode != 0:
        detail = "; ".join(other_errors(stderr)) or stderr.strip()[:200]
        raise BadInputError(f"tshark could not decode the frame: {detail}")
    return _nodes(result.packets, protocol_name)


def _nodes(packets: tuple[bytes, ...], protocol_name: str) -> tuple[FieldNode, ...]:
    nodes: list[FieldNode] = []
    try:
        for text in packets:
            packet = pdml.parse_packet(text)
            nodes.extend(element_node(tree) for tree in pdml.protocol_trees(packet, protocol_name))
            nodes.extend(FieldNode(_one_line(error)) for error in pdml.lua_errors(packet))
    except ET.ParseError as error:
        raise BadInputError(f"could not read tshark's output: {error}") from None
    return tuple(nodes)


def element_node(element: ET.Element) -> FieldNode:
    """An item and its visible children (hidden ones, like raw expert fields, left out)."""
    children = [child for child in element if child.get("hide") != "yes"]
    nodes = [element_node(child) for child in children[:MAX_CHILDREN]]
    if len(children) > MAX_CHILDREN:
        nodes.append(FieldNode(f"... {len(children) - MAX_CHILDREN} more"))
    return FieldNode(_one_line(pdml.label(element)), tuple(nodes))


def _one_line(text: str) -> str:
    """A label as one safe line: control characters escaped, length capped."""
    cleaned = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return cleaned if len(cleaned) <= MAX_LABEL else cleaned[:MAX_LABEL] + "…"
