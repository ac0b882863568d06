"""Fuzz every decoder the hot path and the analysis use, and say what survived.

Targets (each case is built from its own seeded ``random.Random``, so any case can
be rebuilt from its number):

- ``decode``: :func:`engine.decode.decode` on structured frames of every link type
  (Ethernet, VLAN/QinQ, SLL, SLL2, raw IP, null/loopback, unknown), mutated:
  truncated at any offset, length fields overwritten, bits flipped, random bytes.
- ``analysis``: :func:`engine.packet.walk.walk` and ``Analyzer.add`` on the
  same frames; ``analysis-report``: a short stream through an analyzer, every
  report, and TCP stream following.
- ``pcapio``: :class:`engine.pcapio.PcapReader` on mutated pcap and pcapng files
  (several interfaces, unknown blocks, second sections, both byte orders), read
  whole or through a pipe-like stream that returns a few bytes at a time.
- ``display-filter``: :func:`compile_display_filter` on token salad, then
  ``matches_packet`` and ``matches_fields`` with what compiled.
- ``bpf-builder``: :func:`engine.bpf_builder.build_filter` on word salad.
- ``dissector-spec``: :func:`engine.dissector.parse_spec` on mutated specs (and
  :func:`generate_lua` on those it accepts).
- ``cdp-tracker``: :class:`engine.browser.network.NetworkTracker` on mutated CDP
  Network events.

A case passes when it returns, or raises the documented :class:`LivetapError`
(for inputs a person can get wrong: files, filters, specs); any other exception,
a bug counter that moves (``decoder_errors``, ``evaluation_errors``) or a case
over ``--case-limit`` seconds fails, and its input is saved to ``--crashes``.
Each target runs in a worker process watched by this one, so even a case stuck
inside C code (a regular expression) is caught: the worker is killed, the case
saved, and the target continues after it.

    .venv/bin/python benchmarks/fuzz.py [--cases 1000000] [--seconds S] [--jobs 2]
        [--targets decode,pcapio] [--seed N] [--case-limit 2] [--crashes DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import math
import multiprocessing
import os
import random
import signal
import struct
import sys
import time
import traceback
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from engine import decode as decoder
from engine import display_filter as display
from engine import linktypes
from engine.analysis import Analyzer, follow_records
from engine.bpf_builder import _KNOWN as BPF_WORDS
from engine.bpf_builder import build_filter
from engine.browser.network import NetworkTracker
from engine.decode import decode
from engine.dissector import generate_lua, parse_spec
from engine.errors import LivetapError
from engine.events import PacketSummary
from engine.packet.walk import walk
from engine.pcapio import MAX_RECORD, PcapReader, PcapRecord

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CASES = 1_000_000
DEFAULT_CASE_LIMIT = 2.0
"""Seconds one case may take; the worker's own alarm fires first (Python code)."""
HARD_LIMIT_FACTOR = 3.0
"""The parent kills a worker whose case ran this many case limits (stuck in C code)."""
MAX_KEPT_ERRORS = 20


# -- frames ------------------------------------------------------------------------------------

MAC_A, MAC_B = bytes.fromhex("020000000001"), bytes.fromhex("0200000000fe")
IP4_A, IP4_B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
IP6_A, IP6_B = bytes(15) + b"\x01", bytes(15) + b"\x02"
PORTS = (20, 21, 23, 25, 53, 67, 80, 110, 123, 143, 443, 587, 853, 5353, 5355, 8080, 40000)
INTERESTING_16 = (0, 1, 7, 8, 20, 40, 0x7F, 0x80, 0xFF, 0x100, 0x5DC, 0x7FFF, 0x8000, 0xFFFF)
INTERESTING_32 = (0, 1, 12, 16, 28, 32, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, MAX_RECORD + 1)
LINKTYPES = (0, 1, 1, 1, 1, 12, 14, 101, 108, 113, 127, 105, 228, 229, 276, 147, 9999)
"""Ethernet weighted up, every type the decoders read, and some they do not."""


def _dns(rng: random.Random, response: bool) -> bytes:
    """A DNS message with labels, compression pointers (some looping) and answers."""
    labels = b"".join(
        bytes([len(label)]) + label
        for label in (rng.choice([b"www", b"api", b"a" * rng.randrange(0, 70)]), b"example", b"org")
    )
    question = labels + b"\x00" + struct.pack("!HH", rng.choice([1, 28, 5, 255, 65]), 1)
    answers = b""
    count = rng.randrange(0, 4) if response else 0
    for _ in range(count):
        pointer = rng.choice([0xC00C, 0xC000 | rng.randrange(0, 0x3FFF), 0xC000 | 12])
        kind = rng.choice([1, 28, 5])
        rdata = {1: IP4_B, 28: IP6_B, 5: b"\x03cdn\xc0\x0c"}[kind]
        answers += struct.pack("!HHHIH", pointer, kind, 1, 60, len(rdata)) + rdata
    flags = 0x8180 if response else 0x0100
    header = struct.pack("!HHHHHH", rng.randrange(0x10000), flags, 1, count, 0, 0)
    return header + question + answers


