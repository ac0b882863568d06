"""The generated Lua: golden files, escaping, and real tshark decoding every field.

Packets are built with scapy from known values; tshark decodes them with the
generated scripts and every field is compared with the value that built it.
All UDP frames go through one tshark run and all TCP streams through another,
to keep the suite fast.
"""

from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.dissector import generate_lua, load_spec, lua_string, parse_spec
from tests.dissector_support import (
    CONFIG,
    EVENT,
    GOLDEN,
    READINGS,
    script_for,
    sensor_message,
    spec_file,
    tcp_frames,
    tshark_fields,
    tshark_verbose,
    udp_frame,
    write_frames,
)

GOLDEN_SPECS = ("sensor", "kitchen", "framed", "hostile")
UPDATE = os.environ.get("LIVETAP_UPDATE_GOLDEN") == "1"
EDGE = {
    "protocol": "lt_edge",
    "transport": "udp",
    "ports": [40126],
    "fields": [
        {"name": "len", "type": "uint8"},
        {"name": "data", "type": "bytes", "length": "len - 4"},
        {"name": "name", "type": "stringz"},
    ],
}
TRUE = {"1", "True"}
FALSE = {"0", "False"}


# --------------------------------------------------------------------------- the text


@pytest.mark.parametrize("name", GOLDEN_SPECS)
def test_generated_lua_matches_the_golden_file(name: str) -> None:
    """Regenerate with LIVETAP_UPDATE_GOLDEN=1 after an intended change, and review the diff."""
    text = generate_lua(load_spec(spec_file(name)))
    golden = GOLDEN / f"{name}.lua"
    if UPDATE:
        golden.write_text(text)
    assert golden.exists(), f"no golden file: run with LIVETAP_UPDATE_GOLDEN=1 to create {golden}"
    assert text == golden.read_text(), f"{golden} differs: LIVETAP_UPDATE_GOLDEN=1 to update"


def test_the_same_spec_in_any_key_order_gives_the_same_bytes() -> None:
    data = json.loads(spec_file("sensor").read_text())
    shuffled = json.loads(json.dumps(data, sort_keys=True))
    shuffled["fields"][2]["enum"] = dict(reversed(list(data["fields"][2]["enum"].items())))
    shuffled["structs"] = dict(reversed(list(data["structs"].items())))
    first = generate_lua(parse_spec(data))
    assert generate_lua(parse_spec(shuffled)) == first == generate_lua(parse_spec(data))


@pytest.mark.parametrize("name", GOLDEN_SPECS)
def test_scripts_stay_within_lua_5_1(name: str) -> None:
    text = generate_lua(load_spec(spec_file(name)))
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)  # string literals hold spec text
    code = re.sub(r"--[^\n]*", "", code)
    for forbidden in ("&", "//", "bit32", "goto", ">>", "<<", "::"):
        assert forbidden not in code, forbidden
    assert re.search(r"(?<![~<>=])~(?!=)", code) is None, "no Lua 5.3 bitwise ~"
    if "masked(" in code:
        assert "bit.band" in code and "bit.rshift" in code


@given(st.text() | st.binary())
def test_lua_string_literals_hold_any_text_and_nothing_else(text: str | bytes) -> None:
    literal = lua_string(text)
    assert literal.startswith('"') and literal.endswith('"')
    body = literal[1:-1]
    assert all(0x20 <= ord(c) < 0x7F for c in body), "only printable ASCII in the source"
    assert "]]" not in body and "[[" not in body and "\n" not in body
    assert _read_lua_string(body) == (text.encode() if isinstance(text, str) else text)


def _read_lua_string(body: str) -> bytes:
    """The bytes a Lua 5.1 reader makes of a string literal body (the escapes lua_string uses)."""
    out = bytearray()
    index = 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            assert char != '"', "an unescaped quote would end the string"
            out.append(ord(char))
            index += 1
        elif body[index + 1] in '\\"':
            out.append(ord(body[index + 1]))
            index += 2
        else:
            digits = body[index + 1 : index + 4]
            assert digits.isdigit() and len(digits) == 3
            out.append(int(digits))
            index += 4
    return bytes(out)


# --------------------------------------------------------------------------- UDP decoding


