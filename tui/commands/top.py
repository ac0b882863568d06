"""``livetap top``: traffic per program, like nethogs, headless (a table a second, or JSON).

Captures live (every interface by default), ties each packet to the local process that
sent or received it (:mod:`engine.process`), and prints per process: bytes and packets
in and out, the rate over the last second, open connections and remote hosts. With
``--json``, one document at the end (after ``--seconds``, or at Ctrl-C).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from engine.errors import ExitCode
from engine.packet.model import Packet
from engine.process.live import LiveAttribution
from engine.process.program import KERNEL_FILTER, ProgramFilter, ProgramMatcher
from engine.process.top import ProcessTable
from engine.source import SourceSpec, open_source
from tui.commands._output import print_json

NAME = "top"
HELP = "traffic per program (like nethogs): bytes, rate, connections, remote hosts"
MAX_REMOTES_SHOWN = 3


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seconds takes a number, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("--seconds must be greater than zero")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--json``, ``-i IFACE``, ``--seconds N``, ``-f BPF``, ``--process NAME|PID``."""
    parser.add_argument("--json", action="store_true", help="print one JSON document at the end")
    parser.add_argument(
        "-i", "--interface", default="any", help="interface to capture on (default: any)"
    )
    parser.add_argument("--seconds", type=_seconds, help="stop after N seconds (default: Ctrl-C)")
    parser.add_argument("-f", "--filter", default="", help="capture filter (BPF), e.g. 'tcp'")
    parser.add_argument(
        "--process",
        metavar="NAME|PID",
        help="only this program's traffic (and its children's, connections opened later too)",
    )


def _size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"


def _table(table: ProcessTable, elapsed: float) -> str:
    ranked = table.ranked()
    unknown = table.unattributed
    lines = [
        f"livetap top: {elapsed:.0f} s, {len(ranked)} programs"
        + (f", {unknown} packets of unknown programs" if unknown else ""),
        f"{'PID':>7}  {'PROGRAM':<15} {'USER':<10} {'RATE/s':>9} {'IN':>9} {'OUT':>9}"
        f" {'CONN':>4}  REMOTE HOSTS",
    ]
    for row, rate in ranked:
        owner = row.owner
        remotes = table.remote_names(row)
        shown = ", ".join(remotes[:MAX_REMOTES_SHOWN])
        if len(remotes) > MAX_REMOTES_SHOWN:
            shown += f" +{len(remotes) - MAX_REMOTES_SHOWN}"
        lines.append(
            f"{owner.pid:>7}  {owner.name[:15]:<15} {owner.user[:10]:<10} {_size(rate):>9}"
            f" {_size(row.bytes_in):>9} {_size(row.bytes_out):>9} {len(row.flows):>4}  {shown}"
        )
    return "\n".join(lines)


def _interrupt(_signal: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Capture until ``--seconds`` pass or Ctrl-C (or SIGTERM); print tables, or JSON at the end."""
    signal.signal(signal.SIGTERM, _interrupt)  # ends like Ctrl-C: the report, the watcher stopped
    matcher = ProgramMatcher(args.process) if args.process is not None else None
    expression = args.filter
    if matcher is not None:
        expression = f"({expression}) and ({KERNEL_FILTER})" if expression else KERNEL_FILTER
    source = open_source(SourceSpec(interfaces=(args.interface,), filter=expression))
    started = time.monotonic()
    printed = started
    interrupted = False
    live: LiveAttribution | None = None
    table: ProcessTable | None = None
    try:  # a SIGTERM while the watcher warms up still ends with the (empty) document
        live = LiveAttribution(args.interface)
        for warning in live.warnings:
            print(f"livetap: {warning}", file=sys.stderr)
        attributor = live.attributor
        wanted = ProgramFilter(attributor, matcher) if matcher is not None else None
        table = ProcessTable(attributor, matcher)
        while args.seconds is None or time.monotonic() - started < args.seconds:
            for record in source.read_batch(0.1):
                packet = Packet(record.linktype, record.data)
                if wanted is None or wanted.keep(packet, record.timestamp):
                    table.add(packet, record.timestamp, record.length)
            now = time.monotonic()
            if not args.json and now - printed >= 1.0:
                printed = now
                print(_table(table, now - started) + "\n")
                sys.stdout.flush()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if live is not None:
            live.close()
        source.close()
    elapsed = time.monotonic() - started
    if args.json:
        print_json(
            {
                "interface": args.interface,
                "seconds": round(elapsed, 3),
                "unattributed_packets": table.unattributed if table is not None else 0,
                "processes": table.rows() if table is not None else [],
            }
        )
    elif interrupted and table is not None:
        print(_table(table, elapsed))
    return ExitCode.INTERRUPTED if interrupted else ExitCode.SUCCESS
