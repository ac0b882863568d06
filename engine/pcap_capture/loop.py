"""Headless capture: the capture loop (engine.capture_loop) with a rotating writer as sink."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

from engine import linktypes
from engine.capture_loop import LoopEnd, drain_source, run_loop
from engine.errors import (
    BadInputError,
    LivetapError,
    from_os_error,
)
from engine.pcap_capture.report import CaptureOptions, CaptureProgress, CaptureReport, StopReason
from engine.pcap_capture.writer import RotatingPcapWriter
from engine.pcapio import PcapRecord
from engine.source import PacketSource

PROGRESS_INTERVAL = 0.5


# -- the capture loop -------------------------------------------------------------------


class PcapCapture:
    """One headless capture: the first file is created on construction (errors raise)."""

    def __init__(
        self,
        source: PacketSource,
        options: CaptureOptions,
        observe: Callable[[list[PcapRecord]], None] | None = None,
        comments: Callable[[list[PcapRecord]], list[str]] | None = None,
    ) -> None:
        self.source = source
        self.options = options
        self._observe = observe
        """Shown each batch about to be written, in order (e.g. to learn its processes)."""
        self._comments = comments
        """Each record's pcapng packet comment, asked per batch about to be written (its
        process, learnt while the program still runs)."""
        if options.format == "pcap":
            _one_linktype(source)
        self.writer = RotatingPcapWriter(
            options.path,
            source.linktype,
            snaplen=options.snaplen,
            fmt=options.format,
            rotate_size=options.rotate_size,
            rotate_files=options.rotate_files,
            max_total=options.max_total,
            names=source.source_names,
            secrets=options.secrets,
        )
        self._not_written = 0

    def run(
        self,
        stop_event: threading.Event | None = None,
        on_progress: Callable[[CaptureProgress], None] | None = None,
        progress_interval: float = PROGRESS_INTERVAL,
    ) -> CaptureReport:
        """Capture until a stop condition; never raises for what the OS or source refuse."""
        stop = stop_event or threading.Event()
        started_wall = time.time()
        started = time.monotonic()
        error: LivetapError | None = None
        try:
            reason = self._loop(stop, started_wall, started, on_progress, progress_interval)
        except LivetapError as failure:
            reason, error = StopReason.ERROR, failure
        except OSError as failure:
            reason, error = StopReason.ERROR, from_os_error(failure, "go on capturing")
        if error is not None and self.writer.failed:
            self._count_unwritten(time.time())
        try:
            self.writer.close()
        except LivetapError as failure:
            reason, error = StopReason.ERROR, error or failure
        return self._report(reason, error, started_wall, time.monotonic() - started)

    def _loop(
        self,
        stop: threading.Event,
        started_wall: float,
        started: float,
        on_progress: Callable[[CaptureProgress], None] | None,
        progress_interval: float,
    ) -> StopReason:
        """The capture loop with the writer as its sink; returns what stopped it."""
        tick: Callable[[float], None] | None = None
        if on_progress is not None:
            report = on_progress
            tick = lambda elapsed: report(self.progress(elapsed))  # noqa: E731
        end = run_loop(
            self.source,
            self._write,
            stop,
            duration=self.options.duration,
            drain=True,
            on_tick=tick,
            tick_interval=progress_interval,
        )
        return {
            LoopEnd.STOPPED: StopReason.STOPPED,
            LoopEnd.DURATION: StopReason.DURATION,
            LoopEnd.SOURCE_ENDED: StopReason.SOURCE_ENDED,
        }.get(end) or self._limit_reason()

    def _write(self, records: list[PcapRecord]) -> bool:
        """Write a batch (cut to the count); True when a count or size limit ended it."""
        writer = self.writer
        count = self.options.count
        if count is not None:
            records = records[: count - writer.packets]
        if self._observe is not None:
            self._observe(records)
        texts = self._comments(records) if self._comments is not None else []
        before = writer.packets
        try:
            written = writer.write(records, texts)
        except LivetapError:
            self._not_written += len(records) - (writer.packets - before)
            raise
        return (
            writer.limit_reached
            or written < len(records)
            or (count is not None and writer.packets >= count)
        )

    def _limit_reason(self) -> StopReason:
        """Which limit ended the capture."""
        return StopReason.SIZE_LIMIT if self.writer.limit_reached else StopReason.COUNT

    def _count_unwritten(self, cutoff: float) -> None:
        """After a failed write, count what had arrived already: lost, and the report says so."""

        def count(records: list[PcapRecord]) -> bool:
            self._not_written += len(records)
            return False

        with contextlib.suppress(LivetapError, OSError):
            drain_source(self.source, count, cutoff)

    def progress(self, elapsed: float) -> CaptureProgress:
        """The counters now."""
        return CaptureProgress(
            self.writer.packets,
            self.writer.bytes_written,
            self.source.kernel_drops(),
            elapsed,
            self.writer.files[-1] if self.writer.files else self.writer.base,
        )

    def _report(
        self, reason: StopReason, error: LivetapError | None, started: float, duration: float
    ) -> CaptureReport:
        """Freeze what happened into the report."""
        writer = self.writer
        return CaptureReport(
            source=self.source.description,
            filter=self.source.filter.expression,
            format=writer.format,
            files=tuple(writer.files),
            files_removed=writer.files_removed,
            packets=writer.packets,
            bytes_written=writer.bytes_written,
            wire_bytes=writer.wire_bytes,
            kernel_drops=self.source.kernel_drops(),
            not_written=self._not_written,
            started=started,
            duration=duration,
            stop_reason=reason,
            error=error,
            notes=tuple(writer.notes),
        )


def _one_linktype(source: PacketSource) -> None:
    """Refuse, before any file is made, inputs a pcap file cannot hold together."""
    kinds = dict.fromkeys(source.source_linktypes)
    if len(kinds) > 1:
        described = ", ".join(
            f"{name} is {linktypes.name(kind)}"
            for name, kind in zip(source.source_names, source.source_linktypes, strict=True)
        )
        raise BadInputError(
            f"a pcap file holds one link type, but {described}: "
            "write a .pcapng file instead (-w out.pcapng)"
        )


def run_capture(
    source: PacketSource,
    options: CaptureOptions,
    stop_event: threading.Event | None = None,
    on_progress: Callable[[CaptureProgress], None] | None = None,
    observe: Callable[[list[PcapRecord]], None] | None = None,
) -> CaptureReport:
    """Capture ``source`` into files as ``options`` say; errors after the start are reported.

    ``observe`` sees each batch, in order, before it is written (the MCP tool learns each
    packet's process there, while the program still runs).
    """
    return PcapCapture(source, options, observe).run(stop_event, on_progress)
