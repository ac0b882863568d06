"""Memory per buffered packet: a full ring of 1,000,000 packets against the target.

Target (issue 9): resident memory with 1,000,000 packets in the ring at most
1.5 × the raw packet bytes + 100 bytes per packet. Frames are real Ethernet/IPv4
/UDP and TCP frames of mixed sizes (a distinct bytes object each, as the
capture makes them); the figure is the RSS growth while filling the ring, and
what a second lap (evicting every packet once) adds.

    .venv/bin/python benchmarks/memory.py [--packets 1000000]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from engine import linktypes
from engine.ring import PacketRing

SIZES = (60, 74, 120, 250, 590, 1200, 1514)
WEIGHTS = (20, 30, 15, 15, 8, 6, 6)


def frame(size: int, number: int) -> bytes:
    """An Ethernet frame of ``size`` bytes, unique (its IP id and payload carry ``number``)."""
    header = bytes.fromhex("0200000000020200000000010800") + struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        size - 14,
        number & 0xFFFF,
        0,
        64,
        17,
        0,
        bytes([10, 0, 0, 1]),
        bytes([10, 0, 0, 2]),
    )
    udp = struct.pack("!HHHH", 40000, 9999, size - 34, 0)
    body = (number.to_bytes(8, "big") * (size // 8 + 1))[: size - len(header) - len(udp)]
    return header + udp + body


def rss() -> int:
    gc.collect()
    return psutil.Process(os.getpid()).memory_info().rss


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packets", type=int, default=1_000_000)
    args = parser.parse_args()
    count = args.packets
    chooser = random.Random(7)
    sizes = chooser.choices(SIZES, WEIGHTS, k=count)
    before = rss()
    ring = PacketRing(count)
    raw = 0
    for number, size in enumerate(sizes):
        data = frame(size, number)
        raw += len(data)
        ring.add(1_700_000_000.0 + number * 1e-5, len(data), linktypes.ETHERNET, data)
    full = rss()
    for number, size in enumerate(sizes):
        data = frame(size, number + count)
        ring.add(1_800_000_000.0 + number * 1e-5, len(data), linktypes.ETHERNET, data)
    lapped = rss()
    for index in range(ring.first_index, ring.first_index + 20_000, 7):
        ring.get(index)  # the summary cache, as the list and workers fill it
    cached = rss()
    grown = full - before
    target = 1.5 * raw + 100 * count
    print(f"{count:,} packets, {raw / 2**20:,.1f} MiB of frames (average {raw / count:.0f} B)")
    per_packet = grown / count
    print(f"RSS growth with the ring full:        {grown / 2**20:,.1f} MiB")
    print(f"per packet:                           {per_packet:.0f} B")
    print(f"target 1.5 x raw + 100 B/packet:      {target / 2**20:,.1f} MiB")
    print(f"ratio to target:                      {grown / target:.2f} (must be <= 1)")
    print(f"after a second lap (all evicted once): {(lapped - full) / 2**20:+.1f} MiB")
    print(f"with the summary cache filled:         {(cached - lapped) / 2**20:+.1f} MiB")


if __name__ == "__main__":
    main()
