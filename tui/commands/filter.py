"""``livetap filter FILE… -Y EXPR``: the packets of capture files a display filter matches.

``--range 1-100,250`` keeps only those packet numbers and ``-c N`` stops after N matches
(the save dialog's "range" of the TUI, headless).

Like ``tshark -r FILE -Y EXPR``: one line per matching packet (number, relative time,
source → destination, protocol, length, info) printed as the file is read; ``--json``
prints one document, ``--count-only`` only the count, and ``-w OUT`` writes the
matching packets to a new capture file. Several files are merged by time (as
``mergecap`` does) and each line names the file of its packet. A truncated or corrupt
file gives what was read, a warning and exit 7; Ctrl-C prints what matched so far and
exits 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from engine.errors import UsageError
from engine.filter_file import FilterResult, MatchedFrame, compile_filter, filter_file
from engine.packet_range import PacketRange, parse_range
from tui.commands._output import print_json
from tui.commands.analyze import ProgressBar, quiet_broken_pipe, sigterm_interrupts

NAME = "filter"
HELP = "print or save the packets of pcap/pcapng files a display filter matches (tshark -Y)"

EPILOG = """\
The display filter language is the one of the live view's '/' prompt (a subset of
Wireshark's): see the README's "Display filters". Frame numbers and times are the
file's own (the first packet is number 1 at time 0), matching or not.

several files: merged by time as mergecap merges them (the oldest packet first) and
  numbered as one capture; each line (and each --json frame's "source") names the
  file of its packet, which frame.source (or frame.interface_name) tests; -w to a
  .pcapng file keeps one interface per input file, named after it.

output: one line per matching packet, as tshark prints them; with -w the matching
  packets go to the file instead (.pcapng writes pcapng, anything else pcap; mode
  0600, never through a symbolic link) and one line says how many.
exit codes: 0 done (also when nothing matched), 3 invalid filter or unusable file,
  4 unreadable file, 6 no such file, 7 truncated or corrupt file (what was read is
  printed, with a warning), 130 Ctrl-C or SIGTERM (what matched so far is printed).

examples:
  livetap filter trace.pcap -Y "dns"
  livetap filter trace.pcap -Y "ip.addr == 10.0.0.5 and tcp.port == 443" --json
  livetap filter trace.pcap -Y "tcp.flags.syn == 1 and tcp.flags.ack == 0" --count-only
  livetap filter trace.pcapng -Y "http" -w http-only.pcapng
  livetap filter a.pcap b.pcap -Y 'dns and frame.source == "b.pcap"'
  livetap filter trace.pcap --range 10-200,250 -w part.pcap      (a range, no filter)
  livetap filter trace.pcap -Y "tcp.flags.reset == 1" -c 5     (the first five)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The file, the filter, and where the matches go."""
    parser.epilog = EPILOG
    parser.add_argument(
        "file",
        nargs="+",
        metavar="FILE",
        help="a pcap or pcapng file; several are merged by time (like mergecap)",
    )
    parser.add_argument(
        "-Y",
        "--display-filter",
        default="",
        metavar="EXPR",
        help='the display filter, e.g. "tcp.port == 443" (quote it for the shell); '
        "needed unless --range is given (then every packet of the range matches)",
    )
    parser.add_argument(
        "--range",
        dest="packet_range",
        type=_packet_range,
        metavar="RANGE",
        help="only these packet numbers (the file's own, from 1), as Wireshark's export "
        "writes them: 1-100,250,300- (300 to the end); the reading stops past the last",
    )
    parser.add_argument(
        "-c",
        "--count",
        type=_positive,
        metavar="N",
        help="stop after N matching packets (printed or written)",
    )
    parser.add_argument(
        "-w",
        "--write",
        dest="output",
        type=Path,
        metavar="OUT",
        help="write the matching packets to this file (.pcapng: pcapng, else pcap)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--count-only", action="store_true", help="print only how many packets matched"
    )


def _packet_range(text: str) -> PacketRange:
    """--range: a packet range, or argparse's usage error saying what is wrong."""
    try:
        return parse_range(text)
    except UsageError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _positive(text: str) -> int:
    """--count: a whole number from 1."""
    if not text.isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (a whole number from 1)")
    return int(text)


def run(args: argparse.Namespace) -> int:
    """Filter the file; exit 0, 7 (partial file) or 130 (interrupted)."""
    if not args.display_filter.strip() and args.packet_range is None:
        raise UsageError("give a display filter (-Y EXPR), a packet --range, or both")
    display_filter = compile_filter(args.display_filter)
    if args.output is not None and str(args.output) == "-":
        raise UsageError("-w writes a file, not standard output: give it a file name")
    lines = not (args.json or args.count_only or args.output is not None)
    progress = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    print_line = _line_printer(progress) if lines else None
    try:
        with sigterm_interrupts():
            result = filter_file(
                args.file,
                display_filter,
                output=args.output,
                on_match=print_line,
                keep_frames=args.json and not args.count_only,
                progress=progress,
                packet_range=args.packet_range,
                limit=args.count,
            )
    finally:
        if progress is not None:
            progress.clear()
    for warning in result.warnings:
        print(f"livetap: warning: {warning}", file=sys.stderr)
    if result.interrupted:
        print(
            f"livetap: interrupted after {result.packets:,} packets: what matched so far is shown",
            file=sys.stderr,
        )
    with quiet_broken_pipe():
        if args.json:
            print_json(result.document(with_frames=not args.count_only))
        elif args.count_only:
            print(result.matched)
        elif result.output is not None:
            print(_written_line(result))
    return result.exit_code


def _line_printer(progress: ProgressBar | None) -> Callable[[MatchedFrame], None]:
    """Print each match as it is found (``| head`` ends quietly: the CLI handles the pipe)."""
    if progress is None:
        return lambda frame: print(frame.text_line())

    def show(frame: MatchedFrame) -> None:
        progress.clear()  # the bar is redrawn on the next progress report
        print(frame.text_line(), flush=True)

    return show


def _written_line(result: FilterResult) -> str:
    """What -w did, in one line."""
    taken = f" in {result.packet_range}" if result.packet_range else ""
    matched = f"matched {result.filter!r}" if result.filter.strip() else "taken"
    return (
        f"{result.matched:,} of {result.packets:,} packets{taken} {matched}; "
        f"wrote {result.written:,} to {result.output} ({result.output_format})"
    )