def _tls_hello(rng: random.Random) -> bytes:
    """A TLS record holding a Client Hello with an SNI extension."""
    name = rng.choice([b"example.org", b"x" * rng.randrange(0, 300), b"\xff\x00bad"])
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    extensions = struct.pack("!HH", 0, len(sni)) + sni
    body = (
        b"\x03\x03"
        + rng.randbytes(32)
        + b"\x00"
        + b"\x00\x02\x13\x01"
        + b"\x01\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return struct.pack("!BHH", 22, 0x0301, len(handshake)) + handshake


def _payload(rng: random.Random, port: int) -> bytes:
    """Application bytes that wake the protocol readers on their usual ports."""
    choice = rng.randrange(12)
    if port in (53, 5353, 5355) and choice < 8:
        return _dns(rng, rng.random() < 0.5)
    if choice == 0:
        return b"GET /a?b=c&password=x HTTP/1.1\r\nHost: example.org\r\n" + (
            b"Authorization: Basic dXNlcjpwYXNz\r\nUser-Agent: curl/8\r\n\r\n"
        )
    if choice == 1:
        return b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"
    if choice == 2:
        return _tls_hello(rng)
    if choice == 3:
        return rng.choice([b"USER bob\r\n", b"PASS hunter2\r\n", b"a1 LOGIN bob pw\r\n"])
    if choice == 4:
        return b"AUTH PLAIN AGJvYgBwdw==\r\n" if rng.random() < 0.5 else b"+OK\r\n"
    if choice == 5:
        return b"\xff\xfb\x01login: bob\r\npassword: x\r\n"
    if choice == 6:
        return struct.pack("!BHH", rng.choice([20, 21, 23]), 0x0303, 0xFFFF) + rng.randbytes(20)
    if choice == 7:
        return b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    return rng.randbytes(rng.randrange(0, 64))


def _transport(rng: random.Random, protocol: int) -> bytes:
    """A TCP, UDP, ICMP, ICMPv6 or other header with a payload."""
    sport, dport = rng.choice(PORTS), rng.choice(PORTS)
    if protocol == 6:
        options = rng.choice([b"", b"\x02\x04\x05\xb4\x01\x01\x04\x02", rng.randbytes(4)])
        offset = 5 + len(options) // 4
        flags = rng.choice([0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0xFF])
        header = struct.pack(
            "!HHIIBBHHH",
            sport,
            dport,
            rng.getrandbits(32),
            rng.getrandbits(32),
            offset << 4,
            flags,
            65535,
            0,
            0,
        )
        return header + options + _payload(rng, min(sport, dport))
    if protocol == 17:
        payload = _payload(rng, min(sport, dport))
        return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if protocol in (1, 58):
        kind = rng.choice([0, 8, 3, 11, 5, 128, 129, 133, 135, 1])
        inner = _ipv4(rng, 17, b"\x00\x35\x00\x35\x00\x08\x00\x00") if kind in (3, 11, 1) else b""
        return struct.pack("!BBHHH", kind, rng.randrange(5), 0, 1, 1) + inner + rng.randbytes(8)
    return rng.randbytes(rng.randrange(0, 40))


def _ipv4(rng: random.Random, protocol: int, body: bytes) -> bytes:
    """An IPv4 header (sometimes with options, sometimes a fragment) and its body."""
    options = rng.choice([b"", b"", b"\x01\x01\x01\x00"])
    fragment = rng.choice([0, 0, 0, 0x4000, 0x2000, 0x0010, 0x2010])
    total = 20 + len(options) + len(body)
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | (5 + len(options) // 4),
        0,
        total & 0xFFFF,
        rng.randrange(0x10000),
        fragment,
        64,
        protocol,
        0,
        IP4_A,
        IP4_B,
    )
    return header + options + body


def _ipv6(rng: random.Random, protocol: int, body: bytes) -> bytes:
    """An IPv6 header, sometimes behind hop-by-hop or fragment extension headers."""
    if rng.random() < 0.2:
        body = struct.pack("!BBHI", protocol, 0, rng.choice([0, 1, 8]), 7) + body
        protocol = 44
    if rng.random() < 0.1:
        body = bytes([protocol, 0]) + b"\x01\x04" + bytes(4) + body[:0] + body
        protocol = 0
    return struct.pack("!IHBB", 0x60000000, len(body), protocol, 64) + IP6_A + IP6_B + body


def network_packet(rng: random.Random) -> tuple[int, bytes]:
    """(ethertype, bytes) of an IPv4/IPv6 packet (tunnels too) or an ARP message."""
    roll = rng.random()
    if roll < 0.06:
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, rng.choice([1, 2, 9]))
        return 0x0806, arp + MAC_A + IP4_A + MAC_B + IP4_B
    protocol = rng.choice([6, 6, 6, 17, 17, 17, 1, 58, 2, 4, 41, 47, 50, 132, 255])
    if protocol in (4, 41):  # IP in IP: an inner packet of its own
        inner_protocol = rng.choice([6, 17])
        inner_body = _transport(rng, inner_protocol)
        inner = (
            _ipv4(rng, inner_protocol, inner_body)
            if protocol == 4
            else _ipv6(rng, inner_protocol, inner_body)
        )
        return 0x0800, _ipv4(rng, protocol, inner)
    if protocol == 47:
        inner = _ipv4(rng, 17, _transport(rng, 17))
        return 0x0800, _ipv4(rng, 47, struct.pack("!HH", 0, 0x0800) + inner)
    body = _transport(rng, protocol)
    if protocol == 58 or rng.random() < 0.3:
        return 0x86DD, _ipv6(rng, protocol, body)
    return 0x0800, _ipv4(rng, protocol, body)


