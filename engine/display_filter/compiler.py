"""A parsed filter compiled into plain functions over packets and request records."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.display_filter.fields import BYTES, FIELDS, FLOAT, INT, IPV4, IPV6, FieldSpec
from engine.display_filter.lexer import MAX_FILTER, MAX_SUBJECT, DisplayFilterError, tokenize
from engine.display_filter.packet_fields import REASSEMBLED, FrameTimes, PacketView, ProtocolPath
from engine.display_filter.parser import Expr, Negation, Test, _Parser
from engine.events import PacketSummary

evaluation_errors: int = 0
"""How often matching hit an unexpected error and answered "no match" (a bug counter)."""

_DIGITS = re.compile(r"[0-9]{1,19}")
"""ASCII digits only: str.isdigit() also takes '³', which int() refuses."""

# -- requests: fields from a mapping ----------------------------------------------------------


def _request_getter(spec: FieldSpec) -> Callable[[Mapping[str, object]], tuple[Any, ...]]:
    """Read one field of a request record, converted to the field's type."""
    key = spec.request_key
    if key == "*":
        return lambda fields: (True,)
    if key is None:
        return lambda fields: ()
    if spec.kind == INT:

        def get_int(fields: Mapping[str, object]) -> tuple[Any, ...]:
            value = fields.get(key)
            if isinstance(value, bool) or value is None:
                return ()
            if isinstance(value, int):
                return (value,)
            if isinstance(value, float) and value.is_integer():
                return (int(value),)
            if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
                return (int(value),)
            return ()

        return get_int

    def get_str(fields: Mapping[str, object]) -> tuple[Any, ...]:
        value = fields.get(key)
        return () if value is None else (value if isinstance(value, str) else str(value),)

    return get_str


# -- compiling the tree into functions -------------------------------------------------------------

Check = Callable[[Any], bool]


def _compare(spec: FieldSpec, op: str | None, literal: Any) -> Callable[[tuple[Any, ...]], bool]:
    """A test over a field's values (already read), for one operator and literal."""
    if op is None:
        return bool
    kind = spec.kind
    if kind in (IPV4, IPV6):
        networks = tuple(literal) if op in ("in", "not in") else (literal,)

        def inside(values: tuple[Any, ...]) -> bool:
            for value in values:
                for net, mask in networks:
                    if value & mask == net:
                        return True
            return False

        if op in ("==", "in"):
            return inside
        return lambda values: bool(values) and not inside(values)
    if op == "contains":
        if kind == BYTES:
            return lambda values: any(literal in value for value in values)
        return lambda values: any(literal in value for value in values)
    if op == "matches":
        search = literal.search
        return lambda values: any(search(value[:MAX_SUBJECT]) for value in values)
    if op in ("in", "not in"):
        if kind in (INT, FLOAT):
            ranges = tuple(literal)

            def member(values: tuple[Any, ...]) -> bool:
                return any(low <= value <= high for value in values for low, high in ranges)
        else:
            options = frozenset(literal)

            def member(values: tuple[Any, ...]) -> bool:
                return any(value in options for value in values)

        if op == "in":
            return member
        return lambda values: bool(values) and not member(values)
    if op == "==":
        return lambda values: literal in values
    if op == "!=":
        return lambda values: bool(values) and literal not in values
    if op == "<":
        return lambda values: any(value < literal for value in values)
    if op == "<=":
        return lambda values: any(value <= literal for value in values)
    if op == ">":
        return lambda values: any(value > literal for value in values)
    return lambda values: any(value >= literal for value in values)


def _compile(
    node: Expr, getter_for: Callable[[FieldSpec], Callable[[Any], tuple[Any, ...]]]
) -> Check:
    """The tree as nested closures over one kind of record."""
    if isinstance(node, Test):
        read = getter_for(node.field)
        compare = _compare(node.field, node.op, node.literal)
        return lambda record: compare(read(record))
    if isinstance(node, Negation):
        inner = _compile(node.item, getter_for)
        return lambda record: not inner(record)
    parts = [_compile(item, getter_for) for item in node.items]
    combined = parts[0]
    for part in parts[1:]:
        combined = _both(combined, part) if node.op == "and" else _either(combined, part)
    return combined


