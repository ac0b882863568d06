"""``livetap har``: convert an NDJSON capture (and its rotated files) to a HAR 1.2 file."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import ExitCode, NotFoundError
from engine.har import ndjson_to_har, write_har
from tui.commands._output import print_json

NAME = "har"
HELP = "convert an NDJSON capture (and its rotated files) to a HAR 1.2 file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The capture files and the output."""
    parser.add_argument(
        "files", nargs="+", type=Path, metavar="CAPTURE.ndjson", help="capture files, any order"
    )
    parser.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT.har", help="the HAR file to write"
    )
    parser.add_argument(
        "--include-sensitive",
        action="store_true",
        help="keep credentials, tokens in URLs and secret body fields (hidden by default)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Convert, write, and say what was written."""
    for path in args.files:
        if not path.exists():
            raise NotFoundError(f"{path} does not exist")
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
