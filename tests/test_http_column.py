"""``livetap filter``'s Protocol column on HTTP split over TCP segments is tshark's.

tshark (reassembly on) shows ``HTTP`` on the segment that completes a message and
``TCP`` on the ones before it, the first included, whose Info then ends in ``[TCP segment
of a reassembled PDU]``; a JSON or XML body makes it ``HTTP/JSON`` / ``HTTP/XML``. The
capture is built here (explicit Ethernet addresses; nothing is sent anywhere) and every
frame on HTTP's port is compared with tshark's ``_ws.col.Protocol``, with a filter that
reassembles (``http``) and with ones that do not.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from scapy.packet import Packet

from engine.filter_file import compile_filter, filter_file
from engine.http_column import SEGMENT_NOTE
from tests.analysis_data import Tcp, http_request, http_response, tshark, write_frames
from tests.test_filter_reassembly import reassembly_frames

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is needed")


def media_frames() -> list[Packet]:
    """Responses whose bodies tshark names in the column, whole and over two segments,
    then payload that starts no message."""
    web = Tcp("10.0.0.6", 41100, "10.0.0.80", 80).open()
    for content_type, body in (
        ("application/json", b'{"a": [1, 2, 3]}'),
        ("text/xml", b"<a>1</a>"),
        ("image/png", b"\x89PNG\r\n\x1a\n...."),
    ):
        response = http_response(content_type, body)
        web.send(True, "PA", http_request("GET", "media.example", "/whole"))
        web.send(False, "PA", response)
        web.send(True, "PA", http_request("GET", "media.example", "/split"))
        web.send(False, "PA", response[:40])
        web.send(False, "PA", response[40:])
    web.send(False, "PA", b"bytes after the last message\r\n")  # HTTP "Continuation"
    web.close()
    return web.frames


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("http-column")
    return write_frames(folder / "split.pcap", reassembly_frames() + media_frames())


def _tshark_columns(path: Path) -> dict[int, str]:
    """tshark's Protocol column, by frame number."""
    out = tshark(path, "-T", "fields", "-e", "frame.number", "-e", "_ws.col.Protocol")
    rows = {}
    for line in out.splitlines():
        number, protocol = line.split("\t")
        rows[int(number)] = protocol
    return rows


def _http_port_frames(path: Path) -> list[int]:
    out = tshark(path, "-Y", "tcp.port == 80", "-T", "fields", "-e", "frame.number")
    return [int(n) for n in out.split()]


@pytest.mark.parametrize("expression", ["tcp.port == 80", "http or tcp.port == 80", "frame"])
def test_the_protocol_column_is_tsharks(capture: Path, expression: str) -> None:
    theirs = _tshark_columns(capture)
    wanted = _http_port_frames(capture)
    found = {
        frame.number: frame for frame in filter_file(capture, compile_filter(expression)).frames
    }
    assert set(wanted) <= set(found)
    ours = {number: found[number].protocol for number in wanted}
    assert ours == {number: theirs[number] for number in wanted}


def test_the_capture_has_what_the_test_is_about(capture: Path) -> None:
    """Split messages (TCP then HTTP), and the body names tshark puts in the column."""
    theirs = _tshark_columns(capture)
    split = tshark(
        capture, "-Y", "http and tcp.reassembled.length", "-T", "fields", "-e", "frame.number"
    ).split()
    assert len(split) >= 5  # messages that complete in a later segment than they start
    protocols = {theirs[number] for number in _http_port_frames(capture)}
    assert {"TCP", "HTTP", "HTTP/JSON", "HTTP/XML"} <= protocols


def test_info_of_the_first_and_the_completing_segment(capture: Path) -> None:
    frames = filter_file(capture, compile_filter("tcp.port == 80 and tcp.len > 0")).frames
    by_number = {frame.number: frame for frame in frames}
    completing = [
        int(n)
        for n in tshark(
            capture,
            "-Y",
            'http.response and tcp.reassembled.length and http.content_type == "text/plain"',
            "-T",
            "fields",
            "-e",
            "frame.number",
        ).split()
    ]
    assert completing
    for number in completing:  # the start line, not the segment's TCP summary
        assert by_number[number].protocol == "HTTP"
        assert by_number[number].info.startswith("HTTP/1.1 200 OK")
    first_parts = [frame for frame in frames if frame.info.endswith(SEGMENT_NOTE)]
    assert first_parts and all(frame.protocol == "TCP" for frame in first_parts)
    assert any(frame.info.startswith("HTTP/1.1 200 OK ") for frame in first_parts)
    assert [frame.info for frame in frames if frame.protocol == "HTTP"].count("Continuation") == 1


def test_count_only_needs_no_columns(capture: Path) -> None:
    """Without printed rows nothing follows HTTP: the matches are the same."""
    printed = filter_file(capture, compile_filter("tcp.port == 80"))
    counted = filter_file(capture, compile_filter("tcp.port == 80"), keep_frames=False)
    assert counted.matched == printed.matched and not counted.frames
