"""Length and count expressions in a spec: ``"len - 4"``, ``"(count + 1) * 8"``.

A spec is untrusted, so an expression is never handed to ``eval``: this small
recursive-descent parser accepts integers (decimal or 0x hex), field names,
``+ - *``, unary minus and parentheses, and nothing else. The tree it builds is
turned into Lua by :mod:`engine.dissector.lua`, one node at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

MAX_EXPRESSION = 256
"""Longer expressions are refused: a length needs no more."""
MAX_NESTING = 32
"""Parentheses deeper than this are refused (the parser recurses per level)."""
MAX_LITERAL = 2**53
"""Integers in expressions must be exact in a Lua 5.1/5.2 number (a double)."""

_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|[0-9]+)|([A-Za-z_][A-Za-z0-9_]*)|(\S))")


@dataclass(frozen=True, slots=True)
class Num:
    """An integer literal."""

    value: int


@dataclass(frozen=True, slots=True)
class Ref:
    """The value of a field decoded earlier."""

    name: str


@dataclass(frozen=True, slots=True)
class Neg:
    """Unary minus."""

    operand: Expr


@dataclass(frozen=True, slots=True)
class BinOp:
    """``left op right`` with op one of ``+ - *``."""

    op: str
    left: Expr
    right: Expr


Expr = Num | Ref | Neg | BinOp


class ExpressionError(ValueError):
    """Why an expression was refused, in words for the spec's author."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "num", "name", "op" or "end"
    text: str
    position: int


def _tokens(text: str) -> Iterator[_Token]:
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:  # pragma: no cover - the pattern matches any non-space
            raise ExpressionError(f"cannot read {text[position:]!r}")
        number, name, other = match.groups()
        start = match.start(match.lastindex or 0)
        if number is not None:
            yield _Token("num", number, start)
        elif name is not None:
            yield _Token("name", name, start)
        else:
            yield _Token("op", other, start)
        position = match.end()
    yield _Token("end", "", len(text))


class _Parser:
    """expr := term (('+'|'-') term)* ; term := factor ('*' factor)* ;
    factor := INT | NAME | '(' expr ')' | '-' factor"""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(_tokens(text))
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def unexpected(self) -> ExpressionError:
        token = self.current
        if token.kind == "end":
            return ExpressionError(f"{self.text!r} ends too early")
        return ExpressionError(
            f"unexpected {token.text!r} at position {token.position + 1} in {self.text!r}"
            " (only integers, field names, + - * and parentheses are allowed)"
        )

    def parse(self) -> Expr:
        expr = self.expr()
        if self.current.kind != "end":
            raise self.unexpected()
        return expr

    def expr(self) -> Expr:
        left = self.term()
        while self.current.kind == "op" and self.current.text in "+-":
            op = self.advance().text
            left = BinOp(op, left, self.term())
        return left

    def term(self) -> Expr:
        left = self.factor()
        while self.current.kind == "op" and self.current.text == "*":
            self.advance()
            left = BinOp("*", left, self.factor())
        return left

    def factor(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExpressionError(f"{self.text!r} nests too deeply")
        try:
            token = self.current
            if token.kind == "num":
                self.advance()
                value = int(token.text, 0) if token.text[:2].lower() == "0x" else int(token.text)
                if value > MAX_LITERAL:
                    raise ExpressionError(f"the number {token.text} is too large")
                return Num(value)
            if token.kind == "name":
                self.advance()
                return Ref(token.text)
            if token.kind == "op" and token.text == "(":
                self.advance()
                inner = self.expr()
                if not (self.current.kind == "op" and self.current.text == ")"):
                    raise self.unexpected()
                self.advance()
                return inner
            if token.kind == "op" and token.text == "-":
                self.advance()
                return Neg(self.factor())
            raise self.unexpected()
        finally:
            self.depth -= 1


def parse_expression(text: str) -> Expr:
    """Parse an arithmetic expression over field names; raises :class:`ExpressionError`."""
    if len(text) > MAX_EXPRESSION:
        raise ExpressionError(f"the expression is longer than {MAX_EXPRESSION} characters")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    return _Parser(text).parse()


def names(expr: Expr) -> list[str]:
    """The field names an expression reads, in order of appearance, without repeats."""
    found: list[str] = []

    def walk(node: Expr) -> None:
        if isinstance(node, Ref):
            if node.name not in found:
                found.append(node.name)
        elif isinstance(node, Neg):
            walk(node.operand)
        elif isinstance(node, BinOp):
            walk(node.left)
            walk(node.right)

    walk(expr)
    return found


def render(expr: Expr) -> str:
    """The expression as text, fully parenthesised (for comments and messages)."""
    if isinstance(expr, Num):
        return str(expr.value)
    if isinstance(expr, Ref):
        return expr.name
    if isinstance(expr, Neg):
        return f"-{render(expr.operand)}"
    return f"({render(expr.left)} {expr.op} {render(expr.right)})"
