"""A long run of the live TUI under a steady load: flat memory, bounded queues, counted drops.

A sender process sends small UDP datagrams to 127.0.0.1 at a steady rate
(``--rate``, default 20,000/s) for a bounded time (``--minutes``, default 30):
never faster than the rate, and it stops at the end. livetap runs the way the TUI
runs it: the app (headless, 160×45) on a capture session of ``lo`` filtered on the
sender's port, holding a ring of ``--ring`` packets (the default fills within about
10 s, after which every new packet evicts the oldest), and, unless ``--no-browser``,
a headless Chromium it launched (as ``livetap --browser launch`` does) browsing the
``livetap demo`` site on 127.0.0.1, whose pages move on by themselves in a loop
(about 1.5 requests a second). The browser pane holds ``--max-requests`` requests
(default 500, full after about 6 minutes; the app's default is 100,000): until it is
full its memory grows with every request, by design, so memory is judged from the
moment both the ring and the pane are full.

Every ``--sample`` seconds it prints one line: the datagrams sent so far (as the
sender last reported, at most 0.1 s old), packets captured, kernel drops, ring
evictions, packets held in the ring, the resident memory of this process (as it
is: a forced full collection of the app's objects held the GIL for up to 0.3 s,
long enough to cost packets) with the memory blocks Python's allocator holds (flat
blocks under a growing RSS point at the C heap, not at objects kept), the memory of
the Chromium (the sum over its processes, read in a thread: it takes up to 2 s), the
queues between the engine and the UI, and the browser requests tracked. The queues:

- ``ui``: packets captured but not yet pulled by the main screen (it polls 15 times
  a second, so about rate/15 is normal);
- ``kern``: blocks of the kernel's capture ring filled and not yet read by the
  capture thread (of the ring's total);
- ``ana``: batches waiting for the live statistics thread (it skips and counts
  packets past 64 batches);
- ``msg``: messages waiting in the Textual message queues (the app, its screen and
  their widgets);
- ``brw``: changed request records the browser pane has not yet taken.

Their maxima are checked 4 times a second, between samples too. A queue "grew" when
every sample in the last third of the run exceeds every sample in its first third
and a floor (half a second of packets, half the kernel ring, 16 batches, 50
messages, 100 records): a queue that only fluctuates does not. It takes at least 6
samples taken while sending.

At the end: sent against captured + kernel drops (does every datagram show up in
some counter? the sender stops, then the capture gets 1.5 s to drain the socket, as
``capture.py`` does; what is still in flight after that is a known small tail), what
the pane's requests cost while it filled (kB per request), the resident memory once
the ring and the pane were full against the end (issue 9's target: flat within 5%)
and over the second half of the run (the UI's render caches, such as rich's 16,384
split segments, fill for a while after the ring does: bounded growth shows as a flat
second half), the queues' maxima and whether any grew, and the browser requests seen.
``--trace-memory N`` traces allocations from that moment on and lists the N places
that grew most by the end (slow: use a lower ``--rate``).

    sudo .venv/bin/python benchmarks/soak.py [--minutes 30] [--rate 20000] [--ring 200000]
        [--sample 10] [--no-browser] [--max-requests 500] [--trace-memory N]

Needs root (packet sockets). Nothing is sent anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil
from rich.segment import Segment

from benchmarks.capture import LOOPBACK, SETTLE, free_port
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from engine.config import DEFAULT_BUFFER
from engine.errors import ExitCode, LivetapError, PermissionDeniedError
from engine.live import (
    _STATUS_OFFSET,
    BLOCK_SIZE,
    TP_STATUS_USER,
    LiveSource,
    check_capture_privilege,
)
from engine.session import CaptureSession
from tui.app import LivetapApp
from tui.demo.site import demo_site

RSS_TARGET = 5.0
"""Issue 9: resident memory once the ring is full stays flat within this many percent."""
STEP = 0.25
"""Seconds between the checks of the queues and of the ring filling up."""
BURST = 0.005
"""The most the sender sends at once, in seconds' worth at its rate (its token bucket)."""
REPORT_EVERY = 0.1
"""Seconds between the sender's progress lines."""
SENDER_GRACE = 30.0
"""Seconds past its end before a sender that did not stop is killed."""
_BLOCK_STATUS = struct.Struct("=I")
SOAK_MAX_REQUESTS = 500
"""The demo site makes about 1.5 requests a second: the pane holds 500 after about 6 minutes.
Until its cap, the pane's memory grows with every request it holds, by design."""
TRACE_FRAMES = 12
"""Frames kept per traced allocation: enough to see which caller of a library grew."""


