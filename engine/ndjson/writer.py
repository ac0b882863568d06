"""A rotating NDJSON writer: whole lines only, flushed as written, never split across files.

Each line goes to the kernel with one ``os.write`` loop and no user-space buffer,
so a reader tailing the file sees it at once. If a write fails half way (a full
disk), the partial line is cut off again, so the file holds only whole lines.
Rotation follows the contract: the full ``capture.ndjson`` becomes
``capture.1.ndjson``, older files shift up by one, writing goes on in
``capture.ndjson``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from engine.errors import BadInputError, LivetapError, from_os_error

MIB = 1024 * 1024


def rotated_name(path: Path, number: int) -> Path:
    """``capture.ndjson`` → ``capture.<number>.ndjson`` (the suffix stays last)."""
    return (
        path.with_name(f"{path.stem}.{number}{path.suffix}")
        if path.suffix
        else path.with_name(f"{path.name}.{number}")
    )


def existing_rotations(path: Path) -> list[int]:
    """The numbers of rotated files already next to ``path``, highest first."""
    stem, suffix = (path.stem, path.suffix) if path.suffix else (path.name, "")
    pattern = re.compile(rf"{re.escape(stem)}\.(\d+){re.escape(suffix)}")
    numbers = [int(m.group(1)) for p in path.parent.glob("*") if (m := pattern.fullmatch(p.name))]
    return sorted(numbers, reverse=True)


def _make_private(fd: int) -> None:
    """An existing file keeps its mode through O_CREAT: a capture holds secrets, so 0600.

    Only a regular file is ours to change (not a FIFO or device the user named).
    """
    with contextlib.suppress(OSError):  # a file system without modes
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o600)


class RotatingWriter:
    """Writes JSON objects as lines to ``path``, rotating past ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int | None = None, append: bool = False) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.events_written = 0
        self.files_created = 0
        self.bytes_written = 0
        self._fd = self._open(append)
        self._size = os.fstat(self._fd).st_size

    def _open(self, append: bool) -> int:
        """Open the current file: 0600, never through a symlink, truncated unless appending."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        flags |= os.O_APPEND if append else os.O_TRUNC
        try:
            fd = os.open(self.path, flags, 0o600)
        except ValueError:  # a NUL in the name: no file can have it
            raise BadInputError(
                f"{str(self.path)!r} is not a usable file name: it contains a NUL character"
            ) from None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise BadInputError(
                    f"{self.path} is a symbolic link; livetap does not write through one"
                ) from None
            if error.errno == errno.EISDIR:
                raise BadInputError(f"{self.path} is a directory") from None
            raise from_os_error(error, f"write {self.path}") from None
        _make_private(fd)
        self.files_created += 1
        return fd

    def write(self, line: dict[str, Any]) -> int:
        """Append one object as a line; returns the bytes written."""
        if self._fd < 0:
            raise LivetapError(f"{self.path} is closed after an error")
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":"))
        # A lone surrogate (legal in the browser's JSON, not in UTF-8) is written escaped.
        data = (text + "\n").encode("utf-8", "backslashreplace")
        if (
            self.max_bytes is not None
            and self._size > 0
            and self._size + len(data) > self.max_bytes
        ):
            self._rotate()
        start = self._size
        try:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
                self._size += written
        except OSError as error:
            self._cut_back(start)
            raise from_os_error(error, f"write {self.path}") from None
        self.events_written += 1
        self.bytes_written += len(data)
        return len(data)

    def _cut_back(self, size: int) -> None:
        """Remove a partly written line, so the file ends with a whole one."""
        try:
            os.ftruncate(self._fd, size)
            self._size = size
        except OSError:
            pass  # the file keeps a torn last line; readers skip lines that do not parse

    def _rotate(self) -> None:
        """capture.ndjson → capture.1.ndjson, older ones up by one; a fresh capture.ndjson."""
        os.close(self._fd)
        self._fd = -1  # never close a number the system may have given to another file
        try:
            for number in existing_rotations(self.path):
                rotated_name(self.path, number).replace(rotated_name(self.path, number + 1))
            self.path.replace(rotated_name(self.path, 1))
        except OSError as error:
            # keep writing where we were if we can; a read-only disk refuses this too
            with contextlib.suppress(OSError):
                flags = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
                self._fd = os.open(self.path, flags)
            raise from_os_error(error, f"rotate {self.path}") from None
        self._fd = self._open(append=False)
        self._size = 0

    def close(self) -> None:
        """Close the current file; safe to call twice."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._fd < 0
