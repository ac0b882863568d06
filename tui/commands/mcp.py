"""``livetap mcp``: livetap's tools for AI agents over the Model Context Protocol.

The tools are :mod:`tui.mcp`'s plain functions; this module serves them with
the official SDK's low-level server, on stdio (what desktop clients start) or
the streamable HTTP transport (``--http 127.0.0.1:PORT``, every request with
the server's bearer token, loopback only unless ``--allow-remote``; or
``--unix PATH``, a socket only its owner can connect to). Tool calls run in
worker threads; a failed call is an MCP tool error carrying livetap's error
code and message, and the server goes on. The NDJSON tools call ``livetap
capture ndjson`` in-process, so their contract is the CLI's. On exit (stdin
closed, Ctrl-C, SIGTERM, SIGHUP) the server stops what it started: running
captures, its NDJSON capture and its browser.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ipaddress
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.access_token import AccessToken, require_chosen_for_remote, resolve_token
from engine.errors import ExitCode, LivetapError, PermissionDeniedError, UsageError
from engine.ndjson.background import BackgroundCapture, BackgroundOptions
from tui.commands._mcp_http import Stopped
from tui.mcp import Toolbox, load_server_config
from tui.mcp.toolbox import INSTRUCTIONS

if TYPE_CHECKING:
    from mcp.server.context import ServerRequestContext
    from mcp.server.lowlevel import Server

    Context = ServerRequestContext[Any, Any]

NAME = "mcp"
HELP = "serve livetap's capture and analysis tools to AI agents (Model Context Protocol)"

EPILOG = """\
tools: list_interfaces, capture_packets, build_bpf, analyze_pcap, follow_stream,
  check_threats, find_credentials, browser_requests, start_ndjson_capture,
  stop_ndjson_capture, generate_dissector
resources: livetap://server/config, livetap://captures/NAME (files this server
  wrote), livetap://reports/TOOL (the last result of each tool)

Files are written, and read, only inside the capture directory (reading
elsewhere needs --read-anywhere). Captures over a cap are refused, not clamped.

examples:
  sudo livetap mcp                                  # stdio, for Claude Desktop / Code
  sudo livetap mcp --capture-directory /var/tmp/lt --max-duration 20
  sudo livetap mcp --http 127.0.0.1:8765            # streamable HTTP at /mcp, with a token
  sudo livetap mcp --unix /run/livetap-mcp.sock     # the same on a Unix socket (mode 0600)

Over --http every request needs "Authorization: Bearer TOKEN": a random token
printed at start, or yours from --token-file FILE or LIVETAP_TOKEN (required
with --allow-remote).
"""

RESOURCE_NOT_FOUND = -32602
"""JSON-RPC "invalid params", which MCP uses for an unknown resource."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server's own configuration: transport, config file, caps, switches."""
    parser.epilog = EPILOG
    parser.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve the streamable HTTP transport at http://HOST:PORT/mcp instead of stdio",
    )
    parser.add_argument(
        "--unix",
        type=Path,
        metavar="PATH",
        help="serve the streamable HTTP transport on a Unix socket (mode 0600) instead of stdio",
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="with --http: the bearer token clients must send, from a file only you can read "
        "(default: LIVETAP_TOKEN, else a random one printed at start)",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="with --http: allow a non-loopback address (needs --token-file or LIVETAP_TOKEN)",
    )
    parser.add_argument(
        "--config",
        dest="mcp_config",
        type=Path,
        metavar="FILE",
        help="config file (livetap's keys, plus an mcp: section)",
    )
    parser.add_argument(
        "--capture-directory",
        type=Path,
        metavar="DIR",
        help="where tools write and read files (default: captureDirectory, else "
        "~/.local/share/livetap/mcp)",
    )
    parser.add_argument(
        "--max-duration", type=float, metavar="S", help="seconds per capture (default 60)"
    )
    parser.add_argument(
        "--max-count", type=int, metavar="N", help="packets per capture (default 10000)"
    )
    parser.add_argument(
        "--max-bytes", metavar="B", help="bytes per capture, e.g. 20M (default 50M)"
    )
    parser.add_argument(
        "--max-ndjson-duration",
        type=float,
        metavar="S",
        help="seconds before the server stops an NDJSON capture (default 600)",
    )
    parser.add_argument(
        "--browser",
        dest="mcp_browser",
        metavar="SPEC",
        help="the browser of browser_requests: launch (default), a port, host:port or ws:// URL",
    )
    parser.add_argument(
        "--allow-remote-browser",
        dest="mcp_allow_remote_browser",
        action="store_true",
        help="allow a non-loopback browser debugging port",
    )
    parser.add_argument(
        "--show-secrets",
        action="store_true",
        help="show credentials, cookies and authorization headers unmasked",
    )
    parser.add_argument(
        "--read-anywhere",
        action="store_true",
        help="let tools read capture, blocklist and spec files outside the capture directory",
    )


