"""follow_stream's payload with its credentials masked, as the credentials report does.

The credentials finder (:mod:`engine.analysis.credentials`) names each secret
it saw and its stream; every place that secret appears in the followed stream
is masked the same way (first character and ``***``): as typed, URL-encoded,
and inside base64 (HTTP Basic, SMTP AUTH). The search runs over each side's
joined bytes, so a secret split across segments (a Telnet password typed one
key per packet) is found too; the mask goes where the secret starts and the
rest of it is left out, so the mask never tells the secret's length.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote, quote_plus

from engine.analysis import analyze_file
from engine.analysis.credentials import mask
from engine.analysis.follow import FollowChunk

_BASE64 = re.compile(rb"[A-Za-z0-9+/]{4,}={0,2}")

Span = tuple[int, int, bytes]
"""Start, end (exclusive) and what replaces the bytes between."""


def stream_secrets(path: str | Path, stream: int | None) -> tuple[str, ...]:
    """The secrets the credentials report finds in one TCP stream of a capture."""
    if stream is None:
        return ()
    document = analyze_file(path, ["credentials"], show_secrets=True).document()
    items = document["reports"]["credentials"]["items"]
    found = {str(item["secret"]) for item in items if item.get("stream") == stream}
    return tuple(sorted(secret for secret in found if secret))


def _forms(secret: str) -> set[bytes]:
    """The bytes a secret may travel as: as typed, URL-encoded, in Latin-1."""
    texts = {secret, quote_plus(secret), quote(secret, safe="")}
    forms = {text.encode("utf-8") for text in texts}
    forms.add(secret.encode("latin-1", "ignore"))
    return {form for form in forms if form}


def secret_spans(data: bytes, secrets: Sequence[str]) -> list[Span]:
    """Where the secrets are in ``data``, merged and in order, each with its mask."""
    spans: list[Span] = []
    for secret in secrets:
        masked = mask(secret).encode("utf-8")
        for form in _forms(secret):
            start = data.find(form)
            while start != -1:
                spans.append((start, start + len(form), masked))
                start = data.find(form, start + 1)
    for match in _BASE64.finditer(data):
        try:
            decoded = base64.b64decode(match.group(), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            continue
        if any(secret in decoded for secret in secrets):
            spans.append((match.start(), match.end(), mask(match.group().decode()).encode()))
    spans.sort()
    merged: list[Span] = []
    for start, end, masked in spans:
        if merged and start < merged[-1][1]:
            first, last, kept = merged[-1]
            merged[-1] = (first, max(last, end), kept)
        else:
            merged.append((start, end, masked))
    return merged


def _masked_piece(data: bytes, offset: int, spans: Iterable[Span]) -> bytes:
    """One chunk (at ``offset`` in its side's bytes) with the spans applied."""
    end = offset + len(data)
    out = bytearray()
    position = offset
    for start, stop, masked in spans:
        if stop <= position or start >= end:
            continue
        if start >= position:
            out += data[position - offset : start - offset]
            out += masked
        position = min(stop, end)
    out += data[position - offset :]
    return bytes(out)


def masked_chunks(chunks: Sequence[FollowChunk], secrets: Sequence[str]) -> list[bytes]:
    """Each chunk's bytes with the secrets masked (the chunks in their order)."""
    if not secrets:
        return [chunk.data for chunk in chunks]
    sides = [b"".join(c.data for c in chunks if c.node == node) for node in (0, 1)]
    spans = [secret_spans(side, secrets) for side in sides]
    offsets = [0, 0]
    out = []
    for chunk in chunks:
        out.append(_masked_piece(chunk.data, offsets[chunk.node], spans[chunk.node]))
        offsets[chunk.node] += len(chunk.data)
    return out
