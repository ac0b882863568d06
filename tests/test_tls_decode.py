"""HTTP/2 frames decrypted per connection: packet labels, a request's stream, the d view.

A real headless Chromium loads the local HTTP/2 site (tests/tls_site.py) while lo is
captured; the key log it wrote decrypts the connection in tshark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from engine.deep_decode import decode_with_tshark
from engine.session import CaptureSession
from engine.tls_decode import (
    Http2Frames,
    connection_of,
    connections_to,
    decrypt_pass,
    records_of,
    request_stream,
)
from engine.tls_keylog import KeyLog
from tests.conftest import wait_for
from tests.test_tls_keylog import load_site, page_done, settled
from tests.tls_site import PATHS, TlsSite, tls_site


@pytest.fixture
def site() -> Iterator[TlsSite]:
    with tls_site() as running:
        yield running


def test_frames_labels_streams_and_the_deep_decode_of_a_decrypted_packet(
    site: TlsSite, live_session: Callable[..., CaptureSession]
) -> None:
    key_log = KeyLog()
    session, browser = load_site(site, key_log, live_session)
    try:
        assert wait_for(lambda: page_done(browser), timeout=20), site.served
        assert wait_for(lambda: b"CLIENT_TRAFFIC_SECRET_0" in key_log.secrets(), timeout=5)
        assert settled(session)
        ring = session.ring
        port = int(site.url.rsplit(":", 1)[1])
        frames = Http2Frames()
        with key_log.tshark_file() as keys:
            assert keys is not None
            assert decrypt_pass(frames, ring, {("127.0.0.1", port)}, keys) >= 1
            labelled = {i: frames.label(i) for i in range(1, ring.last_index + 1)}
            headers = [i for i, text in labelled.items() if "HEADERS GET /api/one.json" in text]
            assert headers, labelled
            assert "SETTINGS" in " ".join(labelled.values())
            records = {r.url.removeprefix(site.url): r for r in browser.tracker.records()}
            one, two = records["/api/one.json"], records["/api/two.json?x=2"]
            indices = connection_of(ring, headers[0])
            assert indices and indices[-1] == headers[0]
            whole = next(
                found
                for found in connections_to(ring, {("127.0.0.1", port)}).values()
                if headers[0] in found
            )
            latest, kept = records_of(ring, whole)
            every = frames.decrypt(latest, kept, keys)
            assert frames.decrypt(latest, kept, keys) is every  # one tshark pass per change
            more_keys = frames.decrypt(latest, kept, keys, generation=1 << 20)
            assert more_keys is not every and more_keys == every  # again with more key material
            for request in (one, two):
                stream = request_stream(every, request.method, request.url, request.started)
                assert stream is not None and stream % 2 == 1
                kinds = {frame.kind for frame in every if frame.stream == stream}
                assert {"HEADERS", "DATA"} <= kinds
            streams = {request_stream(every, "GET", site.url + path, 0.0) for path in PATHS}
            assert len(streams) == len(PATHS)
            context, _ = records_of(ring, indices[:-1])
            packet = ring.get(headers[0])
            assert packet is not None
            layers = decode_with_tshark(
                packet.linktype,
                packet.data,
                packet.timestamp,
                packet.length,
                number=packet.index,
                context=context,
                keys=keys,
            )
            names = " ".join(layer.label for layer in layers)
            assert "HyperText Transfer Protocol 2" in names, names
            assert layers[0].label.startswith(f"Frame {packet.index}")
            plain = decode_with_tshark(packet.linktype, packet.data, packet.timestamp)
            assert "HyperText Transfer Protocol 2" not in " ".join(x.label for x in plain)
    finally:
        browser.stop()
        key_log.close()