def link_frame(rng: random.Random, linktype: int) -> bytes:
    """A well-formed frame of this link type (random bytes for a type no decoder reads)."""
    ethertype, packet = network_packet(rng)
    normal = linktypes.normalise(linktype)
    if normal == linktypes.ETHERNET:
        tags = b""
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            tags += struct.pack("!HH", rng.choice([0x8100, 0x88A8, 0x9100]), rng.randrange(4096))
        return MAC_B + MAC_A + tags + struct.pack("!H", ethertype) + packet
    if normal == linktypes.LINUX_SLL:
        hatype = rng.choice([1, 772, 824, 0xFFFE])
        return struct.pack("!HHH8sH", 0, hatype, 6, MAC_A + b"\0\0", ethertype) + packet
    if normal == linktypes.LINUX_SLL2:
        return struct.pack("!HHIHBB8s", ethertype, 0, 1, 1, 0, 6, MAC_A + b"\0\0") + packet
    if normal in (linktypes.RAW, linktypes.IPV4, linktypes.IPV6):
        return packet
    if normal == linktypes.NULL:
        family = 2 if ethertype == 0x0800 else rng.choice([24, 28, 30])
        return struct.pack(rng.choice(["<I", ">I"]), family) + packet
    if normal == linktypes.LOOP:
        return struct.pack(">I", 2 if ethertype == 0x0800 else 24) + packet
    if linktype == 127:  # radiotap + 802.11 data + LLC/SNAP
        radiotap = struct.pack("<BBHI", 0, 0, 8, 0)
        wlan = struct.pack("<HH", 0x0808, 0) + MAC_A + MAC_B + MAC_B + b"\0\0"
        return radiotap + wlan + b"\xaa\xaa\x03\0\0\0" + struct.pack("!H", ethertype) + packet
    if linktype == 105:
        wlan = struct.pack("<HH", 0x0008, 0) + MAC_A + MAC_B + MAC_B + b"\0\0"
        return wlan + b"\xaa\xaa\x03\0\0\0" + struct.pack("!H", ethertype) + packet
    return rng.randbytes(rng.randrange(0, 128))


def mutate(rng: random.Random, data: bytes, words: tuple[int, ...] = INTERESTING_16) -> bytes:
    """One of: unchanged, truncated, a length-like field overwritten, bits flipped, spliced."""
    roll = rng.randrange(10)
    if roll == 0 or not data:
        return data
    buffer = bytearray(data)
    if roll <= 3:
        return bytes(buffer[: rng.randrange(len(buffer) + 1)])
    if roll <= 5:
        for _ in range(rng.randrange(1, 4)):
            position = rng.randrange(len(buffer))
            size = 2 if words is INTERESTING_16 else 4
            value = rng.choice(words) if rng.random() < 0.8 else rng.getrandbits(8 * size)
            packed = value.to_bytes(size, rng.choice(["big", "little"]))
            buffer[position : position + size] = packed
        return bytes(buffer)
    if roll <= 7:
        for _ in range(rng.randrange(1, 8)):
            buffer[rng.randrange(len(buffer))] ^= 1 << rng.randrange(8)
        return bytes(buffer)
    if roll == 8:
        position = rng.randrange(len(buffer) + 1)
        return bytes(buffer[:position] + rng.randbytes(rng.randrange(1, 32)) + buffer[position:])
    return rng.randbytes(rng.randrange(0, 256))


def fuzz_frame(rng: random.Random) -> tuple[int, bytes]:
    """(link type, frame): a structured frame of any link type, mutated."""
    linktype = rng.choice(LINKTYPES)
    return linktype, mutate(rng, link_frame(rng, linktype))


# -- capture files -------------------------------------------------------------------------------


