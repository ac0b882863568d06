"""``livetap analyze``: protocols, conversations, talkers, HTTP, DNS, threats... of a pcap file.

Text output is aligned tables; ``--json`` prints one document with every requested
report. A progress bar appears on stderr (a terminal only) when the reading takes
more than a second; Ctrl-C stops with the partial report and exit code 130; a
truncated file gives its report up to the break, a warning and exit code 7.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO

from engine.analysis import REPORTS, Blocklist, analyze_file, render_text
from engine.errors import ExitCode, UsageError
from tui.commands._output import print_json

NAME = "analyze"
HELP = "analyze pcap/pcapng files: protocols, conversations, talkers, HTTP, DNS, threats"

_REPORTS_TEXT = (
    f"reports: {', '.join(REPORTS)}, or all (the default); repeat --report or separate "
    "names with commas. Addresses are named from the capture's own DNS answers; nothing "
    "is looked up on the network."
)
_FILES_TEXT = (
    "Several files are merged by time, as mergecap merges them (the oldest packet first), "
    "and analyzed as one capture; with -Y, frame.source (or frame.interface_name) is the "
    "name of the file a packet came from."
)
EPILOG = f"""\
{textwrap.fill(_REPORTS_TEXT, 78)}

{textwrap.fill(_FILES_TEXT, 78)}

examples:
  livetap analyze trace.pcap
  livetap analyze trace.pcap --report conversations,talkers --top-n 20
  livetap analyze trace.pcap --report threats --blocklist urlhaus.csv
  livetap analyze trace.pcap --report credentials --show-secrets
  livetap analyze trace.pcap --json > report.json
  livetap analyze trace.pcap -Y "ip.addr == 10.0.0.5 and tcp"   # matching packets only
  livetap analyze eth0.pcap wlan0.pcapng     # two files merged by time, one report
  livetap analyze a.pcap b.pcap -Y 'frame.source == "b.pcap" and dns'
  livetap analyze trace.pcap --deep          # Wireshark's dissectors, via tshark
  livetap analyze tls.pcapng --keylog keys.txt --report http   # decrypted HTTP/2
  livetap analyze --list-protocols
"""

PROGRESS_DELAY = 1.0
"""Seconds of reading before the progress bar appears."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The file, the reports, and the options of the threat and credential reports."""
    parser.epilog = EPILOG
    parser.set_defaults(exit_at_once=True)  # tui.cli: the big tables are not freed at the end
    parser.add_argument(
        "file",
        nargs="*",
        metavar="FILE",
        help="a pcap or pcapng file; several are merged by time (like mergecap)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "-Y",
        "--display-filter",
        metavar="EXPR",
        help="count only the packets this display filter matches (as tshark -Y)",
    )
    parser.add_argument(
        "--report",
        action="append",
        metavar="NAME",
        help="which reports, comma-separated (default: all; the list is below)",
    )
    parser.add_argument(
        "--top-n", type=int, default=10, metavar="N", help="rows in top-N lists (default 10)"
    )
    parser.add_argument(
        "--blocklist",
        action="append",
        metavar="FILE",
        help="URLhaus CSV or one address/network/domain/URL a line (repeatable)",
    )
    parser.add_argument("--show-secrets", action="store_true", help="show credentials unmasked")
    parser.add_argument(
        "--deep",
        action="store_true",
        help="also decode with Wireshark's dissectors (tshark): every protocol it knows",
    )
    parser.add_argument(
        "--keylog",
        dest="analyze_keylog",
        metavar="KEYS",
        help="a TLS key log (SSLKEYLOGFILE): the http report adds the decrypted HTTP/2 "
        "requests, via tshark (a pcapng with embedded secrets needs none)",
    )
    parser.add_argument(
        "--list-protocols",
        action="store_true",
        help="list the protocols the fast path and deep mode understand, then exit",
    )


def _report_names(values: list[str] | None) -> list[str]:
    """``--report`` values, commas split, checked."""
    names = [name.strip() for value in values or ["all"] for name in value.split(",")]
    names = [name for name in names if name]
    for name in names:
        if name != "all" and name not in REPORTS:
            raise UsageError(
                f"there is no report {name!r}: choose from {', '.join(REPORTS)} or all"
            )
    return names or ["all"]


