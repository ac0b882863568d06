"""The fast indented JSON writer gives exactly ``json.dumps(indent=2, default=str)``."""

from __future__ import annotations

import enum
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.commands._json import dumps


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


class Rate(float):
    pass


TRICKY: list[Any] = [
    {},
    [],
    (),
    {"a": {}, "b": [], "c": [[]], "d": [{}]},
    {"rows": [{"a": "10.0.0.1", "port": 80, "t": 0.1, "ok": True, "n": None}]},
    [1, 2.5, "x", None, False, [3, [4, {"k": "v"}]]],
    {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "big": 1e300, "small": 5e-324},
    {"é": 'snowman ☃ \x00 \n "quoted" \\ / \u2028', "\x7f": "\ud83d"},
    {3: "int key", 2.5: "float key", True: "bool key", False: "no", None: "none key"},
    {
        "enum": Colour.RED,
        "sub": Name("x"),
        "rate": Rate(0.5),
        Colour.RED: "enum key",
        Rate(2.5): "float subclass key",
    },
    {"path": Path("/tmp/x"), "set": {1}, "bytes": b"\x00"},
    [[1, 2], [3, [4, [5, []]]], ({"deep": ({"er": [None]},)},)],
]


@pytest.mark.parametrize("value", TRICKY)
def test_the_same_text_as_the_standard_library(value: Any) -> None:
    assert dumps(value) == json.dumps(value, indent=2, default=str)


plain = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
values = st.recursive(
    plain,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_any_json_value(value: Any) -> None:
    assert dumps(value) == json.dumps(value, indent=2, default=str)


def test_a_key_json_cannot_write_is_refused_like_the_standard_library() -> None:
    with pytest.raises(TypeError):
        json.dumps({(1, 2): 3}, indent=2)
    with pytest.raises(TypeError):
        dumps({(1, 2): 3})