def _pcapng_block(order: str, kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return (
        struct.pack(order + "II", kind, len(body) + 12)
        + body
        + struct.pack(order + "I", len(body) + 12)
    )


def _option(order: str, code: int, value: bytes) -> bytes:
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def capture_file(rng: random.Random) -> bytes:
    """A small valid pcap or pcapng file of random frames (several interfaces for pcapng)."""
    frames = [fuzz_frame(rng) for _ in range(rng.randrange(0, 6))]
    order = rng.choice("<>")
    if rng.random() < 0.5:
        nano = rng.random() < 0.3
        magic = 0xA1B23C4D if nano else 0xA1B2C3D4
        snaplen = rng.choice([0, 65535, 262144, 0xFFFFFFFF, 64])
        linktype = rng.choice(LINKTYPES)
        out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)
        for number, (_kind, frame) in enumerate(frames):
            out += struct.pack(order + "IIII", 1_700_000_000 + number, 5, len(frame), len(frame))
            out += frame
        return out
    shb_options = _option(order, 4, b"fuzz") + _option(order, 0, b"")
    out = _pcapng_block(
        order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_options
    )
    interfaces = [rng.choice(LINKTYPES) for _ in range(rng.randrange(1, 4))]
    for linktype in interfaces:
        options = b""
        if rng.random() < 0.5:
            options += _option(order, 9, bytes([rng.choice([6, 9, 0x80 | 10, 19, 0xFF])]))
        if rng.random() < 0.3:
            options += _option(order, 14, struct.pack(order + "q", rng.randrange(-5, 5)))
        body = struct.pack(order + "HHI", linktype, 0, rng.choice([0, 65535])) + options
        out += _pcapng_block(order, 1, body + _option(order, 0, b""))
    for number, (_kind, frame) in enumerate(frames):
        kind = rng.choice([6, 6, 6, 3, 2, 4, 5, 0x0BAD, 0x80000001])
        interface = rng.randrange(len(interfaces) + 1)
        if kind == 6:
            head = struct.pack(order + "IIIII", interface, 0, number, len(frame), len(frame))
        elif kind == 3:
            head = struct.pack(order + "I", len(frame))
        elif kind == 2:
            head = struct.pack(order + "HHIIII", interface, 0, 0, number, len(frame), len(frame))
        else:
            head = rng.randbytes(rng.randrange(0, 16))  # NRB, ISB, unknown, custom
        out += _pcapng_block(order, kind, head + frame)
        if rng.random() < 0.05:  # a second section, maybe in the other byte order
            order = rng.choice("<>")
            out += _pcapng_block(
                order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1)
            )
            out += _pcapng_block(order, 1, struct.pack(order + "HHI", 1, 0, 0))
    return out


class Trickle(io.RawIOBase):
    """A pipe-like stream: short reads of a few bytes at a time, no seeking."""

    def __init__(self, data: bytes, rng: random.Random) -> None:
        self._data = data
        self._position = 0
        self._rng = rng

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._rng.randrange(1, 40))
        chunk = self._data[self._position : self._position + size]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)


def read_capture(data: bytes, rng: random.Random | None = None) -> int:
    """Read every record of a capture file; the reader's invariants are checked on the way."""
    stream: Any = io.BytesIO(data) if rng is None else io.BufferedReader(Trickle(data, rng), 64)
    try:
        reader = PcapReader(stream, name="fuzz")
    except LivetapError:
        return 0
    records = 0
    limit = len(data) // 8 + 1
    while batch := reader.read_batch(rng.randrange(1, 64) if rng else 4096):
        for record in batch:
            if len(record.data) > MAX_RECORD:
                raise AssertionError(f"a record of {len(record.data)} bytes passed the bound")
        records += len(batch)
        if records > limit:
            raise AssertionError(f"{records} records out of {len(data)} bytes")
    if len(reader.warnings) > 51:
        raise AssertionError("the warning list is not bounded")
    return records


# -- text inputs -----------------------------------------------------------------------------------

FILTER_WORDS = (
    *display.field_names(),
    *("and", "or", "not", "in", "contains", "matches", "eq", "ne", "lt", "gt", "le", "ge", "&&"),
    *("||", "!", "==", "!=", "<", ">", "<=", ">=", "~", "(", ")", "{", "}", "..", ","),
    *("0", "1", "53", "65535", "65536", "-1", "99999999999999999999", "0x1f", "10.0.0.1"),
    *("10.0.0.0/8", "::1", "fe80::/10", "02:00:00:00:00:01", "300.1.1.1", "GET", "POST"),
    *('"abc"', '"\\x00"', '"\\u00e9"', '"/api/"', '".*"', '"a+b"', '"(a|b)"', '"[x-"'),
    *('".*a.*b"', '"(a+)+"', '"\\\\d{1,3}"', '"^GET"', '"é"', '"\\ud800"', '"', "@", "\x00"),
)


FILTER_FIELDS = display.field_names()
FILTER_OPERATORS = ("==", "!=", "<", ">=", "contains", "matches", "in", "not in", "")
FILTER_LITERALS = (
    "0",
    "53",
    "443",
    "65535",
    "10.0.0.1",
    "10.0.0.0/8",
    "::1",
    "02:00:00:00:00:fe",
    "GET",
    '"example"',
    '"/api/"',
    '"^get"',
    '"a.c"',
    '"[0-9]{1,3}"',
    '"é"',
    "{80 443 8000..8080}",
    "{10.0.0.1 ::1}",
    '{"GET" "POST"}',
    "200",
    "4xx",
)


FILTER_BY_KIND = {
    display.INT: (("==", "!=", "<", ">="), ("0", "53", "65535", "200", "{80 443 8000..8080}")),
    display.IPV4: (("==", "!="), ("10.0.0.1", "10.0.0.0/8", "127.0.0.1", "{10.0.0.1 10.0.0.2}")),
    display.IPV6: (("==", "!="), ("::1", "fe80::/10", "{::1 ::2}")),
    display.MAC: (("==", "!="), ("02:00:00:00:00:fe", "02:00:00:00:00:01")),
    display.STR: (("==", "contains", "matches"), ('"example"', '"/api/"', '"^get"', "GET")),
    display.BYTES: (("contains", "matches"), ('"GET"', '"\\x00"', '"a.c"', '"[0-9]{1,3}"')),
}