# -- the sender ---------------------------------------------------------------------------------


def send(port: int, rate: int, seconds: float, size: int) -> None:
    """Runs in the sender process: at most ``rate`` datagrams a second for ``seconds``.

    A token bucket paces ``sendto()`` calls: tokens come at ``rate`` a second and at
    most ``BURST`` seconds' worth are saved up, so a stalled sender never catches up
    faster than the rate. It stops after ``rate × seconds`` datagrams or ``seconds``,
    whichever comes first. Prints ``progress SENT ELAPSED`` every 0.1 s and
    ``end SENT ELAPSED ERRORS`` last; it ends at once if its reader went away.
    """
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind((LOOPBACK, port))  # takes the datagrams, so the kernel sends no ICMP errors
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    payload = b"x" * size
    address = (LOOPBACK, port)
    sendto = sender.sendto
    total = int(rate * seconds)
    bucket = max(1.0, rate * BURST)
    tokens = 0.0
    sent = errors = 0
    start = last = time.perf_counter()
    next_report = REPORT_EVERY
    try:
        while sent < total:
            now = time.perf_counter()
            elapsed = now - start
            if elapsed >= seconds:
                break
            tokens = min(bucket, tokens + (now - last) * rate)
            last = now
            count = min(int(tokens), total - sent)
            if count <= 0:
                time.sleep(0.0005)
                continue
            tokens -= count
            for _ in range(count):
                try:
                    sendto(payload, address)
                except OSError:
                    errors += 1
                else:
                    sent += 1
            if elapsed >= next_report:
                print(f"progress {sent} {elapsed:.3f}", flush=True)
                next_report += REPORT_EVERY
        print(f"end {sent} {time.perf_counter() - start:.3f} {errors}", flush=True)
    except (BrokenPipeError, KeyboardInterrupt):
        pass  # the soak ended, died or was interrupted (Ctrl-C reaches the group): stop
    finally:
        sender.close()
        sink.close()


