"""``livetap follow``: a TCP stream's payload both ways, as ``tshark -z follow,tcp`` prints it.

Streams are numbered as Wireshark numbers ``tcp.stream`` (``livetap analyze --report
conversations`` lists them); ``--conv`` picks the packets of one 4-tuple instead. Several
files are merged by time first, as ``mergecap`` merges them.
"""

from __future__ import annotations

import argparse
import sys

from engine.analysis import follow_stream, format_follow
from engine.analysis.follow import FORMATS, FollowResult
from engine.errors import ExitCode
from tui.commands._output import print_json
from tui.commands.analyze import ProgressBar, quiet_broken_pipe, sigterm_interrupts

NAME = "follow"
HELP = "print a TCP stream's payload both ways (like tshark -z follow,tcp)"

EPILOG = """\
several files: merged by time as mergecap merges them (the oldest packet first) and
  followed as one capture: the stream numbers and the output are tshark's on
  "mergecap -w merged.pcapng A B" (a stream split over the files is followed whole).

examples:
  livetap follow trace.pcap --stream 0
  livetap follow eth0.pcap wlan0.pcapng --stream 2     (two files merged by time)
  livetap follow trace.pcap --stream 3 --format hex
  livetap follow trace.pcap --conv "10.0.0.5:41000 93.184.216.34:80"
  livetap follow trace.pcap --conv "[2001:db8::1]:5555 [2001:db8::2]:80" --format raw
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The file, which stream, and how to print it."""
    parser.epilog = EPILOG
    parser.add_argument(
        "file",
        nargs="+",
        metavar="FILE",
        help="a pcap or pcapng file; several are merged by time (like mergecap)",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--stream", type=int, metavar="N", help="the TCP stream's number (tshark's tcp.stream)"
    )
    which.add_argument("--conv", metavar='"A:P B:Q"', help="the stream between these two endpoints")
    parser.add_argument(
        "--format", choices=FORMATS, default="ascii", help="ascii (default), hex or raw"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON document")


def _document(result: FollowResult, files: list[str]) -> dict[str, object]:
    """The JSON form: both ends and every chunk, as hex and as tshark's ASCII rendering
    (with several files, ``files`` names them in the order given)."""
    return {
        **({"files": files} if len(files) > 1 else {}),
        "stream": result.stream,
        "filter": result.filter,
        "node0": result.node0,
        "node1": result.node1,
        "packets": result.packets,
        "bytes_from_node0": len(result.bytes_from(0)),
        "bytes_from_node1": len(result.bytes_from(1)),
        "complete": not (result.truncated or result.interrupted),
        "warnings": list(result.warnings),
        "chunks": [
            {
                "node": chunk.node,
                "length": len(chunk.data),
                "hex": chunk.data.hex(),
                "text": chunk.data.decode("latin-1"),
            }
            for chunk in result.chunks
        ],
    }


def run(args: argparse.Namespace) -> int:
    """Follow the stream (over the files merged by time) and print it; exit 0, 6 (no such
    stream), 7 or 130."""
    progress = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    try:
        with sigterm_interrupts():
            result = follow_stream(args.file, args.stream, args.conv, progress)
    finally:
        if progress is not None:
            progress.clear()
    for warning in result.warnings:
        print(f"livetap: warning: {warning}", file=sys.stderr)
    with quiet_broken_pipe():
        if args.json:
            print_json(_document(result, args.file))
        else:
            print(format_follow(result, args.format), end="")
    if result.interrupted:
        return ExitCode.INTERRUPTED
    if result.truncated:
        return ExitCode.PARTIAL
    return ExitCode.SUCCESS
