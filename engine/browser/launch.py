"""A Chromium of livetap's own: no debugging port, never root, sandboxed, always stopped.

DevTools runs over ``--remote-debugging-pipe``: Chromium reads commands on its
fd 3 and writes replies and events on its fd 4, so no TCP port exists for
another local process to connect to. A root livetap starts the browser as an
unprivileged account (:mod:`engine.browser.account`) with Chromium's own sandbox
on; ``--no-sandbox`` is passed only when the user asks for it. Each browser gets
a private directory (0700, the browser's user) holding its profile and its
TMPDIR, removed on stop, so nothing (not even Chromium's
``org.chromium.Chromium.*`` temp directories) is left behind. The other flags
are those checked in ../shared/notes/cdp.md: without the background networking
switches Chromium keeps trying to reach outside hosts.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from engine.browser.account import BrowserAccount, browser_account
from engine.errors import NotFoundError, UnavailableError

if TYPE_CHECKING:
    from engine.tls_keylog import KeyLog

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
FLAGS = (
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)
COMMAND_FD, REPLY_FD = 3, 4
"""Where Chromium reads DevTools commands and writes its replies (fixed by Chromium)."""
STDERR_LINES = 40
STDERR_LINE_LENGTH = 4096
SANDBOX_HINT = (
    "Chromium's sandbox cannot start here (it needs unprivileged user namespaces or a setuid "
    "chrome-sandbox helper); enable user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
    "or the AppArmor profile for Chromium), or, if you trust every page it will open, run "
    "livetap with --no-sandbox"
)


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


def _private_directory(account: BrowserAccount) -> Path:
    """A fresh 0700 directory owned by the browser's account, with profile/ and tmp/ in it."""
    home = Path(tempfile.mkdtemp(prefix="livetap-chromium-"))
    for path in (home, home / "profile", home / "tmp"):
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)
        if account.switches:
            os.chown(path, account.uid, account.gid)
    return home


def _environment(home: Path, account: BrowserAccount) -> dict[str, str]:
    """livetap's environment with the browser's HOME and TMPDIR in its private directory."""
    environment = dict(os.environ)
    if account.switches:  # root's session bus and runtime directory are not the browser's
        for name in ("XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS"):
            environment.pop(name, None)
    environment.update(HOME=str(home), TMPDIR=str(home / "tmp"))
    return environment


class _PipeEnds:
    """The two pipes of ``--remote-debugging-pipe``, moved to fds 3 and 4 in the child.

    Popen keeps only the fds named in ``pass_fds`` and cannot renumber them, so the
    child's ends are dup2'd onto 3 and 4 between fork and exec. Popen makes 3 and 4
    inheritable first, so they must be open in livetap: they are, since new pipes
    take the lowest free numbers.
    """

    def __init__(self) -> None:
        self.child_reads, self.commands_fd = os.pipe()
        self.replies_fd, self.child_writes = os.pipe()

    def move_into_place(self) -> None:
        """Run in the child between fork and exec: dup2 the child's ends to fds 3 and 4.

        Both are first copied above 4, so neither is overwritten before it is moved;
        the copies are closed by Popen's close_fds (only 3 and 4 are passed on).
        """
        reads = fcntl.fcntl(self.child_reads, fcntl.F_DUPFD, REPLY_FD + 1)
        writes = fcntl.fcntl(self.child_writes, fcntl.F_DUPFD, REPLY_FD + 1)
        os.dup2(reads, COMMAND_FD)
        os.dup2(writes, REPLY_FD)

    def close_child_ends(self) -> None:
        """After the fork: the parent keeps only its own ends."""
        for fd in (self.child_reads, self.child_writes):
            with contextlib.suppress(OSError):
                os.close(fd)


