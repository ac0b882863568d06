"""A fast subset of benchmarks/fuzz.py, plus the inputs that once broke a decoder.

Every target of the fuzz benchmark runs here under hypothesis (which picks the
seeds and shrinks a failure), with a deadline per case. The long run is
``benchmarks/fuzz.py`` (a million cases and more).
"""

from __future__ import annotations

import json
import random
import time
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks import fuzz
from engine.display_filter import DisplayFilterError, compile_display_filter
from engine.dissector import SpecError, parse_spec
from engine.errors import LivetapError
from engine.events import PacketSummary
from engine.har import ndjson_to_har, write_har

FAST = settings(
    max_examples=150,
    deadline=timedelta(seconds=1),
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


@pytest.mark.parametrize("target", fuzz.TARGETS, ids=lambda target: target.name)
@given(rng=st.randoms(use_true_random=False))
@FAST
def test_every_fuzz_target_survives(target: fuzz.Target, rng: random.Random) -> None:
    target.run(target.make(rng), rng)


@given(data=st.binary(max_size=2048), rng=st.randoms(use_true_random=False))
@FAST
def test_pcap_reader_on_any_bytes_and_any_pipe(data: bytes, rng: random.Random) -> None:
    fuzz.read_capture(data)
    fuzz.read_capture(data, rng)  # a pipe: a few bytes per read


@given(rng=st.randoms(use_true_random=False))
@settings(max_examples=30, deadline=None, database=None)
def test_a_capture_file_cut_at_every_offset(rng: random.Random) -> None:
    data = fuzz.capture_file(rng)
    whole = fuzz.read_capture(data)
    for offset in range(len(data)):
        assert fuzz.read_capture(data[:offset]) <= whole


# -- regular expressions that used to take minutes per packet ----------------------------------

PAYLOAD = b"a" * 4000
PACKET = PacketSummary(
    1, 0.0, 14 + len(PAYLOAD), 1, "", "", None, None, "Ethernet", "", bytes(14) + PAYLOAD
)


@pytest.mark.parametrize(
    "pattern",
    [".*a.*b", "a*a*b", "[a-z]*[a-z]*c", "(a|aa)*c", "(a|a)*c", "(?:a{1,3})*c", "(?:a?){30}a{30}"],
)
def test_a_display_filter_regex_that_backtracks_for_minutes_is_refused(pattern: str) -> None:
    with pytest.raises(DisplayFilterError, match="can match in too many ways"):
        compile_display_filter(f'frame matches "{pattern}"')


@pytest.mark.parametrize(
    "pattern", [".*c", "^GET", "[0-9]{1,3}", "(GET|POST) /api", "a{1,100}a{1,100}c", ".*(GET|PUT)"]
)
def test_the_regexes_that_are_allowed_stay_fast_on_the_worst_payload(pattern: str) -> None:
    compiled = compile_display_filter(f'frame matches "{pattern}"')
    started = time.monotonic()
    compiled.matches_packet(PACKET)
    assert time.monotonic() - started < 2.0


def test_a_spec_field_named_by_a_list_is_a_spec_error() -> None:
    spec = fuzz.spec_case(random.Random(1))
    spec["fields"] = [{"name": ["x"], "type": "uint8"}, {"name": {"y": 1}, "type": "uint8"}]
    with pytest.raises(SpecError, match=r"fields\[0\]"):
        parse_spec(spec)


# -- NDJSON files turned into HAR ------------------------------------------------------------------

HOSTILE_LINES = [
    '{"type":"finished","id":"a","bodySize":"abc","bytesReceived":[1]}',
    '{"type":"finished","id":"b","bodySize":1e999,"duration":NaN,"timing":{"dns":Infinity}}',
    '{"type":"response","id":"c","status":"x","headers":[]}',
    '{"type":"response","id":"d","status":1e999}',
    '{"type":"request","id":"e","url":"x","postData":"\\ud800","timestamp":{"a":[1]}}',
    '{"type":"request","id":"f","url":"http://[::1"}',
    "[" * 50_000,
    '{"type":"request","id":"g","url":"\\udfff","headers":{"A":{"b":[null]}}}',
    "\x00\xff garbage",
    '{"type":"failed","id":"a","errorText":NaN}',
]


@pytest.mark.parametrize("line", HOSTILE_LINES)
def test_har_from_a_hostile_ndjson_line(line: str, tmp_path: Path) -> None:
    source = tmp_path / "in.ndjson"
    request_ids = "abcdefg"
    requests = "".join(
        f'{{"type":"request","id":"{rid}","url":"http://127.0.0.1/{rid}"}}\n' for rid in request_ids
    )
    source.write_bytes((requests + line + "\n").encode("utf-8", "surrogatepass"))
    write_har(ndjson_to_har([source]), tmp_path / "out.har")
    har = json.loads((tmp_path / "out.har").read_text(), parse_constant=_not_json)
    assert len(har["log"]["entries"]) == len(request_ids)


def _not_json(name: str) -> None:
    raise AssertionError(f"{name} is not JSON")


@given(
    lines=st.lists(
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=8,
    ),
    kinds=st.lists(
        st.sampled_from(["request", "response", "finished", "failed", "packet"]), max_size=8
    ),
)
@settings(
    max_examples=100,
    deadline=timedelta(seconds=2),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_har_from_random_lines_of_every_kind(
    lines: list[object], kinds: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "random.ndjson"
    text = ""
    for number, (value, kind) in enumerate(zip(lines, kinds, strict=False)):
        fields = value if isinstance(value, dict) else {"x": value}
        text += json.dumps({**fields, "type": kind, "id": f"r{number % 3}"}) + "\n"
    source.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        result = ndjson_to_har([source])
        write_har(result, tmp_path / "random.har")
    except LivetapError:
        return
    json.loads((tmp_path / "random.har").read_text(), parse_constant=_not_json)
