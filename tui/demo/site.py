"""The demo web site: pages, JSON API calls, an image, a redirect, a 404, a slow endpoint.

Its pages keep the browser busy on their own: the dashboard polls the API, and
every page moves on to the next after a few seconds, so the browser pane keeps
filling without anyone driving it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)

DASHBOARD = b"""<!doctype html>
<html><head><title>livetap demo</title><link rel="stylesheet" href="/static/site.css"></head>
<body><h1>Sensor dashboard</h1><img src="/static/logo.png" alt="logo"><pre id="stats"></pre>
<script>
let round = 0;
async function poll() {
  round += 1;
  const stats = await (await fetch('/api/stats?round=' + round)).json();
  document.getElementById('stats').textContent = JSON.stringify(stats);
  if (round % 3 === 0) { await fetch('/api/missing-endpoint'); }
  if (round % 4 === 0) { await (await fetch('/api/slow')).text(); }
  if (round % 5 === 0) {
    const reading = JSON.stringify({sensor: 'kitchen', value: 20 + round % 7});
    await fetch('/api/readings', {method: 'POST', body: reading,
                                  headers: {'Content-Type': 'application/json'}});
  }
  if (round >= 8) { location.href = '/old-dashboard'; return; }
  setTimeout(poll, 1200);
}
poll();
</script></body></html>"""

CSS = b"body { font-family: sans-serif; background: #1b1f27; color: #d8dee9; }"


class DemoHandler(BaseHTTPRequestHandler):
    """Serves the demo pages; quiet."""

    protocol_version = "HTTP/1.1"

    def _send(
        self, status: int, body: bytes, kind: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/":
            self._send(200, DASHBOARD, "text/html; charset=utf-8")
        elif path == "/static/site.css":
            self._send(200, CSS, "text/css")
        elif path == "/static/logo.png":
            self._send(200, PNG, "image/png")
        elif path == "/api/stats":
            stats = {"sensors": 3, "time": round(time.time(), 3), "ok": True}
            self._send(
                200,
                json.dumps(stats).encode(),
                "application/json",
                {"Set-Cookie": "demo=1; Path=/"},
            )
        elif path == "/api/slow":
            time.sleep(1.5)
            self._send(200, b"finally", "text/plain")
        elif path == "/old-dashboard":
            self._send(302, b"", "text/plain", {"Location": "/"})
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        else:
            self._send(404, b"not here", "text/plain")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        self._send(201, b'{"stored": true}', "application/json")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the app shows the traffic."""


class DemoServer(ThreadingHTTPServer):
    """The demo's server: a browser that leaves mid-answer is not an error worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when the browser went away (a page moved on, the demo quit)."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@contextmanager
def demo_site(port: int = 0) -> Iterator[str]:
    """Serve the site on 127.0.0.1 for the duration of the block; yields its URL."""
    server = DemoServer(("127.0.0.1", port), DemoHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="livetap-demo-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
