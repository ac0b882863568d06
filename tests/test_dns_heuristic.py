"""DNS where tshark finds it: on its ports, on other ports by its heuristic, and not in
an empty datagram.

tshark 4.0 reads DNS on UDP 53 (mDNS on 5353, LLMNR on 5355: other protocols with the
same ``dns.*`` fields), over TCP 53 on the segment that completes a length-prefixed
message, and on UDP ports no dissector claims when the payload passes its heuristic (a
header whose counts look like a query or a response). An empty datagram to 53 is plain
UDP, and ``dns`` needs the 4 bytes tshark reads before it adds the protocol. The
capture is built here (explicit Ethernet addresses; nothing is sent anywhere) and every
answer is compared with tshark's on the same file.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import IP, UDP
from scapy.packet import Packet

from engine.filter_file import compile_filter, filter_file
from engine.packet.app import dns_heuristic
from engine.packet.model import Packet as Frame
from tests.analysis_data import Tcp, eth, tshark, tshark_phs, write_frames

LIVETAP = str(Path(sys.executable).parent / "livetap")
QUESTION = b"\x07example\x03com\x00\x00\x01\x00\x01"
RECORD = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01"
EXPRESSIONS = [
    "dns",
    "mdns",
    "llmnr",
    "udp and not dns",
    "dns.id == 0x1234",
    "dns.flags.response == 1",
    'dns.qry.name == "example.com"',
    "dns.qry.type == 1",
    "dns.count.answers > 0",
    "dns.a == 192.0.2.1",
]


def header(flags: int, questions: int, answers: int, authority: int, additional: int) -> bytes:
    """A DNS header with id 0x1234."""
    return struct.pack(">HHHHHH", 0x1234, flags, questions, answers, authority, additional)


HEURISTIC = [
    # (what, payload, tshark 4.0 takes it for DNS), measured on tshark 4.0.17
    ("a query", header(0x0100, 1, 0, 0, 0) + QUESTION, True),
    ("a query with EDNS", header(0x0100, 1, 0, 0, 1) + QUESTION + bytes(11), True),
    ("a query, 10 additional", header(0x0100, 1, 0, 0, 10) + QUESTION, True),
    ("a query, 11 additional", header(0x0100, 1, 0, 0, 11) + QUESTION, False),
    ("a query with two questions", header(0x0100, 2, 0, 0, 0) + QUESTION * 2, False),
    ("a query with an answer", header(0x0100, 1, 1, 0, 0) + QUESTION + RECORD, False),
    ("a query with authority", header(0x0100, 1, 0, 1, 0) + QUESTION + RECORD, False),
    ("a NOTIFY (opcode 4)", header(0x2000, 1, 0, 0, 0) + QUESTION, False),
    ("a response", header(0x8180, 1, 1, 0, 0) + QUESTION + RECORD, True),
    ("a response, no question", header(0x8180, 0, 1, 0, 0) + RECORD, True),
    ("a response with no records", header(0x8180, 0, 0, 0, 0) + bytes(4), True),
    ("a response, 100 answers", header(0x8180, 1, 100, 0, 0) + QUESTION + RECORD, True),
    ("a response, 101 answers", header(0x8180, 1, 101, 0, 0) + QUESTION + RECORD, False),
    ("a response, 10 authority", header(0x8180, 1, 0, 10, 0) + QUESTION, True),
    ("a response, 11 authority", header(0x8180, 1, 1, 11, 0) + QUESTION, False),
    ("a response with two questions", header(0x8180, 2, 1, 0, 0) + QUESTION * 2, False),
    ("a header and one byte", header(0x0100, 1, 0, 0, 0) + b"\x00", True),
    ("a header alone", header(0x0100, 1, 0, 0, 0), False),
    ("a bad name", header(0x0100, 1, 0, 0, 0) + b"\xff" * 7, True),
    ("text", b"hello world, this is not DNS at all", False),
]


def _query(ident: int, name: str) -> bytes:
    return bytes(DNS(id=ident, rd=1, qd=DNSQR(qname=name)))


def _answer(ident: int, name: str, address: str) -> bytes:
    record = DNSRR(rrname=name, rdata=address, ttl=60)
    return bytes(DNS(id=ident, qr=1, qd=DNSQR(qname=name), an=record))


def _udp(sport: int, dport: int, payload: bytes, reply: bool = False) -> Packet:
    ends = ("10.0.0.53", "10.0.0.5") if reply else ("10.0.0.5", "10.0.0.53")
    return eth(IP(src=ends[0], dst=ends[1]) / UDP(sport=sport, dport=dport) / payload, reply)


def dns_frames() -> list[Packet]:
    """DNS on 8053, 5353, 5355, 53 over UDP and TCP; empty and short datagrams; the
    heuristic's edges on a port no dissector claims."""
    frames = [
        _udp(40001, 8053, _query(0x1234, "example.com")),
        _udp(8053, 40001, _answer(0x1234, "example.com", "192.0.2.1"), reply=True),
        _udp(5353, 5353, _query(0x1234, "printer.local")),
        _udp(5353, 5353, _answer(0x1234, "printer.local", "192.0.2.1"), reply=True),
        _udp(40002, 5355, _query(0x1234, "host")),
        _udp(5355, 40002, _answer(0x1234, "host", "192.0.2.1"), reply=True),
        _udp(40003, 53, b""),  # empty: plain UDP
        _udp(40003, 5353, b""),
        _udp(40003, 5355, b""),
        _udp(40004, 53, header(0x0100, 1, 0, 0, 0)[:4]),  # the 4 bytes tshark reads
        _udp(40005, 53, _query(0x1234, "example.com")),
        _udp(40006, 8053, b"hello, not DNS at all"),
    ]
    resolver = Tcp("10.0.0.5", 42000, "10.0.0.53", 53).open()
    for message, server in ((_query(0x1234, "example.com"), False),):
        resolver.send(not server, "PA", len(message).to_bytes(2, "big") + message)
    reply = _answer(0x1234, "example.com", "192.0.2.1")
    resolver.send(False, "PA", len(reply).to_bytes(2, "big") + reply)
    resolver.close()
    frames += resolver.frames
    other = Tcp("10.0.0.5", 42001, "10.0.0.53", 8053).open()  # no heuristic over TCP
    query = _query(0x1234, "example.com")
    other.send(True, "PA", len(query).to_bytes(2, "big") + query)
    other.close()
    frames += other.frames
    frames += [_udp(40007, 40008, payload) for _what, payload, _dns in HEURISTIC]
    return frames