def _test(rng: random.Random) -> str:
    """One ``field op literal`` (or a field alone), the usual shape of a filter."""
    field = rng.choice(FILTER_FIELDS)
    kind = display.FIELDS[field].kind
    if kind in FILTER_BY_KIND and rng.random() < 0.8:
        operators, literals = FILTER_BY_KIND[kind]
        literal = rng.choice(literals)
        operator = "in" if literal.startswith("{") else rng.choice(operators)
        return f"{field} {operator} {literal}"
    operator = rng.choice(FILTER_OPERATORS)
    return f"{field} {operator} {rng.choice(FILTER_LITERALS)}" if operator else field


def filter_text(rng: random.Random) -> str:
    """Mostly well-formed expressions; token salad from the vocabulary, with junk, too."""
    if rng.random() < 0.6:
        text = _test(rng)
        for _ in range(rng.randrange(0, 4)):
            joint = rng.choice([" and ", " or ", " && ", " || "])
            item = _test(rng)
            text += joint + (f"not ({item})" if rng.random() < 0.2 else item)
        return text
    words = [rng.choice(FILTER_WORDS) for _ in range(rng.randrange(0, 14))]
    if rng.random() < 0.05:
        words.append("".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(1, 10))))
    if rng.random() < 0.02:
        words = ["("] * rng.randrange(50, 80) + ["tcp"] + [")"] * rng.randrange(50, 80)
    return " ".join(words)


def request_fields(rng: random.Random) -> dict[str, object]:
    """A request as the request list hands it to the display filter."""
    return {
        "url": rng.choice(["http://127.0.0.1/api/x?y=1", "", "a" * rng.randrange(0, 5000)]),
        "method": rng.choice(["GET", "POST", "", "\x00"]),
        "status": rng.choice([200, 404, None, "500", 1.5, True]),
        "mime": "text/html",
        "size": rng.choice([0, 10, 2**70, -1]),
    }


BPF_VOCABULARY = (
    *sorted(BPF_WORDS),
    *("10.0.0.5", "192.168.0.0/16", "::1", "fe80::/10", "02:00:00:00:00:01", "80", "0"),
    *("65535", "65536", "8000-8080", "9-1", "1000", "host", "x.example", "é", "\x00", ";"),
)


BPF_PHRASES = (
    ("http", "https", "dns", "ssh", "tcp", "udp", "icmp", "arp", "syn", "tcp syn", "ping", "vlan"),
    ("", "to", "from", "between", "not", "except"),
    (
        "10.0.0.5",
        "192.168.0.0/16",
        "::1",
        "10.0.0.5 and 10.0.0.6",
        "port 53",
        "ports 80 443",
        "port 8000-8080",
        "mac 02:00:00:00:00:01",
        "larger than 1000",
        "ttl below 10",
    ),
)


def description(rng: random.Random) -> str:
    """Phrases the builder knows, joined and negated; word salad, too."""
    if rng.random() < 0.6:
        parts = [" ".join(rng.choice(group) for group in BPF_PHRASES).strip()]
        for _ in range(rng.randrange(0, 3)):
            parts.append(rng.choice(["and", "or", ",", "except"]))
            parts.append(" ".join(rng.choice(group) for group in BPF_PHRASES).strip())
        return " ".join(parts)
    words = [rng.choice(BPF_VOCABULARY) for _ in range(rng.randrange(0, 12))]
    return " ".join(words)


def _seed_specs() -> list[dict[str, Any]]:
    """The example spec and the golden ones the dissector tests use."""
    paths = [
        ROOT / "examples" / "sensor.json",
        *sorted((ROOT / "tests" / "dissector_golden").glob("*.json")),
    ]
    specs = []
    for path in paths:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            specs.append(data)
    return specs or [{"protocol": "p", "transport": "udp", "ports": [1], "fields": []}]


SPECS = _seed_specs()
SPEC_VALUES: tuple[object, ...] = (
    None,
    True,
    0,
    -1,
    2**64,
    1e308,
    math.inf,
    "",
    "x",
    "uint8",
    "uint64",
    "udp",
    "tcp",
    "string",
    "switch",
    "struct",
    "a" * 5000,
    "]] os.execute('id') --[[",
    '"\\n',
    "\x00",
    "{type}",
    "body_len - 4",
    "1/0",
    "(((((",
    [],
    {},
    [1, 2],
    {"name": "x"},
    [[[[[]]]]],
)


def _walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))


