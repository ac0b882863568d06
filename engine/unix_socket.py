"""A listening Unix socket only its owner can connect to (mode 0600).

The alternative to a token on TCP: the file system decides who connects. The
socket is created under a umask of 0177, so it is never, even for an instant,
open to others; a stale socket left by a dead server is replaced, while a live
one, or anything that is not a socket (a file, a link), is refused.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

from engine.errors import BadInputError, ConflictError, UsageError, from_os_error

MAX_PATH = 107
"""sun_path holds 108 bytes with its NUL."""


def _remove_stale(path: Path) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    except OSError as error:
        raise from_os_error(error, f"use {path}") from None
    if not stat.S_ISSOCK(info.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a socket"
        raise BadInputError(f"{path} exists and is {what}; livetap will not replace it")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            path.unlink(missing_ok=True)  # nobody listens: a dead server's socket
            return
    raise ConflictError(f"something already listens on {path}")


def listen_private(path: Path) -> socket.socket:
    """A listening Unix stream socket at ``path``, mode 0600, owned by this user."""
    if len(os.fsencode(path)) > MAX_PATH:
        raise UsageError(f"--unix {path} is too long for a socket path ({MAX_PATH} bytes at most)")
    _remove_stale(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # the socket is born 0600 (0777 & ~0177)
    try:
        server.bind(str(path))
    except OSError as error:
        server.close()
        raise from_os_error(error, f"listen on {path}") from None
    finally:
        os.umask(old_umask)
    server.listen(128)
    server.setblocking(False)
    return server
