"""A page on 127.0.0.1 that opens a WebSocket and an EventSource to local servers.

The WebSocket server (the ``websockets`` package, in its own thread) answers each text
frame with ``echo:<text>`` and each binary frame with its bytes reversed, so a test knows
every frame's direction, opcode and size. ``/events`` sends three server-sent events.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

PAGE = """<!doctype html><html><head><title>streams</title></head><body>
<script>
const ws = new WebSocket('ws://127.0.0.1:%d/chat');
ws.binaryType = 'arraybuffer';
let answers = 0;
ws.onopen = () => { ws.send('hello livetap'); ws.send(new Uint8Array([1, 2, 3, 4, 250])); };
ws.onmessage = () => { answers += 1; if (answers === 2) document.body.dataset.ws = 'yes'; };
const events = new EventSource('/events');
let got = 0;
const counted = () => { got += 1; if (got === 2) document.body.dataset.sse = 'yes'; };
events.addEventListener('tick', counted);
events.onmessage = counted;
</script></body></html>"""

EVENTS = (
    b"retry: 600000\n\n"
    b"event: tick\nid: 1\ndata: first tick\n\n"
    b'data: {"n": 2, "token": "s3cret"}\n\n'
)


@dataclass
class StreamSite:
    """The page's HTTP port, the WebSocket server's port, and the frames the server got."""

    port: int
    ws_port: int
    received: list[str | bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(site: StreamSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path == "/refuse":  # a WebSocket upgrade this server will not make
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == "/events":
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Length", str(len(EVENTS)))
                self.end_headers()
                self.wfile.write(EVENTS)
                return
            body = (PAGE % site.ws_port).encode() if self.path == "/" else b""
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    return Handler


def _run_ws(site: StreamSite, ready: threading.Event, stop: threading.Event) -> None:
    async def answer(connection: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in connection:
                site.received.append(message)
                if isinstance(message, str):
                    await connection.send(f"echo:{message}")
                else:
                    await connection.send(bytes(reversed(message)))

    async def main() -> None:
        async with serve(answer, "127.0.0.1", 0) as server:
            site.ws_port = next(iter(server.sockets)).getsockname()[1]
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)

    asyncio.run(main())


@contextmanager
def stream_site() -> Iterator[StreamSite]:
    """Serve the page, the events and the WebSocket on free ports of 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    site = StreamSite(server.server_address[1], 0)
    server.RequestHandlerClass = _handler(site)
    ready, stop = threading.Event(), threading.Event()
    ws_thread = threading.Thread(target=_run_ws, args=(site, ready, stop), daemon=True)
    ws_thread.start()
    ready.wait(10)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        ws_thread.join(5)
