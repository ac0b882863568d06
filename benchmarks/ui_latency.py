"""Key latency and repaint rate of the TUI on a live 100,000 packets/s feed.

A sender process sends bounded bursts of small UDP datagrams to 127.0.0.1 while
the app captures ``lo``. Two ways to watch it:

- in process (the default): the app runs headless, key events are injected
  straight into it (not ``pilot.press``, which waits for idle) and timed until
  their action runs; the packet list's refreshes are counted per second;
- ``--tmux``: the real ``livetap`` runs in a tmux pane as a user would see it;
  ``tmux send-keys space`` toggles pause, and the time until the pane shows
  the new state (PAUSED / LIVE) is read with ``tmux capture-pane`` every
  5 ms, so the figure includes drawing and the terminal; repaints are the
  pane's changes per second, sampled every 20 ms (so at most 50/s are seen).

- ``--requests``: the browser pane's request list on 10,000 requests (the demo's
  recorded CDP events replayed through the real tracker); the request keys (o O P ↑ End
  on the whole list, then T S, then C) are injected in turn and timed from the key to
  the end of its action, with the CPU the action took.

Targets (issue 9): key → action p95 < 50 ms, worst < 150 ms; ≥ 10 repaints/s.

    .venv/bin/python benchmarks/ui_latency.py [--rate 100000] [--seconds 8] [--tmux]
    .venv/bin/python benchmarks/ui_latency.py --requests [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events
from textual.screen import Screen

from benchmarks.capture import LOOPBACK, free_port
from engine.browser.recorded import RecordedBrowser, Recording
from engine.live import LiveSource
from engine.process.packet_owners import PacketOwners
from engine.session import CaptureSession
from tui.app import LivetapApp
from tui.screens.main import MainScreen
from tui.widgets.packet_list import PacketList
from tui.widgets.request_view import RequestList

DEMO_BROWSER = Path(__file__).resolve().parent.parent / "screenshots" / "data" / "demo-browser.json"
REQUEST_KEYS = {
    "T": (MainScreen, "action_cycle_type_chip"),
    "S": (MainScreen, "action_cycle_status_chip"),
    "o": (MainScreen, "action_sort_next"),
    "O": (MainScreen, "action_sort_reverse"),
    "P": (MainScreen, "action_toggle_preserve_log"),
    "up": (RequestList, "action_cursor_up"),
    "end": (RequestList, "action_scroll_bottom"),
    "C": (MainScreen, "action_clear_requests"),
}
"""The request keys timed with --requests, and the action each one runs."""


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


def print_figures(latencies_ms: list[float], repaint_rate: float | None) -> None:
    """The key latencies and repaint rate (None: not measured), with a verdict per target."""
    ms = sorted(latencies_ms)
    p95 = ms[max(int(len(ms) * 0.95) - 1, 0)] if ms else float("nan")
    worst = ms[-1] if ms else float("nan")
    median = statistics.median(ms) if ms else float("nan")
    print(
        f"keys: {len(ms)} pressed; median {median:.1f} ms, p95 {p95:.1f} ms, worst {worst:.1f} ms"
    )
    verdicts = [
        f"p95 < 50 ms {'ok' if p95 < 50 else 'MISSED'}",
        f"worst < 150 ms {'ok' if worst < 150 else 'MISSED'}",
    ]
    if repaint_rate is not None:
        print(f"repaints: {repaint_rate:.1f} per second")
        verdicts.append(f"repaints >= 10/s {'ok' if repaint_rate >= 10 else 'MISSED'}")
    print("targets: " + ", ".join(verdicts))


async def measure(rate: int, seconds: float, analyze: bool, processes: bool = False) -> None:
    """In process: inject keys into the headless app while the feed runs."""
    port = free_port()
    session = CaptureSession(
        LiveSource("lo", buffer_size=32 << 20, expression=f"udp port {port}"),
        1_000_000,
        owners=PacketOwners("lo") if processes else None,
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
    print(f"feed: {stats.packets:,} packets ({stats.packets / seconds:,.0f}/s)")
    print(f"kernel drops: {stats.kernel_drops}")
    print_figures([value * 1000 for value in latencies], len(window) / (ended - began))


def recorded_requests(copies: int) -> RecordedBrowser:
    """The demo's recorded CDP events ``copies`` times over (14 requests each), renamed."""
    demo = Recording.load(DEMO_BROWSER)
    events = []
    for copy in range(copies):
        for method, params, session in demo.events:
            renamed = dict(params)
            for name in ("requestId", "loaderId"):
                if name in params:
                    renamed[name] = f"{params[name]}-{copy}"
            events.append((method, renamed, session))
    browser = RecordedBrowser(Recording(events, {}), f"{14 * copies:,} recorded requests")
    browser.start()
    return browser


