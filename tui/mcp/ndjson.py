"""start_ndjson_capture / stop_ndjson_capture: the CLI's background NDJSON capture, bounded.

The capture itself is the engine's background capture (:mod:`engine.ndjson.background`,
the same process, state file and reports as ``livetap capture ndjson``): the server calls
it through an :class:`NdjsonBackend`, so the contract is the CLI's own.
What the server adds is its fence and its caps: the file is inside the capture
directory, the browser and the secrets switch are the server's, and a watchdog
stops the capture once it has run ``max_ndjson_duration`` seconds, written
``max_bytes`` bytes or ``max_count`` events (checked every second), and when the
server stops. A capture the watchdog stopped reports its figures, with a note,
on the next stop_ndjson_capture.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Protocol

from engine.errors import BadInputError, ExitCode, LivetapError, NotFoundError
from engine.ndjson.background import BackgroundOptions
from engine.ndjson.writer import MIB
from tui.mcp.browser import checked_url
from tui.mcp.config import ServerConfig
from tui.mcp.paths import CaptureDirectory
from tui.mcp.registry import ReportedError
from tui.mcp.state import SessionState

WATCH_INTERVAL = 1.0
NDJSON_SUFFIXES = frozenset({".ndjson", ".jsonl"})


class NdjsonBackend(Protocol):
    """The background NDJSON capture: each call returns its document or raises its error."""

    def start(self, options: BackgroundOptions) -> dict[str, Any]:
        """``capture ndjson start`` with these options; the start document."""
        ...

    def stop(self) -> dict[str, Any]:
        """``capture ndjson stop``; the stop document."""
        ...

    def status(self) -> dict[str, Any]:
        """``capture ndjson status``; the status document."""
        ...


def _data(document: dict[str, Any]) -> dict[str, Any]:
    """A document's data, or its error raised (with the data it carries)."""
    if document.get("success"):
        data: dict[str, Any] = document.get("data") or {}
        return data
    error = document.get("error") or {}
    code = str(error.get("code", "FAILURE"))
    failure = LivetapError(str(error.get("message", "the NDJSON capture failed")))
    if code in ExitCode.__members__:
        failure.exit_code = ExitCode[code]
    raise ReportedError(failure, document.get("data") or {})


class NdjsonCaptures:
    """The two tools over one backend, with the server's caps enforced by a watchdog."""

    def __init__(
        self,
        config: ServerConfig,
        directory: CaptureDirectory,
        state: SessionState,
        backend: NdjsonBackend | None,
    ) -> None:
        self.config = config
        self.directory = directory
        self.state = state
        self.backend = backend
        self._lock = threading.Lock()
        self._watch_stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._stopped: dict[str, Any] | None = None
        """The stop data of a capture the watchdog ended, until stop_ndjson_capture asks."""

    def _backend(self) -> NdjsonBackend:
        if self.backend is None:
            raise NotFoundError("NDJSON captures are not available in this server")
        return self.backend

    def start(self, args: dict[str, Any]) -> dict[str, Any]:
        """Start a background capture into a file of the capture directory."""
        backend = self._backend()
        path = self.directory.output(args["file"], NDJSON_SUFFIXES)
        max_size = float(args.get("max_size_mb", min(100.0, self.config.max_bytes / MIB)))
        browser = not args.get("no_browser", False)
        if not browser and not args.get("packets"):
            raise BadInputError("no_browser leaves nothing to capture: set packets too")
        options = BackgroundOptions(
            file=path,
            max_size_mb=max_size,
            filters=tuple(args.get("filters") or ()),
            include_bodies=bool(args.get("include_bodies", False)),
            include_sensitive=self.config.show_secrets,
            browser=self.config.browser if browser else None,
            open=checked_url(args["url"]) if args.get("url") else None,
            chromium=self.config.chromium,
            allow_remote_browser=self.config.allow_remote_browser,
            packets=bool(args.get("packets", False)),
            interfaces=tuple(
                filter(None, [args.get("interface") or self.config.settings.interface])
            ),
            bpf=args.get("bpf") or "",
        )
        with self._lock:
            self._end_watch()
            data = _data(backend.start(options))
            self._stopped = None
            self.state.add_file(
                path, self.directory.relative(path), "ndjson", "start_ndjson_capture"
            )
            self._watch_stop = threading.Event()
            self._watcher = threading.Thread(
                target=self._watch,
                args=(backend, self._watch_stop, time.monotonic()),
                name="livetap-mcp-ndjson-watch",
                daemon=True,
            )
            self._watcher.start()
        return data

    def stop(self, _args: dict[str, Any]) -> dict[str, Any]:
        """Stop the capture (or report the one the watchdog stopped) with the CLI's figures."""
        backend = self._backend()
        with self._lock:
            self._end_watch()
            if self._stopped is not None:
                data, self._stopped = self._stopped, None
                return data
            return _data(backend.stop())

    def close(self) -> None:
        """Stop a capture this server started and the watchdog (server shutdown)."""
        with self._lock:
            running = self._watcher is not None and self._watcher.is_alive()
            self._end_watch()
            if running and self.backend is not None:
                with contextlib.suppress(LivetapError):
                    self.backend.stop()

    def _end_watch(self) -> None:
        self._watch_stop.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(5)
        self._watcher = None

    def _watch(self, backend: NdjsonBackend, stop: threading.Event, started: float) -> None:
        """Every second: stop the capture once it is over one of the server's caps."""
        while not stop.wait(WATCH_INTERVAL):
            try:
                status = backend.status()
            except LivetapError:
                return  # stopped elsewhere (the CLI) or gone
            data = status.get("data") or {}
            if not data.get("running", True):
                return
            reason = self._over_cap(data, time.monotonic() - started)
            if reason is None:
                continue
            if not self._lock.acquire(timeout=0.2):
                continue  # a start or stop is running: it ends this watch
            try:
                if stop.is_set():
                    return
                try:
                    document = backend.stop()
                except LivetapError:
                    return
                final = dict(document.get("data") or {})
                final["note"] = f"stopped by the server: {reason}"
                if not document.get("success"):
                    final["error"] = document.get("error")
                self._stopped = final
                self._watcher = None
            finally:
                self._lock.release()
            return

    def _over_cap(self, data: dict[str, Any], elapsed: float) -> str | None:
        """Which cap a running capture has reached, if any."""
        config = self.config
        if elapsed >= config.max_ndjson_duration:
            return f"it ran for the cap of {config.max_ndjson_duration:g} s (--max-ndjson-duration)"
        if float(data.get("totalSizeMB") or 0) * MIB >= config.max_bytes:
            return f"it wrote the cap of {config.max_bytes:,} bytes (--max-bytes)"
        if int(data.get("eventsWritten") or 0) >= config.max_count:
            return f"it wrote the cap of {config.max_count:,} events (--max-count)"
        return None
