"""Wireshark Lua dissectors from a protocol spec: validate, generate, check, draft, decode.

:func:`load_spec` / :func:`parse_spec` build a :class:`ProtocolSpec` (errors name
the place in the spec); :func:`generate_lua` writes the script;
:func:`check_dissector` runs tshark with it over a capture; :func:`draft_spec`
and :func:`draft_from_frame` guess a spec from one packet; :func:`decode_frame`
decodes one frame with a script into detail-pane nodes. The spec format is
described in ``examples/README.md`` and by :data:`SCHEMA`.
"""

from __future__ import annotations

from engine.dissector.check import CheckReport, ExpertInfo, FieldCount, LuaError, check_dissector
from engine.dissector.decode import decode_frame
from engine.dissector.draft import draft_from_frame, draft_spec, transport_payload
from engine.dissector.lua import generate_lua, lua_string
from engine.dissector.schema import SCHEMA, schema_json
from engine.dissector.spec import (
    FieldSpec,
    ProtocolSpec,
    SpecError,
    StructSpec,
    load_spec,
    override,
    parse_spec,
    read_spec_data,
)
from engine.dissector.tshark import find_tshark

__all__ = [
    "SCHEMA",
    "CheckReport",
    "ExpertInfo",
    "FieldCount",
    "FieldSpec",
    "LuaError",
    "ProtocolSpec",
    "SpecError",
    "StructSpec",
    "check_dissector",
    "decode_frame",
    "draft_from_frame",
    "draft_spec",
    "find_tshark",
    "generate_lua",
    "load_spec",
    "lua_string",
    "override",
    "parse_spec",
    "read_spec_data",
    "schema_json",
    "transport_payload",
]
