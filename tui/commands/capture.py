"""``livetap capture FORMAT``: headless capture to files, one sub-command per format.

``livetap capture pcap`` writes pcap/pcapng like ``tcpdump -w`` (with ``-C``/``-W``
rotation) and ends with a report. Another format is one more entry in
:data:`FORMATS` (e.g. ``ndjson`` with its own ``add_arguments`` and ``run``).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from engine.config import Settings, load_settings
from engine.errors import UsageError
from engine.pcap_capture import MB, CaptureOptions, CaptureProgress, CaptureReport, PcapCapture
from tui.commands import _ndjson
from tui.commands._output import print_json

if TYPE_CHECKING:
    from engine.display_filter import DisplayFilter
    from engine.filter_file import FilteredSource
    from engine.pcapio import PcapRecord
    from engine.process.packet_owners import PacketOwners
    from engine.source import SourceSpec

NAME = "capture"
HELP = "capture to files without the TUI (pcap, pcapng), from one or more inputs, with a report"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_ROTATE_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg])?(?:i?b)?\s*$", re.IGNORECASE)
_ROTATE_UNITS = {"": MB, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


@dataclass(frozen=True, slots=True)
class Format:
    """One ``livetap capture`` sub-command."""

    name: str
    help: str
    epilog: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def parse_duration(text: str) -> float:
    """Seconds from ``60``, ``60s``, ``5m``, ``1h``, ``1.5s`` or ``500ms``."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"a duration looks like 30s, 5m or 1h, not {text!r}")
    seconds = float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise argparse.ArgumentTypeError("the duration must be greater than zero")
    return seconds


def parse_rotate_size(text: str) -> int:
    """Bytes from tcpdump's -C: a number of millions of bytes, or 512k / 2M / 1G (binary)."""
    match = _ROTATE_SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"a file size is a number of MB (millions of bytes), or like 512k or 2M, not {text!r}"
        )
    size = int(float(match.group(1)) * _ROTATE_UNITS[(match.group(2) or "").lower()])
    if size <= 0:
        raise argparse.ArgumentTypeError("the file size must be greater than zero")
    return size


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number greater than zero, not {value}")
    return value


# -- pcap --------------------------------------------------------------------------------------

PCAP_EPILOG = """\
files: -w out.pcap writes out.pcap; with --rotate-size the next files are
  out.1.pcap, out.2.pcap ... (numbers only grow); with --rotate-files N only the
  newest N are kept. A relative -w is in the config's captureDirectory; without
  -w the file is livetap-YYYYmmdd-HHMMSS.pcap there. A .pcapng name writes pcapng.
  Files are created with mode 0600 and never through a symbolic link.
ends: --count, --duration, Ctrl-C or SIGTERM (exit 130), the config's
  maxCaptureSize (exit 7), or an error such as a full disk (exit 5); the files
  always end on a whole packet, and the report says what happened.

inputs: -i, -r and --source-cmd may each be repeated. Interfaces and commands
  are read side by side (packets interleaved as they arrive); files are merged by
  time like mergecap (-r cannot be mixed with the others). A .pcapng file gets one
  interface per input, named after it (tshark: frame.interface_name); a .pcap file
  holds one link type, so inputs of different link types need .pcapng.

examples:
  sudo livetap capture pcap -i eth0 -f "tcp port 443" -w tls.pcap --duration 5m
  sudo livetap capture pcap -i eth0 -i wlan0 -w both.pcapng --duration 1m
  livetap capture pcap -r a.pcap -r b.pcap -Y 'frame.source == "b.pcap"' -w b.pcap
  sudo livetap capture pcap -i any -w ring.pcapng -C 100 -W 10 --json
  sudo livetap capture pcap -i lo -f "udp" -Y "dns.qry.name contains \"example\"" -w dns.pcap
"""


