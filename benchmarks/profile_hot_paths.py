"""Profiles of the hot paths (pyinstrument), written to benchmarks/profiles/.

- capture: the capture thread reading a loopback burst into the ring (LiveSource
  + PacketRing), as the session does it;
- decode: the list's summary decoder over 100,000 frames;
- file: indexing a pcap the way ``livetap -r`` does.

    .venv/bin/python benchmarks/profile_hot_paths.py
"""

from __future__ import annotations

import multiprocessing
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyinstrument import Profiler

from engine.decode import decode
from engine.live import LiveSource
from engine.replay import open_file_source
from engine.ring import PacketRing
from engine.session import CaptureSession
from tests.sample_traffic import sample_records

OUT = Path(__file__).resolve().parent / "profiles"


def _send(port: int, count: int) -> None:
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(count):
        sender.sendto(b"x" * 32, ("127.0.0.1", port))


def profile_capture() -> Profiler:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = LiveSource("lo", buffer_size=64 << 20, expression=f"udp port {port}")
    ring = PacketRing(1_000_000)
    sender = multiprocessing.Process(target=_send, args=(port, 300_000))
    sender.start()
    profiler = Profiler(interval=0.0005)
    profiler.start()
    deadline = time.monotonic() + 10
    while ring.last_index < 300_000 and time.monotonic() < deadline:
        ring.add_records(source.read_batch(0.1))
    profiler.stop()
    sender.join()
    source.close()
    return profiler


def profile_decode() -> Profiler:
    frames = [(r.linktype, r.data) for r in sample_records()] * 6700
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for linktype, data in frames:
        decode(linktype, data)
    profiler.stop()
    return profiler


def profile_file() -> Profiler:
    from engine.pcapio import PcapRecord, write_pcap_file

    base = sample_records()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.pcap"
        records = [
            PcapRecord(1e9 + n, r.length, r.linktype, r.data)
            for n, r in ((n, base[n % len(base)]) for n in range(200_000))
        ]
        write_pcap_file(path, records)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        with CaptureSession(open_file_source(path), analyze=False) as session:
            session.wait_finished(60)
        profiler.stop()
    return profiler


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, run in (
        ("capture", profile_capture),
        ("decode", profile_decode),
        ("file", profile_file),
    ):
        profiler = run()
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        (OUT / f"{name}.txt").write_text(text)
        print(f"{name}: {OUT / f'{name}.txt'}")


if __name__ == "__main__":
    main()