def spec_case(rng: random.Random) -> dict[str, Any]:
    """A seed spec with a few values replaced, keys removed or added, lists grown."""
    spec: dict[str, Any] = json.loads(json.dumps(rng.choice(SPECS)))
    paths = list(_walk(spec))[1:]
    for _ in range(rng.randrange(1, 4)):
        if not paths:
            break
        path = rng.choice(paths)
        parent: Any = spec
        for step in path[:-1]:
            parent = parent[step]
        action = rng.randrange(4)
        try:
            if action == 0:
                parent[path[-1]] = copy.deepcopy(rng.choice(SPEC_VALUES))
            elif action == 1 and isinstance(parent, dict):
                del parent[path[-1]]
            elif action == 2 and isinstance(parent, dict):
                key = rng.choice(["x", "repeat", "until", "length", "bits", "enum"])
                parent[key] = copy.deepcopy(rng.choice(SPEC_VALUES))
            elif isinstance(parent, list):
                parent.append(json.loads(json.dumps(parent[path[-1]])))
        except (KeyError, IndexError, TypeError):
            pass
        paths = list(_walk(spec))[1:]
    return spec


# -- browser events ------------------------------------------------------------------------------

CDP_METHODS = (
    "Network.requestWillBeSent",
    "Network.responseReceived",
    "Network.loadingFinished",
    "Network.loadingFailed",
    "Network.requestServedFromCache",
    "Network.dataReceived",
    "Network.requestWillBeSentExtraInfo",
    "Network.responseReceivedExtraInfo",
    "Network.policyUpdated",
    "Network.webSocketCreated",
    "",
)
CDP_VALUES: tuple[object, ...] = (
    None,
    True,
    -1,
    0,
    1.5,
    10**400,
    1e308,
    math.inf,
    math.nan,
    "",
    "x",
    "\ud800",
    [],
    {},
    {"a": [1, {"b": None}]},
    "http://[::1",
    "a" * 10_000,
    2**63,
)


