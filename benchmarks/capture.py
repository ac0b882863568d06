"""How much of a loopback burst livetap captures, next to tcpdump, and whether drops add up.

A separate sender process sends small UDP datagrams to 127.0.0.1 at a target
rate for a bounded time (a sink socket bound to the port keeps the kernel from
answering with ICMP). Meanwhile these capture it, filtered on that port:

- ``session``: livetap's engine as the TUI runs it (LiveSource + header decode
  into the ring, :class:`engine.session.CaptureSession`);
- ``pcap``: the headless ``livetap capture pcap`` loop (LiveSource into
  :class:`engine.pcap_capture.PcapCapture`, writing to ``--write-to``);
- ``tcpdump -i lo -B 4096 -w /dev/null``, whose "captured" and "dropped by
  kernel" lines are read from its stderr.

``together`` runs one livetap capturer and tcpdump on the same burst;
``alone`` gives each capturer a burst of its own (the machine has 2 cores, so
together they compete with each other and with the sender). For every run it
prints what was sent, captured and dropped, and whether captured + dropped
accounts for everything sent (honest drop counts).

    .venv/bin/python benchmarks/capture.py [--rates 100000,200000] [--seconds 5]

Needs root (packet sockets). Nothing is sent anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engine.live import LiveSource
from engine.pcap_capture import CaptureOptions, CaptureReport, PcapCapture
from engine.process.packet_owners import PacketOwners
from engine.session import CaptureSession

LOOPBACK = "127.0.0.1"
BUFFER = 4 << 20
RING = 1_000_000
ANALYZE = True
PROCESSES = False
"""The session ties each packet to its program (``--processes``), as the TUI does live."""
"""Packets the session keeps: the issue's target is no eviction at this size."""
"""Both sides get a 4 MiB kernel ring (tcpdump -B 4096)."""
SETTLE = 1.5
"""Seconds after the burst before the capturers are stopped: tcpdump's ring hands over a
partly filled block only after its 1 s timeout, and loses it unreported when stopped sooner."""
MAX_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Result:
    """What one capturer saw of one burst."""

    name: str
    sent: int
    captured: int
    dropped: int | None

    @property
    def accounted(self) -> str:
        """Whether captured + dropped adds up to what was sent."""
        if self.dropped is None:
            return "?"
        total = self.captured + self.dropped
        return "yes" if total == self.sent else f"no ({total - self.sent:+,})"


# -- the sender ---------------------------------------------------------------------------------


def send(port: int, rate: int, seconds: float, size: int) -> None:
    """Runs in the sender process: paced sendto() calls, then prints the count sent."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((LOOPBACK, port))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"x" * size
    address = (LOOPBACK, port)
    sendto = sender.sendto
    sent = 0
    chunk = max(rate // 2000, 1)
    """Half a millisecond's worth: the most sent ahead of the schedule, or at once."""
    start = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
        due = int(elapsed * rate) + chunk
        if sent >= due:
            time.sleep(0.0005)
            continue
        count = min(due - sent, chunk)  # a stalled sender catches up no faster than this
        for _ in range(count):
            sendto(payload, address)
        sent += count
    elapsed = time.perf_counter() - start
    print(f"{sent} {elapsed}", flush=True)


def burst(port: int, rate: int, seconds: float, size: int) -> tuple[int, float]:
    """Run the sender process to its end: (datagrams sent, seconds taken)."""
    output = subprocess.run(
        [sys.executable, __file__, "--send", str(port), str(rate), str(seconds), str(size)],
        capture_output=True,
        text=True,
        check=True,
        timeout=MAX_SECONDS + 30,
    ).stdout.split()
    return int(output[0]), float(output[1])


# -- the capturers --------------------------------------------------------------------------------


class Tcpdump:
    """tcpdump writing to /dev/null; its own statistics at the end."""

    def __init__(self, port: int) -> None:
        self.process = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "-B", "4096", "-w", "/dev/null", f"udp port {port}"],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stderr is not None
        line = self.process.stderr.readline()
        if "listening on" not in line:
            raise SystemExit(f"tcpdump did not start: {line.strip()}")

    def stop(self, sent: int) -> Result:
        self.process.send_signal(2)
        _out, err = self.process.communicate(timeout=30)
        captured = re.search(r"(\d+) packets? captured", err)
        dropped = re.search(r"(\d+) packets? dropped by kernel", err)
        return Result(
            "tcpdump",
            sent,
            int(captured.group(1)) if captured else -1,
            int(dropped.group(1)) if dropped else None,
        )


class SessionCapturer:
    """livetap's engine as the TUI runs it: ring source, decode, ring buffer."""

    name = "livetap session"

    def __init__(self, port: int, write_to: Path) -> None:
        source = LiveSource("lo", buffer_size=BUFFER, expression=f"udp port {port}")
        owners = PacketOwners("lo") if PROCESSES else None
        self.session = CaptureSession(source, RING, analyze=ANALYZE, owners=owners)
        self.session.start()

    def stop(self, sent: int) -> Result:
        stats = self.session.stats()
        self.session.stop()
        analysis = self.session.analysis
        skipped = analysis.skipped if analysis is not None else 0
        print(f"  livetap session: ring evictions {stats.evicted:,}, analysis skipped {skipped:,}")
        owners = self.session.owners
        if owners is not None:
            named = self.session.process_of(self.session.ring.last_index)
            print(f"  attribution: last packet's process {named.label if named else None}")
        return Result(self.name, sent, stats.packets, stats.kernel_drops)


