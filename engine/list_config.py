"""The packet list's preferences as data: its columns and its colouring rules.

Both live in the config file (``packetColumns``, ``colouringRules``); this module reads
them from the file's plain values, checks them (a column's field and a rule's filter
must be display-filter fields; messages name the entry), and turns them back into
plain values for writing. It knows no front end: the theme colour a rule names is
checked by the app that has the themes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.display_filter import FIELDS, DisplayFilterError, compile_display_filter
from engine.errors import BadInputError

BUILTIN_COLUMNS = (
    "number",
    "input",
    "time",
    "source",
    "destination",
    "protocol",
    "length",
    "process",
    "info",
)
"""The packet list's own columns, in their default order (Input and Process show only
when several inputs are read / packets are tied to programs)."""
MAX_COLUMNS = 32
MAX_RULES = 64
MAX_WIDTH = 200


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of the packet list: a built-in one, or a display-filter field's value."""

    name: str
    """A built-in column's name, or the field (``tcp.stream``) of a custom column."""
    width: int = 0
    """Its narrowest width (0: the built-in default, or the title's width for a field)."""
    title: str = ""
    """The header (a field's own name when empty)."""

    @property
    def custom(self) -> bool:
        """A display-filter field's value (Wireshark's custom column)."""
        return self.name not in BUILTIN_COLUMNS

    def to_value(self) -> str | dict[str, Any]:
        """The config file's form: the bare name, or a mapping when it has more."""
        if not self.width and not self.title:
            return self.name
        value: dict[str, Any] = {"field" if self.custom else "column": self.name}
        if self.title:
            value["title"] = self.title
        if self.width:
            value["width"] = self.width
        return value


DEFAULT_COLUMNS = tuple(ColumnSpec(name) for name in BUILTIN_COLUMNS)


@dataclass(frozen=True, slots=True)
class ColourRule:
    """A colouring rule: packets its display filter matches get a theme colour's background."""

    name: str
    filter: str
    colour: str
    """A theme variable (``rule-bad``)."""
    enabled: bool = True

    def to_value(self) -> dict[str, Any]:
        """The config file's form."""
        value: dict[str, Any] = {"name": self.name, "filter": self.filter, "colour": self.colour}
        if not self.enabled:
            value["enabled"] = False
        return value


DEFAULT_RULES = (
    ColourRule(
        "Bad TCP",
        "tcp.analysis.flags && !tcp.analysis.window_update && !tcp.analysis.keep_alive"
        " && !tcp.analysis.keep_alive_ack",
        "rule-bad",
    ),
    ColourRule("ICMP errors", "icmp.type in { 3..5, 11 } || icmpv6.type in { 1..4 }", "rule-error"),
    ColourRule("TCP RST", "tcp.flags.reset eq 1", "rule-reset"),
    ColourRule(
        "TTL low or unexpected",
        "(ip.dst != 224.0.0.0/4 && ip.ttl < 5 && !pim && ip.proto != 89)"
        " || (ip.dst == 224.0.0.0/24 && ip.dst != 224.0.0.251 && ip.ttl != 1"
        " && ip.proto != 112)",
        "rule-reset",
    ),
)
"""Wireshark's default colouring rules that flag trouble (its ``colorfilters`` file), in
its order; the first that matches colours the row. Its protocol rules (TCP, UDP, ARP,
ICMP, HTTP) are the theme's protocol colours; rules on fields livetap lacks (checksum
status, HSRP, STP, OSPF messages, SCTP) are left out, and OSPF/VRRP/CARP are named by
their IP protocol numbers (89, 112)."""


def _entry_error(key: str, number: int, message: str) -> BadInputError:
    return BadInputError(f"{key} entry {number}: {message}")