def cdp_event(rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A CDP Network event, realistic or mangled."""
    request_id = rng.choice(["1.1", "1.2", "2.7", "3.1/1", "", "x" * 300])
    response = {
        "url": "http://127.0.0.1/a",
        "status": 200,
        "statusText": "OK",
        "mimeType": "text/html",
        "headers": {"Set-Cookie": "a=b\nc=d"},
        "remoteIPAddress": "127.0.0.1",
        "remotePort": 80,
        "protocol": "http/1.1",
        "timing": {"requestTime": 1.0, "sendEnd": 1.0, "receiveHeadersEnd": 5.0},
    }
    params: dict[str, Any] = {
        "requestId": request_id,
        "timestamp": rng.uniform(0, 1e6),
        "wallTime": 1.7e9,
        "request": {"url": "http://127.0.0.1/a", "method": "GET", "headers": {"A": "b"}},
        "response": response,
        "type": "Document",
        "encodedDataLength": 10,
        "errorText": "net::X",
        "headers": {"Cookie": "x"},
        "hasExtraInfo": rng.random() < 0.3,
    }
    if rng.random() < 0.1:
        params["redirectResponse"] = dict(response, status=302)
    targets = [params, params["request"], response, response["timing"]]
    for _ in range(rng.randrange(0, 4)):
        target = rng.choice(targets)
        target[rng.choice(list(target) or ["x"])] = copy.deepcopy(rng.choice(CDP_VALUES))
    return rng.choice(CDP_METHODS), params


# -- the targets ----------------------------------------------------------------------------------


class Failure(Exception):
    """A case broke a contract (a bug counter moved, or an invariant failed)."""


@dataclass(frozen=True)
class Target:
    """One thing to fuzz: how to build a case, run it, and save it when it fails."""

    name: str
    weight: float
    make: Callable[[random.Random], Any]
    run: Callable[[Any, random.Random], None]
    save: Callable[[Any], tuple[str, bytes]]


def _frame_file(case: Any) -> tuple[str, bytes]:
    linktype, frame = case
    return f"linktype{linktype}.bin", frame


def _run_decode(case: tuple[int, bytes], rng: random.Random) -> None:
    before = decoder.decoder_errors
    summary = decode(*case)
    if decoder.decoder_errors != before:
        raise Failure(f"decode fell back on its exception guard: {summary.info}")
    if not all(isinstance(text, str) for text in (summary.src, summary.dst, summary.info)):
        raise Failure("a summary field is not text")


_ANALYZER: list[Analyzer] = []
_FED = [0]
ANALYZER_PACKETS = 5_000
"""A fresh analyzer after this many packets, so memory stays flat over a long run."""


def _run_analysis(case: tuple[int, bytes], rng: random.Random) -> None:
    linktype, frame = case
    walk(linktype, frame)
    if not _ANALYZER or _FED[0] >= ANALYZER_PACKETS:
        _ANALYZER[:] = [Analyzer()]
        _FED[0] = 0
    _ANALYZER[0].add(1.0 + _FED[0], len(frame), linktype, frame)
    _FED[0] += 1


def _stream(rng: random.Random) -> list[PcapRecord]:
    frames = [fuzz_frame(rng) for _ in range(rng.randrange(1, 30))]
    return [PcapRecord(1.0 + i * rng.random(), len(f), lt, f) for i, (lt, f) in enumerate(frames)]


def _run_report(records: list[PcapRecord], rng: random.Random) -> None:
    analyzer = Analyzer()
    analyzer.add_records(records)
    analyzer.report(["all"])
    with contextlib.suppress(LivetapError):
        follow_records(records, stream=0)


def _stream_file(case: Any) -> tuple[str, bytes]:
    return "stream.json", json.dumps([[t, n, lt, f.hex()] for t, n, lt, f, _s in case]).encode()


def _run_pcap(case: bytes, rng: random.Random) -> None:
    read_capture(case, rng if rng.random() < 0.2 else None)


def _run_filter(case: str, rng: random.Random) -> None:
    try:
        compiled = display.compile_display_filter(case)
    except LivetapError:
        return
    before = display.evaluation_errors
    for _ in range(3):
        linktype, frame = fuzz_frame(rng)
        summary = PacketSummary(1, 1.0, len(frame), linktype, *decode(linktype, frame), frame)
        compiled.matches_packet(summary)
    compiled.matches_fields(request_fields(rng))
    if display.evaluation_errors != before:
        raise Failure("matching hit an unexpected error (evaluation_errors moved)")


def _run_builder(case: str, rng: random.Random) -> None:
    with contextlib.suppress(LivetapError):
        build_filter(case)


def _run_spec(case: dict[str, Any], rng: random.Random) -> None:
    try:
        spec = parse_spec(case)
    except LivetapError:
        return
    generate_lua(spec)


_TRACKER: list[NetworkTracker] = []


def _run_tracker(case: tuple[str, dict[str, Any]], rng: random.Random) -> None:
    if not _TRACKER:
        _TRACKER.append(NetworkTracker(max_requests=500))
    tracker = _TRACKER[0]
    tracker.handle(*case)
    if len(tracker.records()) > tracker.max_requests:
        raise Failure("the tracker holds more than max_requests")


def _text_file(case: Any) -> tuple[str, bytes]:
    return "txt", str(case).encode("utf-8", "surrogatepass")


def _json_file(case: Any) -> tuple[str, bytes]:
    return "json", repr(case).encode("utf-8", "surrogatepass")


TARGETS: tuple[Target, ...] = (
    Target("decode", 0.36, fuzz_frame, _run_decode, _frame_file),
    Target("analysis", 0.24, fuzz_frame, _run_analysis, _frame_file),
    Target("analysis-report", 0.02, _stream, _run_report, _stream_file),
    Target(
        "pcapio",
        0.12,
        lambda rng: mutate(rng, capture_file(rng), INTERESTING_32),
        _run_pcap,
        lambda case: ("pcap", case),
    ),
    Target("display-filter", 0.10, filter_text, _run_filter, _text_file),
    Target("bpf-builder", 0.05, description, _run_builder, _text_file),
    Target("dissector-spec", 0.03, spec_case, _run_spec, _json_file),
    Target("cdp-tracker", 0.08, cdp_event, _run_tracker, _json_file),
)


def case_rng(seed: int, target: str, index: int) -> random.Random:
    """The generator of one case: the same seed, target and number give the same case."""
    return random.Random((seed * 1_000_003 + index) * 131 + sum(map(ord, target)))


# -- running --------------------------------------------------------------------------------------


class Hang(Exception):
    """The case ran past the case limit (raised by the alarm, inside Python code)."""


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang


@dataclass
class Shared:
    """Counters a worker updates and the parent watches."""

    started: Any
    """multiprocessing.Value('d'): monotonic time the current case started (0 between)."""
    current: Any
    """multiprocessing.Value('q'): the number of the case running."""


@dataclass(frozen=True)
class Job:
    """Cases ``first`` to ``last - 1`` of one target, and the limits they run under."""

    target: str
    first: int
    last: int
    seed: int
    deadline: float
    """time.monotonic() value after which no new case starts."""
    limit: float
    crashes: str


def worker(job: Job, shared: Shared, results: Any) -> None:
    """Run the job's cases; put a summary on ``results``."""
    target = next(t for t in TARGETS if t.name == job.target)
    first, last, seed, limit, crashes = job.first, job.last, job.seed, job.limit, job.crashes
    signal.signal(signal.SIGALRM, _alarm)
    times = array("d")
    errors: list[str] = []
    failures = hangs = 0
    index = first
    clock = time.perf_counter
    for index in range(first, last):
        if time.monotonic() >= job.deadline:
            break
        rng = case_rng(seed, target.name, index)
        case = target.make(rng)
        shared.current.value = index
        shared.started.value = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, limit)
        start = clock()
        try:
            target.run(case, rng)
        except Hang:
            hangs += 1
            saved = _save(crashes, target, index, case)
            _note(errors, f"case {index}: longer than {limit} s", saved)
        except Exception as error:  # the point of fuzzing: anything but LivetapError is a bug
            failures += 1
            where = _save(crashes, target, index, case)
            _note(errors, f"case {index}: {type(error).__name__}: {error}", where)
            if len(errors) <= 3:
                traceback.print_exc(file=sys.stderr)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        times.append(clock() - start)
        shared.started.value = 0.0
    results.put((target.name, first, len(times), failures, hangs, errors, times.tobytes()))


def _note(errors: list[str], message: str, saved: str) -> None:
    if len(errors) < MAX_KEPT_ERRORS:
        errors.append(f"{message[:300]} (input: {saved})")


def _save(folder: str, target: Target, index: int, case: Any) -> str:
    """Write a failing case to the crash folder; returns its path."""
    suffix, content = target.save(case)
    path = Path(folder) / f"{target.name}-{index}.{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return str(path)


