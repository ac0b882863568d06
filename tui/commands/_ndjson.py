"""``livetap capture ndjson start|stop|status``: a background NDJSON capture with JSON reports.

``start`` checks the options, starts the capture in a process of its own, waits
for it to report that it is writing, prints the start report and returns.
``stop`` asks that process to stop, prints its figures and waits for it to exit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from engine.errors import (
    ExitCode,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
    UsageError,
)
from engine.ndjson.capture import DEFAULT_MAX_SIZE_MB
from engine.ndjson.control import ask, ensure_none_running, runtime_dir
from engine.ndjson.url_filter import UrlFilter

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0

EPILOG = """\
lines (one JSON object each, flushed as each event arrives):
  {"type":"request","id":"req_1","url":...,"method":"GET","timestamp":"...Z","headers":{...}}
  {"type":"response","id":"req_1","status":200,"statusText":"OK","timestamp":...,"headers":{...}}
  {"type":"finished","id":"req_1","bytesReceived":1234,"timestamp":...}
  {"type":"failed","id":...,"errorText":...,"timestamp":...}
  {"type":"packet",...} with --packets

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
        "--packets", action="store_true", help="also write packet summaries (needs root)"
    )
    start.add_argument("--no-browser", action="store_true", help="packets only")
    start.add_argument("-i", "--interface", help="with --packets: the interface")
    start.add_argument(
        "-f", "--bpf", default="", metavar="BPF", help="with --packets: a capture filter"
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


def _check_target(path: Path) -> Path:
    """Fail fast, before starting anything, on a file that cannot be written."""
    path = path.expanduser().absolute()
    if not path.parent.is_dir():
        raise NotFoundError(f"the directory {path.parent} does not exist")
    if path.is_dir():
        raise UsageError(f"{path} is a directory; name a file")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise PermissionDeniedError(f"cannot write {path}: permission denied")
    return path


def _config(args: argparse.Namespace) -> dict[str, Any]:
    """The options the background process needs, checked."""
    UrlFilter.parse(args.filter)
    if args.max_size <= 0:
        raise UsageError(f"--max-size must be more than 0 MB, not {args.max_size}")
    if args.no_browser and not args.packets:
        raise UsageError("--no-browser leaves nothing to capture: add --packets")
    browser = None if args.no_browser else (args.browser or "launch")
    if args.no_sandbox and browser is not None:
        print("livetap: warning: Chromium's sandbox is off (--no-sandbox)", file=sys.stderr)
    return {
        "file": str(_check_target(args.file)),
        "max_size_mb": args.max_size,
        "filters": args.filter,
        "include_bodies": args.include_bodies,
        "include_sensitive": args.include_sensitive,
        "append": args.append,
        "browser": browser,
        "open": args.open,
        "headed": args.headed,
        "chromium": args.chromium,
        "allow_remote": args.allow_remote_browser,
        "no_sandbox": args.no_sandbox,
        "packets": args.packets,
        "interface": args.interface,
        "bpf": args.bpf,
    }


def _print(document: dict[str, Any]) -> int:
    """Print a report and return the exit code it stands for."""
    document.pop("_pid", None)
    print(json.dumps(document, indent=2))
    if document.get("success"):
        return ExitCode.SUCCESS
    name = str(document.get("error", {}).get("code", "FAILURE"))
    return ExitCode[name] if name in ExitCode.__members__ else ExitCode.FAILURE


def run_start(args: argparse.Namespace) -> int:
    """Start the background process and print its start report."""
    ensure_none_running()
    config = _config(args)
    log = runtime_dir() / "ndjson-capture.log"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(log, flags, 0o600), "wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "tui.commands._ndjson_daemon", json.dumps(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            start_new_session=True,
            cwd="/",
        )
    assert process.stdout is not None
    line = _first_line(process, START_TIMEOUT)
    if not line:
        process.kill()
        tail = log.read_text(errors="replace")[-500:].strip()
        raise UnavailableError(
            f"the capture process ended before it started writing: {tail or 'no output'}"
        )
    return _print(json.loads(line))


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    """The readiness line, or b"" if the process dies or stays silent."""
    import selectors

    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return b""
    return process.stdout.readline()


def run_stop(args: argparse.Namespace) -> int:
    """Stop the running capture, wait for its process to end, print its figures."""
    reply = ask("stop", STOP_TIMEOUT)
    pid = int(reply.get("_pid", 0))
    deadline = time.monotonic() + STOP_TIMEOUT
    while pid and _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _print(reply)


def _alive(pid: int) -> bool:
    """Whether the capture process still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_status(args: argparse.Namespace) -> int:
    """Print the running capture's figures without stopping it."""
    return _print(ask("status"))
