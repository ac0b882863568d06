"""Response bodies kept from the moment a response finishes, within a memory cap.

Chromium keeps a body only until the page navigates away (or its own cache
decides), so ``b`` on a request a few seconds old used to find nothing (issue 18
#9). The session fetches each body when ``Network.loadingFinished`` arrives and
keeps it here: bounded in total bytes (oldest dropped first) and per body (a
larger one is not kept). What was dropped or refused is remembered, so the UI
can say why a body is missing rather than only "the browser no longer has it".
"""

from __future__ import annotations

import threading
from collections import OrderedDict

DEFAULT_BODY_MEMORY = 64 << 20
"""Bytes of response bodies kept in all (oldest dropped first)."""
DEFAULT_MAX_BODY = 8 << 20
"""A body larger than this is not kept (the browser may still have it)."""
NOTES_KEPT = 10_000
"""Why-missing notes remembered (bounded like everything else)."""


def _size(count: int) -> str:
    """Bytes for a person: 512 B, 12.3 kB, 8.0 MB."""
    if count < 1000:
        return f"{count} B"
    if count < 1_000_000:
        return f"{count / 1000:.1f} kB"
    return f"{count / 1_000_000:.1f} MB"


class BodyStore:
    """Bodies by request id, oldest first; thread-safe (browser thread writes, UI reads)."""

    def __init__(self, memory: int = DEFAULT_BODY_MEMORY, max_body: int = DEFAULT_MAX_BODY) -> None:
        self.memory = memory
        self.max_body = min(max_body, memory)
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._notes: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self.used = 0
        """Bytes held now."""
        self.dropped = 0
        """Bodies dropped to stay under ``memory``."""

    def __len__(self) -> int:
        with self._lock:
            return len(self._bodies)

    def put(self, request_id: str, data: bytes) -> None:
        """Keep a body, dropping the oldest to make room; a body over ``max_body`` is not kept."""
        if len(data) > self.max_body:
            self.refuse(request_id, len(data))
            return
        with self._lock:
            old = self._bodies.pop(request_id, None)
            if old is not None:
                self.used -= len(old)
            self._notes.pop(request_id, None)
            while self._bodies and self.used + len(data) > self.memory:
                oldest, body = self._bodies.popitem(last=False)
                self.used -= len(body)
                self.dropped += 1
                self._note(
                    oldest,
                    f"livetap dropped its copy of this body ({_size(len(body))}) to keep "
                    f"bodies under {_size(self.memory)}",
                )
            self._bodies[request_id] = data
            self.used += len(data)

    def refuse(self, request_id: str, size: int) -> None:
        """Remember that a body was too large to keep."""
        with self._lock:
            self._note(
                request_id,
                f"this body ({_size(size)}) is larger than livetap keeps "
                f"(at most {_size(self.max_body)} a body)",
            )

    def get(self, request_id: str) -> bytes | None:
        """A kept body, or None."""
        with self._lock:
            return self._bodies.get(request_id)

    def why_missing(self, request_id: str) -> str | None:
        """Why a body is not kept (dropped, too large), or None if nothing is known."""
        with self._lock:
            return self._notes.get(request_id)

    def clear(self) -> None:
        """Forget every body (a relaunched browser's ids start again)."""
        with self._lock:
            self._bodies.clear()
            self._notes.clear()
            self.used = 0

    def _note(self, request_id: str, note: str) -> None:
        """Called with the lock held."""
        self._notes[request_id] = note
        while len(self._notes) > NOTES_KEPT:
            self._notes.popitem(last=False)