def _width(value: Any, key: str, number: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WIDTH:
        raise _entry_error(key, number, f"width must be a whole number 0-{MAX_WIDTH}")
    return value


def parse_column(value: Any, number: int, key: str = "packetColumns") -> ColumnSpec:
    """One column from the config file: ``time``, ``tcp.stream`` or a mapping with
    ``column``/``field``, ``title``, ``width``."""
    if isinstance(value, str):
        name, width, title = value.strip(), 0, ""
    elif isinstance(value, dict):
        unknown = sorted(set(map(str, value)) - {"column", "field", "title", "width"})
        if unknown:
            raise _entry_error(key, number, f"unknown key {unknown[0]!r}")
        name = str(value.get("column") or value.get("field") or "").strip()
        width = _width(value.get("width", 0), key, number)
        title = str(value.get("title", "") or "")
    else:
        raise _entry_error(key, number, "a column is a name or a mapping")
    if name not in BUILTIN_COLUMNS:
        spec = FIELDS.get(name)
        if spec is None or not spec.packet:
            raise _entry_error(
                key,
                number,
                f"{name!r} is neither a column ({', '.join(BUILTIN_COLUMNS)}) nor a packet "
                "display-filter field",
            )
    return ColumnSpec(name, width, title[:MAX_WIDTH])


def parse_columns(value: Any, key: str = "packetColumns") -> tuple[ColumnSpec, ...]:
    """The ``packetColumns`` list; Info is added at the end when left out (it takes the rest).

    ``key``: how messages name the list (``column`` in the column editor)."""
    if not isinstance(value, list) or not value:
        raise BadInputError(f"{key} must be a list of columns")
    if len(value) > MAX_COLUMNS:
        raise BadInputError(f"{key}: at most {MAX_COLUMNS} columns")
    found = tuple(parse_column(item, number, key) for number, item in enumerate(value, 1))
    names = [column.name for column in found]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise BadInputError(f"{key}: {twice[0]!r} is listed twice")
    if "info" not in names:
        found += (ColumnSpec("info"),)
    return found


def columns_text(specs: tuple[ColumnSpec, ...]) -> str:
    """The columns as one line to edit: ``number, time, tcp.stream:6:Stream, info``."""
    parts = []
    for spec in specs:
        text = spec.name
        if spec.width or spec.title:
            text += f":{spec.width or ''}"
        if spec.title:
            text += f":{spec.title}"
        parts.append(text)
    return ", ".join(parts)


def parse_columns_text(text: str) -> tuple[ColumnSpec, ...]:
    """The column editor's line back into columns (``NAME[:WIDTH[:TITLE]]``, commas between)."""
    values: list[Any] = []
    for number, part in enumerate((p.strip() for p in text.split(",")), 1):
        if not part:
            continue
        name, _, rest = part.partition(":")
        width_text, _, title = rest.partition(":")
        width_text = width_text.strip()
        if width_text and not width_text.isdigit():
            raise _entry_error("column", number, f"width {width_text!r} is not a whole number")
        values.append(
            {"column": name.strip(), "width": int(width_text or 0), "title": title.strip()}
        )
    if not values:
        raise BadInputError("list at least one column (Info is always added)")
    return parse_columns(values, "column")


def parse_rule(value: Any, number: int) -> ColourRule:
    """One colouring rule: a mapping of ``name``, ``filter``, ``colour`` (and ``enabled``)."""
    key = "colouringRules"
    if not isinstance(value, dict):
        raise _entry_error(key, number, "a rule is a mapping of name, filter and colour")
    unknown = sorted(set(map(str, value)) - {"name", "filter", "colour", "color", "enabled"})
    if unknown:
        raise _entry_error(key, number, f"unknown key {unknown[0]!r}")
    name = str(value.get("name") or f"rule {number}")
    text = value.get("filter")
    colour = value.get("colour", value.get("color"))
    if not isinstance(text, str) or not text.strip():
        raise _entry_error(key, number, f"{name!r} needs a display filter")
    if not isinstance(colour, str) or not colour:
        raise _entry_error(key, number, f"{name!r} needs a theme colour variable")
    try:
        compile_display_filter(text)
    except DisplayFilterError as error:
        raise _entry_error(key, number, f"{name!r}: {error}") from None
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _entry_error(key, number, f"{name!r}: enabled must be true or false")
    return ColourRule(name, text, colour.strip(), enabled)


def parse_rules(value: Any) -> tuple[ColourRule, ...]:
    """The ``colouringRules`` list (replaces the defaults; an empty list: no rules)."""
    if not isinstance(value, list):
        raise BadInputError("colouringRules must be a list of rules")
    if len(value) > MAX_RULES:
        raise BadInputError(f"colouringRules: at most {MAX_RULES} rules")
    return tuple(parse_rule(item, number) for number, item in enumerate(value, 1))
