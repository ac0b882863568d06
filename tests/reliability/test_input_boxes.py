"""Whatever is typed into an input box, the engine answers with a LivetapError or a result.

The boxes: the BPF filter (f), the display filter (/), the filter builder (Ctrl+B),
the NDJSON form's URL filters and file name (c), the save name (w), and the spec
path of the dissector export (x). Their engine-side checks get control
characters, NUL, lone surrogates, right-to-left overrides, terminal escapes and
10 kB strings. Any other exception would reach the UI as a crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import linktypes
from engine.bpf import compile_filter
from engine.bpf_builder import build_filter
from engine.display_filter import compile_display_filter
from engine.dissector import load_spec
from engine.errors import LivetapError
from engine.ndjson.url_filter import UrlFilter
from engine.ndjson.writer import RotatingWriter
from engine.pcap_capture import RotatingPcapWriter
from engine.pcapio import open_pcap, write_pcap_file
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.reliability.support import pcap_bytes, udp_frame

NASTY = [
    "",
    "\x00",
    "tcp\x00 or udp",
    "\x1b[2J\x1b[31mred",
    "\u202eevil\u202c",
    "\ud800",
    "\udfff tcp",
    "\r\n\t\x07\x08\x7f",
    "é" * 3000,
    "(" * 5000,
    "a" * 10_000,
    "tcp " * 2500,
    "'; rm -rf / #",
    "$(touch /tmp/livetap-pwned)",
    "🦊" * 100,
]
texts = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(blacklist_categories=()), max_size=64),
    st.text(max_size=12_000),
)
BOXES = settings(
    max_examples=120,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)


def answers(check: Callable[[], object]) -> object:
    """Run one engine check: a result, or a LivetapError; anything else fails the test."""
    try:
        return check()
    except LivetapError as error:
        assert error.message and isinstance(error.message, str)
        return error


@given(text=texts)
@BOXES
def test_bpf_filter_box(text: str) -> None:
    answers(lambda: compile_filter(text, linktypes.ETHERNET))
    answers(lambda: compile_filter(text, linktypes.RAW))


@given(text=texts)
@BOXES
def test_display_filter_box(text: str) -> None:
    answers(lambda: compile_display_filter(text))


@given(text=texts)
@BOXES
def test_filter_builder_box(text: str) -> None:
    answers(lambda: build_filter(text))


@given(text=texts, url=texts)
@BOXES
def test_url_filter_box_and_any_url_the_browser_reports(text: str, url: str) -> None:
    compiled = answers(lambda: UrlFilter.parse([text, f"!{text}"]))
    if isinstance(compiled, UrlFilter):
        assert compiled.allows(url) in (True, False)


def test_url_filters_match_in_linear_time_whatever_the_page_asks_for() -> None:
    compiled = UrlFilter.parse(["*a*a*a*a*b", "*/api/*/v1/*", "http://*.example/*?*=*"])
    url = "http://x/" + "a" * 200_000  # a page chooses its URLs: this one once took hours
    started = time.monotonic()
    assert not compiled.allows(url)
    assert time.monotonic() - started < 0.5


def safe_name(text: str) -> str:
    """One path component: a hostile name, never a path that leaves the test's folder."""
    return text.replace("/", "_")[:5000] or "_"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> CaptureSession:
    source = tmp_path_factory.mktemp("src") / "three.pcap"
    source.write_bytes(pcap_bytes([udp_frame(b"a"), udp_frame(b"b"), udp_frame(b"c")]))
    capture = CaptureSession(open_file_source(source))
    capture.start()
    assert capture.wait_finished(5)
    return capture


@given(text=texts)
@BOXES
def test_file_name_boxes(text: str, tmp_path: Path, session: CaptureSession) -> None:
    path = tmp_path / safe_name(text)
    answers(lambda: session.save_pcap(path))  # w: save the buffer
    answers(lambda: write_pcap_file(path.with_name(path.name + "2"), []))
    answers(lambda: RotatingWriter(path.with_name(path.name + "3")).close())  # c: the NDJSON file
    answers(lambda: open_pcap(path.with_name(path.name + "4")))  # -r
    answers(lambda: load_spec(path.with_name(path.name + "5")))  # x: the spec path


@pytest.mark.parametrize("name", ["a\x00b", "x" * 300, "\ud800", "..", "\n"])
def test_file_names_that_no_file_system_takes(name: str, tmp_path: Path) -> None:
    for check in (
        lambda: write_pcap_file(tmp_path / name, []),
        lambda: RotatingWriter(tmp_path / name).close(),
        lambda: open_pcap(tmp_path / name),
        lambda: load_spec(tmp_path / name),
    ):
        answers(check)


def test_a_nul_in_a_capture_file_name(tmp_path: Path) -> None:
    answers(lambda: RotatingPcapWriter(tmp_path / "a\x00b", linktypes.ETHERNET))
