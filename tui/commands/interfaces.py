"""``livetap interfaces``: the interfaces livetap can capture on, like ``tcpdump -D``."""

from __future__ import annotations

import argparse

from engine.errors import ExitCode
from engine.interfaces import list_interfaces
from tui.commands._output import print_json

NAME = "interfaces"
HELP = "list the interfaces livetap can capture on (like tcpdump -D)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--json`` only."""
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    """Print one line per interface, or a JSON document."""
    found = list_interfaces()
    if args.json:
        print_json(
            [
                {
                    "index": i.index,
                    "name": i.name,
                    "addresses": list(i.addresses),
                    "up": i.up,
                    "running": i.running,
                    "loopback": i.loopback,
                    "linktype": i.linktype,
                    "connected": i.connected,
                    "description": i.description,
                }
                for i in found
            ]
        )
        return ExitCode.SUCCESS
    for i in found:
        addresses = ", ".join(i.addresses)
        flags = ", ".join(i.flags()) or "none"
        description = f" ({i.description})" if i.description else ""
        line = f"{i.index}.{i.name}{description} [{flags}]"
        print(line + (f" {addresses}" if addresses else ""))
    return ExitCode.SUCCESS
