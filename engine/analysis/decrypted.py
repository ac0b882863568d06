"""The HTTP/2 requests inside TLS, for ``livetap analyze --keylog`` (decrypted by tshark).

livetap's fast reader sees only TLS records; tshark decrypts them with a key log
(``--keylog``) or with the secrets a pcapng carries (a Decryption Secrets Block).
The requests are paired with their responses by connection and stream.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from engine.pcapio.secrets import BLOCK_DSB, SECRETS_TLS
from engine.tls_decode import H2Frame, http2_frames_in

TIMEOUT = 600.0
"""A whole file through tshark: generous, but bounded."""
MAX_BLOCKS = 2_000_000
"""Block headers read while looking for embedded secrets."""
_PCAPNG_SHB = 0x0A0D0D0A


def embedded_secrets(path: Path, limit: int = 64 << 20) -> bytes:
    """The TLS key log lines a little-endian pcapng carries in its Decryption Secrets Blocks."""
    found = b""
    try:
        with path.open("rb") as stream:
            for _ in range(MAX_BLOCKS):
                head = stream.read(8)
                if len(head) < 8:
                    break
                kind, size = struct.unpack("<II", head)
                if size < 12 or (kind == _PCAPNG_SHB and size > 1 << 24):
                    break  # not a little-endian pcapng (or damaged): no more to find
                if kind == BLOCK_DSB and size <= limit:
                    body = stream.read(size - 8)
                    secrets_type, length = struct.unpack_from("<II", body)
                    if secrets_type == SECRETS_TLS:
                        found += body[8 : 8 + length]
                    continue
                stream.seek(size - 8, 1)
    except (OSError, struct.error):
        pass
    return found


def has_embedded_secrets(path: Path) -> bool:
    """True when a little-endian pcapng file holds TLS secrets (a Decryption Secrets Block)."""
    return bool(embedded_secrets(path))


def decrypted_http(path: Path, keys: Path | None, limit: int = 1000) -> dict[str, Any]:
    """The decrypted HTTP/2 requests of a file, with their responses' status, as a report part."""
    frames = http2_frames_in(path, keys, timeout=TIMEOUT)
    responses: dict[tuple[int, int], H2Frame] = {}
    for frame in frames:
        if frame.kind == "HEADERS" and frame.status:
            responses.setdefault((frame.connection, frame.stream), frame)
    requests = [f for f in frames if f.kind == "HEADERS" and (f.method or f.path)]
    items = []
    for frame in requests[:limit]:
        answer = responses.get((frame.connection, frame.stream))
        items.append(
            {
                "time": frame.timestamp,
                "packet": frame.index,
                "connection": frame.connection,
                "stream": frame.stream,
                "method": frame.method,
                "authority": frame.authority,
                "path": frame.path,
                "status": answer.status if answer is not None else "",
            }
        )
    return {
        "source": "tshark",
        "protocol": "HTTP/2",
        "requests": len(requests),
        "responses": len(responses),
        "items": items,
        "items_omitted": max(0, len(requests) - limit),
    }