def kitchen_message(
    n: int = 3, words: tuple[int, ...] = (1, 2, 3), magic: bytes = b"KITC"
) -> bytes:
    payload = magic + b"v1\0"
    payload += struct.pack("<BH", 200, 65000) + (0xABCDEF).to_bytes(3, "little")
    payload += struct.pack("<IQ", 4_000_000_000, 2**63 + 5)
    payload += struct.pack("<bh", -100, -30000) + (-5_000_000).to_bytes(3, "little", signed=True)
    payload += struct.pack("<iq", -2_000_000_000, -(2**62))
    payload += struct.pack(">I", 0xDEADBEEF) + struct.pack("<f", 1.5) + struct.pack(">d", -2.25)
    payload += b"\x01" + bytes([192, 168, 1, 2])
    payload += bytes.fromhex("20010db8000000000000000000000001") + bytes.fromhex("0a1b2c3d4e5f")
    payload += struct.pack("<H", 0x3721)
    payload += bytes([n]) + bytes(range(2 * min(n, 3)))
    title = "Grüße".encode()
    payload += struct.pack("<H", len(title)) + title + b"a note\0"
    payload += struct.pack("<h", -3) + struct.pack(">h", 300) + b"\x07"
    payload += bytes([2]) + b"\x01" + struct.pack(">i", -7) + b"\x05" + struct.pack(">i", 9)
    payload += b"".join(struct.pack("<H", word) for word in words)
    return payload


UDP_FRAMES: dict[str, bytes] = {
    "readings": udp_frame(sensor_message(1, READINGS), 47000),
    "config": udp_frame(sensor_message(2, CONFIG, seq=8, name=b""), 47105),
    "event": udp_frame(sensor_message(3, EVENT, seq=9), 47000),
    "sensor_cut": udp_frame(sensor_message(1, READINGS)[:20], 47000),
    "sensor_odd": udp_frame(sensor_message(9, b"xx", magic=0x1234, flags=0x10), 47000),
    "sensor_long_body": udp_frame(sensor_message(3, EVENT, body_len=500), 47000),
    "kitchen": udp_frame(kitchen_message(), 40123),
    "kitchen_cut": udp_frame(kitchen_message()[:40], 40123),
    "kitchen_huge_n": udp_frame(kitchen_message(n=200), 40123),
    "kitchen_odd_word": udp_frame(kitchen_message(words=(4,)) + b"\x09", 40123),
    "kitchen_not_ours": udp_frame(kitchen_message(magic=b"NOPE"), 40123),
    "edge_negative": udp_frame(b"\x01abc\x00", 40126),
    "edge_no_nul": udp_frame(b"\x04abc", 40126),
}


@dataclass(frozen=True)
class Decoded:
    rows: dict[str, dict[str, list[str]]]

    def __call__(self, frame: str, field: str) -> list[str]:
        return self.rows[frame][field]

    def expert(self, frame: str) -> list[str]:
        return self.rows[frame]["_ws.expert.message"]


@pytest.fixture(scope="module")
def udp_decoded(tmp_path_factory: pytest.TempPathFactory) -> Decoded:
    directory = tmp_path_factory.mktemp("udp")
    directory.chmod(0o755)
    specs_scripts = [script_for(name, directory) for name in ("sensor", "kitchen")]
    edge = parse_spec(EDGE)
    edge_script = directory / "lt_edge.lua"
    edge_script.write_text(generate_lua(edge))
    fields = ["_ws.col.Info", "sensor", "lt_kitchen", "lt_edge", *edge.abbreviations()]
    for spec, _ in specs_scripts:
        fields += spec.abbreviations()
    pcap = write_frames(directory / "udp.pcap", list(UDP_FRAMES.values()))
    scripts = [script for _, script in specs_scripts] + [edge_script]
    rows = tshark_fields(scripts, pcap, fields)
    assert len(rows) == len(UDP_FRAMES)
    decoded = Decoded(dict(zip(UDP_FRAMES, rows, strict=True)))
    for frame in UDP_FRAMES:
        assert decoded(frame, "_ws.lua.error") == [], f"Lua error in {frame}"
    return decoded


def test_sensor_header_big_endian_with_flags_and_enums(udp_decoded: Decoded) -> None:
    d = udp_decoded
    assert d("readings", "sensor.magic") == ["0x534e"]
    assert d("readings", "sensor.version") == ["1"]
    assert d("readings", "sensor.type") == ["1"]
    assert d("readings", "sensor.flags") == ["0xa5"]
    assert d("readings", "sensor.flags.alarm")[0] in TRUE
    assert d("readings", "sensor.flags.low_battery")[0] in FALSE
    assert d("readings", "sensor.flags.priority") == ["2"]
    assert d("readings", "sensor.flags.channel") == ["5"]
    assert d("readings", "sensor.seq") == ["7"]
    assert d("readings", "sensor.device") == ["02:00:00:00:00:99"]
    assert d("readings", "sensor.name") == ["kitchen"]
    assert d("readings", "sensor.body_len") == [str(len(READINGS))]
    assert d("readings", "sensor.checksum") == ["0xbeef"]
    assert d("readings", "_ws.col.Info") == ["Reading seq=7 from kitchen"]
    assert d("config", "_ws.col.Info") == ["Config seq=8 from "]
    assert d("config", "sensor.name") == []  # an empty string is no value for tshark


