"""The typed form of a protocol spec: field types, limits and frozen dataclasses.

:mod:`engine.dissector.spec` builds these from JSON or YAML after validating
every part; the generator, the checker and the CLI only ever see them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from engine.dissector.expr import Expr

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")

MAX_SPEC_BYTES = 1024 * 1024
MAX_FIELDS = 4096
"""Fields in all structs together (bits included)."""
MAX_DEPTH = 16
"""Structs inside structs, deeper than this, are refused."""
MAX_STRUCTS = 1024
MAX_PORTS = 64
MAX_ENUM = 4096
MAX_BITS = 64
MAX_CASES = 1024
MAX_LABEL = 256
MAX_TEXT = 2048
MAX_FIXED_LENGTH = 1 << 24
"""A fixed length (bytes, string, struct) longer than 16 MiB is taken for a mistake."""
MAX_MESSAGE = 1 << 24
"""The largest TCP message a framing may announce."""
DEFAULT_MAX_MESSAGE = 1 << 20

INTEGER_TYPES: dict[str, tuple[int, bool]] = {
    "uint8": (1, False),
    "uint16": (2, False),
    "uint24": (3, False),
    "uint32": (4, False),
    "uint64": (8, False),
    "int8": (1, True),
    "int16": (2, True),
    "int24": (3, True),
    "int32": (4, True),
    "int64": (8, True),
}
"""Integer field types: size in bytes and whether signed."""
FIXED_TYPES: dict[str, int] = {
    "float": 4,
    "double": 8,
    "bool": 1,
    "ipv4": 4,
    "ipv6": 16,
    "ether": 6,
}
"""Other types of a fixed size in bytes."""
TEXT_TYPES = ("bytes", "string")
"""Types that need a length (fixed, from an expression, the rest, or a prefix)."""
FIELD_TYPES = (
    *INTEGER_TYPES,
    *FIXED_TYPES,
    "bytes",
    "string",
    "stringz",
    "struct",
    "switch",
)
PREFIX_TYPES = ("uint8", "uint16", "uint24", "uint32")
DISPLAYS = ("dec", "hex", "oct", "dec_hex", "hex_dec")
BYTE_ORDERS = ("big", "little")
TRANSPORTS = ("udp", "tcp")
REST = "rest"
"""The length keyword for "up to the end of the enclosing message or struct"."""


@dataclass(frozen=True, slots=True)
class Length:
    """How many bytes a field takes: a fixed number, an expression, the rest, or a prefix."""

    fixed: int | None = None
    expr: Expr | None = None
    rest: bool = False
    prefix: str | None = None
    """An integer type read before the data that holds its length (length-prefixed)."""


@dataclass(frozen=True, slots=True)
class Repeat:
    """A repeated field: ``count`` times (an expression), or until the end when None."""

    count: Expr | None


@dataclass(frozen=True, slots=True)
class BitSpec:
    """A flag or multi-bit value inside an unsigned integer field, selected by a mask."""

    name: str
    label: str
    description: str
    mask: int
    shift: int
    width: int
    """How many bits the mask covers from its lowest to its highest set bit."""
    enum: tuple[tuple[int, str], ...]
    abbrev: str
    path: str

    @property
    def is_flag(self) -> bool:
        """A single bit without an enum is shown as a boolean."""
        return bin(self.mask).count("1") == 1 and not self.enum


@dataclass(frozen=True, slots=True)
class SwitchSpec:
    """A message body chosen by the value of an earlier field."""

    on: str
    cases: tuple[tuple[int, str], ...]
    """(value, struct name), sorted by value."""
    default: str | None


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a message or struct, fully resolved (byte order, abbreviation)."""

    name: str
    type: str
    label: str
    description: str
    path: str
    """Where the field is in the spec, e.g. ``structs.reading.fields[2]``."""
    abbrev: str
    """Its Wireshark filter name, e.g. ``sensor.reading.value``."""
    little_endian: bool
    display: str
    enum: tuple[tuple[int, str], ...] = ()
    bits: tuple[BitSpec, ...] = ()
    magic: bytes | None = None
    """The exact bytes the field must hold (in its byte order), when it is a constant."""
    length: Length | None = None
    struct: str | None = None
    """The named struct a ``struct`` field holds."""
    fields: tuple[FieldSpec, ...] = ()
    """The fields of an inline ``struct``."""
    switch: SwitchSpec | None = None
    repeat: Repeat | None = None

    @property
    def size(self) -> int | None:
        """The size in bytes of a scalar of fixed size (integers, floats, addresses)."""
        if self.type in INTEGER_TYPES:
            return INTEGER_TYPES[self.type][0]
        return FIXED_TYPES.get(self.type)

    @property
    def is_integer(self) -> bool:
        """Integer fields can be referenced by lengths, counts and switches."""
        return self.type in INTEGER_TYPES


