"""A Chromium of livetap's own: fresh profile, random debugging port on 127.0.0.1, always stopped.

The flags are those checked in ../shared/notes/cdp.md: without the background
networking switches Chromium keeps trying to reach outside hosts.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from engine.errors import NotFoundError, UnavailableError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
START_TIMEOUT = 20.0


def _die_with_livetap() -> list[str]:
    """A prefix that makes Linux kill the browser if livetap dies without cleaning up."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL"] if setpriv else []


def find_chromium(explicit: str | None = None) -> str:
    """The browser executable: the one named, or the first of the usual names on PATH."""
    if explicit:
        found = shutil.which(explicit)
        if not found:
            raise NotFoundError(f"no browser executable at {explicit!r}")
        return found
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise NotFoundError(
        "no Chromium or Chrome on PATH: install it (Debian: apt-get install chromium) "
        "or name it with --chromium PATH"
    )


class LaunchedBrowser:
    """One browser process with a private profile; :meth:`stop` leaves nothing behind."""

    def __init__(self, executable: str | None = None, headed: bool = False) -> None:
        self.executable = find_chromium(executable)
        if headed and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UnavailableError("--headed needs a display (DISPLAY is not set); drop --headed")
        self.profile = Path(tempfile.mkdtemp(prefix="livetap-chromium-"))
        command = [self.executable, *FLAGS, f"--user-data-dir={self.profile}"]
        if not headed:
            command.insert(1, "--headless")
        command = [*_die_with_livetap(), *command, "about:blank"]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        atexit.register(self.stop)
        try:
            self.websocket_url = self._wait_for_port()
        except BaseException:
            self.stop()
            raise

    def _wait_for_port(self) -> str:
        """Read the port Chromium picked from DevToolsActivePort in its profile."""
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise UnavailableError(
                    f"{self.executable} exited at start (status {self.process.returncode})"
                )
            with contextlib.suppress(OSError):
                lines = marker.read_text().splitlines()
                if len(lines) >= 2 and lines[0].isdigit():
                    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.02)
        raise UnavailableError(
            f"{self.executable} did not open its debugging port in {START_TIMEOUT:.0f} s"
        )

    @property
    def running(self) -> bool:
        """True while the main browser process lives."""
        return self.process.poll() is None

    def stop(self) -> None:
        """Stop the browser and every process it started, then delete the profile."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._kill_strays()
        shutil.rmtree(self.profile, ignore_errors=True)
        atexit.unregister(self.stop)

    def _kill_strays(self) -> None:
        """Helpers that left the process group but still use our profile."""
        import psutil

        marker = f"--user-data-dir={self.profile}"
        strays = []
        for process in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                if marker in (process.info.get("cmdline") or []):
                    process.kill()
                    strays.append(process)
        psutil.wait_procs(strays, timeout=3)
