"""The struct-level pcap/pcapng reader and writer against real files and real tools.

Files are made by scapy (writing only: nothing is sent, every Ether() has
explicit addresses), by editcap, tcpdump and by hand with struct.pack; what
this reader finds is compared with scapy's RawPcapReader and with tshark.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import CookedLinux, Ether
from scapy.packet import Raw
from scapy.utils import EDecimal, RawPcapNgReader, RawPcapReader, wrpcap
from scapy.utils import PcapNgWriter as ScapyPcapNgWriter
from scapy.utils import PcapWriter as ScapyPcapWriter

from engine import linktypes
from engine.errors import (
    BadInputError,
    ExitCode,
    NotFoundError,
    ResourceError,
)
from engine.pcapio import (
    PcapReader,
    PcapRecord,
    PcapWriter,
    open_pcap,
    write_pcap_file,
)

ROOT = Path(__file__).resolve().parents[1]
MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"
START = Decimal("1700000000")
LE, BE = "<", ">"

# -- helpers ---------------------------------------------------------------------------


def ticks(timestamp: float, units: int) -> int:
    """A float timestamp as whole ticks (the float keeps about 0.24 us at epoch scale)."""
    seconds = math.floor(timestamp)
    return seconds * units + round((timestamp - seconds) * units)


def udp_payload(i: int) -> bytes:
    """Payloads of many sizes, so pcapng padding sees every remainder."""
    return bytes((i * 7 + k) % 256 for k in range(i % 37))


def ether_packets(count: int, step: str = "0.001237") -> list[Any]:
    """Ethernet/IPv4/UDP (and some TCP) frames with explicit MACs and exact times."""
    packets = []
    for i in range(count):
        if i % 5 == 4:
            inner = IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=80, dport=40000 + i, flags="A")
        else:
            inner = IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000 + i, dport=53)
            inner = inner / Raw(udp_payload(i))
        packet = Ether(src=MAC_A, dst=MAC_B) / inner
        packet.time = EDecimal(START + Decimal(step) * i + Decimal(i % 3) / 10**6)
        packets.append(packet)
    return packets


def raw_ip_packets(count: int) -> list[Any]:
    """IPv4 packets with no link header (written with linktype 101)."""
    packets = []
    for i in range(count):
        packet = IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=5000, dport=6000 + i)
        packet = packet / Raw(udp_payload(i + 3))
        packet.time = EDecimal(START + Decimal("0.5") * i)
        packets.append(packet)
    return packets


def sll_packets(count: int) -> list[Any]:
    """Linux cooked (SLL) frames, as `tcpdump -i any` writes them."""
    packets = []
    for i in range(count):
        packet = CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=b"\x02\x00\x00\x00\x00\x0a")
        packet = packet / IP(src="198.51.100.1", dst="198.51.100.2") / UDP(dport=7000 + i)
        packet = packet / Raw(udp_payload(i + 11))
        packet.time = EDecimal(START + Decimal("0.000003") * i)
        packets.append(packet)
    return packets


def read_path(path: Path) -> tuple[PcapReader, list[PcapRecord]]:
    """All records of a file (the reader is returned, closed, for its attributes)."""
    with open_pcap(path) as reader:
        records = list(reader)
    return reader, records


def read_bytes(data: bytes) -> tuple[PcapReader, list[PcapRecord]]:
    """All records of an in-memory capture."""
    reader = PcapReader(io.BytesIO(data), name="test.pcap")
    return reader, list(reader)


def tshark_frames(path: Path) -> list[tuple[Decimal | None, int, int]]:
    """(epoch time, wire length, captured length) of every frame as tshark reads it.

    The time is None for frames that have none (Simple Packet Blocks).
    """
    result = subprocess.run(
        [
            "tshark",
            "-n",
            "-r",
            str(path),
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.len",
            "-e",
            "frame.cap_len",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )  # stderr carries a "Running as user root" warning: ignored
    frames = []
    for line in result.stdout.splitlines():
        epoch, length, caplen = line.split("\t")
        frames.append((Decimal(epoch) if epoch else None, int(length), int(caplen)))
    return frames


def assert_matches_tshark(records: list[PcapRecord], path: Path, units: int) -> None:
    """Same frame count, lengths and times (to the tick the float can hold) as tshark."""
    frames = tshark_frames(path)
    assert len(frames) == len(records)
    slack = 0 if units <= 1_000_000 else 250  # ns at epoch scale exceed a double's precision
    for record, (epoch, length, caplen) in zip(records, frames, strict=True):
        assert record.length == length
        assert len(record.data) == caplen
        assert epoch is not None
        assert abs(ticks(record.timestamp, units) - int(epoch * units)) <= slack


def assert_matches_scapy_pcap(records: list[PcapRecord], path: Path, nano: bool) -> None:
    """Every record equals what scapy's RawPcapReader finds in the same file."""
    units = 10**9 if nano else 10**6
    with RawPcapReader(str(path)) as scapy_reader:
        expected = list(scapy_reader)
        assert scapy_reader.nano == nano
        scapy_linktype = scapy_reader.linktype
    assert len(records) == len(expected)
    for record, (data, meta) in zip(records, expected, strict=True):
        assert record.data == data
        assert record.length == meta.wirelen
        assert len(record.data) == meta.caplen
        assert record.linktype == scapy_linktype
        exact = meta.sec * units + meta.usec
        assert abs(ticks(record.timestamp, units) - exact) <= (250 if nano else 0)


def pcap_header(order: str, magic: int, snaplen: int, network: int) -> bytes:
    """A pcap global header, built independently of the module under test."""
    return struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, network)


def pcap_record(order: str, sec: int, frac: int, data: bytes, length: int | None = None) -> bytes:
    """A pcap record header and its data."""
    wire = len(data) if length is None else length
    return struct.pack(order + "IIII", sec, frac, len(data), wire) + data


def pad4(data: bytes) -> bytes:
    """Pad to a multiple of 4 bytes, as pcapng wants bodies and option values."""
    return data + b"\x00" * (-len(data) % 4)