def run(args: argparse.Namespace) -> int:
    """Load the configuration (errors before serving), then serve until the client leaves."""
    if args.http and args.unix:
        raise UsageError("--http and --unix are two transports: choose one")
    bind = _http_address(args.http, args.allow_remote) if args.http else None
    token = None
    if bind is not None:
        token = resolve_token(args.token_file, os.environ)
        if not _is_loopback(bind[0]):
            require_chosen_for_remote(token, "livetap mcp")
    elif args.token_file is not None:
        raise UsageError("--token-file goes with --http (a Unix socket is guarded by its mode)")
    config = load_server_config(
        {
            "config": args.mcp_config or getattr(args, "config", None),
            "capture_directory": args.capture_directory,
            "max_duration": args.max_duration,
            "max_count": args.max_count,
            "max_bytes": args.max_bytes,
            "max_ndjson_duration": args.max_ndjson_duration,
            "browser": args.mcp_browser or getattr(args, "browser", None),
            "chromium": getattr(args, "chromium", None),
            "allow_remote_browser": args.mcp_allow_remote_browser
            or getattr(args, "allow_remote_browser", False),
            "show_secrets": args.show_secrets,
            "read_anywhere": args.read_anywhere,
            "interface": getattr(args, "interface", None),
            "snaplen": getattr(args, "snaplen", None),
            "buffer_size": getattr(args, "buffer_size", None),
        }
    )
    import anyio

    toolbox = Toolbox(config, ReapedBackgroundCapture())
    try:
        if bind is not None and token is not None:
            anyio.run(_serve_http, toolbox, bind, token)
        elif args.unix is not None:
            anyio.run(_serve_unix, toolbox, args.unix)
        else:
            anyio.run(_serve_stdio, toolbox)
    except Stopped:
        return ExitCode.INTERRUPTED
    finally:
        toolbox.close()
    return ExitCode.SUCCESS


def _http_address(text: str, allow_remote: bool) -> tuple[str, int]:
    """HOST:PORT (``[::1]:PORT`` for IPv6), loopback unless --allow-remote."""
    host, _, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--http wants HOST:PORT, e.g. 127.0.0.1:8765, not {text!r}")
    loopback = _is_loopback(host)
    if not loopback and not allow_remote:
        raise PermissionDeniedError(
            f"{host} is not a loopback address: the MCP server drives captures as this user, so "
            "it listens on 127.0.0.1/::1/localhost unless you add --allow-remote"
        )
    if not loopback:
        print(
            f"livetap: warning: serving MCP on {host}, reachable from the network; anyone with "
            "the token drives captures",
            file=sys.stderr,
        )
    return host, int(port_text)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- the MCP server ---------------------------------------------------------------------------


