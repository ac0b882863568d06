"""The display filter's grammar: text to a tree of tests, with typed literals."""

from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

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
from engine.display_filter.lexer import MAX_DEPTH, MAX_SET, DisplayFilterError, Token, _show
from engine.display_filter.regex import _regex

_WORD_OPERATORS = {
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "contains": "contains",
    "matches": "matches",
}
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_KEYWORDS = frozenset({"and", "or", "not", "in", *_WORD_OPERATORS})


# -- the tree ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Test:
    """``field op literal`` (op None: the field exists / the protocol is there)."""

    field: FieldSpec
    op: str | None
    literal: Any = None
    column: int = 0


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str
    """and, or"""
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    item: Expr


Expr = Test | BoolOp | Negation


# -- literals ------------------------------------------------------------------------------------


def _int_literal(spec: FieldSpec, token: Token) -> int:
    """A number for an integer field: decimal, 0x hex, or true/false for 0/1 fields."""
    text = token.text.lower()
    if token.kind == "word" and spec.maximum == 1 and text in ("true", "false"):
        return int(text == "true")
    if token.kind != "word" or not re.fullmatch(r"[0-9]{1,20}|0x[0-9a-f]{1,16}", text):
        raise DisplayFilterError(
            token.column, f"{spec.name} is a number; {_show(token.text)} is not one"
        )
    value = int(text, 16) if text.startswith("0x") else int(text)
    if value > spec.maximum:
        raise DisplayFilterError(
            token.column, f"{spec.name} is at most {spec.maximum}, not {value}"
        )
    return value


def _float_literal(spec: FieldSpec, token: Token) -> float:
    """A number of seconds (decimal, with or without a fraction) for a time field."""
    if token.kind != "word" or not re.fullmatch(
        r"[0-9]{1,12}(\.[0-9]{1,9})?|\.[0-9]{1,9}", token.text
    ):
        raise DisplayFilterError(
            token.column, f"{spec.name} is a number of seconds; {_show(token.text)} is not one"
        )
    return float(token.text)


def _address_literal(spec: FieldSpec, token: Token) -> tuple[int, int]:
    """An address or network as (network, mask) over the address's integer value."""
    version = 4 if spec.kind == IPV4 else 6
    text = token.text
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        network = None
    if network is None or token.kind != "word":
        family = "an IPv4" if version == 4 else "an IPv6"
        raise DisplayFilterError(
            token.column,
            f"{spec.name} needs {family} address or network, not {_show(text)}",
        )
    if network.version != version:
        other = "ipv6" if version == 4 else "ip"
        raise DisplayFilterError(
            token.column,
            f"{spec.name} holds IPv{version} addresses; "
            f"use {other}{spec.name[spec.name.index('.') :]} for {_show(text)}",
        )
    return int(network.network_address), int(network.netmask)


def _mac_literal(spec: FieldSpec, token: Token) -> bytes:
    text = token.text.lower().replace("-", ":")
    if token.kind != "word" or not re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", text):
        raise DisplayFilterError(
            token.column, f"{spec.name} needs a MAC address like 02:00:00:00:00:01"
        )
    return bytes.fromhex(text.replace(":", ""))


def _string_literal(spec: FieldSpec, token: Token) -> str:
    if token.kind == "string":
        return token.text
    if token.kind == "word":
        if token.text in FIELDS and token.text not in ("type", "host", "url", "method"):
            raise DisplayFilterError(
                token.column,
                "comparing two fields is not supported; compare with a value in quotes",
            )
        return token.text
    raise DisplayFilterError(token.column, f"{spec.name} needs a string in double quotes")


def _literal(spec: FieldSpec, token: Token) -> Any:
    """The token as a value of the field's type, checked now so matching need not."""
    if token.kind == "word" and spec.kind != STR and token.text in FIELDS:
        raise DisplayFilterError(
            token.column, "comparing two fields is not supported; compare with a value"
        )
    if spec.kind == INT:
        return _int_literal(spec, token)
    if spec.kind == FLOAT:
        return _float_literal(spec, token)
    if spec.kind in (IPV4, IPV6):
        return _address_literal(spec, token)
    if spec.kind == MAC:
        return _mac_literal(spec, token)
    return _string_literal(spec, token)