def block(order: str, block_type: int, body: bytes) -> bytes:
    """A pcapng block with both length fields."""
    body = pad4(body)
    total = len(body) + 12
    return struct.pack(order + "II", block_type, total) + body + struct.pack(order + "I", total)


def option(order: str, code: int, value: bytes) -> bytes:
    """A pcapng option."""
    return struct.pack(order + "HH", code, len(value)) + pad4(value)


def shb(order: str, major: int = 1) -> bytes:
    """A Section Header Block with a shb_userappl option."""
    body = struct.pack(order + "IHHq", 0x1A2B3C4D, major, 0, -1)
    body += option(order, 4, b"hand made") + option(order, 0, b"")
    return block(order, 0x0A0D0D0A, body)


def idb(
    order: str, linktype: int, snaplen: int, tsresol: int | None = None, tsoffset: int = 0
) -> bytes:
    """An Interface Description Block with if_name, if_tsresol and if_tsoffset options."""
    body = struct.pack(order + "HHI", linktype, 0, snaplen) + option(order, 2, b"if0")
    if tsresol is not None:
        body += option(order, 9, bytes([tsresol]))
    if tsoffset:
        body += option(order, 14, struct.pack(order + "q", tsoffset))
    return block(order, 1, body + option(order, 0, b""))


def epb(order: str, interface: int, tick: int, data: bytes, length: int | None = None) -> bytes:
    """An Enhanced Packet Block (with a comment option, which must be skipped)."""
    wire = len(data) if length is None else length
    body = struct.pack(
        order + "IIIII", interface, tick >> 32, tick & 0xFFFFFFFF, len(data), wire
    ) + pad4(data)
    return block(order, 6, body + option(order, 1, b"a comment") + option(order, 0, b""))


def spb(order: str, data: bytes, length: int) -> bytes:
    """A Simple Packet Block: original length and data, no interface, no time."""
    return block(order, 3, struct.pack(order + "I", length) + data)


def obsolete_pb(order: str, interface: int, tick: int, data: bytes) -> bytes:
    """The obsolete Packet Block (type 2): 16-bit interface id and drop count."""
    body = struct.pack(
        order + "HHIIII", interface, 0, tick >> 32, tick & 0xFFFFFFFF, len(data), len(data)
    )
    return block(order, 2, body + data)


def nrb(order: str) -> bytes:
    """A Name Resolution Block with one IPv4 record."""
    record = b"\xc0\x00\x02\x01" + b"host.example\x00"
    body = (
        struct.pack(order + "HH", 1, len(record)) + pad4(record) + struct.pack(order + "HH", 0, 0)
    )
    return block(order, 4, body)


def isb(order: str, interface: int) -> bytes:
    """An Interface Statistics Block with an isb_ifrecv option."""
    body = struct.pack(order + "III", interface, 0, 0) + option(
        order, 4, struct.pack(order + "Q", 9)
    )
    return block(order, 5, body + option(order, 0, b""))


def custom_block(order: str) -> bytes:
    """A custom block (type 0x00000BAD) with a private enterprise number."""
    return block(order, 0x00000BAD, struct.pack(order + "I", 32473) + b"private data")


def frame(size: int, seed: int) -> bytes:
    """Arbitrary frame bytes of a given size."""
    return bytes((seed + k * 13) % 256 for k in range(size))


NS_TICK = 1_700_000_000 * 10**9 + 123_456_789
SMALL_NS_TICK = 5 * 10**9 + 1
FRAC20_TICK = (1_600_000_000 << 20) + (1 << 19)
US_TICK = 1_700_000_001 * 10**6 + 1


def hand_made_pcapng(extras: bool = True) -> tuple[bytes, list[PcapRecord]]:
    """Two sections (little then big endian), every block type, and the records they hold.

    ``extras`` adds a custom block (tshark shows it as a frame) and packets on
    undefined interfaces (tshark stops there), which this reader skips.
    """
    s1: list[bytes] = [
        shb(LE),
        nrb(LE),
        idb(LE, linktypes.ETHERNET, 0, tsresol=9),
        idb(LE, linktypes.RAW, 96, tsresol=0x80 | 20, tsoffset=100),
        epb(LE, 0, NS_TICK, frame(60, 1)),
        epb(LE, 1, FRAC20_TICK, frame(41, 2), length=1500),
        block(LE, 0x4242, b"unknown block type"),
        spb(LE, frame(61, 3), 61),
        obsolete_pb(LE, 1, FRAC20_TICK + 1, frame(50, 4)),
        epb(LE, 0, SMALL_NS_TICK, frame(33, 5)),
        isb(LE, 0),
    ]
    if extras:
        s1[5:5] = [custom_block(LE)]
        s1.append(epb(LE, 7, NS_TICK, frame(20, 6)))
    s2: list[bytes] = [
        shb(BE),
        idb(BE, linktypes.LINUX_SLL, 40),
        epb(BE, 0, US_TICK, frame(70, 7)),
        spb(BE, frame(60, 8)[:40], 60),  # the data stops at the snap length
        isb(BE, 0),
    ]
    if extras:
        s2.append(epb(BE, 1, US_TICK, frame(20, 9)))  # interface 1 was section 1's
    expected = [
        PcapRecord(1_700_000_000 + 123_456_789 / 1e9, 60, linktypes.ETHERNET, frame(60, 1)),
        PcapRecord(1_600_000_100.5, 1500, linktypes.RAW, frame(41, 2)),
        PcapRecord(0.0, 61, linktypes.ETHERNET, frame(61, 3)),
        PcapRecord(1_600_000_100.5 + 2**-20, 50, linktypes.RAW, frame(50, 4)),
        PcapRecord(5.000000001, 33, linktypes.ETHERNET, frame(33, 5)),
        PcapRecord(1_700_000_001.000001, 70, linktypes.LINUX_SLL, frame(70, 7)),
        PcapRecord(0.0, 60, linktypes.LINUX_SLL, frame(60, 8)[:40]),
    ]
    return b"".join(s1 + s2), expected