class Sender:
    """The sender process and what it last reported."""

    def __init__(self, port: int, rate: int, seconds: float, size: int) -> None:
        self.sent = 0
        self.elapsed = 0.0
        self.errors = 0
        self.finished = False
        self.deadline = time.monotonic() + seconds + SENDER_GRACE
        script = str(Path(__file__).resolve())
        arguments = [str(port), str(rate), str(seconds), str(size)]
        self.process = subprocess.Popen(
            [sys.executable, script, "--send", *arguments],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name="soak-sender", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        for line in stdout:
            words = line.split()
            if len(words) >= 3 and words[0] in {"progress", "end"}:
                self.sent, self.elapsed = int(words[1]), float(words[2])
            if len(words) == 4 and words[0] == "end":
                self.errors = int(words[3])
                self.finished = True

    def end_early(self) -> None:
        """Ask the process to stop now (an interrupted soak); it is reaped by ``stop``."""
        if self.process.poll() is None:
            self.process.terminate()

    @property
    def running(self) -> bool:
        """True until the process has ended."""
        return self.process.poll() is None

    def stop(self) -> None:
        """End the process if it still runs (it normally ends by itself) and reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()


# -- what is sampled ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Options:
    """The command line, checked."""

    minutes: float
    rate: int
    ring: int
    sample: float
    size: int
    buffer: int
    browser: bool
    chromium: str | None
    max_requests: int = SOAK_MAX_REQUESTS
    trace_memory: int = 0
    """With more than 0: trace allocations from the moment the ring is full and list
    this many places that grew most by the end (slows the app down: use a lower rate)."""


@dataclass(frozen=True, slots=True)
class Queue:
    """One queue between the engine and the UI: how to read its length, and its floor."""

    key: str
    label: str
    floor: Callable[[Options], int]
    """Below this length a queue is not said to have grown, whatever its trend."""


QUEUES = (
    Queue("ui", "packets not yet pulled by the screen", lambda o: max(o.rate // 2, 100)),
    Queue("kern", "kernel ring blocks not yet read", lambda o: max(2, o.buffer // BLOCK_SIZE // 2)),
    Queue("ana", "batches waiting for the statistics thread", lambda _o: 16),
    Queue("msg", "Textual messages waiting", lambda _o: 50),
    Queue("brw", "request records not yet taken by the pane", lambda _o: 100),
)
"""The floors: half a second of packets, half the kernel ring, a quarter of the statistics
thread's 64 batches, and what a busy second of the UI or the browser leaves waiting."""
GROWTH_SAMPLES = 6
"""Samples while sending needed to judge the queues' growth (two per third)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """The figures at one moment."""

    at: float
    sent: int
    captured: int
    kernel_drops: int | None
    evicted: int
    held: int
    rss_mb: float
    python_blocks: int
    """Memory blocks Python's allocator holds: flat while RSS grows means the C heap grew."""
    chromium_mb: float | None
    queues: dict[str, int]
    requests: int | None
    sending: bool
    error: str | None

    def line(self, kernel_blocks: int) -> str:
        """The sample as one line for a person watching."""
        drops = "?" if self.kernel_drops is None else f"{self.kernel_drops:,}"
        chromium = "-" if self.chromium_mb is None else f"{self.chromium_mb:,.0f}"
        requests = "-" if self.requests is None else f"{self.requests:,}"
        q = self.queues
        text = (
            f"{self.at:6.0f}s  sent {self.sent:>10,}  capt {self.captured:>10,}  drops {drops:>5}"
            f"  evict {self.evicted:>10,}  held {self.held:>7,}  RSS {self.rss_mb:6.1f} MB"
            f" ({self.python_blocks / 1e6:.2f}M blocks)"
            f"  chromium {chromium:>5} MB  queues ui {q['ui']:>6,} kern {q['kern']}/{kernel_blocks}"
            f" ana {q['ana']} msg {q['msg']} brw {q['brw']}  requests {requests}"
        )
        return text + (f"  ERROR {self.error}" if self.error else "")


@dataclass
class Run:
    """Everything gathered while the soak runs."""

    samples: list[Sample] = field(default_factory=list)
    maxima: dict[str, int] = field(default_factory=lambda: {queue.key: 0 for queue in QUEUES})
    ring_full_rss: float | None = None
    full_at: float | None = None
    """When everything bounded was full: the ring, and the browser pane's requests."""
    full_rss: float | None = None
    full_chromium: float | None = None
    sent: int = 0
    send_seconds: float = 0.0
    send_errors: int = 0
    sender_finished: bool = False
    final: Sample | None = None
    requests_held: int = 0
    requests_evicted: int = 0
    browser_state: str = ""
    analysis_skipped: int = 0
    sample_ms: float = 0.0
    """The longest a sample held the UI's event loop."""
    interrupted: bool = False
    """Ctrl-C or SIGTERM ended the load early; the report covers what ran."""
    traced_from: tracemalloc.Snapshot | None = None
    traced_to: tracemalloc.Snapshot | None = None


def say(text: str = "") -> None:
    """Print at once, also while the app runs (Textual redirects ``sys.stdout`` then)."""
    out = sys.__stdout__
    if out is not None:
        out.write(text + "\n")
        out.flush()


def rss_mb() -> float:
    """This process's resident memory, as it is (no forced collection: see the docstring)."""
    return psutil.Process().memory_info().rss / 1e6


def render_caches() -> str:
    """How full rich's cache of split segments is: it fills as new rows are drawn (warm-up)."""
    info = Segment._split_cells.cache_info()
    return (
        f"rich's Segment._split_cells cache: {info.currsize:,} of {info.maxsize or 0:,} entries"
        " (bounded; the UI's memory grows until it and Textual's caches are full)"
    )


def chromium_mb(browser: BrowserSession | None) -> float | None:
    """Resident memory of the launched Chromium: the sum over it and all its descendants."""
    launched = browser.browser_process if browser is not None else None
    if launched is None or not launched.running:
        return None
    try:
        root = psutil.Process(launched.process.pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total / 1e6


def requests_held(browser: BrowserSession | None) -> int:
    """Requests the browser pane's tracker holds now (0 without a browser)."""
    return len(browser.tracker._records) if browser is not None else 0


def kernel_blocks_waiting(source: LiveSource) -> int:
    """Blocks of the kernel's ring that are filled and handed over but not read yet."""
    waiting = 0
    try:
        for block in range(source._blocks):
            (status,) = _BLOCK_STATUS.unpack_from(source._map, block * BLOCK_SIZE + _STATUS_OFFSET)
            waiting += bool(status & TP_STATUS_USER)
    except ValueError:  # the ring was unmapped: the capture stopped
        return 0
    return waiting


def queue_lengths(
    app: LivetapApp, session: CaptureSession, browser: BrowserSession | None
) -> dict[str, int]:
    """The length of every queue between the engine and the UI, now."""
    source = session.source
    analysis = session.analysis
    pumps = [app, *app.screen.walk_children(with_self=True)] if app.screen_stack else [app]
    return {
        "ui": max(0, session.ring.last_index - session._polled_to),
        "kern": kernel_blocks_waiting(source) if isinstance(source, LiveSource) else 0,
        "ana": analysis._queue.qsize() if analysis is not None else 0,
        "msg": sum(pump.message_queue_size for pump in pumps),
        "brw": len(browser.tracker._changed) if browser is not None else 0,
    }


# -- the run --------------------------------------------------------------------------------------


def take_sample(
    at: float,
    app: LivetapApp,
    session: CaptureSession,
    browser: BrowserSession | None,
    sender: Sender,
    *,
    chromium: float | None,
) -> Sample:
    """Read every figure now, the queues first (Chromium's memory is read before, in a thread)."""
    queues = queue_lengths(app, session, browser)
    stats = session.stats()
    return Sample(
        at=at,
        sent=sender.sent,
        captured=stats.packets,
        kernel_drops=stats.kernel_drops,
        evicted=stats.evicted,
        held=stats.buffered,
        rss_mb=rss_mb(),
        python_blocks=sys.getallocatedblocks(),
        chromium_mb=chromium,
        queues=queues,
        requests=browser.tracker.total if browser is not None else None,
        sending=sender.running,
        error=stats.error,
    )


async def wait_for_capture(session: CaptureSession, timeout: float = 10.0) -> None:
    """Until the app started the capture thread (it does so after the first frame)."""
    deadline = time.monotonic() + timeout
    while not session.running:
        if time.monotonic() > deadline:
            raise LivetapError(f"the app did not start the capture within {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def soak(
    options: Options, session: CaptureSession, browser: BrowserSession | None, port: int
) -> Run:
    """Run the app under the sender's load, sampling, until the sender ended and settled."""
    run = Run()
    seconds = options.minutes * 60
    blocks = session.source._blocks if isinstance(session.source, LiveSource) else 0
    app = LivetapApp(session, browser=browser)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(0.5)
        await wait_for_capture(session)
        sender = Sender(port, options.rate, seconds, options.size)
        started = time.monotonic()

        def interrupt() -> None:
            run.interrupted = True
            sender.end_early()

        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):  # end early, still report
            loop.add_signal_handler(number, interrupt)
        try:
            next_sample = options.sample
            while sender.running:
                if time.monotonic() > sender.deadline:
                    say(f"the sender did not stop {SENDER_GRACE:.0f} s after its end: killed")
                    break
                await asyncio.sleep(STEP)
                at = time.monotonic() - started
                for key, length in queue_lengths(app, session, browser).items():
                    run.maxima[key] = max(run.maxima[key], length)
                if run.ring_full_rss is None and len(session.ring) >= options.ring:
                    run.ring_full_rss = rss_mb()
                    if browser is not None:  # the pane fills later: a milestone of its own
                        say(f"{at:6.0f}s  the ring is full ({options.ring:,} packets)")
                if (
                    run.full_at is None
                    and run.ring_full_rss is not None
                    and requests_held(browser) >= (options.max_requests if browser else 0)
                ):
                    run.full_at, run.full_rss = at, rss_mb()
                    run.full_chromium = await asyncio.to_thread(chromium_mb, browser)
                    pane = (
                        f" and the pane holds {options.max_requests:,} requests"
                        if browser
                        else f" ({options.ring:,} packets)"
                    )
                    say(
                        f"{at:6.0f}s  the ring is full{pane}: RSS {run.full_rss:.1f} MB"
                        f" from now on must stay within {RSS_TARGET:g}%"
                    )
                    if options.trace_memory:
                        tracemalloc.start(TRACE_FRAMES)
                        run.traced_from = tracemalloc.take_snapshot()
                if at >= next_sample:
                    chromium = await asyncio.to_thread(chromium_mb, browser)  # slow: off the loop
                    took = time.perf_counter()
                    sample = take_sample(at, app, session, browser, sender, chromium=chromium)
                    took = (time.perf_counter() - took) * 1000
                    run.sample_ms = max(run.sample_ms, took)
                    run.samples.append(sample)
                    for key, length in sample.queues.items():
                        run.maxima[key] = max(run.maxima[key], length)
                    say(sample.line(blocks))
                    next_sample += options.sample
        finally:
            sender.stop()
            for number in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(number)
        if run.interrupted:
            say("interrupted: the load ended early; what ran so far:")
        run.sent, run.send_seconds = sender.sent, sender.elapsed
        run.send_errors, run.sender_finished = sender.errors, sender.finished
        await asyncio.sleep(SETTLE)  # what the kernel still holds reaches the ring
        at = time.monotonic() - started
        chromium = await asyncio.to_thread(chromium_mb, browser)
        run.final = take_sample(at, app, session, browser, sender, chromium=chromium)
        if tracemalloc.is_tracing():
            run.traced_to = tracemalloc.take_snapshot()
            tracemalloc.stop()
        say(run.final.line(blocks) + "  (end: sender stopped, settled)")
        analysis = session.analysis
        run.analysis_skipped = analysis.skipped if analysis is not None else 0
        if browser is not None:
            run.requests_held = requests_held(browser)
            run.requests_evicted = browser.tracker.evicted
            run.browser_state = browser.status().state.value
    return run


def grew(values: list[int], floor: int) -> bool:
    """Whether every value of the last third exceeds every value of the first third, and floor."""
    if len(values) < GROWTH_SAMPLES:
        return False
    third = len(values) // 3
    return min(values[-third:]) > max(*values[:third], floor)


def report(options: Options, run: Run) -> None:
    """The verdicts."""
    final = run.final
    assert final is not None
    say()
    achieved = run.sent / run.send_seconds if run.send_seconds > 0 else 0.0
    finished = "" if run.sender_finished else " (the sender did not report its end)"
    say(
        f"sent        {run.sent:,} datagrams in {run.send_seconds:.1f} s"
        f" ({achieved:,.0f}/s of {options.rate:,}/s asked), send errors {run.send_errors:,}"
        + finished
    )
    share = final.captured / run.sent if run.sent else 0.0
    drops = final.kernel_drops or 0
    say(
        f"captured    {final.captured:,} ({share:.3%})  kernel drops {drops:,}"
        f"  ring evictions {final.evicted:,}  held {final.held:,}"
        f"  statistics skipped {run.analysis_skipped:,} (counted)"
    )
    counted = final.captured + drops
    missing = run.sent - counted
    if missing == 0:
        verdict = "yes: every datagram sent was captured or counted as a kernel drop"
    elif missing > 0:
        verdict = (
            f"no: {missing:,} ({missing / run.sent:.4%}) neither captured nor counted as"
            f" dropped, {SETTLE:g} s after the sender stopped (still in flight at the stop,"
            " a known small tail, or lost unreported)"
        )
    else:
        verdict = f"no: {-missing:,} more captured than sent (other traffic to port?)"
    say(f"accounted   captured + kernel drops = {counted:,} of {run.sent:,} sent: {verdict}")
    if options.browser and run.ring_full_rss is not None and run.full_rss is not None:
        say(
            f"filling     RSS {run.ring_full_rss:.1f} MB once the ring was full, {run.full_rss:.1f}"
            f" MB once the pane also held {options.max_requests:,} requests (at {run.full_at:.0f}"
            " s): the render caches' warm-up and the requests held, bounded by --max-requests"
        )
    if run.full_rss is None:
        if run.ring_full_rss is None:
            what = f"the ring never filled ({final.held:,} of {options.ring:,} held)"
        else:
            what = (
                f"the pane never filled ({run.requests_held:,} of {options.max_requests:,}"
                " requests held): lower --max-requests or run longer"
            )
        say(f"memory      not judged: {what}; end RSS {final.rss_mb:.1f} MB")
    else:
        growth = (final.rss_mb - run.full_rss) / run.full_rss * 100
        peak = max(sample.rss_mb for sample in [*run.samples, final])
        flat = "yes" if growth <= RSS_TARGET else "NO"
        full = "the ring was full" + (
            f" and the pane held {options.max_requests:,} requests" if options.browser else ""
        )
        say(
            f"memory      RSS {run.full_rss:.1f} MB once {full}"
            f" (at {run.full_at:.0f} s), {final.rss_mb:.1f} MB at the end: {growth:+.1f}%;"
            f" flat within {RSS_TARGET:g}% (issue 9): {flat}"
        )
        middle = next((s for s in run.samples if s.at >= final.at / 2), final)
        half = (final.rss_mb - middle.rss_mb) / middle.rss_mb * 100
        say(
            f"            second half: {middle.rss_mb:.1f} MB at {middle.at:.0f} s to"
            f" {final.rss_mb:.1f} MB ({half:+.1f}%); peak sample {peak:.1f} MB"
        )
    say(f"            {render_caches()}")
    if options.browser:
        if run.full_chromium is not None and final.chromium_mb is not None:
            growth = (final.chromium_mb - run.full_chromium) / run.full_chromium * 100
            say(
                f"chromium    RSS {run.full_chromium:.0f} MB once the pane was full,"
                f" {final.chromium_mb:.0f} MB at the end ({growth:+.1f}%; the sum over its"
                " processes, shared pages counted in each)"
            )
        else:
            end = "-" if final.chromium_mb is None else f"{final.chromium_mb:.0f} MB"
            say(f"chromium    RSS at the end {end}")
    maxima = ", ".join(f"{queue.key} {run.maxima[queue.key]:,}" for queue in QUEUES)
    say(f"queues      max ({STEP:g} s checks): {maxima}")
    for queue in QUEUES:
        say(f"              {queue.key:<5} {queue.label}")
    say(
        f"            (taking a sample held the UI's event loop for at most {run.sample_ms:.0f} ms)"
    )
    during = [sample for sample in run.samples if sample.sending]
    grown = [
        queue.key
        for queue in QUEUES
        if grew([sample.queues[queue.key] for sample in during], queue.floor(options))
    ]
    if len(during) < GROWTH_SAMPLES:
        say(
            f"            growth: not judged ({len(during)} samples while sending,"
            f" {GROWTH_SAMPLES} needed)"
        )
    elif grown:
        say(f"            growth: GREW: {', '.join(grown)} (every late sample above every early)")
    else:
        say(
            f"            growth: no queue grew over {len(during)} samples while sending"
            " (none had every late sample above every early one and its floor)"
        )
    if options.browser:
        say(
            f"browser     requests seen {final.requests or 0:,} (held {run.requests_held:,},"
            f" evicted {run.requests_evicted:,}); connection {run.browser_state}"
        )
    if final.error:
        say(f"capture     ERROR: {final.error}")
    if run.traced_from is not None and run.traced_to is not None:
        report_growth(run.traced_from, run.traced_to, options.trace_memory)


def report_growth(first: tracemalloc.Snapshot, last: tracemalloc.Snapshot, places: int) -> None:
    """Where the traced memory grew from when the ring (and pane) were full to the end."""
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    first, last = first.filter_traces(ignore), last.filter_traces(ignore)
    total = sum(stat.size_diff for stat in last.compare_to(first, "filename"))
    say(f"traced      {total / 1e6:+.1f} MB allocated and still held since all was full")
    for stat in last.compare_to(first, "traceback")[:places]:
        if stat.size_diff <= 0:
            break
        say(f"  {stat.size_diff / 1e6:+7.2f} MB in {stat.count_diff:+,} blocks, allocated at:")
        for frame in reversed(stat.traceback[-TRACE_FRAMES:]):
            say(f"      {frame.filename}:{frame.lineno}")


def run_soak(options: Options) -> Run:
    """Start the site and the browser, open the capture, soak; stop everything after."""
    port = free_port()
    with contextlib.ExitStack() as stack:
        browser: BrowserSession | None = None
        session: CaptureSession | None = None
        try:
            if options.browser:
                url = stack.enter_context(demo_site())
                target = BrowserTarget(launch=True, chromium=options.chromium)
                browser = BrowserSession(
                    target, open_url=f"{url}/", max_requests=options.max_requests
                )
                browser.start()
            source = LiveSource("lo", buffer_size=options.buffer, expression=f"udp port {port}")
            session = CaptureSession(source, options.ring)
            say(
                f"soak: {options.rate:,} datagrams/s of {options.size} bytes to"
                f" {LOOPBACK}:{port} for {options.minutes:g} min; ring {options.ring:,} packets;"
                f" kernel ring {options.buffer >> 20} MiB; browser"
                f" {'launched, on the demo site' if browser else 'none'};"
                f" a sample every {options.sample:g} s"
            )
            return asyncio.run(soak(options, session, browser, port))
        finally:
            if session is not None:
                session.stop()
            if browser is not None:
                browser.stop()


def parse_arguments() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Needs root (packet sockets). Nothing is sent anywhere but 127.0.0.1.",
    )
    parser.add_argument(
        "--minutes", type=float, default=30.0, help="length of the load (default %(default)g)"
    )
    parser.add_argument(
        "--rate", type=int, default=20_000, help="datagrams per second (default %(default)d)"
    )
    parser.add_argument(
        "--ring", type=int, default=200_000, help="packets the ring holds (default %(default)d)"
    )
    parser.add_argument(
        "--sample", type=float, default=10.0, help="seconds between samples (default %(default)g)"
    )
    parser.add_argument(
        "--size", type=int, default=32, help="UDP payload bytes (default %(default)d)"
    )
    parser.add_argument(
        "--buffer",
        type=int,
        default=DEFAULT_BUFFER,
        help="kernel ring bytes (default %(default)d, the TUI's)",
    )
    parser.add_argument("--no-browser", action="store_true", help="no Chromium: packets only")
    parser.add_argument(
        "--max-requests",
        type=int,
        default=SOAK_MAX_REQUESTS,
        metavar="N",
        help="requests the browser pane holds (default %(default)d: full within minutes,"
        " so the run judges the steady state; the app holds 100000 by default)",
    )
    parser.add_argument("--chromium", metavar="PATH", help="the browser executable to launch")
    parser.add_argument(
        "--trace-memory",
        type=int,
        default=0,
        metavar="N",
        help="trace allocations once the ring and the pane are full; list the N that grew most",
    )
    parser.add_argument("--send", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.send:
        for name in ("minutes", "rate", "ring", "sample", "max_requests"):
            if getattr(args, name) <= 0:
                parser.error(f"--{name.replace('_', '-')} must be above 0")
        if not 0 <= args.size <= 1400:
            parser.error("--size must be 0 to 1400 bytes")
    return args


def main() -> int:
    """Run the soak (or, with the hidden ``--send``, be its sender)."""
    args = parse_arguments()
    if args.send:
        port, rate, seconds, size = args.send
        send(int(port), int(rate), float(seconds), int(size))
        return ExitCode.SUCCESS
    options = Options(
        minutes=args.minutes,
        rate=args.rate,
        ring=args.ring,
        sample=args.sample,
        size=args.size,
        buffer=args.buffer,
        browser=not args.no_browser,
        chromium=args.chromium,
        max_requests=args.max_requests,
        trace_memory=args.trace_memory,
    )
    try:
        check_capture_privilege()
        run = run_soak(options)
    except PermissionDeniedError:
        print(
            "soak: capturing on lo needs root (or CAP_NET_RAW): "
            "sudo .venv/bin/python benchmarks/soak.py",
            file=sys.stderr,
        )
        return ExitCode.PERMISSION_DENIED
    except LivetapError as error:
        print(f"soak: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("soak: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    report(options, run)
    return ExitCode.INTERRUPTED if run.interrupted else ExitCode.SUCCESS


if __name__ == "__main__":
    sys.exit(main())
