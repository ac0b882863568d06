"""Random bytes through the parser, the analyzer and the follower: no exception, ever."""

from __future__ import annotations

import struct
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.analysis import Analyzer, follow_records
from engine.errors import NotFoundError
from engine.packet.walk import Layers, walk
from engine.pcapio import PcapRecord

LINKTYPES = [1, 0, 12, 14, 101, 108, 113, 228, 229, 276, 147, 105, 127, 9, 50, 104, 107, 239, 258]
FUZZ = settings(
    max_examples=400,
    deadline=timedelta(milliseconds=500),
    suppress_health_check=[HealthCheck.too_slow],
)
ETH_IPV4 = bytes.fromhex("02000000000b02000000000a0800")
ETH_IPV6 = bytes.fromhex("02000000000b02000000000a86dd")
APP_PORTS = [21, 23, 25, 53, 80, 110, 143, 443, 587, 5353, 8080, 40000]


def _check(fields: Layers, data: bytes) -> None:
    assert isinstance(fields, Layers)
    assert fields.family in (0, 4, 6)
    if fields.family:
        assert len(fields.pair) == (8 if fields.family == 4 else 32)
        assert 0 <= fields.start <= fields.end <= len(data) or fields.start == fields.end
    assert all(isinstance(name, str) and name for name in fields.chain)


@given(st.sampled_from(LINKTYPES), st.binary(max_size=300))
@FUZZ
def test_random_bytes_on_every_link_type(linktype: int, data: bytes) -> None:
    _check(walk(linktype, data), data)
    analyzer = Analyzer()
    analyzer.add(1.0, len(data), linktype, data)
    analyzer.report(["all"])
    assert analyzer.snapshot().packets == 1


def _ipv4(protocol: int, body: bytes, total: int | None, fragment: int) -> bytes:
    length = 20 + len(body) if total is None else total
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        length & 0xFFFF,
        7,
        fragment,
        64,
        protocol,
        0,
        b"\x0a\x00\x00\x01",
        b"\x0a\x00\x00\x02",
    )
    return ETH_IPV4 + header + body


payloads = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=120).map(lambda b: b"GET /" + b),
    st.binary(max_size=120).map(lambda b: b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n" + b),
    st.binary(max_size=120).map(
        lambda b: b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b
    ),
    st.binary(max_size=120).map(
        lambda b: b"\x16\x03\x01" + struct.pack("!H", len(b)) + b"\x01" + b
    ),
    st.binary(max_size=120).map(lambda b: b"\x17\x03\x03\xff\xff" + b),
    st.binary(max_size=80).map(lambda b: b"USER " + b + b"\r\nPASS " + b + b"\r\n"),
    st.binary(max_size=80).map(lambda b: b"a1 LOGIN " + b + b"\r\n"),
    st.binary(max_size=80).map(lambda b: b"AUTH PLAIN " + b + b"\r\n"),
    st.binary(max_size=80).map(lambda b: b"\xff\xfa" + b + b"password: "),
)


@st.composite
def transport_frames(draw: st.DrawFn) -> bytes:
    """IPv4 or IPv6 TCP/UDP on the ports that wake the application readers."""
    sport = draw(st.sampled_from(APP_PORTS))
    dport = draw(st.sampled_from(APP_PORTS))
    payload = draw(payloads)
    if draw(st.booleans()):
        header = struct.pack(
            "!HHIIBBHHH",
            sport,
            dport,
            draw(st.integers(0, 2**32 - 1)),
            draw(st.integers(0, 2**32 - 1)),
            draw(st.integers(0, 15)) << 4,
            draw(st.integers(0, 255)),
            100,
            0,
            0,
        )
        protocol = 6
    else:
        header = struct.pack("!HHHH", sport, dport, draw(st.integers(0, 0xFFFF)), 0)
        protocol = 17
    body = header + payload
    if draw(st.booleans()):
        total = draw(st.one_of(st.none(), st.integers(0, 0xFFFF)))
        fragment = draw(st.sampled_from([0, 0, 0x2000, 0x0010, 0x2010]))
        return _ipv4(protocol, body, total, fragment)
    length = draw(st.one_of(st.just(len(body)), st.integers(0, 0xFFFF)))
    ipv6 = struct.pack("!IHBB", 0x60000000, length, protocol, 64) + bytes(15) + b"\x01"
    frame: bytes = ETH_IPV6 + ipv6 + bytes(15) + b"\x02" + body
    return frame


@given(st.lists(transport_frames(), min_size=1, max_size=12))
@FUZZ
def test_structured_streams_through_every_reader(frames: list[bytes]) -> None:
    analyzer = Analyzer()
    records = [PcapRecord(1.0 + i, len(frame), 1, frame) for i, frame in enumerate(frames)]
    for frame in frames:
        _check(walk(1, frame), frame)
    analyzer.add_records(records)
    reports = analyzer.report(["all"])
    assert reports["summary"]["packets"] == len(frames)
    try:
        result = follow_records(records, stream=0)
    except NotFoundError:
        return  # no readable TCP in this draw
    assert result.packets >= 1
