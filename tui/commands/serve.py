"""``livetap serve``: the app as a web page (textual-serve), on 127.0.0.1 unless told otherwise.

Each browser tab that opens the page starts its own livetap with the given
arguments (by default the demo). The page controls a capture that usually runs
as root, and loopback is no boundary between the users of one machine, so every
request needs the server's token (:mod:`tui.commands._serve_app`): random at
each start and printed in the URL, or the user's own (``--token-file``,
``LIVETAP_TOKEN``). Binding anywhere but loopback also takes ``--allow-remote``
and a token the user set. ``--unix PATH`` listens on a socket only its owner
can connect to (for ``ssh -L``), the token still required.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import sys
from pathlib import Path

from engine.access_token import ENVIRONMENT, require_chosen_for_remote, resolve_token
from engine.config import SERVE_PORT_ENV
from engine.errors import ExitCode, NotFoundError, UsageError

NAME = "serve"
HELP = "serve the app as a web page (textual-serve), bound to 127.0.0.1 by default"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Where to listen, the token, and the livetap arguments each page runs."""
    parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help=f"the token the page needs, from a file only you can read (default: {ENVIRONMENT}, "
        "else a random one printed in the URL)",
    )
    parser.add_argument(
        "--unix",
        type=Path,
        metavar="PATH",
        help="listen on a Unix socket (mode 0600) instead of TCP, e.g. for ssh -L",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (needs --token-file or LIVETAP_TOKEN)",
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
    """Check the address and the token, then serve until interrupted."""
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, not {args.port}")
    token = resolve_token(args.token_file, os.environ)
    if not _loopback(args.host):
        if not args.allow_remote:
            raise UsageError(
                f"--host {args.host} is not a loopback address: the page controls the capture, "
                "so add --allow-remote (and a token of yours) to expose it"
            )
        require_chosen_for_remote(token, "livetap serve")
        print(
            f"livetap: WARNING: serving capture control on {args.host}:{args.port}; anyone "
            "with the token controls the capture",
            file=sys.stderr,
        )
    try:
        from tui.commands._serve_app import TokenServer
    except ImportError:
        raise NotFoundError("textual-serve is not installed: pip install textual-serve") from None
    listening = None
    if args.unix is not None:
        from engine.unix_socket import listen_private

        listening = listen_private(args.unix)
    command = app_command(args.app_args)
    host = f"[{args.host}]" if ":" in args.host else args.host
    shown = token.value if not token.chosen else f"<the token from {token.source}>"
    where = f" on the Unix socket {args.unix} (mode 0600), for" if args.unix else " at"
    print(
        f"livetap: serving `{command}`{where} http://{host}:{args.port}/\n"
        f"livetap: open http://{host}:{args.port}/?token={shown}",
        file=sys.stderr,
    )
    if args.unix is None:
        # Each page's livetap leaves this port out of a capture on lo or any, or the
        # page's own websocket would fill the packet list it shows (issue 18 #13).
        os.environ[SERVE_PORT_ENV] = str(args.port)
    try:
        TokenServer(command, args.host, args.port, token, listening).serve()
    finally:
        if args.unix is not None:
            args.unix.unlink(missing_ok=True)
    return ExitCode.SUCCESS