async def measure_requests(rounds: int) -> None:
    """Inject the request keys into the app holding 10,000 requests; time each from the
    key to the end of its action (and the action's CPU), and to the end of the first
    screen update after it (what the user sees)."""
    browser = recorded_requests(715)
    app = LivetapApp(None, browser=browser)
    pressed: list[float] = []
    timings: dict[str, list[tuple[float, float]]] = {key: [] for key in REQUEST_KEYS}
    painted: dict[str, list[float]] = {key: [] for key in REQUEST_KEYS}
    awaiting: list[tuple[str, float]] = []
    originals = {key: getattr(owner, name) for key, (owner, name) in REQUEST_KEYS.items()}
    original_paint = Screen._compositor_refresh

    def timed(key: str) -> object:
        original = originals[key]

        def action(self: object) -> None:
            cpu = time.process_time()
            original(self)
            done = time.perf_counter()
            if pressed:
                start = pressed.pop(0)
                timings[key].append((done - start, time.process_time() - cpu))
                awaiting.append((key, start))

        return action

    def paint(self: Screen[object]) -> None:
        original_paint(self)
        if awaiting:
            key, start = awaiting.pop()
            painted[key].append(time.perf_counter() - start)

    for key, (owner, name) in REQUEST_KEYS.items():
        setattr(owner, name, timed(key))
    Screen._compositor_refresh = paint  # type: ignore[method-assign,assignment]
    try:
        async with app.run_test(size=(180, 50)) as pilot:
            main = app.screen_stack[-1]
            deadline = time.perf_counter() + 60
            while not main.query(RequestList) and time.perf_counter() < deadline:
                await pilot.pause(0.1)
                main = app.screen_stack[-1]
            requests = main.query_one(RequestList)
            while requests.row_count < 5_000 and time.perf_counter() < deadline:
                await pilot.pause(0.1)
            requests.focus()
            await pilot.pause(0.5)
            print(f"requests: {len(browser.tracker):,} held, {requests.row_count:,} listed")
            # on the whole list first (sorts of 5,000 rows), then the chips, then C
            order = ["o", "O", "up", "end", "P"] * rounds + ["T", "S"] * rounds + ["C"]
            for key in order:
                pressed.clear()
                pressed.append(time.perf_counter())
                app.post_message(events.Key(key, key if len(key) == 1 else None))
                waited = time.perf_counter() + 5
                while pressed and time.perf_counter() < waited:
                    await asyncio.sleep(0.005)
                await asyncio.sleep(0.2)  # a pull or two between keys, as a user types
    finally:
        for key, (owner, name) in REQUEST_KEYS.items():
            setattr(owner, name, originals[key])
        Screen._compositor_refresh = original_paint  # type: ignore[method-assign]
        browser.stop()
    for key, measured in timings.items():
        walls = sorted(wall * 1000 for wall, _cpu in measured)
        cpus = sorted(cpu * 1000 for _wall, cpu in measured)
        shown = sorted(seconds * 1000 for seconds in painted[key]) or [float("nan")]
        if walls:
            print(
                f"  {key:>3}: {len(walls)}× key→done median {statistics.median(walls):.1f} ms, "
                f"worst {walls[-1]:.1f} ms; action CPU median {statistics.median(cpus):.1f} ms; "
                f"key→painted median {statistics.median(shown):.1f} ms, worst {shown[-1]:.1f} ms"
            )
    print_figures([wall * 1000 for measured in timings.values() for wall, _cpu in measured], None)
    print("key → painted:")
    print_figures([seconds * 1000 for shown in painted.values() for seconds in shown], None)


