"""textual-serve's aiohttp application behind a token, for ``livetap serve``.

Every request needs the server's token, as Jupyter does: the printed URL
carries it (``/?token=…``); the page answers with a cookie (HttpOnly,
SameSite=Strict, named after the port) and a redirect to the same page without
the token, so the page's scripts, styles and its websocket carry the cookie and
the token leaves the address bar. A script may instead send
``Authorization: Bearer TOKEN``. Anything else gets 401 and no app: the
websocket that runs livetap is refused before the upgrade. A websocket opened
from another origin (a page of some other local server, which SameSite does not
tell apart from this one on 127.0.0.1) is refused with 403.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

from engine.access_token import AccessToken

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")

TEMPLATES = Path(__file__).with_name("serve_templates")
"""textual-serve's page template with the font served locally: the page asks no other host."""

REFUSED = (
    "livetap serve: this page needs its token. Open the URL livetap printed when it "
    "started (…/?token=…).\n"
)


def cookie_name(port: int) -> str:
    """One cookie per port: two livetap servers on one host do not overwrite each other's."""
    return f"livetap-token-{port}"


class TokenServer(Server):
    """textual-serve's Server with a token check on every request, optionally on a Unix socket."""

    def __init__(
        self,
        command: str,
        host: str,
        port: int,
        token: AccessToken,
        listening: socket.socket | None = None,
    ) -> None:
        super().__init__(
            command, host=host, port=port, title="livetap", templates_path=str(TEMPLATES)
        )
        self.token = token
        self.cookie = cookie_name(port)
        self.listening = listening

    def _allowed(self, request: web.Request) -> bool:
        scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.token.matches(credential.strip()):
            return True
        return self.token.matches(request.cookies.get(self.cookie))

    @staticmethod
    def _same_origin(request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:  # not a browser: the token is what counts
            return True
        try:
            return urlsplit(origin).netloc.lower() == request.host.lower()
        except ValueError:
            return False

    @web.middleware
    async def gate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Let through requests with the token; trade a ``?token=`` for the cookie."""
        given = request.query.get("token")
        if given is not None:
            if not self.token.matches(given):
                return web.Response(status=403, text=REFUSED)
            query = request.url.query.copy()
            del query["token"]
            response = web.HTTPSeeOther(request.rel_url.with_query(query))
            response.set_cookie(
                self.cookie, self.token.value, httponly=True, samesite="Strict", path="/"
            )
            return response
        if not self._allowed(request):
            return web.Response(status=401, text=REFUSED, headers={"WWW-Authenticate": "Bearer"})
        if request.path == "/ws" and not self._same_origin(request):
            return web.Response(status=403, text="livetap serve: a page of another origin\n")
        if request.path == "/" and _HOST.fullmatch(request.host):
            # The page's own URLs (scripts, the websocket) on the host it was opened at
            # (localhost, 127.0.0.1, an ssh -L port), where its cookie lives. handle_index
            # reads this before its first await, so no other request sees it in between.
            self.public_url = f"http://{request.host}"
        return await handler(request)

    async def _make_app(self) -> web.Application:
        """textual-serve's application with :meth:`gate` in front of every route."""
        app: web.Application = await super()._make_app()
        app.middlewares.append(self.gate)
        return app

    def serve(self, debug: bool = False) -> None:
        """Serve until interrupted: on the Unix socket when given one, else on host:port."""
        if self.listening is None:
            super().serve(debug)
            return
        import asyncio
        import signal

        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, self.request_exit)
        web.run_app(
            self._make_app(),
            sock=self.listening,
            handle_signals=False,
            loop=loop,
            print=lambda *args: None,
        )
