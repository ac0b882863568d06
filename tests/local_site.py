"""A small web site on 127.0.0.1 for the browser tests: every kind of request the pane shows.

The index page loads a stylesheet, a script and an image; the script fetches
JSON, a missing file (404), a redirect, POSTs a form and tries a port nothing
listens on (connection refused). ``/popup`` is opened by a ``target=_blank`` link.
``/early`` fetches JSON and POSTs from an inline script in its head, as soon as
it loads: what a browser that is not yet instrumented misses first.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def index_page(refused_port: int) -> bytes:
    """The page that makes every kind of request."""
    return f"""<!doctype html>
<html><head><title>livetap test site</title>
<link rel="stylesheet" href="/style.css">
<script src="/app.js" defer></script></head>
<body><h1>livetap</h1><img src="/logo.png" alt="logo">
<a id="popup" href="/popup" target="_blank">popup</a>
<script>
window.refusedPort = {refused_port};
</script></body></html>""".encode()


APP_JS = b"""
async function run() {
  const data = await (await fetch('/api/data.json?item=7&kind=test',
                                   {headers: {'Authorization': 'Bearer secret-token'}})).json();
  document.title = 'items:' + data.items.length;
  await (await fetch('/missing.txt')).text();
  await (await fetch('/old-location')).text();
  await (await fetch('/api/submit', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                     body: JSON.stringify({name: 'livetap', answer: 42})})).text();
  try { await fetch('http://127.0.0.1:' + window.refusedPort + '/nothing'); } catch (e) {}
  document.body.dataset.done = 'yes';
}
run();
"""


EARLY_PAGE = b"""<!doctype html>
<html><head><title>early</title><script>
fetch('/api/data.json?early=1').then(r => r.json())
  .then(d => fetch('/api/submit', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                   body: JSON.stringify(d)}))
  .then(r => r.text()).then(() => { document.documentElement.dataset.done = 'yes'; });
</script></head><body>early</body></html>"""


@dataclass
class LocalSite:
    """The running site: its base URL and what it was asked for."""

    port: int
    refused_port: int
    posts: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(site: LocalSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(
            self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/":
                self._send(200, index_page(site.refused_port), "text/html; charset=utf-8")
            elif path == "/early":
                self._send(200, EARLY_PAGE, "text/html; charset=utf-8")
            elif path == "/style.css":
                self._send(200, b"body { font-family: sans-serif; }", "text/css")
            elif path == "/app.js":
                self._send(200, APP_JS, "application/javascript")
            elif path == "/logo.png":
                self._send(200, PNG, "image/png")
            elif path == "/api/data.json":
                body = json.dumps({"items": [1, 2, 3], "ok": True}).encode()
                self._send(200, body, "application/json", {"Set-Cookie": "session=s3cret; Path=/"})
            elif path == "/old-location":
                self._send(302, b"", "text/plain", {"Location": "/api/data.json?moved=1"})
            elif path == "/popup":
                self._send(
                    200,
                    b"<html><body>popup<img src='/logo.png?popup=1'></body></html>",
                    "text/html",
                )
            elif path == "/favicon.ico":
                self._send(204, b"", "image/x-icon")
            else:
                self._send(404, b"not here", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            site.posts.append(body)
            self._send(201, b'{"saved": true}', "application/json")

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    return Handler


@contextmanager
def local_site() -> Iterator[LocalSite]:
    """Serve the site on a free port of 127.0.0.1 for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(LocalSite(0, 0)))
    site = LocalSite(server.server_address[1], closed_port())
    server.RequestHandlerClass = _handler(site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
