"""Find and go to in a big pcap opened with ``-r`` (issue 19's targets), and marks at scale.

Targets: on a large file, find and go-to answer in under a second for a match in the
first 100,000 packets, with progress beyond; every action (m, ctrl+d, M, go to) within
the key-latency target of benchmarks/ui_latency.py on 100,000 packets.

The file is built once in /tmp (bounded by --packets, at most 5,000,000) from the test
frames, explicit Ethernet addresses; a needle (hex, text and a port a display filter
finds) sits in packet --needle and in the last packet.

    .venv/bin/python benchmarks/find.py [--packets 1000000] [--needle 100000]
    .venv/bin/python benchmarks/find.py --app [--packets 100000]

``--app`` runs the TUI headless on the file and injects each key (m, M, ctrl+d, D, U,
go to, find next) as ui_latency.py does, timing key → action done (p95 < 50 ms, worst
< 150 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from textual import events

from engine.find import PacketFinder, parse_find
from engine.packet_marks import UnignoredRows
from engine.replay import open_file_source
from engine.session import CaptureSession
from tui.app import LivetapApp
from tui.screens.main import MainScreen
from tui.widgets.packet_find import PacketNavigation
from tui.widgets.packet_rows import RingRows

APP_KEYS = ("m", "down", "m", "M", "ctrl+d", "D", "U", "ctrl+n", "ctrl+b")
"""Keys injected in turn by --app (ctrl+n / ctrl+b repeat a hex find for the needle)."""
TIMED = ("toggle_mark", "next_mark", "toggle_ignore", "unignore_all", "unmark_all", "_found")

MAX_PACKETS = 5_000_000
NEEDLE_PORT = 4242
SRC_MAC, DST_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"


def datagram(port: int, payload: bytes) -> bytes:
    """One Ethernet/IPv4/UDP frame (explicit addresses: nothing is looked up)."""
    frame = Ether(src=SRC_MAC, dst=DST_MAC) / IP(src="10.0.0.1", dst="10.0.0.2")
    return bytes(frame / UDP(sport=5000, dport=port) / Raw(payload))


def build(path: Path, count: int, needle: int) -> None:
    """Write ``count`` packets; ``needle`` and the last carry the needle."""
    plain = [datagram(1000 + n, b"ordinary payload %d" % n) for n in range(16)]
    special = datagram(NEEDLE_PORT, b"the NEEDLE \xde\xad\xbe\xef here")
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        chunk: list[bytes] = []
        for number in range(1, count + 1):
            frame = special if number in (needle, count) else plain[number % len(plain)]
            seconds, micros = divmod(1_700_000_000_000_000 + number * 100, 1_000_000)
            chunk.append(struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame)
            if len(chunk) == 10_000:
                out.write(b"".join(chunk))
                chunk = []
        out.write(b"".join(chunk))


def timed(label: str, action: object) -> float:
    """Run ``action`` (a callable), print and return its seconds."""
    assert callable(action)
    began = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - began
    print(f"  {label:<50} {seconds * 1000:9.1f} ms   {result}")
    return seconds


async def measure_app(path: Path, count: int, needle: int, rounds: int = 6) -> None:
    """Inject each key into the headless app on the file; time key → action done."""
    session = CaptureSession(open_file_source(path), analyze=False)
    app = LivetapApp(session)
    done: list[float] = []
    originals = {name: getattr(PacketNavigation, name) for name in TIMED}

    def timing(name: str) -> object:
        original = originals[name]

        def wrapped(self: PacketNavigation, *args: object) -> object:
            result = original(self, *args)
            done.append(time.perf_counter())
            return result

        return wrapped

    for name in TIMED:
        setattr(PacketNavigation, name, timing(name))
    latencies: dict[str, list[float]] = {key: [] for key in APP_KEYS}
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            main = app.screen
            assert isinstance(main, MainScreen)
            packets = main.packets
            assert packets is not None
            while len(main.packet_list.rows) < count:
                await pilot.pause(0.2)
            packets.navigation.query = parse_find("de ad be ef")
            packets.navigation.goto(needle - 5)
            for _ in range(rounds):
                for key in APP_KEYS:
                    done.clear()
                    pressed = time.perf_counter()
                    app.post_message(events.Key(key, None))
                    while not done and time.perf_counter() - pressed < 5:
                        await asyncio.sleep(0.001)
                    if done:
                        latencies[key].append((done[0] - pressed) * 1000)
                    await pilot.pause(0.05)
    finally:
        for name, original in originals.items():
            setattr(PacketNavigation, name, original)
        session.stop()
    finds = ("ctrl+n", "ctrl+b")
    every = sorted(v for key, values in latencies.items() if key not in finds for v in values)
    print(f"keys on {count:,} packets in the app (key → action done, {rounds} rounds):")
    for key, values in latencies.items():
        if values:
            what = "(a search in a worker: key → match selected)" if key in finds else ""
            median, worst = statistics.median(values), max(values)
            print(f"  {key:<8} median {median:6.1f} ms, worst {worst:6.1f} ms {what}")
    p95 = every[max(int(len(every) * 0.95) - 1, 0)]
    verdict = "ok" if p95 < 50 and every[-1] < 150 else "MISSED"
    print(f"  m M ctrl+d D U: p95 {p95:.1f} ms, worst {every[-1]:.1f} ms")
    print(f"  (targets p95 < 50 ms, worst < 150 ms: {verdict})")


def main() -> None:
    """Build (once) the file, index it, and time each search and action."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--needle", type=int, default=100_000)
    parser.add_argument("--app", action="store_true", help="time the keys in the TUI")
    args = parser.parse_args()
    count = min(max(args.packets, 2), MAX_PACKETS)
    needle = min(args.needle, count - 1)
    path = Path(f"/tmp/livetap-find-{count}-{needle}.pcap")
    if not path.exists():
        began = time.perf_counter()
        build(path, count, needle)
        print(f"built {path} in {time.perf_counter() - began:.1f} s")
    print(f"{path}: {count:,} packets, {path.stat().st_size / 1e6:.0f} MB, needle at {needle:,}")
    if args.app:
        asyncio.run(measure_app(path, count, needle))
        return
    session = CaptureSession(open_file_source(path), analyze=False)
    began = time.perf_counter()
    with session:
        if not session.wait_finished(600):
            raise SystemExit("the file was not indexed in 10 minutes")
        print(f"indexed in {time.perf_counter() - began:.1f} s")
        ring, marks = session.ring, session.marks
        rows = UnignoredRows(RingRows(ring), marks)
        print("find from packet 1 to the needle:")
        for text in ("de ad be ef", "needle", f"udp.dstport == {NEEDLE_PORT}"):
            finder = PacketFinder(ring, parse_find(text))
            timed(f"{finder.query.describe()}", lambda f=finder: f.search(rows, 1).index)
        print("find past the needle (to the last packet, with progress):")
        for text in ("de ad be ef", f"udp.dstport == {NEEDLE_PORT}"):
            finder = PacketFinder(ring, parse_find(text))
            reports: list[int] = []

            def search(f: PacketFinder = finder, seen: list[int] = reports) -> object:
                found = f.search(rows, needle, progress=lambda done, _total: seen.append(done))
                return f"{found.index} ({len(seen)} progress reports)"

            timed(finder.query.describe(), search)
        print("go to, marks and ignores:")
        timed("go to packet 900,000 (row of it)", lambda: rows.row_of(min(900_000, count)))
        for number in range(1, 101):
            marks.toggle_mark(number * 997)
            marks.toggle_ignore(number * 991)
        timed("next mark after 50,000 (100 marked)", lambda: marks.next_marked(50_000))
        timed("ignore one more (rows recount)", lambda: marks.toggle_ignore(12_345))
        timed(
            "a screen of rows (45) past 100 ignored", lambda: [rows.index_at(r) for r in range(45)]
        )
        timed("row of packet 99,000 past 100 ignored", lambda: rows.row_of(99_000))
        finder = PacketFinder(ring, parse_find("needle"))
        timed("find the needle past 100 ignored", lambda: finder.search(rows, 1).index)


if __name__ == "__main__":
    main()
