"""A first-guess spec from one packet, for the user to edit and export.

The guess is deliberately plain: a leading constant-looking 2- or 4-byte value
becomes a magic number, runs of printable text become strings (length-prefixed
when the byte before them holds their length, NUL-terminated when a NUL ends
them), small single bytes become uint8 fields and the rest stays bytes. Each
field says in its description that it is a guess.
"""

from __future__ import annotations

from typing import Any

from engine import linktypes
from engine.dissector.model import is_valid_name
from engine.errors import BadInputError
from engine.packet.model import Packet

MIN_TEXT = 4
"""Printable runs shorter than this are not taken for text."""
SMALL_VALUE = 32
"""Single bytes below this look like a type, flag or count: a uint8 field."""
MAX_DRAFT_FIELDS = 64
"""After this many fields, the rest of the payload is one bytes field."""


def _printable(byte: int) -> bool:
    return 0x20 <= byte < 0x7F


def _text_run(payload: bytes, start: int) -> int:
    """The length of the printable run at start."""
    end = start
    while end < len(payload) and _printable(payload[end]):
        end += 1
    return end - start


def _field(name: str, kind: str, offset: int, guess: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind,
        "label": name.replace("_", " ").capitalize(),
        "description": f"guessed by livetap from offset {offset}: {guess}",
        **extra,
    }


def _magic(payload: bytes) -> dict[str, Any] | None:
    """A leading 4- or 2-byte value with no zero byte, unless it starts a longer text.

    Two small bytes after a 2-byte value look like a version and a type, so
    the magic is taken to be 2 bytes then.
    """
    if len(payload) >= 6 and _text_run(payload, 0) > 4:
        return None
    looks_like_header = payload[2:3] < bytes([SMALL_VALUE]) and payload[3:4] < bytes([SMALL_VALUE])
    if len(payload) >= 8 and all(payload[:4]) and not looks_like_header:
        value = int.from_bytes(payload[:4], "big")
        return _field("magic", "uint32", 0, "a constant", magic=f"0x{value:08x}")
    if len(payload) >= 4 and all(payload[:2]):
        value = int.from_bytes(payload[:2], "big")
        return _field("magic", "uint16", 0, "a constant", magic=f"0x{value:04x}")
    return None


def _guess_fields(payload: bytes) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    magic = _magic(payload)
    position = 0
    if magic is not None:
        fields.append(magic)
        position = 4 if magic["type"] == "uint32" else 2
    blob_start: int | None = None

    def flush_blob(end: int) -> None:
        nonlocal blob_start
        if blob_start is not None and end > blob_start:
            fields.append(
                _field(
                    f"data_{blob_start}",
                    "bytes",
                    blob_start,
                    "opaque bytes",
                    length=end - blob_start,
                )
            )
        blob_start = None

    while position < len(payload):
        if len(fields) >= MAX_DRAFT_FIELDS - 1:
            break
        byte = payload[position]
        prefixed = byte >= MIN_TEXT - 1 and position + 1 + byte <= len(payload)
        if prefixed and byte and _text_run(payload, position + 1) >= byte:
            flush_blob(position)
            fields.append(
                _field(
                    f"text_{position}",
                    "string",
                    position,
                    f"text after its length byte ({byte})",
                    length_prefix="uint8",
                )
            )
            position += 1 + byte
            continue
        run = _text_run(payload, position)
        if run >= MIN_TEXT:
            flush_blob(position)
            end = position + run
            if end < len(payload) and payload[end] == 0:
                fields.append(_field(f"text_{position}", "stringz", position, "NUL-ended text"))
                position = end + 1
            else:
                fields.append(_field(f"text_{position}", "string", position, "text", length=run))
                position = end
            continue
        zeros = position
        while zeros < len(payload) and payload[zeros] == 0:
            zeros += 1
        if zeros - position >= 2:
            flush_blob(position)
            fields.append(
                _field(
                    f"zeros_{position}", "bytes", position, "zero bytes", length=zeros - position
                )
            )
            position = zeros
            continue
        if byte < SMALL_VALUE:
            flush_blob(position)
            fields.append(_field(f"byte_{position}", "uint8", position, "a small value"))
            position += 1
            continue
        if blob_start is None:
            blob_start = position
        position += 1
    start = position if blob_start is None else blob_start
    if start < len(payload):
        fields.append(_field(f"data_{start}", "bytes", start, "the rest", length="rest"))
    if not fields:
        fields.append(_field("data", "bytes", 0, "the whole payload", length="rest"))
    return fields


def draft_spec(payload: bytes, transport: str, port: int, name: str = "draft") -> dict[str, Any]:
    """A draft spec (raw data, ready for JSON) for one UDP or TCP payload.

    It validates as it is, so it can be exported at once; the fields are
    guesses for the user to rename, retype and merge.
    """
    if transport not in ("udp", "tcp"):
        raise BadInputError(f"a draft needs a UDP or TCP packet, not {transport!r}")
    if not is_valid_name(name):
        raise BadInputError(
            f"{name!r} is not a valid protocol name: use lower-case letters, digits and "
            "underscores, starting with a letter"
        )
    if not 1 <= port <= 65535:
        raise BadInputError(f"{port} is not a port number (1 to 65535)")
    return {
        "protocol": name,
        "description": f"{name.upper()} protocol (draft)",
        "comment": (
            f"Drafted by livetap from one {len(payload)}-byte {transport.upper()} payload on "
            f"port {port}: check every field, then run 'livetap dissector generate'."
        ),
        "transport": transport,
        "ports": [port],
        "byte_order": "big",
        "fields": _guess_fields(payload),
    }


def transport_payload(linktype: int, data: bytes) -> tuple[str, int, int, bytes]:
    """(transport, source port, destination port, payload) of a UDP or TCP frame.

    Read by the packet model, so a frame inside a tunnel drafts from its inner packet.
    Raises :class:`BadInputError` for any other frame.
    """
    packet = Packet(linktype, data)
    first = packet.layers.chain[0] if packet.layers.chain else ""
    if first.startswith(("linktype-", "user_dlt")):
        raise BadInputError(f"cannot draft a spec from {linktypes.name(linktype)} frames")
    ports = packet.ports()
    if ports is None:
        raise BadInputError(
            "the frame is neither UDP nor TCP: pick a UDP or TCP packet to draft from"
        )
    transport = "tcp" if packet.transport() == 6 else "udp"
    return transport, ports[0], ports[1], packet.payload()


def draft_from_frame(linktype: int, data: bytes, name: str = "draft") -> dict[str, Any]:
    """A draft spec from a captured frame: its UDP/TCP payload, on its lower port.

    The lower of the two ports is taken for the server's (clients usually use
    high ephemeral ports).
    """
    transport, sport, dport, payload = transport_payload(linktype, data)
    if not payload:
        raise BadInputError(
            f"the {transport.upper()} packet carries no payload: pick a packet with data"
        )
    return draft_spec(payload, transport, min(sport, dport), name)
