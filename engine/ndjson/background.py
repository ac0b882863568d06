"""The background NDJSON capture's life cycle: start, status, stop, as an engine API.

``start`` checks the options, starts :mod:`engine.ndjson.daemon` in a process of its own,
waits for it to report that it is writing, and returns that report; ``stop`` asks the
process to stop, waits for it to exit and returns its figures; ``status`` returns them
without stopping. Each returns the report as a document (``{"success": …, "data": …}``
or ``{"success": false, "error": {"code", "message"}}``) and raises a LivetapError for
what is wrong before anything starts. The CLI prints the documents; the MCP server hands
their data to the agent. Neither builds the other's arguments or parses printed text.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import NotFoundError, PermissionDeniedError, UnavailableError, UsageError
from engine.ndjson.capture import DEFAULT_MAX_SIZE_MB
from engine.ndjson.control import ask, ensure_none_running, process_alive, runtime_dir
from engine.ndjson.url_filter import UrlFilter
from engine.source import SourceSpec

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


@dataclass(frozen=True, slots=True)
class BackgroundOptions:
    """What a background capture writes, from which sources."""

    file: Path
    max_size_mb: float = DEFAULT_MAX_SIZE_MB
    filters: tuple[str, ...] = ()
    """URL wildcards (several are OR-ed; ``!`` excludes)."""
    include_bodies: bool = False
    include_sensitive: bool = False
    append: bool = False
    browser: str | None = "launch"
    """``launch``, a port, ``host:port`` or ``ws://…``; None for no browser."""
    open: str | None = None
    headed: bool = False
    chromium: str | None = None
    allow_remote_browser: bool = False
    no_sandbox: bool = False
    packets: bool = False
    interfaces: tuple[str, ...] = ()
    """With ``packets``: the interfaces (none: the configured or default one)."""
    files: tuple[str, ...] = ()
    """With ``packets``: capture files to read instead, merged by time."""
    commands: tuple[str, ...] = ()
    """With ``packets``: commands whose pcap stream to read (beside any interfaces)."""
    bpf: str = ""
    block: tuple[str, ...] = ()
    """URL wildcards whose requests the browser fails (``--block``)."""
    throttle: str | None = None
    no_cache: bool = False
    allow_control: bool = False
    """Whether an attached browser may be blocked, throttled or have its cache off."""
    display_filter: str = ""
    """With ``packets``: write only the packet events this display filter matches (-Y)."""

    def checked(self) -> dict[str, Any]:
        """The options as the background process reads them; raises what is wrong."""
        UrlFilter.parse(list(self.filters))
        if self.max_size_mb <= 0:
            raise UsageError(f"--max-size must be more than 0 MB, not {self.max_size_mb}")
        if self.browser is None and not self.packets:
            raise UsageError("--no-browser leaves nothing to capture: add --packets")
        self._check_controls()
        if self.display_filter:
            from engine.filter_file import compile_filter

            compile_filter(self.display_filter)  # a bad -Y fails here, not in the daemon
        SourceSpec(self.interfaces, self.files, self.commands).check()
        return {
            "file": str(_writable(self.file)),
            "max_size_mb": self.max_size_mb,
            "filters": list(self.filters),
            "include_bodies": self.include_bodies,
            "include_sensitive": self.include_sensitive,
            "append": self.append,
            "browser": self.browser,
            "open": self.open,
            "headed": self.headed,
            "chromium": self.chromium,
            "allow_remote": self.allow_remote_browser,
            "no_sandbox": self.no_sandbox,
            "packets": self.packets,
            "interfaces": list(self.interfaces),
            "files": list(self.files),
            "commands": list(self.commands),
            "bpf": self.bpf,
            "block": list(self.block),
            "throttle": self.throttle,
            "no_cache": self.no_cache,
            "allow_control": self.allow_control,
            "display_filter": self.display_filter,
        }

    def _check_controls(self) -> None:
        """--block, --throttle, --no-cache: valid, with a browser, allowed on it."""
        from engine.browser.network_conditions import NetworkControls, check_control_allowed
        from engine.browser.target import parse_browser_spec

        controls = NetworkControls.parse(list(self.block), self.throttle, self.no_cache)
        if not controls.active:
            return
        if self.browser is None:
            raise UsageError("--block, --throttle and --no-cache need a browser")
        target = parse_browser_spec(self.browser, allow_remote=self.allow_remote_browser)
        check_control_allowed(target, controls, self.allow_control)


def _writable(path: Path) -> Path:
    """Fail fast, before starting anything, on a file that cannot be written."""
    path = path.expanduser().absolute()
    if not path.parent.is_dir():
        raise NotFoundError(f"the directory {path.parent} does not exist")
    if path.is_dir():
        raise UsageError(f"{path} is a directory; name a file")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise PermissionDeniedError(f"cannot write {path}: permission denied")
    return path


def start(options: BackgroundOptions) -> dict[str, Any]:
    """Start the capture process; its start report once it writes (or why it could not)."""
    ensure_none_running()
    config = options.checked()
    log = runtime_dir() / "ndjson-capture.log"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(log, flags, 0o600), "wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "engine.ndjson.daemon", json.dumps(config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            start_new_session=True,
            cwd="/",
        )
    line = _first_line(process, START_TIMEOUT)
    if not line:
        process.kill()
        tail = log.read_text(errors="replace")[-500:].strip()
        raise UnavailableError(
            f"the capture process ended before it started writing: {tail or 'no output'}"
        )
    document: dict[str, Any] = json.loads(line)
    return document


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    """The readiness line, or b"" if the process dies or stays silent."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return b""
    return process.stdout.readline()


def stop() -> dict[str, Any]:
    """Stop the running capture, wait for its process to end; its final figures."""
    reply = ask("stop", STOP_TIMEOUT)
    pid = int(reply.pop("_pid", 0))
    deadline = time.monotonic() + STOP_TIMEOUT
    while pid and process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return reply


def status() -> dict[str, Any]:
    """The running capture's figures, without stopping it."""
    reply = ask("status")
    reply.pop("_pid", None)
    return reply

    return True


class BackgroundCapture:
    """The life cycle as an object, for a front end that takes a backend (the MCP server)."""

    def start(self, options: BackgroundOptions) -> dict[str, Any]:
        """See :func:`start`."""
        return start(options)

    def stop(self) -> dict[str, Any]:
        """See :func:`stop`."""
        return stop()

    def status(self) -> dict[str, Any]:
        """See :func:`status`."""
        return status()
