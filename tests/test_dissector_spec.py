"""Protocol specs: loading JSON and YAML, validation errors that name the place, drafts."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine import linktypes
from engine.dissector import (
    SpecError,
    draft_from_frame,
    draft_spec,
    load_spec,
    override,
    parse_spec,
    read_spec_data,
)
from engine.dissector.expr import ExpressionError, names, parse_expression, render
from engine.dissector.model import MAX_SPEC_BYTES
from engine.errors import BadInputError, NotFoundError
from tests.dissector_support import EXAMPLES, tcp_frames, udp_frame

BASE: dict[str, Any] = {
    "protocol": "demo",
    "transport": "udp",
    "ports": [40200],
    "fields": [
        {"name": "kind", "type": "uint8", "enum": {"1": "a"}},
        {"name": "len", "type": "uint16"},
        {"name": "flags", "type": "uint8", "bits": [{"name": "on", "mask": 1}]},
        {"name": "data", "type": "bytes", "length": "len"},
    ],
    "structs": {"item": {"fields": [{"name": "x", "type": "uint8"}]}},
}
DELETE = object()


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    """Set (or delete, with DELETE) the item at a path like ``fields[3].length``."""
    steps: list[str | int] = []
    for part in path.split("."):
        match = re.fullmatch(r"([^\[]*)((?:\[\d+\])*)", part)
        assert match
        if match.group(1):
            steps.append(match.group(1))
        steps.extend(int(index) for index in re.findall(r"\[(\d+)\]", match.group(2)))
    target: Any = data
    for step in steps[:-1]:
        target = target[step]
    if value is DELETE:
        del target[steps[-1]]
    else:
        target[steps[-1]] = value


def mutated(*changes: tuple[str, Any]) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        for path, value in changes:
            _set(data, path, value)

    return apply


def appended(field: dict[str, Any], *changes: tuple[str, Any]) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        data["fields"].append(field)
        mutated(*changes)(data)

    return apply


BAD_SPECS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "unknown length field",
        mutated(("fields[3].length", "leng")),
        "fields[3].length",
        'refers to unknown field "leng"',
    ),
    (
        "division",
        mutated(("fields[3].length", "len / 2")),
        "fields[3].length",
        "unexpected '/' at position 5",
    ),
    (
        "python in an expression",
        mutated(("fields[3].length", "__import__('os')")),
        "fields[3].length",
        "unexpected '('",
    ),
    (
        "unclosed parenthesis",
        mutated(("fields[3].length", "kind * (len")),
        "fields[3].length",
        "ends too early",
    ),
    (
        "field used before it is decoded",
        appended({"name": "later", "type": "uint8"}, ("fields[3].length", "later")),
        "fields[3].length",
        'refers to field "later" before it is decoded',
    ),
    (
        "length from a float",
        mutated(("fields[1].type", "float")),
        "fields[3].length",
        'refers to field "len", which is a float, not an integer',
    ),
    (
        "length from a repeated field",
        mutated(("fields[1].repeat", {"count": 2})),
        "fields[3].length",
        'refers to field "len", which repeats',
    ),
    ("bad protocol name", mutated(("protocol", "Bad-Name")), "protocol", "is not a valid name"),
    ("long protocol name", mutated(("protocol", "x" * 65)), "protocol", "is not a valid name"),
    ("bad field name", mutated(("fields[0].name", "1abc")), "fields[0].name", "not a valid name"),
    ("missing name", mutated(("fields[0].name", DELETE)), "fields[0].name", "is required"),
    (
        "unknown type",
        mutated(("fields[0].type", "uint128")),
        "fields[0].type",
        '"uint128" is not one of',
    ),
    (
        "enum value out of range",
        mutated(("fields[0].enum", {"256": "big"})),
        "fields[0].enum.256",
        "256 is out of range (0 to 255)",
    ),
    (
        "enum key not a number",
        mutated(("fields[0].enum", {"x": "a"})),
        "fields[0].enum.x",
        "must be an integer",
    ),
    (
        "enum listed twice",
        mutated(("fields[0].enum", {"1": "a", "0x01": "b"})),
        "fields[0].enum.0x01",
        "the value 1 is listed twice",
    ),
    (
        "enum on a 64-bit integer",
        mutated(("fields[0].type", "uint64")),
        "fields[0].enum",
        "enums need an integer type of 32 bits or fewer",
    ),
    (
        "mask wider than the field",
        mutated(("fields[2].bits[0].mask", "0x100")),
        "fields[2].bits[0].mask",
        "256 is out of range (1 to 255)",
    ),
    (
        "bits on a signed integer",
        mutated(("fields[2].type", "int8")),
        "fields[2].bits",
        "bits need an unsigned integer type",
    ),
    (
        "bit name clash",
        mutated(("fields[2].bits[0].name", "kind")),
        "fields[2].bits[0].name",
        'the name "kind" is used twice in this struct',
    ),
    (
        "duplicate field name",
        mutated(("fields[1].name", "kind"), ("fields[3].length", 4)),
        "fields[1].name",
        'the name "kind" is used twice in this struct',
    ),
    (
        "bad transport",
        mutated(("transport", "sctp")),
        "transport",
        '"sctp" is not one of: udp, tcp',
    ),
    ("no ports", mutated(("ports", [])), "ports", "give at least one port"),
    ("backwards range", mutated(("ports", ["40300-40200"])), "ports[0]", "runs backwards"),
    ("port too big", mutated(("ports", [70000])), "ports[0]", "70000 is out of range"),
    ("port is a boolean", mutated(("ports", [True])), "ports[0]", "must be an integer"),
    (
        "heuristic without magic",
        mutated(("heuristic", True)),
        "heuristic",
        'needs a field with "magic" at a fixed offset',
    ),
    ("heuristic not a boolean", mutated(("heuristic", "yes")), "heuristic", "true or false"),
    (
        "bytes without a length",
        mutated(("fields[3].length", DELETE)),
        "fields[3]",
        'a bytes field needs either "length"',
    ),
    (
        "negative fixed length",
        mutated(("fields[3].length", -1)),
        "fields[3].length",
        "-1 is out of range",
    ),
    (
        "length on an integer",
        mutated(("fields[0].length", 3)),
        "fields[0].length",
        "a uint8 field has a size of its own",
    ),
    ("unknown top-level key", mutated(("feilds", [])), "", 'unknown key "feilds"'),
    ("unknown field key", mutated(("fields[0].lenght", 3)), "fields[0]", 'unknown key "lenght"'),
    (
        "unknown struct",
        appended({"name": "body", "type": "struct", "struct": "nosuch"}),
        "fields[4].struct",
        'refers to unknown struct "nosuch"',
    ),
    (
        "struct cycle",
        mutated(
            (
                "structs",
                {
                    "a": {"fields": [{"name": "b", "type": "struct", "struct": "b"}]},
                    "b": {"fields": [{"name": "a", "type": "struct", "struct": "a"}]},
                },
            ),
            ("fields[3]", {"name": "body", "type": "struct", "struct": "a"}),
        ),
        "structs.b.fields[0].struct",
        'struct "a" contains itself (a → b → a)',
    ),
    ("unknown info field", mutated(("info", "{nosuch}")), "info", 'unknown field "nosuch"'),
    ("unclosed info brace", mutated(("info", "x {kind")), "info", "is never closed"),
    (
        "info on a struct",
        appended({"name": "body", "type": "struct", "struct": "item"}, ("info", "{body}")),
        "info",
        'field "body" is a struct, not a value',
    ),
    ("framing on udp", mutated(("framing", {"length": "len"})), "framing", "only TCP"),
    (
        "framing after a variable field",
        appended(
            {"name": "tail", "type": "uint16"},
            ("transport", "tcp"),
            ("framing", {"length": "tail + 4"}),
        ),
        "framing.length",
        'field "tail" must be at a fixed offset',
    ),
    (
        "framing without a field",
        mutated(("transport", "tcp"), ("framing", {"length": "12"})),
        "framing.length",
        "must read at least one header field",
    ),
    ("magic out of range", mutated(("fields[0].magic", 300)), "fields[0].magic", "out of range"),
    (
        "magic bytes of a computed length",
        mutated(("fields[3].magic", "abcd")),
        "fields[3].magic",
        'a magic bytes needs a fixed "length"',
    ),
    (
        "magic bytes of the wrong size",
        mutated(("fields[3].length", 3), ("fields[3].magic", "abcd")),
        "fields[3].magic",
        "has 2 bytes but the field has 3",
    ),
    (
        "switch on an unknown field",
        appended({"name": "body", "type": "switch", "on": "nosuch", "cases": {"1": "item"}}),
        "fields[4].on",
        'refers to unknown field "nosuch"',
    ),
    (
        "switch case to an unknown struct",
        appended({"name": "body", "type": "switch", "on": "kind", "cases": {"1": "nosuch"}}),
        "fields[4].cases.1",
        'refers to unknown struct "nosuch"',
    ),
    (
        "display on bytes",
        mutated(("fields[3].display", "hex")),
        "fields[3].display",
        "only integers have a display base",
    ),
    ("long label", mutated(("fields[0].label", "x" * 300)), "fields[0].label", "longer than 256"),
    ("field is a string", mutated(("fields[0]", "uint8")), "fields[0]", "must be an object"),
    ("no fields", mutated(("fields", [])), "fields", "must hold at least one field"),
    (
        "filter-name clash",
        appended({"name": "item", "type": "uint8", "bits": [{"name": "x", "mask": 1}]}),
        "structs.item.fields[0]",
        "its filter name demo.item.x is already used by fields[4].bits[0]",
    ),
    (
        "repeat until something else",
        mutated(("fields[0].repeat", {"until": "never"})),
        "fields[0].repeat.until",
        'the only choice is "end"',
    ),
    (
        "negative repeat count",
        mutated(("fields[0].repeat", {"count": -1})),
        "fields[0].repeat.count",
        "-1 is out of range",
    ),
]


@pytest.mark.parametrize(
    ("change", "path", "problem"),
    [pytest.param(change, path, problem, id=name) for name, change, path, problem in BAD_SPECS],
)
def test_a_bad_spec_is_refused_with_the_place_and_the_problem(
    change: Callable[[dict[str, Any]], None], path: str, problem: str
) -> None:
    parse_spec(copy.deepcopy(BASE))  # the base itself is fine
    data = copy.deepcopy(BASE)
    change(data)
    with pytest.raises(SpecError) as caught:
        parse_spec(data, source="demo.json")
    error = caught.value
    assert error.path == path, error.message
    assert problem in error.problem, error.message
    where = f"{path}: " if path else ""
    assert error.message.startswith(f"demo.json: {where}"), error.message
    assert isinstance(error, BadInputError)


def test_the_example_spec_loads_with_every_part_resolved() -> None:
    spec = load_spec(EXAMPLES / "sensor.json")
    assert spec.name == "sensor" and spec.transport == "udp" and not spec.little_endian
    assert spec.ports == ((47000, 47000), (47100, 47109))
    assert [item.name for item in spec.fields][:4] == ["magic", "version", "type", "flags"]
    magic = spec.fields[0]
    assert magic.magic == b"SN" and magic.display == "hex"
    flags = spec.fields[3]
    assert [(bit.name, bit.mask, bit.shift, bit.is_flag) for bit in flags.bits] == [
        ("alarm", 0x80, 7, True),
        ("low_battery", 0x40, 6, True),
        ("priority", 0x30, 4, False),
        ("channel", 0x0F, 0, False),
    ]
    assert flags.bits[2].abbrev == "sensor.flags.priority"
    body = spec.fields[8]
    assert body.switch is not None and body.switch.cases == (
        (1, "readings"),
        (2, "config"),
        (3, "event"),
    )
    assert [s.name for s in spec.structs] == ["config", "event", "reading", "readings"]
    assert spec.struct("event").fields[0].enum == (
        (256, "Boot"),
        (512, "Door open"),
        (768, "Tamper"),
    )
    assert "sensor.readings.reading" in spec.abbreviations()
    assert [part.field for part in spec.info if part.field] == ["type", "seq", "name"]


def test_yaml_and_json_give_the_same_spec(tmp_path: Path) -> None:
    data = json.loads((EXAMPLES / "sensor.json").read_text())
    as_yaml = tmp_path / "sensor.yaml"
    as_yaml.write_text(yaml.safe_dump(data, sort_keys=True))
    assert load_spec(as_yaml).fields == load_spec(EXAMPLES / "sensor.json").fields


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("dup.json", '{"protocol": "a", "protocol": "b"}', "the key 'protocol' appears twice"),
        ("broken.json", '{"protocol": "a",\n "fields": [}', "not valid JSON"),
        ("alias.yaml", "a: &x [1]\nb: *x\n", "YAML aliases"),
        ("broken.yaml", "a: [1, 2\nb: c", "not valid YAML"),
        ("list.yaml", "- 1\n- 2\n", "must be a mapping"),
        ("latin1.json", b'{"protocol": "\xe9"}', "not UTF-8"),
    ],
)
def test_unreadable_spec_files_are_bad_input(
    tmp_path: Path, name: str, text: str | bytes, message: str
) -> None:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(BadInputError, match=re.escape(message)):
        read_spec_data(path)


def test_missing_huge_and_directory_specs(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        load_spec(tmp_path / "nope.json")
    with pytest.raises(BadInputError, match="is a directory"):
        load_spec(tmp_path)
    huge = tmp_path / "huge.json"
    huge.write_text(" " * (MAX_SPEC_BYTES + 1))
    with pytest.raises(BadInputError, match="at most"):
        load_spec(huge)


def test_override_replaces_the_name_and_the_ports() -> None:
    spec = parse_spec(override(BASE, protocol_name="other", port=5555))
    assert spec.name == "other" and spec.ports == ((5555, 5555),)
    assert spec.fields[0].abbrev == "other.kind"
    assert BASE["protocol"] == "demo"


def test_ports_ranges_yaml_integers_and_hex_values() -> None:
    data = copy.deepcopy(BASE)
    data["ports"] = [40200, "40300-40310", "40400"]
    data["fields"][0]["enum"] = {1: "one", "0x02": "two"}  # YAML gives integer keys
    data["fields"][2]["bits"][0]["mask"] = "0x01"
    spec = parse_spec(data)
    assert spec.ports == ((40200, 40200), (40300, 40310), (40400, 40400))
    assert spec.fields[0].enum == ((1, "one"), (2, "two"))


def test_expressions_are_parsed_never_evaluated() -> None:
    expr = parse_expression("(count + 1) * 8 - -hdr_len + 0x10")
    assert render(expr) == "((((count + 1) * 8) - -hdr_len) + 16)"
    assert names(expr) == ["count", "hdr_len"]
    for bad in ("", "a +", "a ** 2", "a // 2", "a; b", "os.exit()", "(" * 40 + "1" + ")" * 40):
        with pytest.raises(ExpressionError):
            parse_expression(bad)


# --------------------------------------------------------------------------- drafts


def test_a_draft_guesses_magic_strings_small_values_and_bytes() -> None:
    payload = (
        b"\xca\xfe"  # magic
        + b"\x01\x02"  # small values
        + b"\x05hello"  # length-prefixed text
        + b"location\x00"  # NUL-terminated text
        + b"\x00\x00\x00"  # zeros
        + b"\x9a\xbc\xde"  # opaque
    )
    draft = draft_spec(payload, "udp", 47000, name="mine")
    kinds = [(item["name"], item["type"]) for item in draft["fields"]]
    assert kinds == [
        ("magic", "uint16"),
        ("byte_2", "uint8"),
        ("byte_3", "uint8"),
        ("text_4", "string"),
        ("text_10", "stringz"),
        ("zeros_19", "bytes"),
        ("data_22", "bytes"),
    ]
    assert draft["fields"][0]["magic"] == "0xcafe"
    assert draft["fields"][3]["length_prefix"] == "uint8"
    assert draft["fields"][-1]["length"] == "rest"
    assert draft["ports"] == [47000] and draft["transport"] == "udp"
    spec = parse_spec(draft)  # a draft is a valid spec as it is
    assert spec.name == "mine"


def test_a_draft_takes_a_4_byte_magic_and_plain_text() -> None:
    draft = draft_spec(b"\x89PNG\xff\xee" + b"some text here", "tcp", 9000)
    assert [item["type"] for item in draft["fields"]] == ["uint32", "bytes", "string"]
    assert draft["fields"][0]["magic"] == "0x89504e47"
    parse_spec(draft)
    text_only = draft_spec(b"GET /index.html", "tcp", 80)
    assert text_only["fields"][0]["type"] == "string"
    assert parse_spec(draft_spec(b"", "udp", 1)).fields[0].length is not None


def test_drafts_refuse_bad_names_ports_and_transports() -> None:
    with pytest.raises(BadInputError, match="not a valid protocol name"):
        draft_spec(b"x", "udp", 1, name="No Good")
    with pytest.raises(BadInputError, match="not a port number"):
        draft_spec(b"x", "udp", 0)
    with pytest.raises(BadInputError, match="UDP or TCP"):
        draft_spec(b"x", "sctp", 1)


def test_a_draft_from_a_frame_takes_the_payload_and_the_lower_port() -> None:
    udp = draft_from_frame(linktypes.ETHERNET, udp_frame(b"\xca\xfe\x01\x02abcd", 47000))
    assert udp["transport"] == "udp" and udp["ports"] == [47000]
    tcp = draft_from_frame(linktypes.ETHERNET, tcp_frames([b"\x01\x02\x03"], 4444)[0])
    assert tcp["transport"] == "tcp" and tcp["ports"] == [4444]
    with pytest.raises(BadInputError, match="neither UDP nor TCP"):
        draft_from_frame(linktypes.ETHERNET, bytes(udp_frame(b"x", 1))[:14] + bytes(20))
    with pytest.raises(BadInputError, match="no payload"):
        draft_from_frame(linktypes.ETHERNET, tcp_frames([b""], 4444)[0])


def test_a_draft_from_a_tunnelled_frame_reads_the_inner_packet() -> None:
    from tests.test_packet_walk import ETHERNET_FRAMES

    spec = draft_from_frame(linktypes.ETHERNET, ETHERNET_FRAMES["gre-key-ip"])
    assert spec["transport"] == "udp"
    assert spec["ports"] == [1000]  # the inner UDP's lower port, not GRE's
    with pytest.raises(BadInputError, match="cannot draft a spec from linktype 147"):
        draft_from_frame(147, ETHERNET_FRAMES["gre-key-ip"])
