"""The file filter gives reassembled protocols to the frame tshark gives them to.

tshark (two passes, reassembly on) shows ``http`` on the segment that completes an
HTTP message, ``udp``/``icmp`` on the fragment that completes a datagram and ``dns``
over TCP on the segment that completes a length-prefixed message; the frames before
are plain ``tcp`` or ``ip``. ``livetap filter`` reads the file in order and reassembles
as it goes (:class:`engine.filter_file.FramePaths`), so it must match tshark frame for
frame on a capture built here. Every frame has explicit Ethernet addresses; nothing is
sent anywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, UDP, fragment
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from engine.filter_file import compile_filter, filter_file, record_predicate
from engine.pcapio import open_pcap
from tests.analysis_data import Tcp, eth, http_request, http_response, tshark, write_frames

EXPRESSIONS = [
    "http",
    "udp",
    "icmp",
    "dns",
    "tcp",
    "not tcp",
    "http or dns",
    "udp and ip.src == 10.0.0.5",
    "not http and tcp.port == 80",
]


def _dns_message(ident: int, name: str, answer: str | None = None) -> bytes:
    if answer is None:
        return bytes(DNS(id=ident, rd=1, qd=DNSQR(qname=name)))
    return bytes(
        DNS(id=ident, qr=1, qd=DNSQR(qname=name), an=DNSRR(rrname=name, rdata=answer, ttl=60))
    )


def reassembly_frames() -> list[Packet]:
    """HTTP over several segments, fragmented UDP/ICMP/DNS, DNS over TCP cut anywhere."""
    frames: list[Packet] = []
    web = Tcp("10.0.0.5", 41000, "10.0.0.80", 80).open()
    request = http_request("GET", "split.example", "/page")
    web.send(True, "PA", request[:20])  # the request line and headers over two segments
    web.send(True, "PA", request[20:])
    response = http_response("text/plain", b"y" * 2500)
    for start in range(0, len(response), 1000):  # the body over three segments
        web.send(False, "PA", response[start : start + 1000])
    web.send(True, "A")
    web.send(True, "PA", http_request("GET", "split.example", "/chunked"))
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
    web.send(False, "PA", head + b"5\r\nhello\r\n")
    web.send(False, "PA", b"6\r\n world\r\n0\r\n\r\n")  # the last chunk completes it
    web.send(True, "PA", http_request("GET", "split.example", "/cached"))
    web.send(False, "PA", b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n")  # no body
    web.send(True, "PA", b"GET /never HTTP/1.1\r\nHost: split.example\r\n")  # never ends
    web.close()
    frames += web.frames
    datagram = IP(src="10.0.0.5", dst="10.0.0.9", id=4242) / UDP(sport=40003, dport=9998)
    frames += [eth(piece) for piece in fragment(datagram / (b"F" * 2600), fragsize=1200)]  # type: ignore[no-untyped-call]
    ping = IP(src="10.0.0.5", dst="10.0.0.9", id=4243) / ICMP(type=8, id=9, seq=1)
    frames += [eth(piece) for piece in fragment(ping / (b"P" * 1800), fragsize=1200)]  # type: ignore[no-untyped-call]
    big = _dns_message(7, "big.example", "192.0.2.7") + bytes(1400)
    dns = IP(src="10.0.0.53", dst="10.0.0.5", id=4244) / UDP(sport=53, dport=53001) / big
    frames += [eth(piece, True) for piece in fragment(dns, fragsize=1000)]  # type: ignore[no-untyped-call]
    resolver = Tcp("10.0.0.5", 42000, "10.0.0.53", 53).open()
    query = _dns_message(1, "tcp.example")
    resolver.send(True, "PA", len(query).to_bytes(2, "big"))  # the length alone: plain tcp
    resolver.send(True, "PA", query)
    answer = _dns_message(1, "tcp.example", "192.0.2.1")
    prefixed = len(answer).to_bytes(2, "big") + answer
    resolver.send(False, "PA", prefixed[:1])  # one byte of the length
    resolver.send(False, "PA", prefixed[1:])
    messages = (_dns_message(2, "a.example"), _dns_message(3, "b.x"))
    two = b"".join(len(m).to_bytes(2, "big") + m for m in messages)
    resolver.send(True, "PA", two[:-5])  # one message complete, the next cut
    resolver.send(True, "PA", two[-5:])
    resolver.close()
    frames += resolver.frames
    frames.append(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="10.0.0.5", dst="10.0.0.9")
        / UDP(sport=40000, dport=9999)
        / b"plain"
    )
    return frames


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_frames(tmp_path_factory.mktemp("reassembly") / "split.pcap", reassembly_frames())


def tshark_numbers(path: Path, expression: str) -> list[int]:
    fields = tshark(path, "-Y", expression, "-T", "fields", "-e", "frame.number")
    return [int(n) for n in fields.split()]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_the_completing_frame_matches_as_in_tshark(capture: Path, expression: str) -> None:
    theirs = tshark_numbers(capture, expression)
    found = filter_file(capture, compile_filter(expression))
    assert [frame.number for frame in found.frames] == theirs
    test = record_predicate(compile_filter(expression))  # analyze -Y, capture pcap -Y
    with open_pcap(capture) as reader:
        kept = [n for n, record in enumerate(reader, 1) if test(n, record)]
    assert kept == theirs


def test_the_capture_has_what_the_test_is_about(capture: Path) -> None:
    http = tshark_numbers(capture, "http")
    segments = tshark_numbers(capture, "tcp.port == 80 and tcp.len > 0")
    assert len(http) == 6 and len(segments) > len(http) + 3  # requests, responses; parts
    assert len(tshark_numbers(capture, "ip.flags.mf == 1 or ip.frag_offset > 0")) == 7
    assert len(tshark_numbers(capture, "dns and tcp")) == 4


def test_without_reassembly_the_live_view_reads_each_frame(capture: Path) -> None:
    """The live view filters frame by frame: HTTP on the segment with the start line."""
    from engine.filter_file import summarize

    check = compile_filter("http")
    with open_pcap(capture) as reader:
        starts = [
            n for n, record in enumerate(reader, 1) if check.matches_packet(summarize(n, record))
        ]
    theirs = tshark_numbers(capture, "http")
    # the first segment of the split request, and the request that never completes
    assert starts[0] < theirs[0] and starts[-1] > theirs[-1]


def test_a_hole_in_the_capture_ends_or_spoils_a_message_as_in_tshark(tmp_path: Path) -> None:
    """Segments not captured: a message missing part of its body never completes; one whose
    rest was lost entirely ends, and the segment after the hole starts a new one."""
    web = Tcp("10.0.0.5", 41500, "10.0.0.80", 80).open()
    web.send(True, "PA", http_request("GET", "hole.example", "/a"))
    first = http_response("text/plain", b"a" * 2400)
    web.send(False, "PA", first[:1000])
    web.send(False, "PA", first[1000:2000])
    web.frames.pop()  # the middle of the body was not captured
    web.send(False, "PA", first[2000:])
    web.send(True, "PA", http_request("GET", "hole.example", "/b"))
    second = http_response("text/plain", b"b" * 2400)
    web.send(False, "PA", second[:1000])
    web.send(False, "PA", second[1000:])
    web.frames.pop()  # the rest of this response was not captured
    web.send(True, "PA", http_request("GET", "hole.example", "/c"))
    web.send(False, "PA", http_response("text/html", b"<p>c</p>"))
    web.close()
    path = write_frames(tmp_path / "hole.pcap", web.frames)
    theirs = tshark_numbers(path, "http")
    assert [frame.number for frame in filter_file(path, compile_filter("http")).frames] == theirs
    assert len(theirs) == 4  # three requests and the last response


def test_a_file_view_answers_as_the_file_filter(capture: Path) -> None:
    """The TUI's display filter on a file source reassembles as ``livetap filter`` does;
    packets that arrive while it scans are matched after the scan, in order."""
    from engine.replay import open_file_source
    from engine.session import CaptureSession

    theirs = tshark_numbers(capture, "http or dns or udp")
    session = CaptureSession(open_file_source(capture), 1000)
    with session:
        assert session.wait_finished(10)
        view = session.set_display_filter("http or dns or udp")
        assert view is not None
        view.scan()
        assert [view.index_at(row) for row in range(len(view))] == theirs
    early = CaptureSession(open_file_source(capture), 1000)  # the filter set before reading
    view = early.set_display_filter("http")
    assert view is not None
    view.scan()
    with early:
        assert early.wait_finished(10)
        assert [view.index_at(row) for row in range(len(view))] == tshark_numbers(capture, "http")
