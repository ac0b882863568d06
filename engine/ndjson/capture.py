"""An NDJSON capture: browser events and packet summaries to a rotating file, live.

Browser events arrive in the browser thread and are queued; one writer thread
turns them into lines (fetching bodies when asked, which must not happen in the
browser thread) and picks up new packets from the capture ring every 50 ms. A
write error (full disk, lost permission) stops the capture cleanly and is
reported; the sources keep running.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.browser.records import BrowserEvent, ResponseBody
from engine.errors import LivetapError, UsageError
from engine.ndjson.lines import browser_line, iso_time, packet_line
from engine.ndjson.url_filter import UrlFilter
from engine.ndjson.writer import MIB, RotatingWriter
from engine.view import RingTimes

if TYPE_CHECKING:
    from engine.browser.source import BrowserSource
    from engine.display_filter import DisplayFilter
    from engine.session import CaptureSession

DEFAULT_MAX_SIZE_MB = 100.0
PACKET_INTERVAL = 0.05


@dataclass(frozen=True)
class NdjsonOptions:
    """What to capture, where, and how."""

    path: Path
    max_size_mb: float = DEFAULT_MAX_SIZE_MB
    url_filter: UrlFilter = field(default_factory=UrlFilter)
    include_bodies: bool = False
    include_sensitive: bool = False
    append: bool = False
    browser: bool = True
    packets: bool = False
    display_filter: str = ""
    """Write only the packet events this display filter matches (``-Y``); empty: all."""

    def __post_init__(self) -> None:
        if not self.max_size_mb > 0:
            raise UsageError(f"--max-size must be more than 0 MB, not {self.max_size_mb}")


@dataclass(frozen=True, slots=True)
class NdjsonStats:
    """Figures for the status bar and the stop report."""

    file: str
    events: int
    files: int
    bytes: int
    running: bool
    error: str | None


class NdjsonCapture:
    """Streams the chosen sources to an NDJSON file until stopped (or until a write fails)."""

    def __init__(
        self,
        options: NdjsonOptions,
        browser: BrowserSource | None = None,
        packets: CaptureSession | None = None,
    ) -> None:
        if options.browser and browser is None and not options.packets:
            raise UsageError(
                "nothing to capture: no browser is connected and packets were not chosen"
            )
        self.options = options
        self.path = options.path.resolve()
        self._browser = browser if options.browser else None
        self._packets = packets if options.packets else None
        self._queue: queue.SimpleQueue[BrowserEvent | None] = queue.SimpleQueue()
        self._kept: dict[int, bool] = {}
        self._seq_of: dict[str, int] = {}
        self._writer: RotatingWriter | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._error: LivetapError | None = None
        self._next_packet = 0
        self._display_filter: DisplayFilter | None = None
        if options.display_filter:
            from engine.filter_file import compile_filter

            self._display_filter = compile_filter(options.display_filter)
        self._times: RingTimes | None = None
        self.packets_matched = 0
        self.packets_missed = 0
        self.started = 0.0
        self.stopped: float | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        """Open the file (errors raise here), subscribe, and return the start report."""
        max_bytes = int(self.options.max_size_mb * MIB)
        self._writer = RotatingWriter(self.path, max_bytes, self.options.append)
        self.started = time.time()
        if self._packets is not None:
            self._next_packet = self._packets.ring.last_index + 1
            self._times = RingTimes(self._packets.ring)
        if self._browser is not None:
            self._browser.tracker.listeners.append(self._queue.put)
        self._thread = threading.Thread(target=self._run, name="livetap-ndjson", daemon=True)
        self._thread.start()
        return self.start_report()

    def stop(self) -> dict[str, Any]:
        """Unsubscribe, write what is queued, close the file; return the stop report."""
        if self._browser is not None and self._queue.put in self._browser.tracker.listeners:
            self._browser.tracker.listeners.remove(self._queue.put)
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(10)
        if self._writer is not None:
            self._writer.close()
        if self.stopped is None:
            self.stopped = time.time()
        return self.stop_report()

    @property
    def error(self) -> LivetapError | None:
        """Why the capture stopped on its own, if it did."""
        return self._error

    @property
    def running(self) -> bool:
        """True while lines are being written."""
        return self._thread is not None and self._thread.is_alive()

    def start_report(self) -> dict[str, Any]:
        """The contract's start ``data``."""
        return {
            "file": str(self.path),
            "started": iso_time(self.started),
            "filter": self.options.url_filter.describe(),
            "maxSizeMB": self.options.max_size_mb,
        }

    def stop_report(self) -> dict[str, Any]:
        """The contract's stop ``data`` (also usable while running, as a status)."""
        writer = self._writer
        report: dict[str, Any] = {
            "file": str(self.path),
            "stopped": iso_time(self.stopped) if self.stopped else None,
            "eventsWritten": writer.events_written if writer else 0,
            "filesCreated": writer.files_created if writer else 0,
            "totalSizeMB": round((writer.bytes_written if writer else 0) / MIB, 3),
        }
        if self.packets_missed:
            report["packetsMissed"] = self.packets_missed
        if self._display_filter is not None:
            report["displayFilter"] = self._display_filter.text
            report["packetsMatched"] = self.packets_matched
        return report

    def stats(self) -> NdjsonStats:
        """Figures for the status bar."""
        writer = self._writer
        return NdjsonStats(
            file=str(self.path),
            events=writer.events_written if writer else 0,
            files=writer.files_created if writer else 0,
            bytes=writer.bytes_written if writer else 0,
            running=self.running,
            error=self._error.message if self._error else None,
        )

    # -- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        """Write queued browser events and new packets until stopped or a write fails."""
        try:
            while True:
                try:
                    item = self._queue.get(timeout=PACKET_INTERVAL)
                except queue.Empty:
                    item = None
                if item is not None:
                    self._write_browser_event(item)
                self._write_new_packets()
                if self._stop.is_set() and self._queue.empty():
                    break
        except LivetapError as error:
            self._fail(error)
        except Exception as error:  # a bug must end the capture visibly, not kill it silently
            self._fail(LivetapError(f"the NDJSON capture stopped on an internal error: {error!r}"))

    def _fail(self, error: LivetapError) -> None:
        """Stop writing for good: keep the reason for the reports, stop queueing events."""
        self._error = error
        self.stopped = time.time()
        if self._browser is not None and self._queue.put in self._browser.tracker.listeners:
            self._browser.tracker.listeners.remove(self._queue.put)

    def _write(self, line: dict[str, Any]) -> None:
        assert self._writer is not None
        self._writer.write(line)

    def _write_browser_event(self, event: BrowserEvent) -> None:
        """One browser event as a line, if its request passes the URL filter."""
        record = event.record
        if event.kind == "request" or record.seq not in self._kept:
            self._kept[record.seq] = self.options.url_filter.allows(record.url)
            self._seq_of[record.id] = record.seq
        if not self._kept[record.seq]:
            return
        body: ResponseBody | None = None
        body_error: str | None = None
        wants_body = (
            self.options.include_bodies
            and not record.redirected_to
            and record.resource_type != "WebSocket"  # frames are its body: ws.frame lines
        )
        if event.kind == "finished" and wants_body and self._browser is not None:
            try:
                body = self._browser.fetch_body(record.id, timeout=5)
            except LivetapError as error:
                body_error = error.message
            except (ValueError, TypeError) as error:  # the browser sent a body that is no body
                body_error = f"the browser sent an unreadable body ({error})"
        redirected_from = None
        if record.redirect_from and record.redirect_from in self._seq_of:
            redirected_from = f"req_{self._seq_of[record.redirect_from]}"
        line = browser_line(
            event,
            include_sensitive=self.options.include_sensitive,
            include_bodies=self.options.include_bodies,
            body=body,
            redirected_from=redirected_from,
        )
        if body_error:
            line["bodyError"] = body_error
        self._write(line)

    def _write_new_packets(self) -> None:
        """Packet lines for everything that reached the ring since the last look."""
        session = self._packets
        if session is None:
            return
        ring = session.ring
        display_filter = self._display_filter
        last = ring.last_index
        if self._next_packet < ring.first_index:
            self.packets_missed += ring.first_index - self._next_packet
            self._next_packet = ring.first_index
        while self._next_packet <= last:
            packet = ring.get(self._next_packet)
            if packet is None:
                self.packets_missed += 1
            elif display_filter is None or display_filter.matches_packet(packet, self._times):
                several = len(session.source.source_names) > 1
                process = session.process_of(packet.index)
                self._write(packet_line(packet, several, process))
                self.packets_matched += 1
            self._next_packet += 1
