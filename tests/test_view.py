"""The display filter's view of the buffer: scanned, extended live, trimmed with the ring."""

from __future__ import annotations

from scapy.layers.inet import IP, UDP

from engine.display_filter import compile_display_filter
from engine.events import PacketSummary
from engine.ring import PacketRing
from engine.view import DisplayView


def packet(index: int, port: int) -> PacketSummary:
    data = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=4000, dport=port))
    return PacketSummary(index, float(index), len(data), 101, "a", "b", 4000, port, "UDP", "", data)


def fill(ring: PacketRing, first: int, last: int) -> None:
    for index in range(first, last + 1):
        add(ring, index)


def add(ring: PacketRing, index: int) -> None:
    summary = packet(index, 53 if index % 3 == 0 else 80)
    assert ring.add(summary.timestamp, summary.length, summary.linktype, summary.data) == index


def test_the_view_scans_the_buffer_then_follows_new_packets_and_evictions() -> None:
    ring = PacketRing(30)
    fill(ring, 1, 20)
    view = DisplayView(ring, compile_display_filter("udp.dstport == 53"))
    for index in range(21, 31):
        add(ring, index)
        view.add(ring.get(index))  # type: ignore[arg-type]
    view.scan()
    assert [view.index_at(row) for row in range(len(view))] == list(range(3, 31, 3))
    assert view.rows_up_to(15) == 5 and view.row_of(9) == 2 and view.row_of(10) is None
    fill(ring, 31, 45)
    assert view.trim() == 5
    assert view.trimmed == 5 and view.index_at(0) == 18 and view.index_at(len(view)) is None