def assert_same_records(found: list[PcapRecord], expected: list[PcapRecord]) -> None:
    """Equal records; timestamps to a nanosecond's worth of what a float can hold."""
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=True):
        assert (got.length, got.linktype, got.data) == (want.length, want.linktype, want.data)
        assert got.timestamp == pytest.approx(
            want.timestamp, rel=0, abs=max(1e-9, 2e-16 * want.timestamp)
        )


def simple_pcap(count: int, order: str = LE, nano: bool = False) -> bytes:
    """A small Ethernet pcap built with struct, independently of the module under test."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    parts = [pcap_header(order, magic, 65535, linktypes.ETHERNET)]
    parts += [
        pcap_record(order, 1_700_000_000 + i, i * 1000, frame(42 + i % 30, i)) for i in range(count)
    ]
    return b"".join(parts)


# -- pcap ------------------------------------------------------------------------------


def test_pcap_ethernet_matches_scapy_and_tshark(tmp_path: Path) -> None:
    path = tmp_path / "ether.pcap"
    packets = ether_packets(300)
    with ScapyPcapWriter(str(path), linktype=1) as writer:
        for packet in packets:
            writer.write(packet)
    reader, records = read_path(path)
    assert (reader.format, reader.linktype, reader.snaplen) == ("pcap", linktypes.ETHERNET, 65535)
    assert reader.records_read == 300
    assert not reader.truncated and not reader.warnings
    assert [r.data for r in records] == [bytes(p) for p in packets]
    assert [ticks(r.timestamp, 10**6) for r in records] == [int(p.time * 10**6) for p in packets]
    assert_matches_scapy_pcap(records, path, nano=False)
    assert_matches_tshark(records, path, 10**6)


def test_pcap_nanosecond_matches_scapy_and_tshark(tmp_path: Path) -> None:
    path = tmp_path / "nano.pcap"
    packets = ether_packets(120, step="0.000000777")
    with ScapyPcapWriter(str(path), linktype=1, nano=True) as writer:
        for packet in packets:
            writer.write(packet)
    reader, records = read_path(path)
    assert reader.format == "pcap"
    assert_matches_scapy_pcap(records, path, nano=True)
    assert_matches_tshark(records, path, 10**9)


@pytest.mark.parametrize("order", [LE, BE])
def test_pcap_nanoseconds_are_exact_where_a_float_can_hold_them(order: str) -> None:
    data = pcap_header(order, 0xA1B23C4D, 262144, linktypes.ETHERNET)
    data += pcap_record(order, 1000, 1, frame(60, 0))
    data += pcap_record(order, 1000, 999_999_999, frame(60, 1))
    _, records = read_bytes(data)
    assert [r.timestamp for r in records] == [1000.000000001, 1000.999999999]


def test_pcap_raw_ip_linktype_101(tmp_path: Path) -> None:
    path = tmp_path / "raw.pcap"
    packets = raw_ip_packets(40)
    wrpcap(str(path), packets, linktype=101)
    reader, records = read_path(path)
    assert reader.linktype == linktypes.RAW
    assert {r.linktype for r in records} == {linktypes.RAW}
    assert [r.data for r in records] == [bytes(p) for p in packets]
    assert_matches_scapy_pcap(records, path, nano=False)
    assert_matches_tshark(records, path, 10**6)


def test_pcap_linux_sll(tmp_path: Path) -> None:
    path = tmp_path / "sll.pcap"
    packets = sll_packets(40)
    wrpcap(str(path), packets)
    reader, records = read_path(path)
    assert reader.linktype == linktypes.LINUX_SLL
    assert [r.data for r in records] == [bytes(p) for p in packets]
    assert_matches_scapy_pcap(records, path, nano=False)
    assert_matches_tshark(records, path, 10**6)


def test_big_endian_pcap_reads_like_little_endian(tmp_path: Path) -> None:
    little = simple_pcap(50, LE)
    big = simple_pcap(50, BE)
    (tmp_path / "big.pcap").write_bytes(big)
    _, little_records = read_bytes(little)
    _, big_records = read_path(tmp_path / "big.pcap")
    assert big_records == little_records
    assert len(big_records) == 50
    assert big_records[3] == PcapRecord(1_700_000_003.003, 45, linktypes.ETHERNET, frame(45, 3))
    assert_matches_tshark(big_records, tmp_path / "big.pcap", 10**6)


def test_fcs_bits_in_the_link_type_are_ignored_and_snaplen_zero_is_allowed() -> None:
    network = (1 << 26) | (2 << 28) | linktypes.ETHERNET  # FCS present, 4-byte FCS
    data = pcap_header(LE, 0xA1B2C3D4, 0, network) + pcap_record(LE, 1, 2, frame(70, 0))
    reader, records = read_bytes(data)
    assert reader.linktype == linktypes.ETHERNET
    assert reader.snaplen == 262144
    assert records == [PcapRecord(1.000002, 70, linktypes.ETHERNET, frame(70, 0))]


def test_snapped_records_keep_the_wire_length() -> None:
    data = pcap_header(LE, 0xA1B2C3D4, 64, 1) + pcap_record(LE, 1, 0, frame(64, 1), length=1514)
    _, records = read_bytes(data)
    assert records[0].length == 1514 and len(records[0].data) == 64


# -- pcapng ----------------------------------------------------------------------------


def test_pcapng_from_editcap_matches_the_pcap(tmp_path: Path) -> None:
    source = tmp_path / "ether.pcap"
    packets = ether_packets(200)
    wrpcap(str(source), packets)
    converted = tmp_path / "ether.pcapng"
    subprocess.run(
        ["editcap", "-F", "pcapng", str(source), str(converted)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    assert converted.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    _, pcap_records = read_path(source)
    reader, ng_records = read_path(converted)
    assert (reader.format, reader.linktype) == ("pcapng", linktypes.ETHERNET)
    assert len(ng_records) == 200
    for ng, classic in zip(ng_records, pcap_records, strict=True):
        assert (ng.length, ng.linktype, ng.data) == (classic.length, classic.linktype, classic.data)
        assert ticks(ng.timestamp, 10**6) == ticks(classic.timestamp, 10**6)
    assert_matches_tshark(ng_records, converted, 10**6)


def test_pcapng_from_scapy_with_three_link_types(tmp_path: Path) -> None:
    path = tmp_path / "mixed.pcapng"
    packets: list[Any] = []
    for ether, raw, sll in zip(ether_packets(30), raw_ip_packets(30), sll_packets(30), strict=True):
        ether.sniffed_on, raw.sniffed_on, sll.sniffed_on = "eth0", "raw0", "any"
        packets += [ether, raw, sll]
    with ScapyPcapNgWriter(str(path)) as writer:
        for packet in packets:
            writer.write(packet)
    reader, records = read_path(path)
    assert reader.format == "pcapng"
    assert [r.linktype for r in records[:3]] == [
        linktypes.ETHERNET,
        linktypes.IPV4,
        linktypes.LINUX_SLL,
    ]
    with RawPcapNgReader(str(path)) as scapy_reader:
        expected = list(scapy_reader)
    assert len(records) == len(expected) == 90
    meta: Any
    for record, (data, meta) in zip(records, expected, strict=True):
        assert (record.data, record.length, record.linktype) == (data, meta.wirelen, meta.linktype)
        assert ticks(record.timestamp, meta.tsresol) == (meta.tshigh << 32) + meta.tslow
    assert_matches_tshark(records, path, 10**6)


def test_hand_made_pcapng_with_every_block_type() -> None:
    data, expected = hand_made_pcapng()
    reader, records = read_bytes(data)
    assert (reader.format, reader.linktype, reader.snaplen) == (
        "pcapng",
        linktypes.ETHERNET,
        262144,
    )
    assert_same_records(records, expected)
    assert records[0].timestamp == 1_700_000_000 + 123_456_789 / 1e9
    assert ticks(records[4].timestamp, 10**9) == SMALL_NS_TICK
    assert records[1].timestamp == 1_600_000_100.5  # 2^-20 units plus if_tsoffset
    assert records[3].timestamp - records[1].timestamp == pytest.approx(2**-20, abs=1e-9)
    assert not reader.truncated
    undefined = [w for w in reader.warnings if "undefined interface" in w]
    assert len(undefined) == 2 and "interface 7" in undefined[0] and "interface 1" in undefined[1]


def test_hand_made_pcapng_agrees_with_tshark(tmp_path: Path) -> None:
    data, expected = hand_made_pcapng(extras=False)
    path = tmp_path / "hand.pcapng"
    path.write_bytes(data)
    reader, records = read_path(path)
    assert not reader.warnings
    assert_same_records(records, expected)
    frames = tshark_frames(path)
    assert [(length, caplen) for _, length, caplen in frames] == [
        (r.length, len(r.data)) for r in records
    ]
    for record, (epoch, _, _) in zip(records, frames, strict=True):
        if epoch is None:  # simple packet blocks carry no time
            assert record.timestamp == 0.0
        else:
            assert abs(Decimal(repr(record.timestamp)) - epoch) < Decimal("0.000001")
    assert sum(epoch is None for epoch, _, _ in frames) == 2


def test_pcapng_skips_a_first_block_that_is_not_an_interface() -> None:
    data = (
        shb(BE)
        + nrb(BE)
        + custom_block(BE)
        + idb(BE, linktypes.RAW, 128)
        + epb(BE, 0, 5, frame(20, 0))
    )
    reader, records = read_bytes(data)
    assert (reader.linktype, reader.snaplen) == (linktypes.RAW, 128)
    assert records == [PcapRecord(0.000005, 20, linktypes.RAW, frame(20, 0))]


def test_simple_packet_block_is_cut_to_the_snap_length() -> None:
    data = shb(LE) + idb(LE, linktypes.ETHERNET, 32) + spb(LE, frame(50, 0), 50)
    data += spb(LE, frame(20, 1), 100)  # more on the wire than in the block
    _, records = read_bytes(data)
    assert records == [
        PcapRecord(0.0, 50, linktypes.ETHERNET, frame(32, 0)),
        PcapRecord(0.0, 100, linktypes.ETHERNET, frame(20, 1)),
    ]


def test_pcapng_without_interfaces_has_no_records() -> None:
    reader, records = read_bytes(shb(LE) + nrb(LE))
    assert records == [] and not reader.truncated and not reader.warnings


# -- writer ----------------------------------------------------------------------------


def sample_records() -> list[PcapRecord]:
    """Records of three link types with microsecond times."""
    records = []
    for i, packet in enumerate(ether_packets(20) + raw_ip_packets(20) + sll_packets(20)):
        linktype = [linktypes.ETHERNET, linktypes.RAW, linktypes.LINUX_SLL][i // 20]
        records.append(
            PcapRecord(1_700_000_000 + i * 0.250001, len(packet) + i % 2, linktype, bytes(packet))
        )
    return records


@pytest.mark.parametrize("nanosecond", [False, True])
def test_writer_pcap_is_read_by_tshark_tcpdump_scapy_and_us(
    tmp_path: Path, nanosecond: bool
) -> None:
    path = tmp_path / "out.pcap"
    records = [r for r in sample_records() if r.linktype == linktypes.ETHERNET]
    with path.open("wb") as stream:
        writer = PcapWriter(stream, linktypes.ETHERNET, snaplen=65535, nanosecond=nanosecond)
        for record in records:
            writer.write(record)
        writer.flush()
    units = 10**9 if nanosecond else 10**6
    reader, back = read_path(path)
    assert reader.snaplen == 65535
    assert [(r.length, r.linktype, r.data) for r in back] == [
        (r.length, r.linktype, r.data) for r in records
    ]
    assert [ticks(r.timestamp, units) for r in back] == [ticks(r.timestamp, units) for r in records]
    assert_matches_scapy_pcap(back, path, nano=nanosecond)
    assert_matches_tshark(back, path, units)
    tcpdump = subprocess.run(
        ["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    assert len(tcpdump.stdout.splitlines()) == len(records)


@pytest.mark.parametrize("nanosecond", [False, True])
def test_writer_pcapng_with_mixed_link_types(tmp_path: Path, nanosecond: bool) -> None:
    path = tmp_path / "out.pcapng"
    records = sample_records()
    records = records[::3] + records[1::3] + records[2::3]  # interleave the link types
    with path.open("wb") as stream:
        writer = PcapWriter(stream, linktypes.ETHERNET, fmt="pcapng", nanosecond=nanosecond)
        for record in records:
            writer.write(record)
    units = 10**9 if nanosecond else 10**6
    _, back = read_path(path)
    assert [(r.length, r.linktype, r.data) for r in back] == [
        (r.length, r.linktype, r.data) for r in records
    ]
    assert [ticks(r.timestamp, units) for r in back] == [ticks(r.timestamp, units) for r in records]
    assert_matches_tshark(back, path, units)
    with RawPcapNgReader(str(path)) as scapy_reader:
        scapy_records: list[Any] = list(scapy_reader)
    assert [(d, m.linktype, m.tsresol) for d, m in scapy_records] == [
        (r.data, r.linktype, units) for r in records
    ]
    # libpcap reads one link type per pcapng file: give tcpdump the Ethernet part only
    ether = [r for r in records if r.linktype == linktypes.ETHERNET]
    single = tmp_path / "ether.pcapng"
    with single.open("wb") as stream:
        writer = PcapWriter(stream, linktypes.ETHERNET, fmt="pcapng", nanosecond=nanosecond)
        for record in ether:
            writer.write(record)
    precision = "nano" if nanosecond else "micro"
    tcpdump = subprocess.run(
        ["tcpdump", "-n", "-tt", f"--time-stamp-precision={precision}", "-r", str(single)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    epochs = [Decimal(line.split()[0]) for line in tcpdump.stdout.splitlines()]
    assert [int(epoch * units) for epoch in epochs] == [ticks(r.timestamp, units) for r in ether]


def test_writer_cuts_to_snaplen_and_refuses_a_second_link_type_in_pcap() -> None:
    stream = io.BytesIO()
    writer = PcapWriter(stream, linktypes.ETHERNET, snaplen=100)
    writer.write(PcapRecord(1.5, 2000, linktypes.ETHERNET, frame(300, 0)))
    with pytest.raises(BadInputError, match="pcapng"):
        writer.write(PcapRecord(1.5, 20, linktypes.RAW, frame(20, 0)))
    _, records = read_bytes(stream.getvalue())
    assert records == [PcapRecord(1.5, 2000, linktypes.ETHERNET, frame(100, 0))]


def test_write_pcap_file_mode_count_and_format(tmp_path: Path) -> None:
    records = sample_records()
    ether = [r for r in records if r.linktype == linktypes.ETHERNET]
    old_umask = os.umask(0)
    try:
        assert write_pcap_file(tmp_path / "a.pcap", ether) == len(ether)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "a.pcap").stat().st_mode) == 0o600
    assert (tmp_path / "a.pcap").read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"
    assert write_pcap_file(tmp_path / "b.pcapng", ether) == len(ether)
    assert (tmp_path / "b.pcapng").read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    assert write_pcap_file(tmp_path / "mixed.cap", records) == len(records)
    reader, back = read_path(tmp_path / "mixed.cap")
    assert reader.format == "pcapng" and [r.data for r in back] == [r.data for r in records]
    assert write_pcap_file(tmp_path / "empty.pcap", []) == 0
    assert read_path(tmp_path / "empty.pcap")[1] == []
    existing = tmp_path / "existing.pcap"
    existing.write_bytes(b"old")
    existing.chmod(0o644)
    write_pcap_file(existing, ether)
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600


def test_write_pcap_file_refuses_mixed_link_types_in_pcap(tmp_path: Path) -> None:
    target = tmp_path / "mixed.pcap"
    with pytest.raises(BadInputError, match=r"\.pcapng") as caught:
        write_pcap_file(target, sample_records())
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert not target.exists()
    with pytest.raises(BadInputError):
        write_pcap_file(tmp_path / "x.pcapng", sample_records(), fmt="pcap")
    assert not (tmp_path / "x.pcapng").exists()


def test_write_pcap_file_failures_leave_no_file(tmp_path: Path) -> None:
    bad_time = [PcapRecord(1.0, 10, 1, b"x" * 10), PcapRecord(-5.0, 10, 1, b"y" * 10)]
    target = tmp_path / "bad.pcap"
    with pytest.raises(BadInputError, match="timestamp"):
        write_pcap_file(target, bad_time)
    assert not target.exists()
    with pytest.raises(BadInputError, match="directory"):
        write_pcap_file(tmp_path, bad_time[:1])
    with pytest.raises(NotFoundError, match="no-such-dir"):
        write_pcap_file(tmp_path / "no-such-dir" / "x.pcap", bad_time[:1])
    link = tmp_path / "link.pcap"
    link.symlink_to(tmp_path / "elsewhere.pcap")
    with pytest.raises(BadInputError, match="symbolic link"):
        write_pcap_file(link, bad_time[:1])
    assert not (tmp_path / "elsewhere.pcap").exists()


@pytest.mark.root("mknod /dev/full")
def test_write_pcap_file_disk_full_keeps_device_nodes(tmp_path: Path) -> None:
    """Writing to a full device gives ResourceError and never deletes or chmods the node."""
    full = tmp_path / "full"
    try:
        os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        with full.open("wb"):
            pass
    except OSError as error:
        pytest.skip(f"cannot make a /dev/full node here: {error}")
    mode = full.stat().st_mode
    records = [PcapRecord(1.0, 1000, 1, b"z" * 1000)] * 2000
    with pytest.raises(ResourceError, match="full"):
        write_pcap_file(full, records)
    assert full.exists() and full.stat().st_mode == mode


def test_write_pcap_file_removes_a_file_cut_short_by_an_os_error(tmp_path: Path) -> None:
    """A file-size limit makes write() fail half way (EFBIG): the partial file goes."""
    target = tmp_path / "limited.pcap"
    script = f"""