class ProgressBar:
    """A one-line progress bar on a terminal, shown only once reading takes a while."""

    def __init__(self, stream: IO[str], delay: float = PROGRESS_DELAY) -> None:
        self._stream = stream
        self._delay = delay
        self._started = time.monotonic()
        self._width = 0

    def __call__(self, done: int, total: int) -> None:
        """Redraw with ``done`` of ``total`` bytes read."""
        elapsed = time.monotonic() - self._started
        if elapsed < self._delay or total <= 0:
            return
        share = min(done / total, 1.0)
        filled = int(share * 30)
        line = (
            f"\rreading [{'#' * filled}{'.' * (30 - filled)}] {share * 100:3.0f}% "
            f"{done / 1e6:,.1f}/{total / 1e6:,.1f} MB"
        )
        self._width = max(self._width, len(line))
        self._stream.write(line)
        self._stream.flush()

    def clear(self) -> None:
        """Remove the bar, if it was drawn."""
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
            self._width = 0


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the reading like Ctrl-C does (partial report, exit code 130)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def quiet_broken_pipe() -> Iterator[None]:
    """A reader that stops early (``| head``) ends the output quietly, not with a traceback."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        os.close(devnull)


def _list_protocols(as_json: bool) -> None:
    """What the fast path and deep mode know."""
    from engine.analysis.deep import deep_protocols, fast_protocols  # --list-protocols only

    fast = fast_protocols()
    try:
        tool, deep = deep_protocols()
        deep_note = None
    except Exception as error:  # tshark missing or failing: say so, list the fast ones
        tool, deep, deep_note = "tshark", [], str(error)
    if as_json:
        print_json(
            {
                "fast": {"tool": "livetap (struct-level)", "protocols": fast},
                "deep": {"tool": tool, "protocols": deep, "error": deep_note},
            }
        )
        return
    print(f"fast path (struct-level, {len(fast)} protocols):")
    print(textwrap.fill(", ".join(fast), 100, initial_indent="  ", subsequent_indent="  "))
    print()
    if deep_note:
        print(f"deep mode (--deep): unavailable: {deep_note}")
    else:
        print(f"deep mode (--deep, {tool}, {len(deep)} protocols):")
        print(textwrap.fill(", ".join(deep), 100, initial_indent="  ", subsequent_indent="  "))


def _keylog(args: argparse.Namespace) -> Path | None:
    """--keylog (after analyze, or before it), checked: an existing, readable key log."""
    value = args.analyze_keylog or getattr(args, "keylog", None)
    if not value:
        return None
    from engine.tls_keylog import KeyLog

    key_log = KeyLog.from_flag(value, launching=False)
    return key_log.user_file if key_log is not None else None


def run(args: argparse.Namespace) -> int:
    """Analyze the file; print text or JSON; exit 0, 7 (partial) or 130 (interrupted)."""
    if args.list_protocols:
        with quiet_broken_pipe():
            _list_protocols(args.json)
        return ExitCode.SUCCESS
    if not args.file:
        raise UsageError("analyze needs a FILE (a pcap or pcapng file), or --list-protocols")
    names = _report_names(args.report)
    if args.top_n < 1:
        raise UsageError(f"--top-n must be 1 or more, not {args.top_n}")
    predicate = None
    if args.display_filter is not None:
        from engine.filter_file import compile_filter, record_predicate  # only with -Y

        if args.deep:
            raise UsageError("--deep reads the whole file with tshark: it cannot be used with -Y")
        from engine.analysis.reader import file_names

        predicate = record_predicate(compile_filter(args.display_filter), file_names(args.file))
    blocklist = Blocklist.load(*args.blocklist) if args.blocklist else None
    progress = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
    try:
        with sigterm_interrupts():
            result = analyze_file(
                args.file,
                names,
                top_n=args.top_n,
                blocklist=blocklist,
                show_secrets=args.show_secrets,
                deep=args.deep,
                progress=progress,
                predicate=predicate,
                filter_text=args.display_filter,
                keylog=_keylog(args),
            )
    finally:
        if progress is not None:
            progress.clear()
    for warning in result.warnings:
        print(f"livetap: warning: {warning}", file=sys.stderr)
    if result.interrupted:
        print("livetap: interrupted: the report covers the packets read so far", file=sys.stderr)
    with quiet_broken_pipe():
        if args.json:
            print_json(result.document())
        else:
            partial = result.exit_code != ExitCode.SUCCESS
            note = " (partial: see the warnings)" if partial else ""
            matched = (
                "" if result.matched is None else f", {result.matched:,} matching {result.filter!r}"
            )
            print(f"{result.path}: {result.format}, {result.packets:,} packets{matched}{note}\n")
            print(render_text(result.reports), end="")
    return result.exit_code
