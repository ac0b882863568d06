"""The selected packet as Wireshark's own dissectors see it (tshark), for the detail pane.

scapy's tree is quick and always there; tshark knows thousands of protocols
scapy does not. The packet goes to a one-packet capture, pyshark has tshark
decode it (``-T pdml``, :mod:`engine.dissector.pyshark_pdml`) and every protocol
layer comes back as plain :class:`engine.dissect.FieldNode` trees.

TLS is decrypted only with a key log and the connection's earlier packets (the
handshake, the records before): with ``keys``, the caller hands those as
``context`` and tshark decodes them all, printing only the selected packet.
"""

from __future__ import annotations

import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from engine.dissect import FieldNode
from engine.dissector import pdml
from engine.dissector.decode import element_node
from engine.dissector.pyshark_pdml import run_pdml
from engine.dissector.tshark import Tshark, find_tshark
from engine.errors import BadInputError, UnavailableError
from engine.pcapio import PcapRecord, write_pcap_file

TIMEOUT = 30.0
SKIPPED = frozenset({"geninfo"})
"""PDML's summary block: the detail pane has its own frame line."""


def decode_with_tshark(
    linktype: int,
    data: bytes,
    timestamp: float,
    length: int | None = None,
    *,
    tshark: str | None = None,
    number: int | None = None,
    context: Sequence[PcapRecord] = (),
    keys: Path | None = None,
) -> tuple[FieldNode, ...]:
    """Every layer of one packet as tshark decodes it; UnavailableError without tshark.

    ``number`` is the packet's place in the user's capture: tshark sees a
    one-packet file and would call every packet "Frame 1". ``context`` are the
    packets before it that tshark needs to decrypt it with the key log ``keys``
    (``-o tls.keylog_file:``).
    """
    path = find_tshark(tshark)
    if path is None:
        raise UnavailableError(
            "decoding with Wireshark's dissectors needs tshark: install it (apt-get install tshark)"
        )
    with tempfile.TemporaryDirectory(prefix="livetap-tshark-") as folder:
        capture = Path(folder) / "packet.pcapng"
        records = [*context, PcapRecord(timestamp, length or len(data), linktype, data)]
        write_pcap_file(capture, records, fmt="pcapng")
        args = ["-Y", f"frame.number == {len(records)}"]
        if keys is not None:
            args += ["-o", f"tls.keylog_file:{keys}"]
        result = run_pdml(Tshark(path, as_nobody=False), capture, args, timeout=TIMEOUT)
    if result.returncode != 0:
        problem = result.stderr.strip().splitlines()
        raise BadInputError(
            f"tshark could not decode the packet: {problem[-1] if problem else 'no reason'}"
        )
    layers = _layers(result.packets)
    if number is not None and layers:
        layers = (_renumbered(layers[0], number, len(records)), *layers[1:])
    return layers


def _renumbered(frame: FieldNode, number: int, place: int = 1) -> FieldNode:
    """The frame layer with the capture's packet number instead of tshark's ``place``."""
    label = re.sub(rf"^Frame {place}\b", f"Frame {number}", frame.label, count=1)
    children = tuple(
        FieldNode(f"Frame Number: {number}", child.children)
        if child.label == f"Frame Number: {place}"
        else child
        for child in frame.children
    )
    return FieldNode(label, children)


def _layers(packets: tuple[bytes, ...]) -> tuple[FieldNode, ...]:
    """The protocol elements of the (only) packet, in order."""
    try:
        for text in packets:
            packet = pdml.parse_packet(text)
            return tuple(
                element_node(proto)
                for proto in packet.findall("proto")
                if proto.get("name") not in SKIPPED
            )
    except ET.ParseError as error:
        raise BadInputError(f"could not read tshark's output: {error}") from None
    return ()
