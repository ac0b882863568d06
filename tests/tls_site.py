"""A small HTTPS site on 127.0.0.1 speaking HTTP/2 (ALPN h2), with a certificate made here.

For the decrypted-TLS tests: a launched Chromium trusts this certificate only
(``--ignore-certificate-errors-spki-list`` with its key's hash, in the test's own
profile). The server is the ``h2`` package's state machine over Python's ``ssl``
on an asyncio loop in a thread. The page fetches two JSON files, so the test
knows which HTTP/2 streams must appear decrypted.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import json
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.events
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PAGE = b"""<!doctype html><html><head><title>tls</title></head><body>
<script>
async function run() {
  await (await fetch('/api/one.json')).json();
  await (await fetch('/api/two.json?x=2')).json();
  document.body.dataset.done = 'yes';
}
run();
</script></body></html>"""
PATHS = ("/", "/api/one.json", "/api/two.json?x=2")
"""What the page requests (besides the favicon Chromium may ask for)."""


@dataclass
class TlsSite:
    """The running site: its URL, the certificate's SPKI hash, the paths it served."""

    url: str
    spki: str
    """base64 SHA-256 of the public key, for ``--ignore-certificate-errors-spki-list``."""
    served: list[str] = field(default_factory=list)

    @property
    def chromium_flags(self) -> tuple[str, ...]:
        """The switches that make a test's Chromium trust this certificate (and only it)."""
        return (f"--ignore-certificate-errors-spki-list={self.spki}",)


def _certificate(folder: Path) -> tuple[Path, Path, str]:
    """A self-signed P-256 certificate for 127.0.0.1: cert file, key file, SPKI hash."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return cert_file, key_file, base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _body_for(path: str) -> tuple[bytes, str]:
    """The response body and content type for a path."""
    if path == "/":
        return PAGE, "text/html"
    if path.startswith("/api/"):
        return json.dumps({"path": path, "ok": True}).encode(), "application/json"
    return b"not found", "text/plain"


class _H2Protocol(asyncio.Protocol):
    """One HTTP/2 connection: answers every request at once, in one HEADERS and one DATA."""

    def __init__(self, site: TlsSite) -> None:
        self.site = site
        self.connection = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.connection.initiate_connection()
        transport.write(self.connection.data_to_send())

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        try:
            events = self.connection.receive_data(data)
        except Exception:  # a client that is not speaking HTTP/2: drop it
            self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                headers = {str(k): str(v) for k, v in event.headers}
                self._answer(event.stream_id, headers.get(":path", "/"))
        self.transport.write(self.connection.data_to_send())

    def _answer(self, stream_id: int, path: str) -> None:
        self.site.served.append(path)
        body, kind = _body_for(path)
        status = "404" if body == b"not found" else "200"
        self.connection.send_headers(
            stream_id,
            [(":status", status), ("content-type", kind), ("content-length", str(len(body)))],
        )
        self.connection.send_data(stream_id, body, end_stream=True)


@contextmanager
def tls_site() -> Iterator[TlsSite]:
    """Serve the HTTP/2 site on an ephemeral 127.0.0.1 port until the block ends."""
    with tempfile.TemporaryDirectory(prefix="livetap-tls-site-") as folder:
        cert_file, key_file, spki = _certificate(Path(folder))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        context.set_alpn_protocols(["h2"])
        loop = asyncio.new_event_loop()
        site = TlsSite(url="", spki=spki)
        thread = threading.Thread(target=loop.run_forever, name="tls-site", daemon=True)
        thread.start()  # its own loop in its own thread: callers may run a loop of theirs
        starting = loop.create_server(lambda: _H2Protocol(site), "127.0.0.1", 0, ssl=context)
        server = asyncio.run_coroutine_threadsafe(starting, loop).result(10)
        port = server.sockets[0].getsockname()[1]
        site.url = f"https://127.0.0.1:{port}"
        try:
            yield site
        finally:
            loop.call_soon_threadsafe(server.close)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()