class PcapCapturer:
    """The headless capture loop writing pcap."""

    name = "livetap capture pcap"

    def __init__(self, port: int, write_to: Path) -> None:
        self.source = LiveSource("lo", buffer_size=BUFFER, expression=f"udp port {port}")
        self.capture = PcapCapture(self.source, CaptureOptions(write_to))
        self.stop_event = threading.Event()
        self.reports: list[CaptureReport] = []
        self.thread = threading.Thread(
            target=lambda: self.reports.append(self.capture.run(self.stop_event))
        )
        self.thread.start()

    def stop(self, sent: int) -> Result:
        self.stop_event.set()
        self.thread.join(30)
        self.source.close()
        (report,) = self.reports
        return Result(self.name, sent, report.packets, report.kernel_drops)


class Capturer(Protocol):
    """A livetap capturer: started by its constructor, stopped with the count sent."""

    name: str

    def stop(self, sent: int) -> Result: ...


CAPTURERS: dict[str, Callable[[int, Path], Capturer]] = {
    "session": SessionCapturer,
    "pcap": PcapCapturer,
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def run_burst(
    kinds: list[str], *, tcpdump: bool, rate: int, seconds: float, size: int, write_to: Path
) -> tuple[list[Result], float]:
    """Start the capturers, send one burst, stop them; their results and the rate achieved."""
    port = free_port()
    reference = Tcpdump(port) if tcpdump else None
    livetap = [CAPTURERS[kind](port, write_to) for kind in kinds]
    time.sleep(0.2)
    sent, elapsed = burst(port, rate, seconds, size)
    time.sleep(SETTLE)
    results = [capturer.stop(sent) for capturer in livetap]
    if reference is not None:
        results.append(reference.stop(sent))
    return results, sent / elapsed


def print_results(title: str, results: list[Result], achieved: float) -> None:
    print(f"  {title} (sent at {achieved:,.0f}/s)")
    for result in results:
        dropped = "?" if result.dropped is None else f"{result.dropped:,}"
        share = result.captured / result.sent if result.sent else 0.0
        print(
            f"    {result.name:<22} sent {result.sent:>10,}  captured {result.captured:>10,}"
            f" ({share:6.1%})  kernel drops {dropped:>9}  adds up: {result.accounted}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rates", default="100000,200000", help="datagrams per second, comma list")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each burst (max 10)")
    parser.add_argument("--size", type=int, default=32, help="UDP payload bytes")
    parser.add_argument("--write-to", type=Path, default=Path("/dev/null"), help="pcap output")
    parser.add_argument(
        "--mode", choices=("together", "alone", "both"), default="both", help="see the docstring"
    )
    parser.add_argument(
        "--no-analysis", action="store_true", help="session without the live statistics thread"
    )
    parser.add_argument(
        "--processes", action="store_true", help="session ties each packet to its program"
    )
    parser.add_argument("--send", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global ANALYZE, PROCESSES  # noqa: PLW0603 - benchmark switches
    ANALYZE = not args.no_analysis
    PROCESSES = args.processes
    if args.send:
        port, rate, seconds, size = args.send
        send(int(port), int(rate), float(seconds), int(size))
        return
    seconds = min(args.seconds, MAX_SECONDS)
    for rate in (int(r) for r in args.rates.split(",")):
        print(f"\n{rate:,} datagrams/s for {seconds:g} s, {args.size}-byte payloads to {LOOPBACK}")
        ratios: list[str] = []
        burst_options: dict[str, Any] = {
            "rate": rate,
            "seconds": seconds,
            "size": args.size,
            "write_to": args.write_to,
        }
        if args.mode in ("together", "both"):
            for kind in CAPTURERS:
                results, achieved = run_burst([kind], tcpdump=True, **burst_options)
                print_results(f"together: {results[0].name} + tcpdump", results, achieved)
                ours, theirs = results
                if theirs.captured > 0:
                    ratios.append(
                        f"{ours.name}/tcpdump together {ours.captured / theirs.captured:.3f}"
                    )
        if args.mode in ("alone", "both"):
            alone: list[Result] = []
            for kind in CAPTURERS:
                results, achieved = run_burst([kind], tcpdump=False, **burst_options)
                print_results(f"alone: {results[0].name}", results, achieved)
                alone.extend(results)
            results, achieved = run_burst([], tcpdump=True, **burst_options)
            print_results("alone: tcpdump", results, achieved)
            (tcpdump,) = results
            tcpdump_share = tcpdump.captured / tcpdump.sent
            for result in alone:
                if tcpdump_share > 0:
                    ratio = (result.captured / result.sent) / tcpdump_share
                    ratios.append(f"{result.name}/tcpdump alone {ratio:.3f}")
        print("  ratios of captured shares: " + "; ".join(ratios))


if __name__ == "__main__":
    main()
