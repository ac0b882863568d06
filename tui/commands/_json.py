"""``json.dumps(value, indent=2, default=str)``, the same text, written faster.

With an indent, the standard library encodes in Python, value by value (its C encoder
knows no indent): for ``analyze --json`` on a big capture that was as long as a tenth
of the reading. Here every container whose items are all plain values (a conversation
row, a list of names), which is most of a report, goes to the C encoder in one call,
its item separator carrying the line break and the indent; only the containers above
them are walked in Python.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

_PLAIN = frozenset({str, int, float, bool, type(None)})
"""Types the C encoder writes exactly as the Python one does (subclasses go the slow way)."""
_INDENT = "  "
_flat = json.JSONEncoder()
_LEAVES: dict[int, json.JSONEncoder] = {}


def dumps(value: Any) -> str:
    """The text of ``json.dumps(value, indent=2, default=str)``."""
    return _encode(value, 0)


def _leaf(level: int) -> json.JSONEncoder:
    """The C encoder whose item separator starts the next line of a container at ``level``."""
    encoder = _LEAVES.get(level)
    if encoder is None:
        pad = "\n" + _INDENT * (level + 1)
        encoder = _LEAVES[level] = json.JSONEncoder(separators=("," + pad, ": "))
    return encoder


def _encode(value: Any, level: int) -> str:
    kind = type(value)
    if kind in _PLAIN:
        return _flat.encode(value)
    if kind is dict or kind is list or kind is tuple:
        return _container(value, level)
    if isinstance(value, (str, int, float)):  # subclasses: as the Python encoder writes them
        return _subclass(value)
    if isinstance(value, (dict, list, tuple)):
        return _container(value, level)
    return _encode(str(value), level)  # default=str


def _container(value: dict[Any, Any] | list[Any] | tuple[Any, ...], level: int) -> str:
    if not value:
        return "{}" if isinstance(value, dict) else "[]"
    items = value.values() if isinstance(value, dict) else value
    pad = "\n" + _INDENT * (level + 1)
    close = "\n" + _INDENT * level
    if all(type(item) in _PLAIN for item in items) and (
        not isinstance(value, dict) or all(type(key) is str for key in value)
    ):
        text = _leaf(level).encode(value)
        return text[0] + pad + text[1:-1] + close + text[-1]
    separator = "," + pad
    if isinstance(value, dict):
        inner = separator.join(
            f"{_key(key)}: {_encode(item, level + 1)}" for key, item in value.items()
        )
        return "{" + pad + inner + close + "}"
    return "[" + pad + separator.join(_encode(item, level + 1) for item in value) + close + "]"


def _key(key: Any) -> str:
    """A dict key as the standard encoder writes it (numbers, booleans and None as text)."""
    if isinstance(key, str):
        return encode_basestring_ascii(key)
    if key is None or type(key) in _PLAIN:  # a number, a boolean or None
        return encode_basestring_ascii(_flat.encode(key))
    if isinstance(key, (int, float)):
        return encode_basestring_ascii(_flat.encode(_base(key)))
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _base(value: int | float) -> int | float:
    """An int or float subclass's value as the plain type (its repr is what JSON shows)."""
    return float(value) if isinstance(value, float) else int(value)


def _subclass(value: str | int | float) -> str:
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    if value is True or value is False:
        return _flat.encode(value)
    return _flat.encode(_base(value))