# -- the parser --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Parser:
    tokens: list[Token]
    index: int = 0
    depth: int = 0
    used: set[str] = field(default_factory=set)

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() in words

    def is_symbol(self, *symbols: str) -> bool:
        token = self.peek()
        return token.kind == "symbol" and token.text in symbols

    def parse(self) -> Expr:
        expression = self.or_expression()
        token = self.peek()
        if token.kind != "end":
            if token.text == ")":
                raise DisplayFilterError(token.column, "')' without a matching '('")
            raise DisplayFilterError(
                token.column, f"expected 'and', 'or' or the end, not {_show(token.text)}"
            )
        return expression

    def _enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise DisplayFilterError(token.column, f"nested more than {MAX_DEPTH} levels deep")

    def or_expression(self) -> Expr:
        items = [self.and_expression()]
        while self.is_word("or") or self.is_symbol("||"):
            self.take()
            items.append(self.and_expression())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_expression(self) -> Expr:
        items = [self.unary()]
        while self.is_word("and") or self.is_symbol("&&"):
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def unary(self) -> Expr:
        if self.is_word("not") or self.is_symbol("!"):
            token = self.take()
            self._enter(token)
            item = self.unary()
            self.depth -= 1
            return Negation(item)
        return self.primary()

    def primary(self) -> Expr:
        token = self.peek()
        if token.kind == "symbol" and token.text == "(":
            self.take()
            self._enter(token)
            expression = self.or_expression()
            closing = self.take()
            if not (closing.kind == "symbol" and closing.text == ")"):
                raise DisplayFilterError(token.column, "this '(' is never closed")
            self.depth -= 1
            return expression
        if token.kind == "end":
            raise DisplayFilterError(token.column, "expected a field or protocol name")
        if token.kind != "word" or token.text.lower() in _KEYWORDS:
            raise DisplayFilterError(
                token.column, f"expected a field or protocol name, not {_show(token.text)}"
            )
        return self.test()

    def field_spec(self, token: Token) -> FieldSpec:
        spec = FIELDS.get(token.text) or FIELDS.get(token.text.lower())
        if spec is None:
            close = difflib.get_close_matches(token.text.lower(), FIELDS, n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]}?)" if close else ""
            if re.fullmatch(r"[\d.:/]+", token.text):
                hint = " (a value needs a field in front, e.g. ip.addr == ...)"
            raise DisplayFilterError(token.column, f"unknown field {_show(token.text)}{hint}")
        self.used.add(spec.name)
        return spec

    def test(self) -> Expr:
        name = self.take()
        spec = self.field_spec(name)
        operator = self.peek()
        op = None
        if operator.kind == "symbol" and operator.text in _COMPARISONS | {"~"}:
            op = "matches" if operator.text == "~" else operator.text
        elif operator.kind == "word" and operator.text.lower() in _WORD_OPERATORS:
            op = _WORD_OPERATORS[operator.text.lower()]
        elif operator.kind == "word" and operator.text.lower() == "in":
            op = "in"
        elif self.is_word("not") and self._next_is_in():
            self.take()
            op = "not in"
        if op is None:
            return Test(spec, None, None, name.column)
        self.take()
        if spec.kind == PROTOCOL:
            raise DisplayFilterError(
                operator.column, f"{spec.name} is a protocol: use it alone, without {op!r}"
            )
        if op in ("in", "not in"):
            return Test(spec, op, self.value_set(spec), name.column)
        value = self.take()
        if value.kind in {"end", "symbol"}:
            raise DisplayFilterError(value.column, f"expected a value after {op!r}")
        return Test(spec, op, self.operand(spec, op, value), name.column)

    def _next_is_in(self) -> bool:
        following = self.tokens[self.index + 1]
        return following.kind == "word" and following.text.lower() == "in"

    def operand(self, spec: FieldSpec, op: str, value: Token) -> Any:
        """Check the operator suits the field's type, and convert the value once."""
        if op == "matches":
            if spec.kind not in (STR, BYTES):
                raise DisplayFilterError(
                    value.column, f"{spec.name} is not text: matches needs text"
                )
            return _regex(spec, value)
        if op == "contains":
            if spec.kind == STR:
                return _string_literal(spec, value)
            if spec.kind == BYTES:
                if value.kind not in ("string", "word"):
                    raise DisplayFilterError(value.column, "contains needs a string in quotes")
                return value.text.encode("utf-8", "surrogatepass")
            raise DisplayFilterError(value.column, f"{spec.name} is not text: contains needs text")
        if spec.kind == BYTES:
            raise DisplayFilterError(
                value.column, f"{spec.name} can only be searched with contains or matches"
            )
        if op not in ("==", "!=") and spec.kind not in (INT, FLOAT):
            raise DisplayFilterError(
                value.column, f"{spec.name} can be compared with == or != only, not {op}"
            )
        return _literal(spec, value)

    def value_set(self, spec: FieldSpec) -> tuple[Any, ...]:
        """``{80 443 8000..8080}`` (commas allowed) as literals and (low, high) ranges."""
        opening = self.take()
        if not (opening.kind == "symbol" and opening.text == "{"):
            raise DisplayFilterError(opening.column, "expected '{' to start a set of values")
        if spec.kind == BYTES:
            raise DisplayFilterError(opening.column, f"{spec.name} cannot be tested with in")
        values: list[Any] = []
        while True:
            token = self.take()
            if token.kind == "symbol" and token.text == "}":
                break
            if token.kind == "symbol" and token.text == ",":
                continue
            if token.kind in ("end", "symbol"):
                raise DisplayFilterError(opening.column, "this '{' is never closed")
            if len(values) >= MAX_SET:
                raise DisplayFilterError(token.column, f"a set holds at most {MAX_SET} values")
            values.append(self.set_member(spec, token))
        if not values:
            raise DisplayFilterError(opening.column, "the set is empty")
        return tuple(values)

    def set_member(self, spec: FieldSpec, token: Token) -> Any:
        if spec.kind == FLOAT:
            value = _float_literal(spec, token)
            return (value, value)
        if token.kind == "word" and ".." in token.text and spec.kind == INT:
            low_text, _, high_text = token.text.partition("..")
            low = _int_literal(spec, Token("word", low_text, token.column))
            high = _int_literal(spec, Token("word", high_text, token.column))
            if low > high:
                raise DisplayFilterError(
                    token.column, f"the range {_show(token.text)} runs backwards"
                )
            return (low, high)
        value = _literal(spec, token)
        return (value, value) if spec.kind == INT else value
