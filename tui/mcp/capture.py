"""list_interfaces and capture_packets: a bounded live capture, summarised packet by packet.

Several interfaces (``interfaces``) are read side by side, as ``tshark -i a -i b`` reads
them: the pcap is then pcapng with one interface block per input, and each summary
names the interface its packet came from.

A capture always ends: at the call's duration and count (at most the server's
caps, which the schema states), at the server's byte cap, or when the server
stops. It is written by the headless pcap capture (kernel filter, drop counts,
whole records) into the capture directory when the agent keeps the pcap, or
into a private temporary directory that is removed afterwards; the summaries
are read back from that file with the packet list's own header decoder.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.decode import decode
from engine.errors import ConflictError, UsageError
from engine.filter_file import FilteredSource
from engine.interfaces import default_interface, list_interfaces
from engine.ndjson.lines import iso_time
from engine.pcap_capture import CaptureOptions, CaptureReport, run_capture
from engine.pcapio import PcapRecord, open_pcap
from engine.source import SourceSpec, open_source
from tui.mcp.bound import cap_lists, marker
from tui.mcp.config import ServerConfig
from tui.mcp.paths import CaptureDirectory
from tui.mcp.processes import CapturedOwners
from tui.mcp.registry import ReportedError
from tui.mcp.state import SessionState

DEFAULT_DURATION = 5.0
DEFAULT_LISTED = 100
MAX_LISTED = 1000
MAX_CONCURRENT = 2
"""Captures running at once; one more is refused (CONFLICT)."""
MAX_INTERFACES = 8
"""Interfaces one call may read side by side."""
PCAP_SUFFIXES = frozenset({".pcap", ".pcapng"})


def interfaces(_args: dict[str, Any]) -> dict[str, Any]:
    """The interfaces, as ``livetap interfaces --json`` lists them, and the default one."""
    return {
        "default": default_interface(),
        "interfaces": [
            {
                "index": i.index,
                "name": i.name,
                "addresses": list(i.addresses),
                "up": i.up,
                "running": i.running,
                "loopback": i.loopback,
                "linktype": i.linktype,
            }
            for i in list_interfaces()
        ],
    }


class PacketCapture:
    """The capture_packets tool: bounded captures, at most two at a time."""

    def __init__(
        self, config: ServerConfig, directory: CaptureDirectory, state: SessionState
    ) -> None:
        self.config = config
        self.directory = directory
        self.state = state
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)

    def __call__(self, args: dict[str, Any]) -> dict[str, Any]:
        """Capture, then summarise what was captured."""
        if not self._slots.acquire(blocking=False):
            raise ConflictError(
                f"{MAX_CONCURRENT} captures are already running: wait for one to finish"
            )
        try:
            return self._capture(args)
        finally:
            self._slots.release()

    def wait_idle(self, timeout: float) -> bool:
        """Wait for running captures to end (after ``state.shutdown`` is set): files complete."""
        deadline = time.monotonic() + timeout
        taken = 0
        try:
            while taken < MAX_CONCURRENT:
                if not self._slots.acquire(timeout=max(deadline - time.monotonic(), 0)):
                    return False
                taken += 1
            return True
        finally:
            for _ in range(taken):
                self._slots.release()

    def _interfaces(self, args: dict[str, Any]) -> tuple[str, ...]:
        """``interfaces``, or ``interface``, or the server's default one."""
        several = tuple(args.get("interfaces") or ())
        if several and args.get("interface"):
            raise UsageError("give either interface or interfaces, not both")
        if len(set(several)) < len(several):
            raise UsageError("an interface is named twice in interfaces: name each once")
        if several:
            return several
        return (args.get("interface") or self.config.settings.interface or default_interface(),)

    def _capture(self, args: dict[str, Any]) -> dict[str, Any]:
        settings = self.config.settings
        names = self._interfaces(args)
        expression = args.get("bpf") or ""
        duration = float(
            args.get("duration_seconds") or min(DEFAULT_DURATION, self.config.max_duration)
        )
        count = int(args.get("count") or self.config.max_count)
        listed = int(args.get("max_packets", DEFAULT_LISTED))
        target = None
        if args.get("file_name"):
            target = self.directory.output(args["file_name"], PCAP_SUFFIXES)
        elif args.get("save_pcap"):
            target = self._new_name(".pcapng" if len(names) > 1 else ".pcap")
        source = open_source(
            SourceSpec(
                names,
                filter=expression,
                snaplen=settings.snaplen,
                buffer_size=settings.buffer_size,
            )
        )
        inputs: list[int] = []  # each packet's input, in the order they are written
        tagged = FilteredSource(source, _noting(inputs)) if len(names) > 1 else source
        processes = CapturedOwners(source.source_names if settings.processes else ())
        try:
            with tempfile.TemporaryDirectory(prefix="livetap-mcp-") as scratch:
                scratch_name = "capture.pcapng" if len(names) > 1 else "capture.pcap"
                path = target or Path(scratch) / scratch_name
                options = CaptureOptions(
                    path,
                    count=count,
                    duration=duration,
                    max_total=self.config.max_bytes,
                    snaplen=settings.snaplen,
                )
                report = run_capture(
                    tagged, options, stop_event=self.state.shutdown, observe=processes.observe
                )
                result = self._result(report, source.source_names, listed, target is not None)
                if len(names) > 1:
                    for summary, number in zip(result["summaries"], inputs, strict=False):
                        summary["interface"] = source.source_names[number]
                processes.add_to(result)
        finally:
            processes.close()
            source.close()
        if report.error is not None:
            raise ReportedError(report.error, result)
        return result

    def _new_name(self, suffix: str = ".pcap") -> Path:
        """livetap-mcp-YYYYmmdd-HHMMSS.pcap, numbered when that name is taken."""
        stem = time.strftime("livetap-mcp-%Y%m%d-%H%M%S")
        for number in range(1, 1000):
            name = f"{stem}{suffix}" if number == 1 else f"{stem}-{number}{suffix}"
            path = self.directory.output(name, PCAP_SUFFIXES)
            if not path.exists():
                return path
        return path

    def _result(
        self, report: CaptureReport, interfaces: tuple[str, ...], listed: int, keep: bool
    ) -> dict[str, Any]:
        """The report's figures, the packet summaries, and the pcap when it was kept."""
        summaries = list(_summaries(report.files))
        data = report.to_dict()
        result: dict[str, Any] = {
            "interface": ", ".join(interfaces),
            "interfaces": list(interfaces),
            "filter": report.filter,
            "packets": report.packets,
            "kernel_drops": report.kernel_drops,
            "bytes": data["bytes"],
            "wire_bytes": report.wire_bytes,
            "started": data["started"],
            "duration": data["duration"],
            "stop_reason": data["stop_reason"],
            "limits": {
                "max_duration_seconds": self.config.max_duration,
                "max_count": self.config.max_count,
                "max_bytes": self.config.max_bytes,
            },
            "notes": data["notes"],
            "protocols": dict(Counter(item["protocol"] for item in summaries).most_common()),
            "pcap": None,
            "resource": None,
        }
        if keep and report.files:
            path = report.files[0]
            result["pcap"] = str(path)
            if self.directory.contains(path.parent.resolve()):
                result["resource"] = self.state.add_file(
                    path, self.directory.relative(path), report.format, "capture_packets"
                )
        shown, omissions = cap_lists(summaries, listed, "summaries")
        result["summaries"] = shown
        if omissions:
            result["truncation"] = marker(omissions)
        return result


def _noting(inputs: list[int]) -> Callable[[int, PcapRecord], bool]:
    """A predicate that keeps every packet and notes its input (the summaries name it)."""

    def note(_number: int, record: PcapRecord) -> bool:
        inputs.append(record.source)
        return True

    return note


def _summaries(files: tuple[Path, ...]) -> list[dict[str, Any]]:
    """One line per packet, as the packet list shows it."""
    found = []
    number = 0
    for path in files:
        with open_pcap(path) as reader:
            for timestamp, length, linktype, data, _source in reader:
                number += 1
                src, dst, sport, dport, protocol, info = decode(linktype, data)
                found.append(
                    {
                        "index": number,
                        "time": iso_time(timestamp),
                        "timestamp": round(timestamp, 6),
                        "src": src,
                        "dst": dst,
                        "sport": sport,
                        "dport": dport,
                        "protocol": protocol,
                        "length": length,
                        "info": info,
                    }
                )
    return found
