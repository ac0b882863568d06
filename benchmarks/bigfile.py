"""A 1 GB pcap: first screen, indexing time, memory, and reading anywhere in it.

Targets (issue 9): ``livetap -r`` shows the first screen of a 1 GB pcap within
1 s and scrolls anywhere in it without loading it all. The file is generated
once (cached in /tmp) from fixed frames with explicit Ethernet addresses.

    .venv/bin/python benchmarks/bigfile.py [--size-mb 1024]
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.sample_traffic import sample_records

LIVETAP = str(Path(sys.executable).parent / "livetap")


def generate(path: Path, size: int) -> int:
    """Write ``size`` bytes of pcap (the sample frames over and over); returns the records."""
    frames = [record.data for record in sample_records()]
    count = 0
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        written = 24
        chunk: list[bytes] = []
        while written < size:
            frame = frames[count % len(frames)]
            seconds, micros = divmod(1_700_000_000_000_000 + count * 100, 1_000_000)
            chunk.append(struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame)
            written += 16 + len(frame)
            count += 1
            if len(chunk) == 10_000:
                out.write(b"".join(chunk))
                chunk = []
        out.write(b"".join(chunk))
    return count


def first_screen(path: Path) -> float:
    """Seconds from starting ``livetap -r`` in tmux to its first packet row on screen."""
    session = f"bigfile-{os.getpid()}"
    started = time.monotonic()
    env_cmd = f"env -u COLUMNS -u LINES {LIVETAP} -r {path}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "45", env_cmd], check=True
    )
    try:
        while time.monotonic() - started < 30:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            if "02:00:00:00:00:01" in screen:
                return time.monotonic() - started
            time.sleep(0.01)
        return float("inf")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=1024)
    args = parser.parse_args()
    path = Path(f"/tmp/livetap-big-{args.size_mb}mb.pcap")
    if not path.exists():
        began = time.monotonic()
        count = generate(path, args.size_mb << 20)
        print(f"generated {path} ({count:,} records) in {time.monotonic() - began:.1f} s")
    size = path.stat().st_size
    print(f"file: {size / 2**20:,.0f} MiB")
    if shutil.which("tmux"):
        print(f"first screen of `livetap -r` (tmux): {first_screen(path):.2f} s (target < 1 s)")
    process = psutil.Process()
    before = process.memory_info().rss
    session = CaptureSession(open_file_source(path), analyze=False)
    began = time.monotonic()
    with session:
        session.wait_finished(600)
        indexed = time.monotonic() - began
    ring = session.ring
    grown = process.memory_info().rss - before
    print(f"indexed {len(ring):,} packets in {indexed:.1f} s ({len(ring) / indexed:,.0f}/s)")
    print(f"memory for the index: {grown / 2**20:,.0f} MiB ({grown / size:.1%} of the file)")
    for where in (1, len(ring) // 2, len(ring)):
        began = time.perf_counter()
        packet = ring.get(where)
        took = (time.perf_counter() - began) * 1000
        assert packet is not None
        print(f"packet {where:,} read back and decoded in {took:.2f} ms")


if __name__ == "__main__":
    main()