import resource, signal, sys
sys.path.insert(0, {str(ROOT)!r})
from engine.pcapio import PcapRecord, write_pcap_file
from engine.errors import LivetapError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
try:
    write_pcap_file({str(target)!r}, [PcapRecord(1.0, 1000, 1, b"z" * 1000)] * 1000)
except LivetapError as error:
    print(type(error).__name__, error)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "could not write" in result.stdout and "too large" in result.stdout
    assert not target.exists()


# -- broken input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "is empty"),
        (b"\xd4\xc3", "too short"),
        (b"GET / HTTP/1.1\r\n", "not a pcap or pcapng file"),
        (b"\x1f\x8b\x08\x00" + bytes(40), "gzip"),
        (pcap_header(LE, 0xA1B2C3D4, 65535, 1)[:10], "ends inside the 24-byte pcap file header"),
        (shb(LE)[:20], "ends inside its pcapng section header"),
        (shb(LE)[:8] + b"\x01\x02\x03\x04" + shb(LE)[12:], "byte-order magic"),
        (shb(LE, major=2), "version 2.0"),
        (
            b"\x0a\x0d\x0d\x0a" + struct.pack("<I", 30) + b"\x4d\x3c\x2b\x1a" + bytes(20),
            "length 30",
        ),
    ],
)
def test_files_that_are_not_captures_are_refused(data: bytes, words: str) -> None:
    with pytest.raises(BadInputError, match=words) as caught:
        PcapReader(io.BytesIO(data), name="broken.pcap")
    assert "broken.pcap" in str(caught.value)