class _StderrTail:
    """The last lines Chromium wrote to stderr, to say why it failed to start."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=STDERR_LINES)
        self._thread = threading.Thread(
            target=self._read, args=(stream,), name="livetap-chromium-stderr", daemon=True
        )
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            while line := stream.readline(STDERR_LINE_LENGTH):  # bounded, even without newlines
                self._lines.append(line.decode("utf-8", "replace").rstrip())

    def text(self, wait: float = 1.0) -> str:
        """What was written (waiting a moment for a process that just exited to be read)."""
        self._thread.join(wait)
        return "\n".join(self._lines)


class LaunchedBrowser:
    """One browser process with a private profile; :meth:`stop` leaves nothing behind."""

    def __init__(
        self,
        executable: str | None = None,
        headed: bool = False,
        sandbox: bool = True,
        key_log: KeyLog | None = None,
        extra_flags: tuple[str, ...] = (),
    ) -> None:
        self.executable = find_chromium(executable)
        self.key_log = key_log
        """Where the browser writes its TLS secrets (SSLKEYLOGFILE), if asked."""
        self.extra_flags = extra_flags
        """More Chromium switches (a test's own certificate trust, for one)."""
        if headed and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise UnavailableError("--headed needs a display (DISPLAY is not set); drop --headed")
        self.account = browser_account()
        self.sandbox = sandbox
        self.home = _private_directory(self.account)
        self.profile = self.home / "profile"
        try:
            self._start(headed)
        except BaseException:
            shutil.rmtree(self.home, ignore_errors=True)
            raise
        atexit.register(self.stop)

    def _start(self, headed: bool) -> None:
        """Start Chromium as the browser's account, its DevTools on fds 3 and 4."""
        command = [self.executable, *FLAGS, *self.extra_flags, f"--user-data-dir={self.profile}"]
        if not headed:
            command.insert(1, "--headless")
        if not self.sandbox:
            command.insert(1, "--no-sandbox")
        command = [*_die_with_livetap(), *command, "about:blank"]
        environment = _environment(self.home, self.account)
        keys = self._key_log_descriptor()
        if keys is not None:
            environment["SSLKEYLOGFILE"] = f"/proc/self/fd/{keys}"
        pipes = _PipeEnds()
        drop: dict[str, Any] = {}
        if self.account.switches:
            drop = {"user": self.account.uid, "group": self.account.gid, "extra_groups": []}
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(COMMAND_FD, REPLY_FD) if keys is None else (COMMAND_FD, REPLY_FD, keys),
                preexec_fn=pipes.move_into_place,  # noqa: PLW1509 (only dup2: no locks taken)
                start_new_session=True,
                cwd=self.home,
                env=environment,
                **drop,
            )
        except (OSError, subprocess.SubprocessError) as error:
            for fd in (pipes.commands_fd, pipes.replies_fd):
                os.close(fd)
            raise UnavailableError(
                f"could not start {self.executable} as user {self.account.name}: {error}"
            ) from None
        finally:
            pipes.close_child_ends()
            if keys is not None:
                os.close(keys)
        assert self.process.stderr is not None
        self._stderr = _StderrTail(self.process.stderr)
        self.commands = os.fdopen(pipes.commands_fd, "wb", buffering=0)
        """Our end of the browser's fd 3: DevTools commands go here."""
        self.replies = os.fdopen(pipes.replies_fd, "rb", buffering=0)
        """Our end of the browser's fd 4: replies and events come from here."""

    def _key_log_descriptor(self) -> int | None:
        """The open key log the browser inherits (None when no key log was asked for)."""
        if self.key_log is None:
            return None
        from engine.ndjson.control import runtime_dir

        switching = self.account.switches
        return self.key_log.browser_descriptor(
            runtime_dir(),
            self.account.uid if switching else None,
            self.account.gid if switching else None,
        )

    def failure(self) -> str:
        """Why the browser stopped answering at start, for a person (with the fix if known)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=3)
        said = self._stderr.text()
        status = self.process.returncode
        if "sandbox" in said.lower() and self.sandbox:
            return f"{self.executable} exited at start (status {status}): {SANDBOX_HINT}"
        if status is None:
            return f"{self.executable} started but did not answer on its DevTools pipe"
        last = said.strip().splitlines()[-1:] or ["(nothing on stderr)"]
        return (
            f"{self.executable} exited at start (status {status}, run as user "
            f"{self.account.name}): {last[0]}"
        )

    @property
    def running(self) -> bool:
        """True while the main browser process lives."""
        return self.process.poll() is None

    def stop(self) -> None:
        """Stop the browser and every process it started, then delete its directory."""
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
        for end in (self.commands, self.replies):
            with contextlib.suppress(OSError):
                end.close()
        shutil.rmtree(self.home, ignore_errors=True)
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
