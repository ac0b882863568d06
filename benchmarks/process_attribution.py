"""Which program, measured: 1,000 short ``curl`` connections attributed as they happen.

A local HTTP server (``python -m http.server`` on 127.0.0.1) answers a loop of ``curl``
requests, one new connection each, living a few milliseconds. livetap's engine captures
them on ``lo`` (``open_source``, filtered on the server's port) and attributes every
packet (:class:`engine.process.Attributor`), with the SYN watcher in a process of its
own (as livetap runs it), in a thread, or none. A packet
is right when its process is the one that sent it: the server's pid for what the server
sent, the pid of the ``curl`` that owned the client port (``curl -w %{local_port}``).

Prints the share of packets with the right process (target ≥ 99 %), the wrong ones
(target 0), the lookups (per flow, not per packet) and their rate, and the CPU the
attribution took (its lookups' thread time, and the capture thread's whole share).

    .venv/bin/python benchmarks/process_attribution.py [--requests N] [--watcher KIND]
    .venv/bin/python benchmarks/process_attribution.py --flood 100000 [--seconds 5]
    .venv/bin/python benchmarks/process_attribution.py --udp [--requests N] [--no-kernel-hook]

``--udp`` runs short-lived UDP senders instead of ``curl``: each a ``python3`` that sends
one datagram to a local socket from a port the kernel picks and exits at once (what a
program that sends one datagram and exits looks like); the share is of their datagrams.

``--flood`` measures the cost side instead: a burst of UDP datagrams on ``lo`` (the
sender of ``capture.py``) captured with and without per-packet attribution, printing
kernel drops and the capture thread's CPU.

Needs root (packet sockets). Nothing is sent anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from engine.packet.model import Packet
from engine.process import Attributor, ProcessInfo
from engine.process.watch import SynWatcher, WatcherProcess
from engine.source import SourceSpec, open_source

LOOPBACK = "127.0.0.1"
SETTLE = 0.5


@dataclass(slots=True)
class Tally:
    """What the capture thread saw and decided."""

    packets: int = 0
    right: int = 0
    wrong: int = 0
    reasons: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    cpu: float = 0.0
    """Thread CPU of the capture-and-attribute loop."""
    results: list[tuple[int, ProcessInfo]] = field(default_factory=list)
    """(source port, answer) of every packet, judged at the end."""


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


SEND_ONE = (
    "import os, socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM);"
    "s.sendto(b'one', (sys.argv[1], int(sys.argv[2]))); print(s.getsockname()[1])"
)
"""One datagram from a port the kernel picks, its number printed; then the program exits."""


def _capture(
    port: int, attributor: Attributor, stop: threading.Event, tally: Tally, protocol: str = "tcp"
) -> None:
    source = open_source(SourceSpec(interfaces=("lo",), filter=f"{protocol} port {port}"))
    started = time.thread_time()
    try:
        while True:
            batch = source.read_batch(0.05)
            for record in batch:
                packet = Packet(record.linktype, record.data)
                owner = attributor.for_packet(packet, record.timestamp)
                ports = packet.ports()
                if ports is not None:
                    tally.results.append((ports[0], owner))
            if not batch and stop.is_set():
                break
        tally.cpu = time.thread_time() - started
    finally:
        source.close()


def _judge(
    tally: Tally, port: int, server_pid: int, curls: dict[int, list[int]], *, one_each: bool
) -> None:
    """Count right and wrong answers. ``one_each``: each client sent one packet, so the
    n-th packet from a port is the n-th client's that had it (a port the kernel gave
    twice is judged per client, not "either")."""
    seen: dict[int, int] = defaultdict(int)
    for sport, owner in tally.results:
        tally.packets += 1
        pids = curls.get(sport, [])
        if sport == port:
            expected = {server_pid}
        elif one_each:
            nth = seen[sport]
            seen[sport] += 1
            expected = {pids[nth]} if nth < len(pids) else set()
        else:
            expected = set(pids)
        if owner.known and owner.pid in expected:
            tally.right += 1
        elif owner.known:
            tally.wrong += 1
            tally.reasons[f"WRONG: {owner.name} {owner.pid}, not {sorted(expected)}"] += 1
        else:
            tally.reasons[owner.reason] += 1


def _per_packet_cost(attributor: Attributor, port: int) -> float:
    """Microseconds ``for_frame`` takes for a frame of a flow already in the cache."""
    import socket
    import struct

    loopback = socket.inet_aton(LOOPBACK)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, loopback, loopback)
    frame = (
        b"\0" * 12
        + b"\x08\x00"
        + ip
        + struct.pack("!HHIIBBHHH", port, 1, 0, 0, 0x50, 0x10, 0, 0, 0)
    )
    attributor.for_frame(1, frame, time.time())
    rounds = 200_000
    started = time.perf_counter()
    for _ in range(rounds):
        attributor.for_frame(1, frame, 0.0)
    return (time.perf_counter() - started) / rounds * 1e6


def _flood_once(rate: int, seconds: float, *, attribute: bool) -> None:
    """One burst of UDP datagrams on lo, captured (and attributed per packet, or not)."""
    from benchmarks.capture import BUFFER, burst, free_port
    from engine.live import LiveSource
    from engine.process.live import LiveAttribution

    port = free_port()
    source = LiveSource("lo", buffer_size=BUFFER, expression=f"udp port {port}")
    live = LiveAttribution("lo") if attribute else None
    stop = threading.Event()
    counts = {"captured": 0, "cpu": 0.0}

    def capture() -> None:
        started = time.thread_time()
        while True:
            batch = source.read_batch(0.05)
            if live is not None:
                for record in batch:
                    live.observe(record)
            counts["captured"] += len(batch)
            if not batch and stop.is_set():
                break
        counts["cpu"] = time.thread_time() - started

    thread = threading.Thread(target=capture)
    thread.start()
    time.sleep(1.5)  # the watcher process has started (imports) before the burst
    sent, elapsed = burst(port, rate, seconds, 64)
    time.sleep(SETTLE)
    stop.set()
    thread.join()
    drops = source.kernel_drops()
    source.close()
    lookups = live.attributor.counters.lookups if live is not None else 0
    if live is not None:
        live.close()
    kind = "with" if attribute else "without"
    print(
        f"{kind} attribution: sent {sent:,} at {sent / elapsed:,.0f}/s, "
        f"captured {counts['captured']:,} ({100 * counts['captured'] / max(1, sent):.2f} %), "
        f"kernel drops {drops:,}, capture thread CPU {counts['cpu']:.2f} s "
        f"({100 * counts['cpu'] / elapsed:.0f} % of a core), lookups {lookups}"
    )


def main() -> int:
    """Run the loop and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--flood",
        type=int,
        metavar="RATE",
        help="instead: RATE UDP datagrams/s on lo for --seconds, captured with and without "
        "attribution (kernel drops, capture thread CPU)",
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--udp",
        action="store_true",
        help="short-lived UDP senders (one datagram each, then exit) instead of curl",
    )
    parser.add_argument(
        "--no-kernel-hook",
        action="store_true",
        help="without the BPF record of who connected each socket (engine/process/kernel_connects)",
    )
    parser.add_argument(
        "--watcher",
        choices=["process", "thread", "none"],
        default="process",
        help="the SYN watcher in a process of its own (livetap's way), a thread, or none",
    )
    args = parser.parse_args()
    if args.flood:
        for attribute in (False, True):
            _flood_once(args.flood, args.seconds, attribute=attribute)
        return 0

    port = _free_port()
    import socket

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if args.udp:  # the datagrams' destination: a socket of this process, never read
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        receiver.bind((LOOPBACK, port))
    server_command = [sys.executable, "-m", "http.server", "-b", LOOPBACK, str(port)]
    server = subprocess.Popen(
        ["sleep", "3600"] if args.udp else server_command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/tmp",
    )
    attributor = Attributor()
    if not args.no_kernel_hook:  # as LiveAttribution does
        from engine.process.kernel_connects import open_kernel_connects

        attributor.kernel, attributor.kernel_missing = open_kernel_connects()
    watcher: SynWatcher | WatcherProcess | None = None
    if args.watcher == "process":
        watcher = WatcherProcess(attributor, "lo")
    elif args.watcher == "thread":
        watcher = SynWatcher("lo", attributor.learn_connection).start()
    stop = threading.Event()
    tally = Tally()
    capture = threading.Thread(
        target=_capture, args=(port, attributor, stop, tally, "udp" if args.udp else "tcp")
    )
    curls: dict[int, list[int]] = defaultdict(list)
    try:
        time.sleep(1.0)  # the server binds
        capture.start()
        time.sleep(0.3)
        wall = time.monotonic()
        process_cpu = time.process_time()
        for _ in range(args.requests):
            client = ["/usr/bin/python3", "-c", SEND_ONE, LOOPBACK, str(port)]
            curl = subprocess.Popen(
                client
                if args.udp
                else [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{local_port}",
                    f"http://{LOOPBACK}:{port}/",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            out, _ = curl.communicate()
            if out.strip().isdigit():
                curls[int(out)].append(curl.pid)
        time.sleep(SETTLE)
        stop.set()
        capture.join()
        wall = time.monotonic() - wall
        process_cpu = time.process_time() - process_cpu
        watcher_cpu = watcher.cpu_seconds() if isinstance(watcher, WatcherProcess) else 0.0
    finally:
        if watcher is not None:
            watcher.stop()
        server.kill()
        server.wait()
        receiver.close()
    _judge(tally, port, server.pid, curls, one_each=args.udp)
    counters = attributor.counters
    share = 100 * tally.right / max(1, tally.packets)
    what = "UDP senders (one datagram each)" if args.udp else "curl connections"
    print(f"requests: {args.requests} {what} ({len(curls)} client ports), {wall:.1f} s")
    hook = attributor.kernel is not None
    udp_hook = hook and attributor.kernel is not None and attributor.kernel.records_udp
    print(f"SYN watcher: {args.watcher}, kernel hook: {hook} (UDP: {udp_hook})")
    print(f"packets: {tally.packets}, right process: {tally.right} ({share:.2f} %)")
    print(f"wrong process: {tally.wrong} (target 0)")
    for reason, count in sorted(tally.reasons.items(), key=lambda item: -item[1]):
        print(f"  unknown or wrong: {count:6d}  {reason}")
    per_packet = counters.lookups / max(1, tally.packets)
    print(
        f"lookups: {counters.lookups} ({counters.lookups / wall:.0f}/s, "
        f"{per_packet:.3f} per packet), /proc scans: {attributor.scans}"
    )
    lookup_share = 100 * counters.lookup_seconds / wall
    print(
        f"CPU: lookups {counters.lookup_seconds:.2f} s ({lookup_share:.1f} % of one core), "
        f"capture+attribute thread {tally.cpu:.2f} s, whole benchmark process "
        f"{100 * process_cpu / wall:.1f} % of one core (includes starting the curls)"
    )
    if args.watcher == "process":
        share_watcher = 100 * watcher_cpu / wall
        print(f"CPU: watcher process {watcher_cpu:.2f} s ({share_watcher:.1f} % of one core)")
    print(f"per packet on a known flow: {_per_packet_cost(attributor, port):.2f} µs (for_frame)")
    attributor.close()
    return 0 if share >= 99 and not tally.wrong else 1


if __name__ == "__main__":
    sys.exit(main())
