"""``livetap serve``: the app as a web page (textual-serve), on 127.0.0.1 unless told otherwise.

Each browser tab that opens the page starts its own livetap with the given
arguments (by default the demo). Binding anywhere but loopback exposes capture
control to the network, so it takes a flag and prints a warning.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys

from engine.errors import ExitCode, NotFoundError, UsageError

NAME = "serve"
HELP = "serve the app as a web page (textual-serve), bound to 127.0.0.1 by default"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Where to listen, and the livetap arguments each page runs."""
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (anyone who can reach it controls the capture)",
    )
    parser.add_argument(
        "app_args",
        nargs=argparse.REMAINDER,
        metavar="-- ARGS",
        help="livetap arguments for each page, after -- (default: demo)",
    )


def _loopback(host: str) -> bool:
    if host in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(app_args: list[str]) -> str:
    """The command textual-serve runs for each page."""
    arguments = [arg for arg in app_args if arg != "--"] or ["demo"]
    return shlex.join([sys.executable, "-m", "tui.cli", *arguments])


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, not {args.port}")
    if not _loopback(args.host):
        if not args.allow_remote:
            raise UsageError(
                f"--host {args.host} is not a loopback address: the page controls the capture, "
                "so add --allow-remote to expose it"
            )
        print(
            f"livetap: WARNING: serving capture control on {args.host}:{args.port}", file=sys.stderr
        )
    try:
        from textual_serve.server import Server
    except ImportError:
        raise NotFoundError("textual-serve is not installed: pip install textual-serve") from None
    command = app_command(args.app_args)
    print(f"livetap: serving `{command}` at http://{args.host}:{args.port}/", file=sys.stderr)
    Server(command, host=args.host, port=args.port, title="livetap").serve()
    return ExitCode.SUCCESS