@dataclass(frozen=True, slots=True)
class StructSpec:
    """A named struct: a list of fields used by ``struct`` fields and switch cases."""

    name: str
    description: str
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True, slots=True)
class Framing:
    """How TCP messages are delimited: the total message length from header fields."""

    length: Expr
    max_length: int
    header_fields: tuple[tuple[FieldSpec, int], ...] = ()
    """The fields the length reads, each with its fixed offset in the message."""
    header_size: int = 0
    """How many bytes must be there before the length can be computed."""


@dataclass(frozen=True, slots=True)
class InfoPart:
    """A piece of the Info-column template: literal text, or a field's value."""

    text: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """A validated protocol description, ready for :func:`engine.dissector.generate_lua`."""

    name: str
    description: str
    transport: str
    ports: tuple[tuple[int, int], ...]
    """(first, last) port ranges; a single port has first == last."""
    heuristic: bool
    little_endian: bool
    fields: tuple[FieldSpec, ...]
    structs: tuple[StructSpec, ...] = ()
    """Sorted by name."""
    info: tuple[InfoPart, ...] = ()
    framing: Framing | None = None
    heuristic_checks: tuple[tuple[int, bytes], ...] = ()
    """(offset, bytes) of the magic values a heuristic looks for at the message start."""
    source: str = "<spec>"

    def struct(self, name: str) -> StructSpec:
        """The named struct (validation guarantees it exists)."""
        for candidate in self.structs:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def abbreviations(self) -> tuple[str, ...]:
        """Every field abbreviation the dissector registers, in the order it registers them."""
        return tuple(abbrev for abbrev, _ in self.labelled_abbreviations())

    def labelled_abbreviations(self) -> tuple[tuple[str, str], ...]:
        """(abbreviation, label) of every registered field, message fields first."""
        seen: dict[str, str] = {}
        for item in walk_fields(self.fields):
            _register(seen, item)
        for named in self.structs:
            for item in walk_fields(named.fields):
                _register(seen, item)
        return tuple(seen.items())


def _register(seen: dict[str, str], item: FieldSpec) -> None:
    seen.setdefault(item.abbrev, item.label)
    for bit in item.bits:
        seen.setdefault(bit.abbrev, bit.label)


def walk_fields(fields: Iterable[FieldSpec]) -> Iterator[FieldSpec]:
    """Every field, depth first, inline struct members included (named structs not)."""
    for item in fields:
        yield item
        yield from walk_fields(item.fields)


def is_valid_name(name: str) -> bool:
    """Whether a protocol, struct or field name is a plain identifier (see NAME_PATTERN)."""
    return bool(_NAME.match(name))


def default_label(name: str) -> str:
    """``seq_no`` → ``Seq no``: a readable label when the spec gives none."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def int_range(size: int, signed: bool) -> tuple[int, int]:
    bits = 8 * size
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def fixed_size(item: FieldSpec, structs: Mapping[str, StructSpec] | None = None) -> int | None:
    """The field's size when it never varies (scalars, fixed-length bytes), else None."""
    if item.repeat is not None:
        return None
    if item.size is not None:
        return item.size
    if item.length is not None and item.length.fixed is not None:
        return item.length.fixed
    if item.type == "struct" and item.length is None and item.fields:
        sizes = [fixed_size(child, structs) for child in item.fields]
        if all(size is not None for size in sizes):
            return sum(size for size in sizes if size is not None)
    return None


def fixed_offsets(fields: Sequence[FieldSpec]) -> dict[str, int]:
    """The offsets of the leading fields that sit at a fixed place in every message."""
    offsets: dict[str, int] = {}
    offset = 0
    for item in fields:
        offsets[item.name] = offset
        size = fixed_size(item)
        if size is None:
            break
        offset += size
    return offsets


def magic_text(item: FieldSpec) -> str:
    """How a magic value is shown in messages: 0x hex for numbers and bytes, text for strings."""
    assert item.magic is not None
    if item.type == "string":
        return item.magic.rstrip(b"\x00").decode("utf-8", "replace")
    if item.type in INTEGER_TYPES:
        size, signed = INTEGER_TYPES[item.type]
        value = int.from_bytes(item.magic, "little" if item.little_endian else "big", signed=signed)
        return f"0x{value & ((1 << (8 * size)) - 1):0{2 * size}x}"
    return "0x" + item.magic.hex()
