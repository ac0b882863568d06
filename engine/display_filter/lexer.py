"""The display filter's words: tokens, string escapes, the limits and the error type."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import BadInputError

MAX_FILTER = 4096
"""Characters; a display filter is a line, not a document."""
MAX_DEPTH = 64
MAX_SET = 1024
MAX_PATTERN = 256
MAX_SUBJECT = 4096
"""``matches`` looks at this many characters (bytes) of a value at most."""
MAX_AMBIGUITY = 4 * MAX_SUBJECT
"""A ``matches`` pattern may backtrack over one open-ended repetition, not two (see _ambiguity)."""
MAX_HEADERS = 8192
"""Bytes of an HTTP header block read for http.host and friends."""


class DisplayFilterError(BadInputError):
    """A display filter that cannot be compiled; the message starts with the column."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.reason = message


# -- tokens ------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z0-9_.:/\-]+")
_SYMBOLS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "~", "(", ")", "{", "}", ",")
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """word, string, symbol or end."""
    text: str
    column: int


def _show(text: str) -> str:
    """Quote user text for a message: short, one line."""
    if len(text) > 40:
        text = text[:37] + "..."
    return "'" + "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text) + "'"


def tokenize(text: str) -> list[Token]:
    """Words (field names, numbers, addresses), strings, and operator symbols."""
    tokens: list[Token] = []
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char.isspace():
            position += 1
            continue
        column = position + 1
        if char == '"':
            value, position = _string(text, position)
            tokens.append(Token("string", value, column))
            continue
        match = _WORD.match(text, position)
        if match:
            tokens.append(Token("word", match.group(), column))
            position = match.end()
            continue
        symbol = next((s for s in _SYMBOLS if text.startswith(s, position)), None)
        if symbol is None:
            hint = " (use == to compare)" if char == "=" else ""
            raise DisplayFilterError(column, f"unexpected character {_show(char)}{hint}")
        tokens.append(Token("symbol", symbol, column))
        position += len(symbol)
    tokens.append(Token("end", "", length + 1))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    """A double-quoted string with C escapes; returns its value and the position after it."""
    out: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == '"':
            return "".join(out), position + 1
        if char != "\\":
            out.append(char)
            position += 1
            continue
        escape = text[position + 1 : position + 2]
        if escape in _ESCAPES:
            out.append(_ESCAPES[escape])
            position += 2
        elif escape in ("x", "u", "U"):
            digits = {"x": 2, "u": 4, "U": 8}[escape]
            code = text[position + 2 : position + 2 + digits]
            if len(code) != digits or not all(c in "0123456789abcdefABCDEF" for c in code):
                raise DisplayFilterError(position + 1, f"\\{escape} needs {digits} hex digits")
            value = int(code, 16)
            if value > 0x10FFFF:
                raise DisplayFilterError(position + 1, f"\\{escape}{code} is not a character")
            out.append(chr(value))
            position += 2 + digits
        elif escape and escape in "01234567":
            octal = re.match(r"[0-7]{1,3}", text[position + 1 : position + 4])
            digits_text = octal.group() if octal else escape
            out.append(chr(int(digits_text, 8)))
            position += 1 + len(digits_text)
        else:
            raise DisplayFilterError(
                position + 1, f"unknown escape {_show(chr(92) + escape)} in a string"
            )
    raise DisplayFilterError(start + 1, "this string has no closing quote")
