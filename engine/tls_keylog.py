"""TLS key logs: the one a launched Chromium writes, and those the user names (``--keylog``).

A key log (NSS format, ``SSLKEYLOGFILE``) lets tshark decrypt TLS. It is a secret:
whoever holds it reads the traffic. So the log a launched browser writes lives in
livetap's private runtime directory (0700), is itself 0600, and is removed when
livetap stops, unless the user named a file to keep it in (``--keylog FILE``:
the browser's secrets are appended there on exit).

Chromium 156 was measured to honour both ``SSLKEYLOGFILE`` and
``--ssl-key-log-file``, and to append to an existing file. A root livetap starts
the browser as another account, which cannot enter root's runtime directory; so
livetap opens the file itself and hands the browser the open descriptor, naming
it ``/proc/self/fd/N`` (the browser reopens that link, which needs the file to be
the browser account's own: it is chowned to it, and stays 0600).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from engine.errors import BadInputError, from_os_error

FD_FLOOR = 10
"""The browser's copy of the descriptor sits at or above this (clear of its fds 3 and 4)."""
MAX_KEYLOG = 64 << 20
"""Bytes read from one key log at most (a browser writes a few hundred per connection)."""
_LINE = re.compile(rb"^[A-Z_0-9]+ [0-9a-fA-F]+ [0-9a-fA-F]+$")
"""One NSS key log line: label, client random (or session id), secret."""


def secret_lines(data: bytes) -> bytes:
    """Only the NSS key log lines of ``data`` (comments and garbage dropped), newline ended."""
    lines = [line.strip() for line in data.splitlines()]
    kept = [line for line in lines if _LINE.match(line)]
    return b"".join(line + b"\n" for line in kept)


def read_key_log(path: Path) -> bytes:
    """The secret lines of one key log file; a clear error when it cannot be read."""
    try:
        with path.open("rb") as stream:
            return secret_lines(stream.read(MAX_KEYLOG))
    except OSError as error:
        raise from_os_error(error, f"read the key log {path}") from None


class KeyLog:
    """The key logs of one livetap run: what tshark decrypts with, and what w may embed.

    ``user_file`` is ``--keylog FILE`` (read, and kept); ``browser_file`` is the
    private log a launched browser writes (removed by :meth:`close`).
    """

    def __init__(self, user_file: Path | None = None, embedded: bytes = b"") -> None:
        self.user_file = user_file
        self.embedded = secret_lines(embedded)
        """Secrets the files read with -r carry (pcapng Decryption Secrets Blocks)."""
        self.browser_file: Path | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_flag(
        cls, value: str | None, *, launching: bool, embedded: bytes = b""
    ) -> KeyLog | None:
        """The key log ``--keylog`` names (None without it, a launched browser or ``embedded``).

        Without a browser to write it, the file must already exist.
        """
        if value is None:
            return cls(embedded=embedded) if launching or secret_lines(embedded) else None
        path = Path(value).expanduser()
        if path.is_dir():
            raise BadInputError(f"--keylog {value}: is a directory, not a key log file")
        if not launching and not path.is_file():
            raise BadInputError(
                f"--keylog {value}: no such file (without --browser launch, livetap reads an "
                "existing key log, e.g. one curl or a browser wrote with SSLKEYLOGFILE)"
            )
        if path.is_file():
            read_key_log(path)  # unreadable: say so now, not at the first decode
        return cls(path, embedded)

    @property
    def available(self) -> bool:
        """Whether there may be secrets to decrypt with (a file, or embedded ones)."""
        return bool(self.files or self.embedded)

    @property
    def files(self) -> tuple[Path, ...]:
        """Every key log that exists now (the browser's may not have been made yet)."""
        found = (self.user_file, self.browser_file)
        return tuple(path for path in found if path is not None and path.is_file())

    def secrets(self) -> bytes:
        """All the secret lines known now, each once, in order (the DSB's and tshark's input)."""
        seen: dict[bytes, None] = dict.fromkeys(self.embedded.splitlines(keepends=True))
        for path in self.files:
            for line in read_key_log(path).splitlines(keepends=True):
                seen.setdefault(line, None)
        return b"".join(seen)

    @contextlib.contextmanager
    def tshark_file(self) -> Iterator[Path | None]:
        """One file with every secret for ``-o tls.keylog_file:`` (a private copy), or None."""
        data = self.secrets()
        if not data:
            yield None
            return
        folder = Path(tempfile.mkdtemp(prefix="livetap-keys-"))  # 0700
        try:
            merged = folder / "keys.txt"
            descriptor = os.open(merged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(data)
            yield merged
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def browser_descriptor(self, runtime: Path, uid: int | None, gid: int | None) -> int:
        """An inheritable fd (>= FD_FLOOR) on the private log a browser of ``uid`` writes.

        The file is made once, 0600, in ``runtime`` (livetap's private runtime
        directory), and reused by a relaunched browser (Chromium appends).
        """
        with self._lock:
            if self.browser_file is None:
                name = f"keylog-{os.getpid()}-{secrets.token_hex(4)}.txt"
                self.browser_file = runtime / name
                atexit.register(self.close)  # a path that skipped close() still removes it
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
            else:
                flags = os.O_WRONLY | os.O_NOFOLLOW
            try:
                opened = os.open(self.browser_file, flags | os.O_APPEND | os.O_CLOEXEC, 0o600)
            except OSError as error:
                raise from_os_error(error, f"create the key log {self.browser_file}") from None
        try:
            if uid is not None and gid is not None:
                os.fchown(opened, uid, gid)
            descriptor = fcntl.fcntl(opened, fcntl.F_DUPFD_CLOEXEC, FD_FLOOR)
        finally:
            os.close(opened)
        return descriptor

    def close(self) -> None:
        """Remove the browser's private log, first appending it to ``--keylog FILE`` if named."""
        with self._lock:
            private, self.browser_file = self.browser_file, None
        if private is None:
            return
        atexit.unregister(self.close)
        try:
            if self.user_file is not None and private.is_file():
                data = read_key_log(private)
                flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                descriptor = os.open(self.user_file, flags, 0o600)
                with os.fdopen(descriptor, "ab") as stream:
                    stream.write(data)
        finally:
            private.unlink(missing_ok=True)