def test_truncated_record_header() -> None:
    data = simple_pcap(3) + struct.pack("<II", 1, 2)
    reader, records = read_bytes(data)
    assert len(records) == 3 and reader.truncated
    assert reader.warnings == ["test.pcap ends in the middle of a record (after 3 records)"]


def test_pcap_cut_at_every_offset_of_the_last_record(tmp_path: Path) -> None:
    full = simple_pcap(10)
    _, all_records = read_bytes(full)
    last_size = 16 + len(all_records[-1].data)
    boundary = len(full) - last_size
    clean_reader, clean = read_bytes(full[:boundary])
    assert clean == all_records[:-1] and not clean_reader.truncated and not clean_reader.warnings
    for cut in range(boundary + 1, len(full)):
        reader, records = read_bytes(full[:cut])
        assert records == all_records[:-1], cut
        assert reader.truncated, cut
        assert reader.records_read == 9
        assert reader.warnings == ["test.pcap ends in the middle of a record (after 9 records)"]
        assert reader.read() is None and reader.read_batch(10) == []
    path = tmp_path / "cut.pcap"
    path.write_bytes(full[:-1])
    file_reader, records = read_path(path)
    assert records == all_records[:-1] and file_reader.truncated
    assert str(path) in file_reader.warnings[0]