def test_sensor_switch_bodies_repeats_and_nested_structs(udp_decoded: Decoded) -> None:
    d = udp_decoded
    assert d("readings", "sensor.readings.count") == ["2"]
    assert len(d("readings", "sensor.readings.reading")) == 2
    assert d("readings", "sensor.reading.kind") == ["1", "9"]
    assert [float(v) for v in d("readings", "sensor.reading.value")] == [21.5, 40.0]
    assert d("readings", "sensor.reading.offset_ms") == ["-5", "100"]
    assert d("readings", "sensor.config.interval") == []
    assert d("config", "sensor.config.interval") == ["60"]
    assert float(d("config", "sensor.config.threshold")[0]) == 12.25
    assert d("config", "sensor.config.server") == ["10.0.0.9"]
    assert d("config", "sensor.config.server6") == ["2001:db8::1"]
    assert d("config", "sensor.config.location") == ["roof"]
    assert d("event", "sensor.event.code") == ["512"]
    assert d("event", "sensor.event.level") == ["-3"]
    assert d("event", "sensor.event.detail") == ["front door"]
    assert d("event", "sensor.checksum") == ["0xbeef"]
    assert d("readings", "_ws.expert.message") == ["Kind: unknown value 9"]
    assert d("config", "_ws.expert.message") == d("event", "_ws.expert.message") == []


def test_sensor_malformed_packets_get_expert_info(udp_decoded: Decoded) -> None:
    d = udp_decoded
    assert d.expert("sensor_cut") == ["Sensor name: needs 7 bytes, 4 left"]
    assert d("sensor_cut", "sensor.device") == ["02:00:00:00:00:99"]
    assert d("sensor_cut", "sensor.name") == []
    assert d.expert("sensor_odd") == [
        "Magic: expected 0x534e, got 0x1234",
        "Message type: unknown value 9",
        "Body: no case for type = 9",
    ]
    assert d("sensor_odd", "sensor.flags.priority") == ["1"]
    assert d("sensor_odd", "sensor.checksum") == ["0xbeef"]
    assert d.expert("sensor_long_body") == [f"Body: needs 500 bytes, {len(EVENT) + 2} left"]


def test_kitchen_every_type_little_endian_found_by_heuristic(udp_decoded: Decoded) -> None:
    d = udp_decoded
    expected = {
        "magic": "4b495443",
        "tag": "v1",
        "u8": "200",
        "u16": "65000",
        "u24": str(0xABCDEF),
        "u32": "4000000000",
        "u64": str(2**63 + 5),
        "i8": "-100",
        "i16": "-30000",
        "i24": "-5000000",
        "i32": "-2000000000",
        "i64": str(-(2**62)),
        "be32": "0xdeadbeef",
        "addr4": "192.168.1.2",
        "addr6": "2001:db8::1",
        "mac": "0a:1b:2c:3d:4e:5f",
        "status": "0x3721",
        "status.mode": "2",
        "status.level": "55",
        "n": "3",
        "blob": "000102030405",
        "title": "Grüße",
        "note": "a note",
        "point.x": "-3",
        "point.y": "300",
        "point.depth.z": "7",
        "pair_count": "2",
    }
    for field, value in expected.items():
        assert d("kitchen", f"lt_kitchen.{field}") == [value], field
    assert float(d("kitchen", "lt_kitchen.f32")[0]) == 1.5
    assert float(d("kitchen", "lt_kitchen.f64")[0]) == -2.25
    assert d("kitchen", "lt_kitchen.flag")[0] in TRUE
    assert d("kitchen", "lt_kitchen.status.ready")[0] in TRUE
    assert len(d("kitchen", "lt_kitchen.pairs")) == 2
    assert d("kitchen", "lt_kitchen.pair.key") == ["1", "5"]
    assert d("kitchen", "lt_kitchen.pair.val") == ["-7", "9"]
    assert d("kitchen", "lt_kitchen.words") == ["1", "2", "3"]
    assert d.expert("kitchen") == ["Key: unknown value 5"]
    assert d("kitchen", "_ws.col.Info") == ["kitchen u8=200 mode=busy {literal}"]


def test_kitchen_truncation_bad_lengths_and_foreign_packets(udp_decoded: Decoded) -> None:
    d = udp_decoded
    assert d.expert("kitchen_cut") == ["I64: needs 8 bytes, 5 left"]
    assert d("kitchen_cut", "lt_kitchen.i32") == ["-2000000000"]
    assert d("kitchen_cut", "_ws.col.Info") == ["kitchen u8=200 mode=? {literal}"]
    assert d.expert("kitchen_huge_n")[0].startswith("Blob: needs 400 bytes, ")
    assert d("kitchen_odd_word", "lt_kitchen.words") == ["4"]
    assert d.expert("kitchen_odd_word") == ["Key: unknown value 5", "Words: needs 2 bytes, 1 left"]
    assert d("kitchen_not_ours", "lt_kitchen") == []  # the heuristic said: not ours
    assert d("kitchen_not_ours", "_ws.expert.message") == []


