"""Wireshark's "Apply as Filter" and "Prepare as Filter": a field's value as filter text.

:func:`field_filter` writes ``field == value`` with the value as the parser reads it
back (an address dotted, a MAC with colons, a string quoted with C escapes);
:func:`combine` joins it to the filter already applied, the way Wireshark's menu does
(``Selected``, ``Not Selected``, ``… and Selected``, ``… or Selected``, ``… and not
Selected``, ``… or not Selected``).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Any

from engine.display_filter.fields import FIELDS, INT, IPV4, IPV6, MAC, PROTOCOL, STR

COMBINATIONS: tuple[str, ...] = ("", "not", "and", "or", "and not", "or not")
"""How a field's filter joins the current one: alone, negated, or with ``and``/``or``."""


def literal(kind: str, value: Any) -> str | None:
    """``value`` written as a filter literal of this field kind; None when there is none
    (a float time, a byte string)."""
    if kind == INT and isinstance(value, int):
        return str(int(value))
    if kind == IPV4 and isinstance(value, int):
        return str(IPv4Address(value))
    if kind == IPV6 and isinstance(value, int):
        return str(IPv6Address(value))
    if kind == MAC and isinstance(value, bytes) and len(value) == 6:
        return ":".join(f"{byte:02x}" for byte in value)
    if kind == STR and isinstance(value, str):
        return quote(value)
    return None


def quote(text: str) -> str:
    """A double-quoted filter string that reads back as ``text``."""
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def field_filter(name: str, value: Any = None) -> str | None:
    """``name == value`` (a protocol: ``name`` alone); None when the field or the value
    cannot be written as a filter."""
    spec = FIELDS.get(name)
    if spec is None or not spec.packet:
        return None
    if spec.kind == PROTOCOL:
        return name
    written = literal(spec.kind, value)
    return None if written is None else f"{name} == {written}"


def combine(current: str, selected: str, how: str = "") -> str:
    """The filter ``how`` (one of :data:`COMBINATIONS`) makes of the current one and a
    field's: ``not`` negates it, ``and``/``or`` join it (parenthesised) to the current one;
    with no current filter, ``and``/``or`` give the field's alone (negated for ``… not``)."""
    if how not in COMBINATIONS:
        raise ValueError(f"unknown combination {how!r}")
    negate = how.endswith("not")
    joined = how.removesuffix("not").strip()
    item = f"!({selected})" if negate else selected
    if not joined or not current.strip():
        return item
    return f"({current.strip()}) {'&&' if joined == 'and' else '||'} {item}"