def _both(first: Check, second: Check) -> Check:
    return lambda record: first(record) and second(record)


def _either(first: Check, second: Check) -> Check:
    return lambda record: first(record) or second(record)


def _packet_getter(spec: FieldSpec) -> Callable[[Any], tuple[Any, ...]]:
    getter = spec.getter
    if getter is None:
        return lambda view: ()
    return getter


# -- the API ---------------------------------------------------------------------------------------


def _always(record: Any) -> bool:
    return True


@dataclass(frozen=True)
class DisplayFilter:
    """A compiled display filter: test packets and request records against it."""

    text: str
    fields: frozenset[str]
    """The field and protocol names the filter uses."""
    _packet_check: Check = field(repr=False, compare=False)
    _request_check: Check = field(repr=False, compare=False)

    @property
    def matches_everything(self) -> bool:
        """The empty filter: nothing is hidden."""
        return not self.text.strip()

    @property
    def stateful(self) -> bool:
        """Some field depends on earlier packets (``tcp.stream``, ``tcp.analysis.*``): the
        caller must give :meth:`matches_packet` a context that tracks every packet."""
        return any(FIELDS[name].stateful for name in self.fields)

    @property
    def uses_packet_fields(self) -> bool:
        """Some field only packets have (a request-only filter hides every packet)."""
        return any(FIELDS[name].packet for name in self.fields)

    @property
    def uses_request_fields(self) -> bool:
        """Some field request records have (a packet-only filter hides every request)."""
        return any(FIELDS[name].request_key is not None for name in self.fields)

    @property
    def uses_reassembly(self) -> bool:
        """Some protocol whose presence tshark decides after reassembly (``http``, ``udp``...)."""
        return bool(self.fields & REASSEMBLED)

    def matches_packet(
        self,
        summary: PacketSummary,
        times: FrameTimes | None = None,
        path: ProtocolPath | None = None,
    ) -> bool:
        """Whether a packet passes; never raises (an unexpected error is no match).

        ``times`` gives the fields that need the rest of the capture (frame.time_relative,
        frame.time_delta, and with a tracker tcp.stream, tcp.analysis.* ...); without it
        they have no value. ``path`` is the frame's protocols as a reader that reassembles
        found them (see :class:`PacketView`).
        """
        try:
            return bool(self._packet_check(PacketView(summary, times, path)))
        except Exception:
            global evaluation_errors  # noqa: PLW0603 - a process-wide bug counter, by design
            evaluation_errors += 1
            return False

    def matches_fields(self, fields: Mapping[str, object]) -> bool:
        """Whether a request record (url, method, status, mime, type, host, size) passes."""
        try:
            return bool(self._request_check(fields))
        except Exception:
            global evaluation_errors  # noqa: PLW0603
            evaluation_errors += 1
            return False


def compile_display_filter(text: str) -> DisplayFilter:
    """Parse and compile once; raises DisplayFilterError (a BadInputError) with the column."""
    if not isinstance(text, str):
        raise DisplayFilterError(1, "a display filter must be text")
    if len(text) > MAX_FILTER:
        raise DisplayFilterError(
            MAX_FILTER + 1, f"the filter is {len(text):,} characters long (at most {MAX_FILTER:,})"
        )
    if not text.strip():
        return DisplayFilter(text, frozenset(), _always, _always)
    parser = _Parser(tokenize(text))
    tree = parser.parse()
    return DisplayFilter(
        text,
        frozenset(parser.used),
        _compile(tree, _packet_getter),
        _compile(tree, _request_getter),
    )


def field_names(packet: bool = True, request: bool = True) -> list[str]:
    """Field names for completion and help, sorted."""
    return sorted(
        spec.name
        for spec in FIELDS.values()
        if (packet and spec.packet) or (request and spec.request_key is not None)
    )
