"""Headless capture: packets from a source written to pcap/pcapng files, then a report.

The package: :mod:`.report` (options and the report), :mod:`.writer` (the rotating
writer), :mod:`.loop` (the capture loop).

:class:`RotatingPcapWriter` writes whole records into a file, starts a new one
every ``rotate_size`` bytes (tcpdump's ``-C``) and keeps at most
``rotate_files`` of them (tcpdump's ``-W``); ``max_total`` caps the bytes of a
whole run (the config's ``maxCaptureSize``). :class:`PcapCapture` reads a
source into such a writer until a count, a duration, a stop request or an
error ends it, and returns a :class:`CaptureReport`.

File names: the first file is the path given (``out.pcap``); the next ones put
their number before the suffix (``out.1.pcap``, ``out.2.pcap`` ...), as the
NDJSON capture does. Numbers only grow, so names sort in capture order; with a
ring of N files the oldest is deleted when file N+1 starts.

Captures hold secrets: files are created with mode 0600, and never through a
symbolic link planted at the path (``O_NOFOLLOW``). A failed write (disk full,
permission denied) truncates the file back to its last whole record, so every
file a capture leaves is valid to the last byte.
"""

from engine.pcap_capture.loop import PcapCapture, run_capture
from engine.pcap_capture.report import (
    MB,
    CaptureOptions,
    CaptureProgress,
    CaptureReport,
    StopReason,
)
from engine.pcap_capture.writer import RotatingPcapWriter, rotated_name

__all__ = [
    "MB",
    "CaptureOptions",
    "CaptureProgress",
    "CaptureReport",
    "PcapCapture",
    "RotatingPcapWriter",
    "StopReason",
    "rotated_name",
    "run_capture",
]