@pytest.mark.parametrize(("what", "payload", "expected"), HEURISTIC)
def test_the_heuristic_is_tsharks(what: str, payload: bytes, expected: bool) -> None:
    """The model's heuristic on the cases measured against tshark 4.0 (no tshark needed)."""
    padded = b"\xaa" * 3 + payload
    assert dns_heuristic(padded, 3, len(padded)) is expected, what
    frame = bytes(_udp(40007, 40008, payload))
    assert Frame(1, frame).dns_kind() == ("dns" if expected else None), what


def test_dns_kinds_by_port() -> None:
    """mDNS and LLMNR are their own protocols; an empty or 3-byte datagram is none."""
    kinds = [Frame(1, bytes(frame)).dns_kind() for frame in dns_frames()[:12]]
    assert kinds == [
        "dns",
        "dns",
        "mdns",
        "mdns",
        "llmnr",
        "llmnr",
        None,
        None,
        None,
        "dns",
        "dns",
        None,
    ]
    short = bytes(_udp(40004, 53, b"\x12\x34\x01"))
    assert Frame(1, short).dns_kind() is None
    snmp = bytes(_udp(40009, 161, header(0x0100, 1, 0, 0, 0) + QUESTION))
    assert Frame(1, snmp).dns_kind() is None  # a port livetap knows as SNMP: no heuristic


needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is needed")


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_frames(tmp_path_factory.mktemp("dns") / "dns.pcap", dns_frames())


def _numbers(path: Path, expression: str) -> list[int]:
    out = tshark(path, "-Y", expression, "-T", "fields", "-e", "frame.number")
    return [int(n) for n in out.split()]


@needs_tshark
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_display_filter_is_tsharks(capture: Path, expression: str) -> None:
    found = filter_file(capture, compile_filter(expression), keep_frames=True).frames
    assert [frame.number for frame in found] == _numbers(capture, expression)


@needs_tshark
def test_the_capture_has_what_the_test_is_about(capture: Path) -> None:
    dns = _numbers(capture, "dns")
    assert _numbers(capture, "udp.port == 8053 and dns") == [1, 2]
    assert 7 not in dns and 10 in dns  # empty: not DNS; 4 bytes: DNS
    assert _numbers(capture, "tcp.port == 53 and dns")  # over TCP
    assert not _numbers(capture, "tcp.port == 8053 and dns")
    heuristic = _numbers(capture, "udp.port == 40008 and dns")
    assert len(heuristic) == sum(1 for _what, _payload, expected in HEURISTIC if expected)


@needs_tshark
def test_protocol_column_is_tsharks(capture: Path) -> None:
    result = subprocess.run(
        [LIVETAP, "filter", str(capture), "-Y", "frame", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    ours = [frame["protocol"] for frame in json.loads(result.stdout)["data"]["frames"]]
    theirs = tshark(capture, "-T", "fields", "-e", "_ws.col.Protocol").split()
    assert ours == theirs


@needs_tshark
def test_hierarchy_counts_heuristic_dns(capture: Path) -> None:
    from engine.analysis import analyze_file
    from engine.analysis.hierarchy import flatten

    tree = analyze_file(capture, ["protocols"]).reports["protocols"]["tree"]
    ours = [(depth, row["protocol"], row["frames"], row["bytes"]) for depth, row in flatten(tree)]
    # (tshark also counts the malformed messages under dns; livetap's hierarchy has no
    # _ws.malformed rows)
    assert ours == [row for row in tshark_phs(capture) if row[1] != "_ws.malformed"]
    assert (3, "dns", 14, 999) in ours  # 8053 (2), 53 (2) and the heuristic (10)