def test_pcapng_cut_at_every_offset_of_the_last_block() -> None:
    data, expected = hand_made_pcapng(extras=False)
    last_block = spb(BE, frame(60, 8)[:40], 60) + isb(BE, 0)
    assert data.endswith(last_block)
    boundary = len(data) - len(last_block)
    for cut in range(boundary + 1, len(data)):
        reader, records = read_bytes(data[:cut])
        want = expected if cut >= boundary + len(spb(BE, frame(60, 8)[:40], 60)) else expected[:-1]
        assert_same_records(records, want)
        clean_cut = cut == boundary + len(spb(BE, frame(60, 8)[:40], 60))
        assert reader.truncated is not clean_cut, cut
        assert bool(reader.warnings) is not clean_cut, cut


def test_absurd_caplen_stops_without_allocating_it() -> None:
    data = simple_pcap(2) + struct.pack("<IIII", 5, 0, 0xFFFFFFF0, 60) + bytes(4096)
    tracemalloc.start()
    try:
        reader, records = read_bytes(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(records) == 2 and not reader.truncated
    assert len(reader.warnings) == 1
    assert "record 3" in reader.warnings[0] and "4,294,967,280" in reader.warnings[0]
    assert peak < 8 * 1024 * 1024


def test_caplen_beyond_snaplen_and_wire_length_is_read_as_tshark_reads_it() -> None:
    """tshark and tcpdump read such a record (crafted test files have them); so does livetap."""
    header = pcap_header(LE, 0xA1B2C3D4, 100, 1)
    fine = pcap_record(LE, 1, 0, frame(150, 0), length=1500)  # tools do exceed snaplen
    odd = pcap_record(LE, 2, 0, frame(150, 1), length=120)
    reader, records = read_bytes(header + fine + odd + fine)
    assert len(records) == 3 and not reader.warnings
    assert [len(r.data) for r in records] == [150, 150, 150]
    assert records[1].length == 120


@pytest.mark.parametrize(
    ("length", "words"),
    [
        (30, "impossible length of 30"),
        (8, "impossible length of 8"),
        (0xFFFFFFF0, "impossible length"),
        (20 * 1024 * 1024, "impossible length"),
    ],
)
def test_pcapng_impossible_block_lengths_stop_reading(length: int, words: str) -> None:
    good = shb(LE) + idb(LE, 1, 0) + epb(LE, 0, 1, frame(40, 0))
    bad = struct.pack("<II", 6, length) + bytes(64)
    tracemalloc.start()
    try:
        reader, records = read_bytes(good + bad + epb(LE, 0, 2, frame(40, 1)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(records) == 1 and not reader.truncated
    assert words in reader.warnings[0] and "after 1 records" in reader.warnings[0]
    assert peak < 8 * 1024 * 1024


def test_pcapng_trailing_length_mismatch_stops_reading() -> None:
    damaged = bytearray(epb(LE, 0, 2, frame(40, 1)))
    damaged[-4:] = struct.pack("<I", len(damaged) + 4)
    data = shb(LE) + idb(LE, 1, 0) + epb(LE, 0, 1, frame(40, 0)) + bytes(damaged)
    reader, records = read_bytes(data)
    assert len(records) == 1 and "two different lengths" in reader.warnings[0]


def test_pcapng_packet_block_claiming_more_than_it_holds_is_skipped() -> None:
    body = struct.pack("<IIIII", 0, 0, 1, 500, 500) + frame(40, 0)
    data = shb(LE) + idb(LE, 1, 0) + block(LE, 6, body) + epb(LE, 0, 1, frame(40, 1))
    reader, records = read_bytes(data)
    assert [r.data for r in records] == [frame(40, 1)]
    assert "claims 500 captured bytes" in reader.warnings[0]


# -- opening files ---------------------------------------------------------------------


def test_open_pcap_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"missing\.pcap does not exist"):
        open_pcap(tmp_path / "missing.pcap")
    with pytest.raises(BadInputError, match="is a directory"):
        open_pcap(tmp_path)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(BadInputError, match=r"empty\.pcap is empty"):
        open_pcap(empty)
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a capture\n")
    with pytest.raises(BadInputError, match=r"notes\.txt is not a pcap or pcapng file"):
        open_pcap(text)


@pytest.mark.root("setpriv to another user")
def test_unreadable_file_is_permission_denied() -> None:
    """Run as nobody (root reads anything): the error is PermissionDeniedError, exit 4."""
    setpriv = shutil.which("setpriv")
    python = "/usr/bin/python3"
    if os.geteuid() != 0 or setpriv is None or not os.access(python, os.X_OK):
        pytest.skip("needs root, setpriv and a system python3 to drop privileges")
    drop = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    directory = Path(tempfile.mkdtemp(prefix="livetap-pcapio-"))
    try:
        directory.chmod(0o755)
        secret = directory / "secret.pcap"
        secret.write_bytes(simple_pcap(2))
        secret.chmod(0o000)
        script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from engine.errors import LivetapError
from engine.pcapio import open_pcap, write_pcap_file
attempts = [lambda: open_pcap({str(secret)!r})]
attempts.append(lambda: write_pcap_file({str(directory / "new.pcap")!r}, []))
for attempt in attempts:
    try:
        attempt()
        print("no error")
    except LivetapError as error:
        print(type(error).__name__, int(error.exit_code), error)
"""
        probe = subprocess.run(
            [*drop, python, "-c", "import engine"],
            cwd=ROOT,
            capture_output=True,
            timeout=30,
            check=False,
        )
        if probe.returncode != 0:
            pytest.skip(f"nobody cannot run {python} on the project: {probe.stderr!r}")
        result = subprocess.run(
            [*drop, python, "-c", script], capture_output=True, text=True, timeout=30, check=True
        )
        opened, written = result.stdout.splitlines()
        assert opened.startswith("PermissionDeniedError 4 ") and str(secret) in opened
        assert written.startswith("PermissionDeniedError 4 ") and "new.pcap" in written
        assert not (directory / "new.pcap").exists()
    finally:
        shutil.rmtree(directory)


def test_open_pcap_closes_at_the_end_and_reader_is_a_context_manager(tmp_path: Path) -> None:
    path = tmp_path / "a.pcap"
    path.write_bytes(simple_pcap(5))
    reader = open_pcap(path)
    stream = reader._stream
    assert len(list(reader)) == 5
    assert stream.closed
    with open_pcap(path) as reader:
        assert reader.read() is not None
        stream = reader._stream
    assert stream.closed and reader.read() is None
    outside = io.BytesIO(simple_pcap(5))
    assert len(list(PcapReader(outside))) == 5
    assert not outside.closed  # a stream the caller opened stays the caller's


def test_read_and_read_batch_agree() -> None:
    data = simple_pcap(25)
    _, everything = read_bytes(data)
    reader = PcapReader(io.BytesIO(data))
    first = reader.read()
    batches = [reader.read_batch(7) for _ in range(5)]
    assert [len(b) for b in batches] == [7, 7, 7, 3, 0]
    assert [first, *(r for b in batches for r in b)] == everything
    assert reader.records_read == 25 and reader.read() is None


# -- pipes -----------------------------------------------------------------------------


def test_reads_from_cat_through_a_pipe(tmp_path: Path) -> None:
    path = tmp_path / "pipe.pcapng"
    data, expected = hand_made_pcapng(extras=False)
    path.write_bytes(data)
    with subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        reader = PcapReader(process.stdout, name="cat")
        records = list(reader)
    assert_same_records(records, expected)
    assert not reader.truncated and not reader.warnings


def test_reads_tcpdump_output_through_a_pipe(tmp_path: Path) -> None:
    path = tmp_path / "source.pcap"
    wrpcap(str(path), ether_packets(500))
    _, expected = read_path(path)
    command = ["tcpdump", "-n", "-U", "-r", str(path), "-w", "-"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as process:
        assert process.stdout is not None
        records = list(PcapReader(process.stdout, name="tcpdump"))
    assert records == expected


def trickle(fd: int, data: bytes, sizes: list[int], pause: float) -> threading.Thread:
    """Write ``data`` into a pipe in pieces of the given sizes (cycled), pausing between them."""

    def run() -> None:
        with os.fdopen(fd, "wb", buffering=0) as pipe:
            position, turn = 0, 0
            while position < len(data):
                size = sizes[turn % len(sizes)]
                pipe.write(data[position : position + size])
                position += size
                turn += 1
                time.sleep(pause)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_trickled_pipe_yields_every_record(kind: str) -> None:
    if kind == "pcap":
        data = simple_pcap(60, BE)
        _, expected = read_bytes(data)
    else:
        data, expected = hand_made_pcapng(extras=False)
    read_end, write_end = os.pipe()
    writer = trickle(write_end, data, [1, 7, 3, 64, 13, 2, 200], 0.001)
    with os.fdopen(read_end, "rb") as stream:
        reader = PcapReader(stream, name="pipe")
        records = list(reader)
    writer.join(10)
    assert_same_records(records, expected)
    assert not reader.truncated and not reader.warnings


def run_with_timeout(function: Callable[[], list[PcapRecord]], timeout: float) -> list[PcapRecord]:
    """Call ``function`` in a thread; fail instead of hanging the suite if it blocks."""
    result: list[list[PcapRecord]] = []
    thread = threading.Thread(target=lambda: result.append(function()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert result, "read_batch blocked although records were available"
    return result[0]


def test_read_batch_on_a_pipe_returns_what_is_there_without_waiting() -> None:
    data = simple_pcap(10)
    record_sizes = [16 + 42 + i % 30 for i in range(10)]
    first_part = 24 + sum(record_sizes[:3]) + 5  # three records and a bit of the fourth
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as stream, os.fdopen(write_end, "wb", buffering=0) as pipe:
        pipe.write(data[:first_part])
        reader = PcapReader(stream, name="pipe")
        batch = run_with_timeout(lambda: reader.read_batch(1000), 5)
        assert len(batch) == 3
        pipe.write(data[first_part:-10])
        assert len(run_with_timeout(lambda: reader.read_batch(1000), 5)) == 6
        pipe.write(data[-10:])
        pipe.close()
        last = run_with_timeout(lambda: reader.read_batch(1000), 5)
        assert len(last) == 1 and reader.read_batch(1000) == []
    assert reader.records_read == 10 and not reader.truncated


def test_pipe_cut_mid_record_is_truncated_not_an_error() -> None:
    data = simple_pcap(8)
    read_end, write_end = os.pipe()
    writer = trickle(write_end, data[:-20], [50], 0.001)
    with os.fdopen(read_end, "rb") as stream:
        reader = PcapReader(stream, name="pipe")
        records = list(reader)
    writer.join(10)
    assert len(records) == 7 and reader.truncated
    assert reader.warnings == ["pipe ends in the middle of a record (after 7 records)"]


# -- speed -----------------------------------------------------------------------------


def test_reads_small_packets_fast(tmp_path: Path) -> None:
    """A loose floor (the reader does over 1M/s here) that catches a per-record slowdown."""
    path = tmp_path / "many.pcap"
    data = frame(60, 0)
    records = [PcapRecord(1_700_000_000 + i * 1e-5, 60, 1, data) for i in range(100_000)]
    write_pcap_file(path, records)
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        count = sum(1 for _ in open_pcap(path))
        best = max(best, count / (time.perf_counter() - started))
    assert count == 100_000
    assert best > 150_000, f"{best:,.0f} records/s"


# -- fuzzing ---------------------------------------------------------------------------


def fuzz_seeds() -> list[bytes]:
    """Valid files of every flavour to mutate."""
    writer_output = io.BytesIO()
    writer = PcapWriter(writer_output, linktypes.ETHERNET, fmt="pcapng", nanosecond=True)
    for record in sample_records()[::7]:
        writer.write(record)
    return [
        simple_pcap(6, LE),
        simple_pcap(6, BE, nano=True),
        hand_made_pcapng()[0],
        writer_output.getvalue(),
    ]


SEEDS = fuzz_seeds()
INTERESTING = [0, 1, 11, 12, 13, 16, 28, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFFFFF0, 0x0A0D0D0A, 0x1A2B3C4D]


@st.composite
def mutated_capture(draw: st.DrawFn) -> bytes:
    """A valid capture with byte flips, 32-bit overwrites, insertions and a truncation."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "word", "insert", "delete", "cut"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "word":
            value = draw(st.sampled_from(INTERESTING) | st.integers(0, 0xFFFFFFFF))
            data[position : position + 4] = struct.pack(draw(st.sampled_from("<>")) + "I", value)
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=40))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        else:
            del data[position:]
    return bytes(data)


