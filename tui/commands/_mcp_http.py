"""``livetap mcp --http`` / ``--unix``: the streamable HTTP transport behind a door.

Over TCP every request needs ``Authorization: Bearer TOKEN``, as the MCP
specification's authorization section has HTTP transports do; without it the
answer is 401 with ``WWW-Authenticate: Bearer``. Loopback is no boundary
between the users of one machine, so this holds on 127.0.0.1 too. Over a Unix
socket (mode 0600) the file system is the door: only its owner can connect.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from engine.access_token import AccessToken
from engine.unix_socket import listen_private

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class BearerGate:
    """ASGI middleware: an HTTP request without the bearer token gets 401, nothing else."""

    def __init__(self, app: App, token: AccessToken) -> None:
        self.app = app
        self.token = token

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                scheme, _, credential = value.decode("latin-1").partition(" ")
                return scheme.lower() == "bearer" and self.token.matches(credential.strip())
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the lifespan and authorized requests through; refuse the rest."""
        if scope["type"] not in ("http", "websocket") or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = json.dumps(
            {"error": "unauthorized", "message": "send Authorization: Bearer <livetap token>"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"www-authenticate", b'Bearer realm="livetap"'),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class Stopped(Exception):
    """SIGINT or SIGTERM ended the server; raised once uvicorn has shut down gracefully."""


def _stopped(number: int, frame: FrameType | None) -> None:
    raise Stopped(number)


async def _run(config: Any, sockets: list[Any] | None = None) -> None:
    """Run uvicorn; a signal ends it with :class:`Stopped`, so the caller's cleanup runs.

    uvicorn re-raises the signal it shut down for to the handler it found at start,
    which would otherwise be the default one, killing the process before any
    ``finally`` (the socket file, the server's browser).
    """
    import uvicorn

    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, _stopped) for number in handled}
    try:
        await uvicorn.Server(config).serve(sockets=sockets)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def serve_tcp(server: Server[Any], host: str, port: int, token: AccessToken) -> None:
    """Serve at http://HOST:PORT/mcp, each request checked for the token, until a signal."""
    import uvicorn

    app = server.streamable_http_app(host=host)  # DNS-rebinding protection on loopback
    gated = BearerGate(app, token)
    config = uvicorn.Config(gated, host=host, port=port, log_level="warning", lifespan="on")
    shown = token.value if not token.chosen else f"<the token from {token.source}>"
    print(
        f"livetap: MCP server at http://{_url_host(host)}:{port}/mcp\n"
        f"livetap: send the header  Authorization: Bearer {shown}",
        file=sys.stderr,
    )
    await _run(config)


async def serve_unix(server: Server[Any], path: Path) -> None:
    """Serve at http://localhost/mcp over a Unix socket only this user can connect to."""
    import uvicorn
    from mcp.server.transport_security import TransportSecuritySettings

    listening = listen_private(path)
    # No browser reaches a Unix socket, so there is no DNS rebinding to guard against.
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app = server.streamable_http_app(transport_security=security)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    print(
        f"livetap: MCP server on the Unix socket {path} (mode 0600) at http://localhost/mcp",
        file=sys.stderr,
    )
    try:
        await _run(config, [listening])
    finally:
        listening.close()
        path.unlink(missing_ok=True)
