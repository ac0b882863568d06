"""The bounded packet ring: order, eviction, lazy summaries, lock-free reads that never lie."""

from __future__ import annotations

import threading

import pytest
from scapy.layers.inet import IP, UDP

from engine import linktypes
from engine.pcapio import PcapRecord
from engine.ring import SUMMARY_CACHE, PacketRing


def frame(port: int) -> bytes:
    return bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000, dport=port))


def fill(ring: PacketRing, count: int) -> None:
    for number in range(1, count + 1):
        ring.add(float(number), 100 + number, linktypes.RAW, frame(number))


def test_it_holds_the_newest_and_counts_the_rest() -> None:
    ring = PacketRing(3)
    assert (len(ring), ring.first_index, ring.last_index, ring.evicted) == (0, 1, 0, 0)
    fill(ring, 5)
    assert (len(ring), ring.first_index, ring.last_index, ring.evicted) == (3, 3, 5, 2)
    assert [p.index for p in ring] == [3, 4, 5]
    assert ring.get(2) is None and ring.get(6) is None and ring.get(0) is None
    assert ring.record(2) is None
    assert ring.record(4) == PcapRecord(4.0, 104, linktypes.RAW, frame(4))


def test_summaries_are_decoded_on_demand_from_the_raw_bytes() -> None:
    ring = PacketRing(10)
    fill(ring, 4)
    summary = ring.get(3)
    assert summary is not None
    assert (summary.index, summary.timestamp, summary.length, summary.protocol) == (
        3,
        3.0,
        103,
        "UDP",
    )
    assert (summary.src, summary.dst, summary.sport, summary.dport) == (
        "10.0.0.1",
        "10.0.0.2",
        1000,
        3,
    )
    assert summary.info == "1000 → 3 Len=0" and summary.data == frame(3)
    assert ring.get(3) is summary, "cached"
    for number in range(5, 25):
        ring.add(float(number), 60, linktypes.RAW, frame(number))
    assert ring.first_index == 15 and ring.get(3) is None, (
        "a cached summary of an evicted packet is gone"
    )


def test_a_batch_and_the_records_view() -> None:
    ring = PacketRing(5)
    batch = [PcapRecord(float(n), 60, linktypes.RAW, frame(n)) for n in range(1, 8)]
    assert ring.add_records(batch) == 7
    assert [r.timestamp for r in ring.records()] == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert [r.timestamp for r in ring.records(4, 5)] == [4.0, 5.0]


def test_the_summary_cache_stays_bounded() -> None:
    ring = PacketRing(SUMMARY_CACHE * 2)
    fill(ring, SUMMARY_CACHE + 10)
    for index in range(1, SUMMARY_CACHE + 11):
        assert ring.get(index) is not None
    assert len(ring._summaries) <= SUMMARY_CACHE


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        PacketRing(0)


def test_a_reader_never_gets_the_wrong_packet_while_a_writer_laps_it() -> None:
    ring = PacketRing(64)
    frames = [frame(port) for port in range(1, 129)]
    stop = threading.Event()
    wrong: list[tuple[int, int | None]] = []

    def read() -> None:
        while not stop.is_set():
            last = ring.last_index
            for index in range(max(1, last - 100), last + 1):
                record = ring.record(index)
                if record is not None and record.timestamp != float(index):
                    wrong.append((index, int(record.timestamp)))

    reader = threading.Thread(target=read)
    reader.start()
    for index in range(1, 50_001):
        ring.add(float(index), 60, linktypes.RAW, frames[index % 128])
    stop.set()
    reader.join()
    assert wrong == []
    assert ring.evicted == 50_000 - 64