class ShortReads(io.RawIOBase):
    """A stream that gives at most a few bytes per read, like a slow pipe."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data = data
        self._sizes = sizes
        self._position = 0
        self._turn = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._sizes[self._turn % len(self._sizes)])
        self._turn += 1
        chunk = self._data[self._position : self._position + size]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)


def read_everything(
    stream: IO[bytes], batch: int
) -> tuple[list[PcapRecord], bool, list[str]] | None:
    """Records, truncated flag and warnings; None when the constructor refused the input."""
    try:
        reader = PcapReader(stream, name="fuzz")
    except BadInputError:
        return None
    records: list[PcapRecord] = []
    while chunk := reader.read_batch(batch):
        records += chunk
    return records, reader.truncated, reader.warnings


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=mutated_capture(),
    batch=st.integers(1, 50),
    sizes=st.lists(st.integers(1, 97), min_size=1, max_size=5),
)
def test_fuzzed_input_never_raises_and_ends_quickly(
    data: bytes, batch: int, sizes: list[int]
) -> None:
    started = time.monotonic()
    whole = read_everything(io.BytesIO(data), batch)
    pieces = read_everything(io.BufferedReader(ShortReads(data, sizes)), 4096)
    assert time.monotonic() - started < 5
    assert whole == pieces  # short reads change nothing
    if whole is not None:
        records, truncated, warnings = whole
        assert len(records) <= len(data) // 16
        assert all(len(r.data) <= len(data) for r in records)
        assert len(warnings) <= 51
        if truncated:
            assert any("ends in the middle" in w for w in warnings)


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_read_tuples_gives_the_records_as_plain_tuples(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"mix.{fmt}"
    if fmt == "pcap":
        wrpcap(str(path), ether_packets(300))
    else:
        with ScapyPcapNgWriter(str(path)) as writer:
            for packet in ether_packets(300):
                writer.write(packet)
    _reader, named = read_path(path)
    plain = []
    with open_pcap(path) as reader:
        while batch := reader.read_tuples(64):
            assert len(batch) <= 64
            plain.extend(batch)
    assert len(named) == 300
    assert all(type(record) is tuple for record in plain)  # not the named record
    assert plain == [tuple(record) for record in named]