def add_pcap_arguments(parser: argparse.ArgumentParser) -> None:
    """tcpdump's letters where tcpdump has one: -i -w -c -s -B -C -W."""
    parser.add_argument(
        "-i",
        "--interface",
        dest="capture_interface",
        action="append",
        metavar="IFACE",
        help="interface ('any' for all); repeat to capture several side by side",
    )
    parser.add_argument(
        "-r",
        "--read",
        dest="capture_files",
        action="append",
        metavar="FILE",
        help="read capture files instead (repeat to merge them by time, like mergecap)",
    )
    parser.add_argument(
        "--source-cmd",
        dest="capture_commands",
        action="append",
        metavar="COMMAND",
        help="read the pcap stream a command writes; repeatable, also beside -i",
    )
    parser.add_argument(
        "-f", "--filter", dest="capture_filter", metavar="BPF", help="BPF capture filter"
    )
    parser.add_argument(
        "-Y",
        "--display-filter",
        dest="display_filter",
        metavar="EXPR",
        help="write only the packets this display filter matches (after -f)",
    )
    parser.add_argument(
        "-w", "--write", dest="output", metavar="FILE", help="file to write (.pcap or .pcapng)"
    )
    parser.add_argument(
        "--duration", type=parse_duration, metavar="TIME", help="stop after this long: 30s, 5m, 1h"
    )
    parser.add_argument("-c", "--count", type=_positive, metavar="N", help="stop after N packets")
    parser.add_argument(
        "-s",
        "--snaplen",
        dest="capture_snaplen",
        type=int,
        metavar="N",
        help="bytes kept of each packet",
    )
    parser.add_argument(
        "-B", "--buffer", dest="capture_buffer", metavar="SIZE", help="kernel ring, e.g. 4M"
    )
    parser.add_argument(
        "-C",
        "--rotate-size",
        type=parse_rotate_size,
        metavar="MB",
        help="start a new file every MB (millions of bytes, as tcpdump -C; or 512k, 2M)",
    )
    parser.add_argument(
        "-W", "--rotate-files", type=_positive, metavar="N", help="keep only the newest N files"
    )
    parser.add_argument(
        "--config", dest="capture_config", type=Path, metavar="FILE", help="config file to read"
    )
    parser.add_argument(
        "--keylog",
        dest="capture_keylog",
        metavar="FILE",
        help="a TLS key log (SSLKEYLOGFILE) whose secrets --embed-secrets puts in the file",
    )
    parser.add_argument(
        "--embed-secrets",
        dest="capture_embed",
        action="store_true",
        help="write the key log's TLS secrets into the pcapng as they appear: the file then "
        "decrypts everywhere, for anyone who gets it (never done without this flag)",
    )
    parser.add_argument(
        "--no-process",
        dest="capture_no_process",
        action="store_true",
        help="do not write each packet's program as its pcapng packet comment",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def _secrets(args: argparse.Namespace, output: Path) -> Callable[[], bytes] | None:
    """What --embed-secrets reads the secrets from (None without it); checked first."""
    embed = args.capture_embed or getattr(args, "embed_secrets", False)
    keylog = args.capture_keylog or getattr(args, "keylog", None)
    if not embed:
        return None
    if not keylog:
        raise UsageError("--embed-secrets needs a key log: add --keylog FILE")
    if output.suffix.lower() != ".pcapng":
        raise UsageError("--embed-secrets writes pcapng: name the file with -w NAME.pcapng")
    from engine.tls_keylog import KeyLog

    key_log = KeyLog.from_flag(keylog, launching=False)
    assert key_log is not None
    return key_log.secrets


def _settings(args: argparse.Namespace) -> Settings:
    """The merged settings; flags after ``capture pcap`` win over the global ones."""

    def pick(own: str, shared: str) -> object:
        value = getattr(args, own, None)
        return value if value is not None else getattr(args, shared, None)

    config = pick("capture_config", "config")
    interfaces = pick("capture_interface", "interface")
    return load_settings(
        {
            "interface": interfaces[0] if isinstance(interfaces, list) else interfaces,
            "snaplen": pick("capture_snaplen", "snaplen"),
            "buffer_size": pick("capture_buffer", "buffer_size"),
            "processes": False if _no_process(args) else None,
        },
        config_path=config if isinstance(config, Path) else None,
    )


def _no_process(args: argparse.Namespace) -> bool:
    """``--no-process``, after ``capture pcap`` or before it."""
    return bool(getattr(args, "capture_no_process", False) or getattr(args, "no_process", False))


def _process_comments(
    settings: Settings, options: CaptureOptions, spec: SourceSpec, names: tuple[str, ...]
) -> tuple[PacketOwners | None, Callable[[list[PcapRecord]], list[str]] | None]:
    """Each packet's program as its packet comment: for a pcapng of this host's
    interfaces with processes on (a pcap file has no room for it); learnt as each batch
    is written, while short programs still run (the live view's attribution)."""
    if options.format != "pcapng" or not settings.processes:
        return None, None
    from engine.process.packet_owners import for_capture
    from engine.process.saved import packet_comment

    owners = for_capture(spec, names)
    if owners is None:
        return None, None
    owners.start()
    started = owners

    def comments(records: list[PcapRecord]) -> list[str]:
        return [packet_comment(started.info(number)) for number in started.ids(records)]

    return owners, comments


def output_path(requested: str | None, directory: Path) -> Path:
    """Where the first file goes: -w (relative to the capture directory) or a dated name."""
    if requested == "-":
        raise UsageError(
            "capture pcap writes files, not standard output: give -w a file name "
            "(for a pcap stream use tcpdump -U -w -)"
        )
    if requested:
        path = Path(requested).expanduser()
        return path if path.is_absolute() else directory / path
    return directory / time.strftime("livetap-%Y%m%d-%H%M%S.pcap")


def run_pcap(args: argparse.Namespace) -> int:
    """Open the interface, capture until a stop condition, print the report."""
    from engine.filter_file import FilteredSource, compile_filter, record_predicate
    from engine.source import configured_spec, open_source

    display_filter = None if args.display_filter is None else compile_filter(args.display_filter)
    settings = _settings(args)
    output = output_path(args.output, settings.capture_directory)
    options = CaptureOptions(
        output,
        count=args.count,
        duration=args.duration,
        rotate_size=args.rotate_size,
        rotate_files=args.rotate_files,
        max_total=settings.max_capture_size,
        snaplen=settings.snaplen,
        secrets=_secrets(args, output),
    )
    expression = args.capture_filter if args.capture_filter is not None else args.filter or ""
    files = tuple(args.capture_files or ())
    commands = tuple(args.capture_commands or ())
    named = args.capture_interface or getattr(args, "interface", None)
    spec = configured_spec(named, files, commands, expression, settings)
    source = open_source(spec)
    filtered = (
        None
        if display_filter is None
        else FilteredSource(source, record_predicate(display_filter, source.source_names))
    )
    owners: PacketOwners | None = None
    try:
        owners, comments = _process_comments(settings, options, spec, source.source_names)
        capture = PcapCapture(source if filtered is None else filtered, options, comments=comments)
        filter_text = f" (filter {expression!r})" if expression.strip() else ""
        if display_filter is not None:
            filter_text += f" (display filter {display_filter.text!r})"
        where = source.description.removeprefix("interface ")
        announcement = f"capturing on {where}{filter_text}, writing {capture.writer.current}"
        if owners is not None and owners.warning:  # after the first line, which says it runs
            announcement += f"\nlivetap: {owners.warning}"
        report = _run_with_signals(capture, announcement, _progress_printer(args.json))
    finally:
        if owners is not None:
            owners.close()
        source.close()
    _print_report(report, args.json, _display_filter_counts(display_filter, filtered))
    return report.exit_code


def _display_filter_counts(
    display_filter: DisplayFilter | None, filtered: FilteredSource | None
) -> dict[str, object]:
    """What -Y kept: the filter, the packets captured (after -f) and those matched."""
    if display_filter is None or filtered is None:
        return {}
    return {
        "display_filter": display_filter.text,
        "captured": filtered.captured,
        "matched": filtered.matched,
    }


def _say(message: str) -> None:
    print(f"livetap: {message}", file=sys.stderr, flush=True)


def _progress_printer(json_output: bool) -> Callable[[CaptureProgress], None] | None:
    """A progress line on a terminal's stderr; nothing when stderr is a file or pipe."""
    if json_output or not sys.stderr.isatty():
        return None

    def show(progress: CaptureProgress) -> None:
        drops = progress.kernel_drops or 0
        line = f"\r{progress.packets:,} packets, {drops:,} dropped by the kernel"
        print(line, end="", file=sys.stderr, flush=True)

    return show


def _run_with_signals(
    capture: PcapCapture,
    announcement: str,
    on_progress: Callable[[CaptureProgress], None] | None,
) -> CaptureReport:
    """Ctrl-C and SIGTERM ask the capture to stop; it then writes what it has and reports.

    The handlers are in place before the announcement, so a script that signals
    as soon as it reads "capturing on" always gets the report.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _say(announcement)
        return capture.run(stop, on_progress)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if on_progress is not None:
            print(file=sys.stderr)


def _print_report(
    report: CaptureReport, json_output: bool, extra: dict[str, object] | None = None
) -> None:
    """The report on stdout (with ``extra`` facts, e.g. -Y's counts); an error also on stderr."""
    extra = extra or {}
    if json_output:
        data = {**report.to_dict(), **extra}
        if report.error is None:
            print_json(data)
        else:
            document = {
                "success": False,
                "error": {"code": report.error.code_name, "message": report.error.message},
                "data": data,
            }
            print(json.dumps(document, indent=2))
    else:
        lines = report.text_lines()
        if extra:
            lines.append(
                f"display filter {extra['display_filter']!r}: {extra['matched']:,} of "
                f"{extra['captured']:,} captured packets matched and were written"
            )
        print("\n".join(lines))
    sys.stdout.flush()
    if report.error is not None:
        _say(report.error.message)


FORMATS: tuple[Format, ...] = (
    Format(
        "pcap",
        "write packets to pcap/pcapng files like tcpdump -w (rotation with -C/-W)",
        PCAP_EPILOG,
        add_pcap_arguments,
        run_pcap,
    ),
    Format(
        "ndjson",
        "stream browser requests (and packet summaries) to an NDJSON file, in the background",
        _ndjson.EPILOG,
        _ndjson.add_arguments,
        _ndjson.run,
    ),
)
"""The ``livetap capture`` sub-commands; a new format is a new entry."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One sub-command per format."""
    names = "{" + ",".join(entry.name for entry in FORMATS) + "}"
    formats = parser.add_subparsers(dest="capture_format", metavar=names, required=True)
    for entry in FORMATS:
        sub = formats.add_parser(
            entry.name,
            help=entry.help,
            description=entry.help,
            epilog=entry.epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        entry.add_arguments(sub)
        sub.set_defaults(capture_run=entry.run)


def run(args: argparse.Namespace) -> int:
    """Run the chosen format's sub-command."""
    runner: Callable[[argparse.Namespace], int] | None = getattr(args, "capture_run", None)
    if runner is None:
        raise UsageError("name a format: livetap capture pcap ...")
    return runner(args)