@dataclass
class Outcome:
    """What one target did."""

    cases: int = 0
    failures: int = 0
    hangs: int = 0
    killed: int = 0
    errors: list[str] | None = None
    times: array[float] | None = None


def run_target(
    target: Target, cases: int, *, seed: int, seconds: float, limit: float, crashes: str
) -> Outcome:
    """Run one target in a watched worker; a worker stuck past the hard limit is replaced."""
    outcome = Outcome(errors=[], times=array("d"))
    assert outcome.errors is not None and outcome.times is not None
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    deadline = time.monotonic() + seconds
    first = 0
    while first < cases and time.monotonic() < deadline:
        shared = Shared(context.Value("d", 0.0), context.Value("q", first))
        job = Job(target.name, first, cases, seed, deadline, limit, crashes)
        process = context.Process(target=worker, args=(job, shared, results))
        process.start()
        summary = None
        while summary is None:
            try:
                summary = results.get(timeout=0.5)
            except Exception:  # queue.Empty: check on the worker
                started = shared.started.value
                if started and time.monotonic() - started > limit * HARD_LIMIT_FACTOR:
                    process.kill()
                    process.join()
                    stuck = shared.current.value
                    case = target.make(case_rng(seed, target.name, stuck))
                    saved = _save(crashes, target, stuck, case)
                    outcome.killed += 1
                    outcome.errors.append(f"case {stuck}: stuck in C code, killed (input: {saved})")
                    outcome.cases += stuck - first + 1
                    first = stuck + 1
                    break
                if not process.is_alive() and results.empty():
                    outcome.errors.append(
                        f"the worker died (exit {process.exitcode}) near case "
                        f"{shared.current.value}"
                    )
                    outcome.failures += 1
                    first = shared.current.value + 1
                    break
        if summary is None:
            continue
        process.join()
        _name, _first, done, failures, hangs, errors, raw = summary
        outcome.cases += done
        outcome.failures += failures
        outcome.hangs += hangs
        outcome.errors.extend(errors)
        chunk = array("d")
        chunk.frombytes(raw)
        outcome.times.extend(chunk)
        first = cases  # the worker ran to the end (or to the deadline)
    return outcome


def percentile(values: array[float], fraction: float) -> float:
    """The value below which ``fraction`` of the values lie."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=DEFAULT_CASES, help="total cases, all targets")
    parser.add_argument("--seconds", type=float, default=math.inf, help="stop after this long")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="targets at once")
    parser.add_argument("--targets", default="", help="comma-separated names (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--case-limit", type=float, default=DEFAULT_CASE_LIMIT)
    parser.add_argument("--crashes", default=str(ROOT / "fuzz-crashes"))
    args = parser.parse_args(argv)
    chosen = [t for t in TARGETS if not args.targets or t.name in args.targets.split(",")]
    if not chosen:
        parser.error(f"no such target; choose from {', '.join(t.name for t in TARGETS)}")
    weights = sum(t.weight for t in chosen)
    plan = {t.name: max(1, math.ceil(args.cases * t.weight / weights)) for t in chosen}
    print(
        f"fuzzing {sum(plan.values()):,} cases over {len(chosen)} targets, seed {args.seed}, "
        f"{args.jobs} at a time; case limit {args.case_limit} s; crashes go to {args.crashes}"
    )
    started = time.monotonic()
    outcomes: dict[str, Outcome] = {}
    from concurrent.futures import ThreadPoolExecutor

    slots = max(1, min(args.jobs, len(chosen)))
    with ThreadPoolExecutor(slots) as pool:
        futures = {
            t.name: pool.submit(
                run_target,
                t,
                plan[t.name],
                seed=args.seed,
                seconds=slots * args.seconds * t.weight / weights,
                limit=args.case_limit,
                crashes=args.crashes,
            )
            for t in chosen
        }
        for name, future in futures.items():
            outcomes[name] = future.result()
    elapsed = time.monotonic() - started
    print(
        f"\n{'target':<16} {'cases':>10} {'exceptions':>10} {'hangs':>6} "
        f"{'mean µs':>9} {'p99 ms':>8} {'max ms':>8}"
    )
    total = bad = 0
    for name, outcome in outcomes.items():
        assert outcome.times is not None and outcome.errors is not None
        times = outcome.times
        mean = sum(times) / len(times) * 1e6 if times else 0.0
        hangs = outcome.hangs + outcome.killed
        p99, longest = percentile(times, 0.99) * 1e3, max(times, default=0) * 1e3
        print(
            f"{name:<16} {outcome.cases:>10,} {outcome.failures:>10} {hangs:>6} {mean:>9.1f} "
            f"{p99:>8.3f} {longest:>8.3f}"
        )
        total += outcome.cases
        bad += outcome.failures + hangs
    print(f"{'all':<16} {total:>10,} {bad:>10}   in {elapsed:.0f} s")
    for name, outcome in outcomes.items():
        for error in outcome.errors or []:
            print(f"  {name}: {error}")
    print("survived: no exception, no hang" if not bad else f"FAILED: {bad} cases (inputs saved)")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
