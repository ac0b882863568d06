"""The JSON Schema of a protocol spec, for editors and for documentation.

livetap validates specs with its own code (:mod:`engine.dissector.spec`), which
gives errors with field paths and checks what a schema cannot (references to
earlier fields, struct cycles, filter-name clashes); this schema describes the
same format so an editor can complete and check a spec as it is typed.
"""

from __future__ import annotations

import json
from typing import Any

from engine.dissector.model import (
    BYTE_ORDERS,
    DISPLAYS,
    FIELD_TYPES,
    MAX_LABEL,
    MAX_TEXT,
    NAME_PATTERN,
    PREFIX_TYPES,
    TRANSPORTS,
)

SCHEMA_ID = "https://livetap.invalid/dissector-spec.schema.json"

_NAME = {"type": "string", "pattern": NAME_PATTERN}
_INTEGER = {
    "description": "An integer, or a string holding a decimal or 0x-hex integer.",
    "oneOf": [
        {"type": "integer"},
        {"type": "string", "pattern": "^-?(0[xX][0-9a-fA-F]{1,16}|[0-9]{1,20})$"},
    ],
}
_EXPRESSION = {
    "type": "string",
    "maxLength": 256,
    "description": (
        "Arithmetic over integers and earlier integer fields: + - * and parentheses, "
        'e.g. "len - 4" or "(count + 1) * 8".'
    ),
}
_ENUM = {
    "type": "object",
    "description": 'Value names: {"1": "Reading", "0x10": "Config"}.',
    "propertyNames": {"pattern": "^-?(0[xX][0-9a-fA-F]{1,16}|[0-9]{1,20})$"},
    "additionalProperties": {"type": "string", "minLength": 1, "maxLength": MAX_LABEL},
    "minProperties": 1,
}
_LABEL = {"type": "string", "minLength": 1, "maxLength": MAX_LABEL}
_TEXT = {"type": "string", "maxLength": MAX_TEXT}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "livetap protocol spec",
    "description": (
        "A binary protocol described once, from which livetap generates a Wireshark Lua "
        "dissector (livetap dissector generate)."
    ),
    "type": "object",
    "required": ["protocol", "transport", "fields"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string"},
        "comment": {"type": "string", "description": "Ignored: notes for people."},
        "protocol": {
            **_NAME,
            "description": "The protocol's name: its filter name in Wireshark (e.g. sensor).",
        },
        "description": {**_LABEL, "description": "The protocol's long name in Wireshark."},
        "transport": {"enum": list(TRANSPORTS)},
        "ports": {
            "type": "array",
            "maxItems": 64,
            "description": 'Ports and ranges: [47000, "47100-47109"].',
            "items": {
                "oneOf": [
                    {"type": "integer", "minimum": 1, "maximum": 65535},
                    {"type": "string", "pattern": "^[0-9]{1,5}(-[0-9]{1,5})?$"},
                ]
            },
        },
        "heuristic": {
            "type": "boolean",
            "description": "Also recognise the protocol on any port by its leading magic fields.",
        },
        "byte_order": {"enum": list(BYTE_ORDERS), "default": "big"},
        "info": {
            **_TEXT,
            "description": (
                'The Info column: text with {field} placeholders, e.g. "{type} seq={seq}"; '
                "{{ and }} for literal braces."
            ),
        },
        "framing": {"$ref": "#/$defs/framing"},
        "fields": {"$ref": "#/$defs/fields"},
        "structs": {
            "type": "object",
            "description": "Named structs, used by struct fields and switch cases.",
            "propertyNames": {"pattern": NAME_PATTERN},
            "additionalProperties": {"$ref": "#/$defs/struct"},
        },
    },
    "$defs": {
        "integer": _INTEGER,
        "expression": _EXPRESSION,
        "enum": _ENUM,
        "fields": {
            "type": "array",
            "minItems": 1,
            "items": {"$ref": "#/$defs/field"},
        },
        "struct": {
            "type": "object",
            "required": ["fields"],
            "additionalProperties": False,
            "properties": {
                "comment": {"type": "string"},
                "description": _TEXT,
                "fields": {"$ref": "#/$defs/fields"},
            },
        },
        "length": {
            "description": (
                'A number of bytes, an expression over earlier fields, or "rest" (up to '
                "the end of the enclosing struct or message)."
            ),
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {"const": "rest"},
                {"$ref": "#/$defs/expression"},
            ],
        },
        "repeat": {
            "type": "object",
            "additionalProperties": False,
            "description": 'Repeat the field: {"count": "n"} times, or {"until": "end"}.',
            "oneOf": [
                {
                    "required": ["count"],
                    "properties": {
                        "count": {
                            "oneOf": [
                                {"type": "integer", "minimum": 0},
                                {"$ref": "#/$defs/expression"},
                            ]
                        }
                    },
                },
                {"required": ["until"], "properties": {"until": {"const": "end"}}},
            ],
        },
        "bit": {
            "type": "object",
            "required": ["name", "mask"],
            "additionalProperties": False,
            "properties": {
                "comment": {"type": "string"},
                "name": _NAME,
                "mask": {"$ref": "#/$defs/integer"},
                "label": _LABEL,
                "description": _TEXT,
                "enum": {"$ref": "#/$defs/enum"},
            },
        },
        "framing": {
            "type": "object",
            "required": ["length"],
            "additionalProperties": False,
            "description": (
                "TCP only: the whole message's length in bytes, computed from fields at fixed "
                "offsets in its header; messages may span segments or share one."
            ),
            "properties": {
                "comment": {"type": "string"},
                "length": {"$ref": "#/$defs/expression"},
                "max_length": {"type": "integer", "minimum": 1, "maximum": 1 << 24},
            },
        },
        "field": {
            "type": "object",
            "required": ["name", "type"],
            "additionalProperties": False,
            "properties": {
                "comment": {"type": "string"},
                "name": _NAME,
                "type": {"enum": list(FIELD_TYPES)},
                "label": _LABEL,
                "description": _TEXT,
                "byte_order": {"enum": list(BYTE_ORDERS)},
                "display": {"enum": list(DISPLAYS)},
                "enum": {"$ref": "#/$defs/enum"},
                "bits": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 64,
                    "items": {"$ref": "#/$defs/bit"},
                },
                "magic": {
                    "description": (
                        "The constant the field must hold: an integer, hex bytes for bytes, "
                        "text for a string."
                    ),
                    "oneOf": [{"type": "integer"}, {"type": "string"}],
                },
                "length": {"$ref": "#/$defs/length"},
                "length_prefix": {"enum": list(PREFIX_TYPES)},
                "struct": {**_NAME, "description": "The named struct a struct field holds."},
                "fields": {"$ref": "#/$defs/fields"},
                "on": {**_NAME, "description": "Switch: the earlier field whose value picks."},
                "cases": {
                    "type": "object",
                    "description": 'Switch: value → struct name, e.g. {"1": "reading"}.',
                    "propertyNames": {"pattern": "^-?(0[xX][0-9a-fA-F]{1,16}|[0-9]{1,20})$"},
                    "additionalProperties": _NAME,
                    "minProperties": 1,
                },
                "default": {**_NAME, "description": "Switch: the struct for other values."},
                "repeat": {"$ref": "#/$defs/repeat"},
            },
        },
    },
}
"""The spec format as a JSON Schema (draft 2020-12)."""


def schema_json() -> str:
    """The schema as indented JSON text (what ``livetap dissector schema`` prints)."""
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"
