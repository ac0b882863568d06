"""``livetap capture ndjson start|stop|status``: a background NDJSON capture with JSON reports.

The life cycle is the engine's (:mod:`engine.ndjson.background`); this module turns
the command line into its options and prints its reports.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.errors import ExitCode
from engine.ndjson import background
from engine.ndjson.background import BackgroundOptions
from engine.ndjson.capture import DEFAULT_MAX_SIZE_MB

EPILOG = """\
lines (one JSON object each, flushed as each event arrives):
  {"type":"request","id":"req_1","url":...,"method":"GET","timestamp":"...Z","headers":{...}}
  {"type":"response","id":"req_1","status":200,"statusText":"OK","timestamp":...,"headers":{...}}
  {"type":"finished","id":"req_1","bytesReceived":1234,"timestamp":...}
  {"type":"failed","id":...,"errorText":...,"timestamp":...}
  {"type":"ws.frame","id":...,"timestamp":...,"direction":"sent","size":13,"opcode":1}
  {"type":"sse.message","id":...,"timestamp":...,"direction":"received","size":10,"event":...}
    (a frame's "payload" and an event's "data" with --include-bodies, redacted as bodies)
  {"type":"packet",...} with --packets ("input": its -i/--source-cmd/-r when several)

packets: -i, --source-cmd and -r may be repeated (interfaces and commands side by
side, files merged by time); -f filters in the kernel or libpcap, -Y (a display
filter, as in the TUI) then picks the packet lines written, e.g.
  -Y 'dns or frame.source == "eth1"'

rotation: at --max-size the full capture.ndjson becomes capture.1.ndjson, older
files move up (.1 -> .2 ...), writing goes on in capture.ndjson.
filters: * matches anything in the whole URL; several --filter are OR-ed; a
pattern starting with ! excludes and wins.
secrets: Authorization, Cookie, Set-Cookie and Proxy-Authorization, tokens in URLs
(access_token=, api_key=, code=, ...) and secret fields of form and JSON bodies
are written as [redacted] unless --include-sensitive.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """start / stop / status."""
    actions = parser.add_subparsers(
        dest="ndjson_action", metavar="{start,stop,status}", required=True
    )
    start = actions.add_parser(
        "start",
        help="start a background capture to an NDJSON file",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    start.add_argument("--file", required=True, type=Path, help="the NDJSON file to write")
    start.add_argument(
        "--max-size",
        type=float,
        default=DEFAULT_MAX_SIZE_MB,
        metavar="MB",
        help="rotate at this size in MB (fractions allowed; default 100)",
    )
    start.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="PATTERN",
        help="keep URLs matching (* wildcard); !PATTERN excludes; repeatable",
    )
    start.add_argument(
        "--include-bodies", action="store_true", help="write request and response bodies"
    )
    start.add_argument(
        "--include-sensitive",
        action="store_true",
        help="keep cookies, authorization headers, URL tokens and secret body fields",
    )
    start.add_argument(
        "--append", action="store_true", help="continue an existing file and its rotation"
    )
    start.add_argument(
        "--browser", metavar="SPEC", help="'launch' (the default) or a port / host:port / ws:// URL"
    )
    start.add_argument("--open", metavar="URL", help="load URL in the browser")
    start.add_argument("--headed", action="store_true", help="a visible browser window")
    start.add_argument("--chromium", metavar="PATH", help="the browser executable")
    start.add_argument(
        "--allow-remote-browser", action="store_true", help="allow a non-loopback browser"
    )
    start.add_argument(
        "--no-sandbox", action="store_true", help="launch Chromium without its sandbox (warns)"
    )
    start.add_argument(
        "--block",
        action="append",
        default=[],
        metavar="PATTERN",
        help="fail the browser's requests to matching URLs (* wildcard); repeatable",
    )
    start.add_argument(
        "--throttle",
        metavar="PROFILE",
        help="offline, slow-3g, fast-3g or LATENCY_MS:DOWN_KBPS:UP_KBPS (0: no limit)",
    )
    start.add_argument("--no-cache", action="store_true", help="disable the browser's cache")
    start.add_argument(
        "--allow-control",
        action="store_true",
        help="allow --block/--throttle/--no-cache on an attached browser",
    )
    start.add_argument(
        "--packets", action="store_true", help="also write packet summaries (needs root)"
    )
    start.add_argument("--no-browser", action="store_true", help="packets only")
    start.add_argument(
        "-i",
        "--interface",
        action="append",
        help="with --packets: the interface; repeat for several",
    )
    start.add_argument(
        "-r",
        "--read",
        action="append",
        metavar="FILE",
        help="with --packets: read a capture file instead; repeat to merge files by time",
    )
    start.add_argument(
        "--source-cmd",
        action="append",
        metavar="COMMAND",
        help="with --packets: read the pcap stream a command writes; repeatable, also beside -i",
    )
    start.add_argument(
        "-f", "--bpf", default="", metavar="BPF", help="with --packets: a capture filter"
    )
    start.add_argument(
        "-Y",
        "--display-filter",
        default="",
        metavar="EXPR",
        help="with --packets: write only the packet events this display filter matches",
    )
    start.add_argument("--json", action="store_true", default=True, help=argparse.SUPPRESS)
    start.set_defaults(ndjson_run=run_start)
    stop = actions.add_parser("stop", help="stop the background capture and print its figures")
    stop.add_argument("--json", action="store_true", default=True, help=argparse.SUPPRESS)
    stop.set_defaults(ndjson_run=run_stop)
    status = actions.add_parser("status", help="print the running capture's figures")
    status.add_argument("--json", action="store_true", default=True, help=argparse.SUPPRESS)
    status.set_defaults(ndjson_run=run_status)


