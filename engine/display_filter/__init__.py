"""A small Wireshark-style display filter over packets and browser requests.

The package: :mod:`.lexer` (tokens and limits), :mod:`.fields` (every field, declared
once with its type, its Wireshark name and its getter), :mod:`.packet_fields` (the
getters, reading the packet model), :mod:`.regex` (``matches`` patterns that cannot
backtrack for ever), :mod:`.parser` (the tree) and :mod:`.compiler` (plain functions).

``compile_display_filter("tcp.port in {80 443} and not ip.addr == 10.0.0.0/8")``
parses the text once into a tree and compiles it into two plain functions: one
for packets (fields read from the summary and from the raw bytes with cheap
struct reads) and one for request records (fields read from a mapping the UI
supplies). A display filter only narrows what the panes show; the capture
never sees it.

The language (the README documents it):

- ``field op value`` with ``== != < <= > >=`` (also ``eq ne lt le gt ge``),
  ``contains "text"``, ``matches "regex"`` (``~``; case-insensitive,
  Wireshark's default), ``in {80 443 8000..8080}`` and ``not in {...}``.
- A field alone tests that the packet has it (``tcp.flags.syn`` means "is
  TCP"), protocol names alone (``dns``, ``tcp``, ``http``) that the packet is
  one; ``and``/``&&``, ``or``/``||``, ``not``/``!`` and parentheses, with
  ``not`` binding tightest and ``and`` tighter than ``or``.
- Fields can have several values (``ip.addr`` is the source and the
  destination): ``==`` and the others match when any value does, ``!=`` when
  none is equal. A field the packet lacks makes every comparison false,
  ``!=`` included; ``not ip.addr == 10.0.0.1`` also matches non-IP packets.
- ``ip.addr == 10.0.0.0/8`` tests a network. Strings are in double quotes
  with C escapes; a single word (``method == GET``) needs none.

Errors raise :class:`DisplayFilterError` (a BadInputError) naming the column.
Matching never raises: anything unexpected counts as no match.
"""

from __future__ import annotations

from typing import Any

from engine.display_filter import compiler
from engine.display_filter.compiler import DisplayFilter, compile_display_filter, field_names
from engine.display_filter.fields import (
    BYTES,
    FIELDS,
    FLOAT,
    INT,
    IPV4,
    IPV6,
    MAC,
    PROTOCOL,
    STR,
    FieldSpec,
)
from engine.display_filter.lexer import (
    MAX_AMBIGUITY,
    MAX_DEPTH,
    MAX_FILTER,
    MAX_HEADERS,
    MAX_PATTERN,
    MAX_SET,
    MAX_SUBJECT,
    DisplayFilterError,
    Token,
    tokenize,
)

__all__ = [
    "BYTES",
    "FIELDS",
    "FLOAT",
    "INT",
    "IPV4",
    "IPV6",
    "MAC",
    "MAX_AMBIGUITY",
    "MAX_DEPTH",
    "MAX_FILTER",
    "MAX_HEADERS",
    "MAX_PATTERN",
    "MAX_SET",
    "MAX_SUBJECT",
    "PROTOCOL",
    "STR",
    "DisplayFilter",
    "DisplayFilterError",
    "FieldSpec",
    "Token",
    "compile_display_filter",
    "field_names",
    "tokenize",
]


def __getattr__(name: str) -> Any:
    """``evaluation_errors`` is the compiler's live counter, not a copy taken at import."""
    if name == "evaluation_errors":
        return compiler.evaluation_errors
    raise AttributeError(name)
