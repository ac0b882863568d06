"""``livetap bpf``: a capture filter from a short description, or the table of examples."""

from __future__ import annotations

import argparse
import sys

from engine.bpf_builder import build_filter
from engine.bpf_examples import examples
from engine.errors import ExitCode, UsageError
from tui.commands._output import print_json

COLUMN = 46
"""Expressions longer than this get a line of their own in the examples table."""

NAME = "bpf"
HELP = "turn a description ('http to 10.0.0.5') into a checked BPF filter; --examples"

EPILOG = """\
examples:
  livetap bpf "HTTP traffic to 10.0.0.5 or 10.0.0.6"
      tcp dst port 80 and (dst host 10.0.0.5 or dst host 10.0.0.6)
  livetap bpf "tcp syn only from 192.168.0.0/16"
  livetap bpf "dns or ntp except from 10.0.0.1" --explain
  livetap bpf --examples --category advanced
  sudo livetap -i eth0 -f "$(livetap bpf 'ssh from 10.0.0.7')"

The first line printed is the filter, compiled by libpcap already. Host names
are refused (nothing is looked up); a word the rules do not know is named with
its position, never guessed.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The description (as one or several words), --explain, --examples, --json."""
    parser.epilog = EPILOG
    parser.add_argument("description", nargs="*", help="what to capture, in a few words")
    parser.add_argument(
        "--explain", action="store_true", help="also show the BPF program, like tcpdump -d"
    )
    parser.add_argument(
        "--examples", action="store_true", help="print the table of common and advanced filters"
    )
    parser.add_argument(
        "--category", choices=("basic", "advanced"), help="with --examples: only this category"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    """Print the filter (and what it means), or the examples."""
    if args.examples:
        if args.description:
            raise UsageError("give either a description or --examples, not both")
        return _print_examples(args)
    if not args.description:
        raise UsageError('describe what to capture, e.g. livetap bpf "http to 10.0.0.5"')
    built = build_filter(" ".join(args.description))
    if args.json:
        data: dict[str, object] = {
            "description": built.description,
            "expression": built.expression,
            "explanation": list(built.explanation),
        }
        if args.explain:
            data["program"] = built.program()
        print_json(data)
        return ExitCode.SUCCESS
    print(built.expression)
    if args.explain:
        print("\nwhat it matches:")
        print("\n".join(f"  {line}" for line in built.explanation))
        print("\nBPF program (as tcpdump -d prints it):")
        print("\n".join(f"  {line}" for line in built.program()))
    sys.stdout.flush()
    return ExitCode.SUCCESS


def _print_examples(args: argparse.Namespace) -> int:
    table = examples(args.category)
    if args.json:
        print_json([example.to_dict() for example in table])
        return ExitCode.SUCCESS
    width = min(max(len(example.expression) for example in table), COLUMN)
    for category in ("basic", "advanced"):
        rows = [example for example in table if example.category == category]
        if not rows:
            continue
        print(f"{category}:")
        for example in rows:
            if len(example.expression) > width:  # too long for the column: own line
                print(f"  {example.expression}\n  {'':<{width}}  {example.description}")
            else:
                print(f"  {example.expression:<{width}}  {example.description}")
    return ExitCode.SUCCESS