def build_server(toolbox: Toolbox) -> Server[Any]:
    """The SDK's low-level server with livetap's tools and resources."""
    import anyio.to_thread
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError

    tools = [
        types.Tool(
            name=tool.name,
            title=tool.title,
            description=tool.description,
            input_schema=tool.schema,
            annotations=types.ToolAnnotations(
                title=tool.title,
                read_only_hint=tool.read_only,
                destructive_hint=False,
                idempotent_hint=tool.read_only,
                open_world_hint=tool.name == "browser_requests",
            ),
        )
        for tool in toolbox.tools
    ]

    async def list_tools(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        outcome = await anyio.to_thread.run_sync(
            toolbox.call, params.name, dict(params.arguments or {})
        )
        return types.CallToolResult(
            content=[types.TextContent(text=outcome.text())],
            structured_content=outcome.data,
            is_error=not outcome.ok,
        )

    async def list_resources(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        found = await anyio.to_thread.run_sync(toolbox.resources)
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    name=item.name,
                    uri=item.uri,
                    description=item.description,
                    mime_type=item.mime_type,
                    size=item.size,
                )
                for item in found
            ]
        )

    async def read_resource(
        ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        try:
            contents = await anyio.to_thread.run_sync(toolbox.read, str(params.uri))
        except LivetapError as error:
            raise MCPError(RESOURCE_NOT_FOUND, error.message) from None
        items: list[types.TextResourceContents | types.BlobResourceContents] = []
        for part in contents:
            if part.text is not None:
                items.append(
                    types.TextResourceContents(
                        uri=part.uri, mime_type=part.mime_type, text=part.text
                    )
                )
            else:
                blob = base64.b64encode(part.data or b"").decode("ascii")
                items.append(
                    types.BlobResourceContents(uri=part.uri, mime_type=part.mime_type, blob=blob)
                )
        return types.ReadResourceResult(contents=items)

    return Server(
        "livetap",
        version=_version(),
        title="livetap",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("livetap")
    except PackageNotFoundError:
        return "unknown"


async def _until_signal(toolbox: Toolbox) -> None:
    """On SIGINT, SIGTERM or SIGHUP: stop what the server started, then exit (130).

    The exit is immediate (``os._exit``) because the stdio transport reads stdin
    in a thread that only ends when the client closes it; everything the server
    started is stopped first, captures with their files completed.
    """
    import os

    import anyio
    import anyio.to_thread

    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
        async for _number in signals:
            toolbox.state.shutdown.set()
            await anyio.to_thread.run_sync(toolbox.close)
            sys.stderr.flush()
            os._exit(ExitCode.INTERRUPTED)


async def _serve_stdio(toolbox: Toolbox) -> None:
    """Serve one client on stdin/stdout until it closes them (a signal exits from _until_signal)."""
    import anyio
    from mcp.server.stdio import stdio_server

    server = build_server(toolbox)
    async with anyio.create_task_group() as group:
        group.start_soon(_until_signal, toolbox)
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
        group.cancel_scope.cancel()


async def _serve_http(toolbox: Toolbox, bind: tuple[str, int], token: AccessToken) -> None:
    """Serve the streamable HTTP transport at /mcp, bearer token required, until a signal."""
    from tui.commands._mcp_http import serve_tcp

    await serve_tcp(build_server(toolbox), *bind, token)


async def _serve_unix(toolbox: Toolbox, path: Path) -> None:
    """Serve the streamable HTTP transport on a Unix socket only this user can use."""
    from tui.commands._mcp_http import serve_unix

    await serve_unix(build_server(toolbox), path)


def _reap_capture_process() -> None:
    """Collect the capture process when it exits, as the shell would after the CLI's start.

    The CLI's ``start`` exits and leaves the process to init; here the server is
    its parent, and an unreaped process would look alive to ``stop`` (which waits
    for it to end).
    """
    import os

    from engine.ndjson.control import read_state

    state = read_state()
    if state is None:
        return
    pid = int(state["pid"])

    def reap() -> None:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)

    threading.Thread(target=reap, name="livetap-mcp-reap", daemon=True).start()


class ReapedBackgroundCapture(BackgroundCapture):
    """The engine's background NDJSON capture, its process reaped when this server started it."""

    def start(self, options: BackgroundOptions) -> dict[str, Any]:
        """Start the capture; a thread waits for the process, as a shell would."""
        document = super().start(options)
        if document.get("success"):
            _reap_capture_process()
        return document
