"""Prompt history (up/down in the filter prompts), kept across runs in the config directory."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

MAX_ENTRIES = 200


class PromptHistory:
    """The last entries of one prompt, newest last; saved one per line."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: list[str] = []
        if path is not None:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                self.entries = [line for line in path.read_text("utf-8").splitlines() if line][
                    -MAX_ENTRIES:
                ]
        self._position = len(self.entries)

    def add(self, entry: str) -> None:
        """Remember an applied entry (moved to the end if it was there) and save."""
        entry = entry.strip()
        if not entry or "\n" in entry:
            return
        if entry in self.entries:
            self.entries.remove(entry)
        self.entries = [*self.entries, entry][-MAX_ENTRIES:]
        self._position = len(self.entries)
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(
                    self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600
                )
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    out.write("\n".join(self.entries) + "\n")

    def older(self) -> str | None:
        """The previous entry (up arrow), or None at the oldest."""
        if self._position == 0:
            return None
        self._position -= 1
        return self.entries[self._position]

    def newer(self) -> str:
        """The next entry (down arrow); past the newest, an empty line."""
        self._position = min(self._position + 1, len(self.entries))
        return self.entries[self._position] if self._position < len(self.entries) else ""
