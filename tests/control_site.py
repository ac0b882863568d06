"""A small site on 127.0.0.1 that counts what it is asked for: the network-control and
copy-as tests check what reached the server, not only what the browser says."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = b"""<!doctype html><html><head><title>controls</title></head><body>
<script>
async function run() {
  try { await (await fetch('/api/blocked')).text(); } catch (e) {}
  await (await fetch('/ok')).text();
  await (await fetch('/cacheable')).text();
  await (await fetch('/cacheable')).text();
  await (await fetch('/echo?from=page', {method: 'POST',
      headers: {'Content-Type': 'application/json', 'X-Livetap-Test': 'yes \\'quoted\\''},
      body: JSON.stringify({name: "it's livetap", answer: 42, list: [1, 2]})})).text();
  document.body.dataset.done = 'yes';
}
run();
</script></body></html>"""


PATCHED = b"""<!doctype html><html><head><title>patched</title></head><body>
<script>
async function run() {
  await (await fetch('/echo?from=patched', {method: 'POST', body: 'patched body'})).text();
  window.blockedCalls = 0;
  window.fetch = () => { window.blockedCalls += 1; return Promise.reject(new Error('no')); };
  document.body.dataset.done = 'yes';
}
run();
</script></body></html>"""
"""A page that replaces window.fetch (as some SDKs do) once its own request is sent."""


FRAMED = """<!doctype html><html><head><title>framed</title></head><body>
<iframe src="http://localhost:%d/patched"></iframe>
<script>window.worker = new Worker('/worker.js');</script></body></html>"""
"""The patched page in a cross-site frame (localhost is another site than 127.0.0.1, so
Chromium gives the frame its own target), and a worker that sends a request."""
WORKER = b"fetch('/echo?from=worker', {method: 'POST', body: 'worker body'}).then(r => r.text());"


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass
class ControlSite:
    """The running site, what it was asked for (paths counted) and every request in full."""

    port: int
    hits: Counter[str] = field(default_factory=Counter)
    seen: list[Seen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(site: ControlSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            site.hits[path] += 1
            site.seen.append(Seen(self.command, self.path, tuple(self.headers.items()), body))
            cache = "max-age=3600" if path == "/cacheable" else "no-store"
            if path in ("/", "/patched"):
                reply, kind = PAGE if path == "/" else PATCHED, "text/html; charset=utf-8"
            elif path == "/framed":
                reply, kind = (FRAMED % site.port).encode(), "text/html; charset=utf-8"
            elif path == "/worker.js":
                reply, kind = WORKER, "text/javascript"
            elif path == "/favicon.ico":
                reply, kind = b"", "image/x-icon"
            else:
                reply, kind = b'{"ok": true}', "application/json"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(reply)))
            self.send_header("Cache-Control", cache)
            if path == "/":
                self.send_header("Set-Cookie", "session=s3cret; Path=/")
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    return Handler


@contextmanager
def control_site() -> Iterator[ControlSite]:
    """Serve the site on a free port of 127.0.0.1 for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ControlSite(0)))
    site = ControlSite(server.server_address[1])
    server.RequestHandlerClass = _handler(site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
