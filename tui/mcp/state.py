"""What one server run has produced: the files it wrote and the last result of each tool.

These are what the server offers as MCP resources. Files are listed only when
a tool of this run wrote them, so a resource never names a file the agent did
not make; reading one goes through this list, never through a path.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

CAPTURES = "livetap://captures/"
REPORTS = "livetap://reports/"
CONFIG_URI = "livetap://server/config"


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A file a tool wrote in the capture directory."""

    uri: str
    path: Path
    relative: str
    """Its path relative to the capture directory."""
    kind: str
    """pcap, pcapng, ndjson or lua."""
    tool: str
    created: float


class SessionState:
    """The files and reports of this run; safe to use from several tool threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, WrittenFile] = {}
        self._reports: dict[str, tuple[float, dict[str, Any]]] = {}
        self.shutdown = threading.Event()
        """Set when the server stops: running captures end at once."""

    def add_file(self, path: Path, relative: str, kind: str, tool: str) -> str:
        """Remember a file a tool wrote; returns its resource URI."""
        uri = CAPTURES + quote(relative)
        with self._lock:
            self._files[uri] = WrittenFile(uri, path, relative, kind, tool, time.time())
        return uri

    def files(self) -> list[WrittenFile]:
        """The files written so far that still exist, oldest first."""
        with self._lock:
            found = list(self._files.values())
        return [item for item in found if item.path.is_file()]

    def file(self, uri: str) -> WrittenFile | None:
        """The file behind a resource URI, if this run wrote it."""
        with self._lock:
            return self._files.get(uri)

    def set_report(self, tool: str, data: dict[str, Any]) -> None:
        """Keep a tool's latest successful result."""
        with self._lock:
            self._reports[tool] = (time.time(), data)

    def reports(self) -> dict[str, tuple[float, dict[str, Any]]]:
        """The latest result of each tool that has run: when, and what it returned."""
        with self._lock:
            return dict(self._reports)
