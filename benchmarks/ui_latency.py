"""Key latency and repaint rate of the TUI on a live 100,000 packets/s feed.

A sender process sends bounded bursts of small UDP datagrams to 127.0.0.1 while
the app captures ``lo``; key events are injected straight into the app (not
``pilot.press``, which waits for idle) and timed until their action runs; the
packet list's refreshes are counted per second.

Targets (issue 9): key → action p95 < 50 ms, worst < 150 ms; ≥ 10 repaints/s.

    .venv/bin/python benchmarks/ui_latency.py [--rate 100000] [--seconds 8]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events

from engine.live import LiveSource
from engine.session import CaptureSession
from tui.app import LivetapApp
from tui.screens.main import MainScreen
from tui.widgets.packet_list import PacketList

LOOPBACK = "127.0.0.1"


def send(port: int, rate: int, seconds: float) -> None:
    """Bounded: ``rate`` datagrams/s to 127.0.0.1 for ``seconds``, in 1 ms slices."""
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"x" * 32
    start = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            sender.sendto(payload, (LOOPBACK, port))
            sent += 1
    sender.close()


async def measure(rate: int, seconds: float, analyze: bool) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        port = probe.getsockname()[1]
    session = CaptureSession(
        LiveSource("lo", buffer_size=32 << 20, expression=f"udp port {port}"), 1_000_000
    )
    app = LivetapApp(session)
    pressed: list[float] = []
    latencies: list[float] = []
    refreshes: list[float] = []
    original_cursor = PacketList.action_cursor
    original_refresh = PacketList.refresh_rows

    def timed_cursor(self: PacketList, step: int) -> None:
        if pressed:
            latencies.append(time.perf_counter() - pressed.pop(0))
        original_cursor(self, step)

    def counted_refresh(self: PacketList) -> None:
        refreshes.append(time.perf_counter())
        original_refresh(self)

    PacketList.action_cursor = timed_cursor  # type: ignore[method-assign]
    PacketList.refresh_rows = counted_refresh  # type: ignore[method-assign]
    sender = multiprocessing.Process(target=send, args=(port, rate, seconds), daemon=True)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            main = app.screen
            assert isinstance(main, MainScreen)
            await pilot.pause(0.5)
            sender.start()
            began = time.perf_counter()
            refreshes.clear()
            while time.perf_counter() - began < seconds:
                await asyncio.sleep(0.2)
                key = "up" if len(latencies) % 2 else "down"
                pressed.append(time.perf_counter())
                app.post_message(events.Key(key, None))
            ended = time.perf_counter()
            await pilot.pause(0.5)
        sender.join(5)
    finally:
        PacketList.action_cursor = original_cursor  # type: ignore[method-assign]
        PacketList.refresh_rows = original_refresh  # type: ignore[method-assign]
        session.stop()
    stats = session.stats()
    window = [t for t in refreshes if began <= t <= ended]
    ms = sorted(value * 1000 for value in latencies)
    p95 = ms[int(len(ms) * 0.95) - 1] if ms else float("nan")
    repaint_rate = len(window) / (ended - began)
    worst = ms[-1] if ms else float("nan")
    median = statistics.median(ms) if ms else float("nan")
    print(f"feed: {stats.packets:,} packets ({stats.packets / seconds:,.0f}/s)")
    print(f"kernel drops: {stats.kernel_drops}")
    print(
        f"keys: {len(ms)} injected; median {median:.1f} ms, p95 {p95:.1f} ms, worst {worst:.1f} ms"
    )
    print(f"repaints: {repaint_rate:.1f} per second")
    verdicts = [
        f"p95 < 50 ms {'ok' if p95 < 50 else 'MISSED'}",
        f"worst < 150 ms {'ok' if worst < 150 else 'MISSED'}",
        f"repaints >= 10/s {'ok' if repaint_rate >= 10 else 'MISSED'}",
    ]
    print("targets: " + ", ".join(verdicts))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--no-analysis", action="store_true", help="no live statistics thread")
    parser.add_argument("--switch", type=float, help="sys.setswitchinterval (seconds) to try")
    args = parser.parse_args()
    if args.switch:
        sys.setswitchinterval(args.switch)
    asyncio.run(measure(args.rate, min(args.seconds, 30.0), not args.no_analysis))


if __name__ == "__main__":
    main()