def test_negative_lengths_and_missing_nul(udp_decoded: Decoded) -> None:
    d = udp_decoded
    assert d.expert("edge_negative") == ["Data: impossible length -3"]
    assert d("edge_no_nul", "lt_edge.len") == ["4"]
    assert d.expert("edge_no_nul") == ["Name: no terminating NUL before the end"]
    assert d("edge_no_nul", "lt_edge.name") == ["abc"]


# --------------------------------------------------------------------------- TCP decoding


def framed(op: int, ident: int, body: bytes, length: int | None = None) -> bytes:
    rest = struct.pack("!BI", op, ident) + body
    return struct.pack("!HH", 0xCAFE, len(rest) if length is None else length) + rest


def test_tcp_framing_several_messages_per_segment_and_split_messages(tmp_dir: Path) -> None:
    spec, script = script_for("framed", tmp_dir)
    a = framed(1, 1, b"\x03abc")
    b = framed(2, 2, b"\x01k" + b"VALUE")
    c = framed(3, 3, b"zzzz")
    e = framed(1, 4, b"\x02hi")
    stream = a + b + c + e
    cut = len(a) + len(b) + 5
    frames = tcp_frames([stream[:cut], stream[cut:]], 40124)
    # the same on a port of nobody's: the heuristic finds it by its magic
    frames += tcp_frames([a + b[:3], b[3:] + c], 40999, sport=52000)
    # a header that announces an impossible length
    frames += tcp_frames([framed(1, 5, b"", length=0xFFF0)], 40124, sport=52001)
    pcap = write_frames(tmp_dir / "tcp.pcap", frames)
    rows = tshark_fields([script], pcap, [*spec.abbreviations(), "_ws.col.Info"])
    assert [row["lt_framed.op"] for row in rows] == [["1", "2"], ["3", "1"], ["1"], ["2", "3"], []]
    assert [row["lt_framed.id"] for row in rows][:4] == [["1", "2"], ["3", "4"], ["1"], ["2", "3"]]
    assert rows[0]["lt_framed.get.key"] == ["abc"]
    assert rows[0]["lt_framed.put.key"] == ["k"]
    assert rows[0]["lt_framed.put.value"] == ["56414c5545"]
    assert rows[1]["lt_framed.other.raw"] == ["7a7a7a7a"]
    assert rows[1]["lt_framed.get.key"] == ["hi"]
    assert [row["_ws.col.Info"] for row in rows[:4]] == [
        ["get #1 | put #2"],
        ["del #3 | get #4"],
        ["get #1"],
        ["put #2 | del #3"],
    ]
    assert rows[4]["_ws.expert.message"] == ["message length 65524 is impossible (4 to 4096)"]
    assert all(row["_ws.lua.error"] == [] for row in rows)
    assert all(row["_ws.expert.message"] == [] for row in rows[:4])


# --------------------------------------------------------------------------- hostile specs


def test_a_hostile_spec_cannot_inject_lua(tmp_dir: Path) -> None:
    marker = tmp_dir / "pwned"
    text = spec_file("hostile").read_text().replace("/tmp/livetap-pwned", str(marker))
    data = json.loads(text)
    spec = parse_spec(data)
    script = tmp_dir / "lt_hostile.lua"
    script.write_text(generate_lua(spec))
    magic = b'x"); os.exit(); --'.ljust(24, b"\0")
    frames = [udp_frame(bytes([kind, 1]) + magic, 40125) for kind in (1, 2, 3, 4)]
    pcap = write_frames(tmp_dir / "hostile.pcap", frames)
    rows = tshark_fields([script], pcap, ["lt_hostile.kind", "lt_hostile.text", "_ws.col.Info"])
    assert [row["lt_hostile.kind"] for row in rows] == [["1"], ["2"], ["3"], ["4"]]
    assert all(row["_ws.lua.error"] == [] for row in rows)
    assert not marker.exists(), "a label ran as Lua"
    tree = tshark_verbose([script], pcap, "lt_hostile")
    assert not marker.exists()
    label = data["fields"][0]["label"]
    assert f"{label}: " + data["fields"][0]["enum"]["1"] + " (1)" in tree
    assert f"{label}: Température ✓ \U0001f600 (3)" in tree
    assert data["fields"][2]["label"] + ': x"); os.exit(); --' in tree
    assert data["description"] in tree
    assert "tshark: Lua" not in tree
