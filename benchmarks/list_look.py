"""What the packet list's look costs per row at 100,000 packets: time formats, custom
columns, colouring rules (first and cached), and sorting by a column.

A pcap of the TCP trouble scenarios (tests/tcp_scenarios.py) repeated to ``--packets``
is opened as ``livetap -r`` opens it; the TCP analysis is run over it first (as the
background thread does), then each row is formatted as the list formats it. CPU time
per row is what a repaint of a 40-row screen costs, times 40.

    .venv/bin/python benchmarks/list_look.py [--packets 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import linktypes
from engine.list_config import parse_columns
from engine.pcapio import PcapRecord, write_pcap_file
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.tcp_scenarios import START, trouble_frames
from tui.packet_look import packet_look
from tui.packet_sort import sorted_indices
from tui.time_formats import time_format


def write_capture(path: Path, count: int) -> None:
    """The trouble frames over and over, 2 s apart per round, ``count`` records."""
    frames = [(offset, bytes(frame)) for offset, frame in trouble_frames()]
    records: list[PcapRecord] = []
    round_number = 0
    while len(records) < count:
        for offset, raw in frames:
            stamp = START + round_number * 2 + offset
            records.append(PcapRecord(stamp, len(raw), linktypes.ETHERNET, raw))
        round_number += 1
    write_pcap_file(path, records[:count])


def per_row(label: str, count: int, work: Callable[[], None]) -> None:
    """Run ``work`` and print its CPU time per row."""
    began = time.process_time()
    work()
    spent = time.process_time() - began
    print(f"{label:<46} {spent * 1e6 / count:8.1f} µs/row  ({spent:.2f} s CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packets", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trouble.pcap"
        write_capture(path, args.packets)
        session = CaptureSession(open_file_source(path))
        session.start()
        ring = session.ring
        deadline = time.monotonic() + 120
        while ring.last_index < args.packets and time.monotonic() < deadline:
            session.poll()
            time.sleep(0.05)
        count = ring.last_index
        began = time.process_time()
        ring.analysis.advance(count)
        print(f"{count:,} packets; TCP analysis {time.process_time() - began:.2f} s CPU")
        packets = [packet for index in range(1, count + 1) if (packet := ring.get(index))]
        look = packet_look(session, None)
        layout = look.layout(160, False, False)

        def rows() -> None:
            previous = None
            for packet in packets:
                look.row(packet, previous, layout)
                previous = packet.timestamp

        for name in ("relative", "delta_displayed", "utc"):
            look.time.format = time_format(name)
            per_row(f"row text, time {name}", count, rows)
        look = packet_look(session, None)
        look.specs = parse_columns(["number", "time", "tcp.stream", "ip.src", "protocol", "info"])
        layout = look.layout(160, False, False)
        per_row("row text + custom tcp.stream, ip.src", count, rows)

        def colour() -> None:
            for packet in packets:
                look.colouring.rule_for(packet)

        per_row("colouring rules, first evaluation", count, colour)
        per_row("colouring rules, cached", count, colour)
        matched = sum(1 for packet in packets if look.colouring.rule_for(packet))
        print(f"rows coloured: {matched:,}")
        for column in ("length", "tcp.stream", "source"):
            began = time.perf_counter()
            sorted_indices(packets, column, look, False)
            print(f"sort {count:,} by {column:<12} {time.perf_counter() - began:6.2f} s")
        session.stop()


if __name__ == "__main__":
    main()
