"""Where a background NDJSON capture keeps its state, and how ``stop`` talks to it.

The capture runs in a process of its own; its state file (pid, control socket,
file, start report) lives in the platform's runtime directory. ``stop`` and
``status`` send one JSON request over the Unix socket and read one JSON reply.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import warnings
from pathlib import Path
from typing import Any

from engine.errors import ConflictError, NotFoundError, PermissionDeniedError, UnavailableError

STATE_NAME = "ndjson-capture.json"
SOCKET_NAME = "ndjson-capture.sock"
REPLY_LIMIT = 1 << 20


def runtime_dir() -> Path:
    """livetap's runtime directory (``$XDG_RUNTIME_DIR/livetap`` or a private /tmp one), 0700."""
    import platformdirs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no XDG_RUNTIME_DIR: platformdirs falls back and warns
        path = Path(platformdirs.user_runtime_dir("livetap"))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _check_private(path.parent, shared_ok=True)
    _check_private(path, shared_ok=False)
    return path


def _check_private(path: Path, *, shared_ok: bool) -> None:
    """Refuse a runtime directory another user could have planted or can still change.

    Without ``XDG_RUNTIME_DIR`` the directory is under /tmp, where anyone could have
    made it first (with a symbolic link inside) for a root livetap to write through.
    ``shared_ok`` lets a parent owned by root or by the user who ran sudo pass.
    """
    info = path.lstat()
    mine = info.st_uid == os.geteuid()
    trusted = {0, int(os.environ["SUDO_UID"])} if os.environ.get("SUDO_UID", "").isdigit() else {0}
    problem = ""
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        problem = "is not a plain directory"
    elif not mine and not (shared_ok and info.st_uid in trusted):
        problem = f"belongs to user {info.st_uid}"
    elif info.st_mode & 0o022 and not (shared_ok and info.st_mode & stat.S_ISVTX):
        problem = "can be written by other users"
    if problem:
        raise PermissionDeniedError(
            f"the runtime directory {path} {problem}, so livetap will not keep its "
            "capture state there; remove it, or set XDG_RUNTIME_DIR to a private directory"
        )
    if mine and not shared_ok and info.st_mode & 0o077:
        path.chmod(0o700)


def state_path() -> Path:
    """The state file of the running capture."""
    return runtime_dir() / STATE_NAME


def socket_path() -> Path:
    """The control socket of the running capture."""
    return runtime_dir() / SOCKET_NAME


def process_alive(pid: int) -> bool:
    """Whether a process exists (one of another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state() -> dict[str, Any] | None:
    """The running capture's state, or None (a stale state file is removed)."""
    path = state_path()
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("pid"), int)
        or not process_alive(state["pid"])
    ):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return state


def write_state(state: dict[str, Any]) -> None:
    """Record the running capture (0600)."""
    path = state_path()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(state, handle)


def clear_state() -> None:
    """Forget the capture (on its exit)."""
    for path in (state_path(), socket_path()):
        with contextlib.suppress(OSError):
            path.unlink()


def ensure_none_running() -> None:
    """Refuse a second capture."""
    state = read_state()
    if state is not None:
        raise ConflictError(
            f"an NDJSON capture is already running (pid {state['pid']}, file {state.get('file')}): "
            "stop it with `livetap capture ndjson stop`"
        )


def ask(command: str, timeout: float = 30.0) -> dict[str, Any]:
    """Send ``command`` (stop or status) to the running capture and return its reply."""
    state = read_state()
    if state is None:
        raise NotFoundError(
            "no NDJSON capture is running (start one with `livetap capture ndjson start`)"
        )
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        try:
            client.connect(str(state.get("socket", socket_path())))
            client.sendall(json.dumps({"command": command}).encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n") and len(reply) < REPLY_LIMIT:
                chunk = client.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except OSError as error:
            raise UnavailableError(
                f"the running capture (pid {state['pid']}) did not answer: {error}"
            ) from None
    try:
        answer = json.loads(reply)
    except ValueError:
        raise UnavailableError(
            f"the running capture (pid {state['pid']}) answered nonsense"
        ) from None
    if not isinstance(answer, dict):
        raise UnavailableError("the running capture answered nonsense")
    answer["_pid"] = state["pid"]
    return answer
