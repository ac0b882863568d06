"""``livetap har``: convert an NDJSON capture (and its rotated files) to a HAR 1.2 file,
or print its requests as curl commands (``--curl``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.browser.request_export import curl_commands
from engine.errors import ExitCode, NotFoundError, UsageError
from engine.har import ndjson_to_har, write_har
from tui.commands._output import print_json

NAME = "har"
HELP = "convert an NDJSON capture (and its rotated files) to a HAR 1.2 file, or to curl commands"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The capture files and the output."""
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="CAPTURE.ndjson", help="capture files, any order"
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="OUT.har", help="the HAR file to write"
    )
    parser.add_argument(
        "--curl",
        action="store_true",
        help="instead, print a curl command for each request (bodies if the capture kept them)",
    )
    parser.add_argument(
        "--include-sensitive",
        "--show-secrets",
        dest="include_sensitive",
        action="store_true",
        help="keep credentials, cookies, tokens in URLs and secret body fields (hidden by default)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Convert, write, and say what was written (or print the curl commands)."""
    for path in args.files:
        if not path.exists():
            raise NotFoundError(f"{path} does not exist")
    if args.curl:
        if args.output is not None:
            raise UsageError("--curl prints to the terminal; leave out -o (or redirect: > FILE)")
        commands = curl_commands(list(args.files), show_secrets=args.include_sensitive)
        if args.json:
            print_json({"curl": commands})
        else:
            print("\n\n".join(commands))
        return ExitCode.SUCCESS
    if args.output is None:
        raise UsageError("name the HAR file to write with -o OUT.har (or print curl with --curl)")
    result = ndjson_to_har(list(args.files), include_sensitive=args.include_sensitive)
    write_har(result, args.output)
    summary = {
        "file": str(args.output.absolute()),
        "entries": result.entries,
        "linesRead": result.lines_read,
        "linesSkipped": result.lines_skipped,
    }
    if args.json:
        print_json(summary)
    else:
        skipped = f", {result.lines_skipped} lines skipped" if result.lines_skipped else ""
        read = f"{result.lines_read} lines read{skipped}"
        print(f"wrote {result.entries} entries to {summary['file']} ({read})")
    return ExitCode.SUCCESS