def run(args: argparse.Namespace) -> int:
    """Dispatch to start, stop or status."""
    code: int = args.ndjson_run(args)
    return code


def options_from(args: argparse.Namespace) -> BackgroundOptions:
    """The engine's options from the command line (a warning for --no-sandbox)."""
    browser = None if args.no_browser else (args.browser or "launch")
    if args.no_sandbox and browser is not None:
        print("livetap: warning: Chromium's sandbox is off (--no-sandbox)", file=sys.stderr)
    return BackgroundOptions(
        file=Path(args.file),
        max_size_mb=args.max_size,
        filters=tuple(args.filter or ()),
        include_bodies=args.include_bodies,
        include_sensitive=args.include_sensitive,
        append=args.append,
        browser=browser,
        open=args.open,
        headed=args.headed,
        chromium=args.chromium,
        allow_remote_browser=args.allow_remote_browser,
        no_sandbox=args.no_sandbox,
        packets=args.packets,
        interfaces=tuple(args.interface or ()),
        files=tuple(args.read or ()),
        commands=tuple(args.source_cmd or ()),
        bpf=args.bpf or "",
        block=tuple(args.block or ()),
        throttle=args.throttle,
        no_cache=args.no_cache,
        allow_control=args.allow_control,
        display_filter=args.display_filter or "",
    )


def _print(document: dict[str, Any]) -> int:
    """Print a report and return the exit code it stands for."""
    print(json.dumps(document, indent=2))
    if document.get("success"):
        return ExitCode.SUCCESS
    name = str(document.get("error", {}).get("code", "FAILURE"))
    return ExitCode[name] if name in ExitCode.__members__ else ExitCode.FAILURE


def run_start(args: argparse.Namespace) -> int:
    """Start the background process and print its start report."""
    return _print(background.start(options_from(args)))


def run_stop(args: argparse.Namespace) -> int:
    """Stop the running capture, wait for its process to end, print its figures."""
    return _print(background.stop())


def run_status(args: argparse.Namespace) -> int:
    """Print the running capture's figures without stopping it."""
    return _print(background.status())
