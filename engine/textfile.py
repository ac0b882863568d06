"""Files livetap writes for the user: private (0600) and never through a symbolic link.

livetap usually runs as root and what it writes can hold captured secrets, so
every output file is created 0600 (an existing one is tightened to 0600) and a
symbolic link at the name is refused, dangling or not: another local user who
planted it must not get root to write, or truncate, a file of their choosing.

Two ways to write: :func:`open_private` opens the name itself with
``O_NOFOLLOW`` (HAR, recordings), and :func:`write_text_whole` writes a
temporary file next to it and renames it over the name, so a reader (Wireshark
loading a plugin, an editor) never sees half a file (dissectors, spec drafts).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from engine.errors import BadInputError, from_os_error

PRIVATE_MODE = 0o600


def link_refused(path: Path | str) -> BadInputError:
    """The one message for a symbolic link where livetap was told to write."""
    return BadInputError(f"{path} is a symbolic link; livetap does not write through one")


def open_private(path: Path, append: bool = False) -> BinaryIO:
    """Open ``path`` for writing in binary, 0600, refusing a link at the name.

    Truncates unless ``append``. Errors are LivetapErrors (a link is BAD_INPUT).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_APPEND if append else os.O_TRUNC
    try:
        fd = os.open(path, flags, PRIVATE_MODE)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise link_refused(path) from None
        if error.errno == errno.EISDIR:
            raise BadInputError(f"could not write {path}: it is a directory") from None
        raise from_os_error(error, f"write {path}") from None
    with contextlib.suppress(OSError):  # an existing file keeps its mode through O_CREAT
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, PRIVATE_MODE)
    return os.fdopen(fd, "ab" if append else "wb")


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (0600, never through a link); errors are LivetapErrors."""
    with open_private(path) as stream:
        try:
            stream.write(data)
        except OSError as error:
            raise from_os_error(error, f"write {path}") from None


def write_text_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600, refusing a link at the name.

    The rename replaces whatever is at the name without following it, so even a
    link planted between the check and the rename is replaced, never written through.
    """
    if path.is_symlink():
        raise link_refused(path)
    directory = path.parent if str(path.parent) else Path()
    temporary: str | None = None
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as stream:  # mkstemp makes it 0600
            stream.write(text)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        Path(temporary).replace(path)
        temporary = None
    except IsADirectoryError:
        raise BadInputError(f"could not write {path}: it is a directory") from None
    except OSError as error:
        raise from_os_error(error, f"write {path}") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
