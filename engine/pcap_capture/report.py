"""What a headless capture is asked to do and what it reports."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from engine.errors import (
    ExitCode,
    LivetapError,
    UsageError,
)

MB = 1_000_000
"""tcpdump's -C unit: millions of bytes, not MiB."""


class StopReason(StrEnum):
    """Why a capture ended; the JSON report carries the value."""

    COUNT = "count"
    DURATION = "duration"
    STOPPED = "stopped"
    """Asked to stop (Ctrl-C, SIGTERM, the UI)."""
    SIZE_LIMIT = "size-limit"
    """The config's maxCaptureSize was reached."""
    SOURCE_ENDED = "source-ended"
    """A file or command source reached its end."""
    ERROR = "error"


_EXIT_CODES = {
    StopReason.COUNT: ExitCode.SUCCESS,
    StopReason.DURATION: ExitCode.SUCCESS,
    StopReason.SOURCE_ENDED: ExitCode.SUCCESS,
    StopReason.STOPPED: ExitCode.INTERRUPTED,
    StopReason.SIZE_LIMIT: ExitCode.PARTIAL,
}


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    """What to write and when to stop; checked on creation (UsageError)."""

    path: Path
    """The first file; later ones are numbered (see the module docstring)."""
    fmt: str | None = None
    """``pcap`` or ``pcapng``; None picks from the suffix (``.pcapng``: pcapng)."""
    count: int | None = None
    duration: float | None = None
    """Seconds."""
    rotate_size: int | None = None
    """Bytes per file before a new one starts."""
    rotate_files: int | None = None
    """Keep at most this many files (a ring); needs ``rotate_size``."""
    max_total: int | None = None
    """Stop before the run has written more than this many bytes."""
    snaplen: int = 262144
    secrets: Callable[[], bytes] | None = None
    """TLS key log lines to embed as they appear (``--embed-secrets``; pcapng only)."""

    def __post_init__(self) -> None:
        if self.fmt not in (None, "pcap", "pcapng"):
            raise UsageError(f"unknown capture format {self.fmt!r}: use pcap or pcapng")
        for name in ("count", "rotate_size", "rotate_files", "max_total"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UsageError(f"{name.replace('_', ' ')} must be greater than zero")
        if self.duration is not None and not (math.isfinite(self.duration) and self.duration > 0):
            raise UsageError("the duration must be greater than zero")
        if self.rotate_files is not None and self.rotate_size is None:
            raise UsageError("a ring of files (--rotate-files) needs a file size (--rotate-size)")

    @property
    def format(self) -> str:
        """The file format actually written."""
        if self.fmt:
            return self.fmt
        return "pcapng" if self.path.suffix.lower() == ".pcapng" else "pcap"


@dataclass(frozen=True, slots=True)
class CaptureProgress:
    """The counters while a capture runs, for a progress line or a status bar."""

    packets: int
    bytes_written: int
    kernel_drops: int | None
    elapsed: float
    file: Path


@dataclass(frozen=True, slots=True)
class CaptureReport:
    """What a capture did: the files it left, what it counted, and why it ended."""

    source: str
    filter: str
    format: str
    files: tuple[Path, ...]
    """The files the capture left, oldest first (absolute paths)."""
    files_removed: int
    """Older files deleted to keep the ring at ``rotate_files``."""
    packets: int
    """Packets written (all files of the run, removed ones included)."""
    bytes_written: int
    """Bytes written to files in this run, file headers included."""
    wire_bytes: int
    """The written packets' original lengths, summed."""
    kernel_drops: int | None
    """Packets the kernel dropped because the capture could not keep up; None: unknowable."""
    not_written: int
    """Packets that arrived before a failed write ended the capture but are in no file."""
    started: float
    """Seconds since the epoch."""
    duration: float
    stop_reason: StopReason
    error: LivetapError | None = field(default=None, compare=False)
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        """The process exit code this ending deserves (the CLI's return value)."""
        if self.error is not None:
            return self.error.exit_code
        return _EXIT_CODES.get(self.stop_reason, ExitCode.FAILURE)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (the ``data`` of the CLI's document)."""
        return {
            "source": self.source,
            "filter": self.filter,
            "format": self.format,
            "files": [str(path) for path in self.files],
            "files_removed": self.files_removed,
            "packets": self.packets,
            "kernel_drops": self.kernel_drops,
            "bytes": self.bytes_written,
            "wire_bytes": self.wire_bytes,
            "not_written": self.not_written,
            "started": datetime.fromtimestamp(self.started, UTC).isoformat(),
            "duration": round(self.duration, 3),
            "stop_reason": self.stop_reason.value,
            "error": None
            if self.error is None
            else {"code": self.error.code_name, "message": self.error.message},
            "notes": list(self.notes),
        }

    def text_lines(self) -> list[str]:
        """The report for people, one fact per line."""
        drops = "unknown" if self.kernel_drops is None else f"{self.kernel_drops:,}"
        lines = [
            f"capture of {self.source}"
            + (f" (filter {self.filter!r})" if self.filter else "")
            + f" ended: {_REASON_TEXT[self.stop_reason]}",
            "files:" if self.files else "files: none",
            *(f"  {path}" for path in self.files),
        ]
        if self.files_removed:
            lines.append(f"older files removed (ring): {self.files_removed:,}")
        lines += [
            f"packets captured: {self.packets:,}",
            f"packets dropped by the kernel: {drops}",
            f"bytes written: {self.bytes_written:,} (packets: {self.wire_bytes:,} on the wire)",
            f"duration: {self.duration:.2f} s",
        ]
        if self.not_written:
            lines.append(f"packets lost to the error: {self.not_written:,}")
        lines += [f"note: {note}" for note in self.notes]
        if self.error is not None:
            lines.append(f"error: {self.error.message}")
        return lines


_REASON_TEXT = {
    StopReason.COUNT: "the packet count was reached",
    StopReason.DURATION: "the duration was reached",
    StopReason.STOPPED: "stopped on request",
    StopReason.SIZE_LIMIT: "the capture size cap was reached",
    StopReason.SOURCE_ENDED: "the source ended",
    StopReason.ERROR: "stopped by an error",
}