class TmuxPane:
    """The real livetap in a detached tmux session of its own, read and typed into."""

    def __init__(self, name: str, command: list[str]) -> None:
        self.name = name
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", name, "-x", "160", "-y", "45", *command],
            check=True,
        )

    def text(self) -> str:
        """What the pane shows now."""
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", self.name],
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    def send(self, key: str) -> None:
        """Type one key (tmux's key name) into the pane."""
        subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)

    def wait_for(self, word: str, timeout: float, poll: float = 0.005) -> float | None:
        """Seconds until ``word`` is on screen, or None after ``timeout``."""
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < timeout:
            if word in self.text():
                return elapsed
            time.sleep(poll)
        return None

    def close(self) -> None:
        """Quit livetap and remove the session, whatever state it is in."""
        subprocess.run(["tmux", "send-keys", "-t", self.name, "q"], check=False)
        time.sleep(1.0)
        subprocess.run(["tmux", "kill-session", "-t", self.name], check=False, capture_output=True)


def measure_in_tmux(rate: int, seconds: float) -> None:
    """In tmux: type space into the real app and time the pane until it shows the new state."""
    if shutil.which("tmux") is None:
        sys.exit("ui_latency.py --tmux needs tmux (apt-get install tmux)")
    livetap = Path(sys.executable).with_name("livetap")
    port = free_port()
    pane = TmuxPane(
        f"livetap-ui-latency-{port}", [str(livetap), "-i", "lo", "-f", f"udp port {port}"]
    )
    sender = multiprocessing.Process(target=send, args=(port, rate, seconds + 4), daemon=True)
    latencies: list[float] = []
    changes = 0
    watched = 0.0
    try:
        if pane.wait_for("LIVE", timeout=15, poll=0.05) is None:
            sys.exit(f"livetap did not start in tmux; the pane shows:\n{pane.text()}")
        sender.start()
        time.sleep(2.0)  # the feed is at full rate
        began = time.perf_counter()
        previous = pane.text()
        paused = False
        while time.perf_counter() - began < seconds:
            pane.send("space")
            paused = not paused
            waited = pane.wait_for("PAUSED" if paused else "LIVE", timeout=2.0)
            latencies.append((waited if waited is not None else 2.0) * 1000)
            if paused:  # the list is frozen: nothing to count until it runs again
                time.sleep(0.1)
                continue
            window_start = time.perf_counter()  # count the list's repaints while it runs
            previous = pane.text()
            while time.perf_counter() - window_start < 0.5:
                time.sleep(0.02)
                current = pane.text()
                changes += current != previous
                previous = current
            watched += time.perf_counter() - window_start
    finally:
        pane.close()
        sender.join(seconds + 10)
    print(f"feed: {rate:,} datagrams/s to 127.0.0.1 port {port}, livetap in a 160x45 tmux pane")
    print_figures(latencies, changes / watched if watched else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--no-analysis", action="store_true", help="no live statistics thread")
    parser.add_argument("--switch", type=float, help="sys.setswitchinterval (seconds) to try")
    parser.add_argument("--tmux", action="store_true", help="the real app in a tmux pane")
    parser.add_argument(
        "--requests", action="store_true", help="the request list's keys on 10,000 requests"
    )
    parser.add_argument("--rounds", type=int, default=10, help="with --requests: key rounds")
    parser.add_argument(
        "--processes", action="store_true", help="tie packets to programs (the Process column)"
    )
    args = parser.parse_args()
    if args.switch:
        sys.setswitchinterval(args.switch)
    seconds = min(args.seconds, 30.0)
    if args.requests:
        asyncio.run(measure_requests(min(max(args.rounds, 1), 50)))
    elif args.tmux:
        measure_in_tmux(args.rate, seconds)
    else:
        asyncio.run(measure(args.rate, seconds, not args.no_analysis, args.processes))


if __name__ == "__main__":
    main()
