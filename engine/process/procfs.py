"""What ``/proc`` says about a process: who holds a socket inode, and who the holder is.

The kernel tells which socket a packet belongs to (:mod:`.sockdiag`) but not which
process holds it: only each process's ``/proc/PID/fd`` links (``socket:[INODE]``) do.
Scanning every one is the costly part, so :class:`InodeOwners` keeps what it learnt and
scans again only on a miss, newest processes first (a socket seen for the first time is
usually a new program's). Every answer carries the process's start time, so a pid that
was reused by another program is noticed instead of named.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
from dataclasses import dataclass
from pathlib import Path

PROC = "/proc"
RECENT_OWNERS = 16
NEWEST_PIDS = 64
"""How many of the last allocated pids are tried before /proc is listed."""
MAX_KNOWN_INODES = 200_000
"""Past this many remembered sockets the map starts again (bounded memory)."""

_CONTAINER = re.compile(r"(?:(docker|libpod|crio|cri-containerd)-)?([0-9a-f]{64})(?:\.scope)?$")
_UNIT = re.compile(r"[^/]+\.(?:service|scope|slice)$")


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """The program behind a socket, or why it is not known (``reason`` set, pid 0).

    An unknown owner still carries what is known (the uid from sock_diag) so the
    detail can say "a socket of user nobody" rather than nothing.
    """

    pid: int = 0
    name: str = ""
    """The command name (``comm``, at most 15 characters)."""
    cmdline: str = ""
    user: str = ""
    uid: int = -1
    ppid: int = 0
    unit: str = ""
    """The systemd unit (``ssh.service``) or container (``docker:0123456789ab``), if any."""
    start: int = 0
    """Start time in clock ticks since boot: with the pid, names the process uniquely."""
    reason: str = ""
    """Why the owner is unknown ("other network namespace" ...); empty when known."""

    @property
    def known(self) -> bool:
        """A process was found (else ``reason`` says why not)."""
        return not self.reason

    @property
    def label(self) -> str:
        """For a column: ``curl 4121``, or ``—`` when unknown."""
        return f"{self.name} {self.pid}" if self.known else "—"

    def as_dict(self) -> dict[str, object]:
        """The JSON form (NDJSON events, ``livetap top --json``)."""
        if not self.known:
            found: dict[str, object] = {"unknown": self.reason}
            if self.user:
                found["user"] = self.user
            return found
        return {
            "pid": self.pid,
            "name": self.name,
            "cmdline": self.cmdline,
            "user": self.user,
            "ppid": self.ppid,
            "unit": self.unit,
        }


def printable(text: str) -> str:
    """``text`` with control characters as ``?``: a process chooses its own name and
    arguments, and a terminal would obey the escape sequences in them."""
    return "".join("?" if ord(char) < 32 or 127 <= ord(char) < 160 else char for char in text)


def unknown(reason: str, uid: int = -1) -> ProcessInfo:
    """An owner that could not be named, and why."""
    return ProcessInfo(uid=uid, user=user_name(uid) if uid >= 0 else "", reason=reason)


_USERS: dict[int, str] = {}


def user_name(uid: int) -> str:
    """The login name of a uid (the number when it has none)."""
    name = _USERS.get(uid)
    if name is None:
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:
            name = str(uid)
        _USERS[uid] = name
    return name


def start_time(pid: int) -> int | None:
    """The process's start time (field 22 of ``/proc/PID/stat``), None if it is gone."""
    try:
        text = Path(f"{PROC}/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The name (field 2) may hold spaces and parentheses: count from the last ')'.
    fields = text[text.rfind(b")") + 2 :].split()
    return int(fields[19]) if len(fields) > 19 else None


def thread_group(pid: int) -> int:
    """The process a thread id belongs to (itself for a process)."""
    value = _status_field(pid, b"Tgid:")
    return int(value) if value is not None else pid


def effective_uid(pid: int) -> int | None:
    """The user a process acts as (``Uid:`` in ``/proc/PID/status``, as ``ps`` shows it).

    Not the owner of ``/proc/PID``: that is root for a process that is not dumpable
    (after a setuid, or one that asked), whichever user it runs as.
    """
    value = _status_field(pid, b"Uid:")
    return int(value.split()[1]) if value is not None else None


def _status_field(pid: int, name: bytes) -> bytes | None:
    """One line's value of ``/proc/PID/status`` (None: gone, unreadable or absent)."""
    try:
        status = Path(f"{PROC}/{pid}/status").read_bytes()
    except OSError:
        return None
    start = status.find(b"\n" + name)
    if start < 0:
        return None
    return status[start + 1 + len(name) : status.index(b"\n", start + 1)]


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(comm, ppid, start time) from one read of ``/proc/PID/stat``."""
    try:
        text = Path(f"{PROC}/{pid}/stat").read_bytes()
    except OSError:
        return None
    close = text.rfind(b")")
    name = printable(text[text.find(b"(") + 1 : close].decode("utf-8", "replace"))
    fields = text[close + 2 :].split()
    if len(fields) <= 19:
        return None
    return name, int(fields[1]), int(fields[19])


def unit_of(cgroup_text: str) -> str:
    """The systemd unit or container id a ``/proc/PID/cgroup`` names, else ""."""
    paths = [line.split(":", 2)[2] for line in cgroup_text.splitlines() if line.count(":") >= 2]
    # The unified hierarchy (0::) first, then the named systemd one, then the rest.
    paths.sort(key=lambda path: 0 if path.startswith("/") and "slice" in path else 1)
    for path in paths:
        for part in reversed(path.strip("/").split("/")):
            match = _CONTAINER.search(part)
            if match:
                runtime = {"libpod": "podman", "cri-containerd": "containerd"}.get(
                    match.group(1) or "", match.group(1) or "container"
                )
                return f"{runtime}:{match.group(2)[:12]}"
    for path in paths:
        for part in reversed(path.strip("/").split("/")):
            if _UNIT.fullmatch(part) and not part.endswith(".slice"):
                return part
    return ""


def read_process(pid: int, expected_start: int | None = None) -> ProcessInfo:
    """Everything the detail shows about a pid, or an unknown with the reason.

    ``expected_start`` guards against pid reuse: if the pid now names a process that
    started at another time, the one that held the socket has exited.
    """
    first = _stat(pid)
    if first is None or (expected_start is not None and first[2] != expected_start):
        return unknown("the process exited")
    name, ppid, started = first
    uid = effective_uid(pid)
    if uid is None:
        return unknown("the process exited")
    try:
        raw = Path(f"{PROC}/{pid}/cmdline").read_bytes()
        cmdline = printable(raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace"))
    except OSError:
        cmdline = ""
    try:
        unit = unit_of(Path(f"{PROC}/{pid}/cgroup").read_text("utf-8", "replace"))
    except OSError:
        unit = ""
    if start_time(pid) != started:  # reused while we read: what we read may be another's
        return unknown("the process exited")
    if not cmdline and ppid in (0, 2) and pid != 1:
        cmdline = f"[{name}]"  # a kernel thread has no command line: ps writes its name so
    # an exited process not yet reaped (a zombie) has none either: the detail says not known
    return ProcessInfo(pid, name, cmdline, user_name(uid), uid, ppid, unit, started)


def _holds(path: str, inode: int) -> bool:
    """Whether an fd link (``/proc/PID/fd/N``) still names this socket."""
    try:
        return os.readlink(path) == f"socket:[{inode}]"  # noqa: PTH115 (one syscall)
    except OSError:
        return False


def last_pid() -> int:
    """The pid the kernel allocated last (``/proc/loadavg``'s fifth field), 0 if unknown."""
    try:
        return int(Path(f"{PROC}/loadavg").read_text().split()[4])
    except (OSError, ValueError, IndexError):
        return 0


def _pids_newest_first(last: int) -> list[int]:
    """Every pid in /proc, most recently allocated first.

    Pids grow until they wrap at pid_max: counting down from the last one allocated,
    then down from the top, is newest first.
    """
    pids = [int(entry.name) for entry in os.scandir(PROC) if entry.name.isdigit()]
    pids.sort(reverse=True)
    wrapped = [pid for pid in pids if pid > last]
    return pids[len(wrapped) :] + wrapped


class InodeOwners:
    """Socket inode → (pid, start time), learnt from ``/proc/*/fd`` and kept."""

    def __init__(self) -> None:
        self._owners: dict[int, tuple[int, int, str]] = {}
        """inode → (pid, start time, the fd link's path) where a scan saw it."""
        self._recent: list[int] = []
        """Pids that held the last sockets asked about, scanned first."""
        self.scans = 0
        """How many scans ran (each reads some /proc/*/fd), for the benchmark."""
        self.denied_uids: set[int] = set()
        """Owners of processes whose fd links the last scan was not allowed to read."""

    def owner(self, inode: int) -> tuple[int, int] | None:
        """(pid, start time) of the process holding ``inode``; scans on a miss.

        A cached owner is checked (its fd link still names the socket, its start time
        is unchanged), so neither a reused pid nor a parent that handed the socket to a
        child and closed its own copy is answered. After a miss, :attr:`denied_uids`
        says whose processes could not be read.
        """
        found = self._owners.get(inode)
        if found is not None:
            pid, started, path = found
            if _holds(path, inode) and start_time(pid) == started:
                return pid, started
            # That process closed it (a parent that handed it to a child) or is gone
            # (its pid may be another's now): look again.
            del self._owners[inode]
        self._scan({inode})
        found = self._owners.get(inode)
        return None if found is None else (found[0], found[1])

    def _scan(self, wanted: set[int]) -> None:
        """Read fd links until every wanted inode is found: recent owners, then newest first.

        A server's new connection is held by the process that held its earlier ones,
        a new program's socket by one of the newest pids. Every process is a candidate
        whatever the socket's uid: a server that drops privileges after binding, or one
        handed its socket by systemd, holds a socket of another user.
        """
        self.scans += 1
        if len(self._owners) > MAX_KNOWN_INODES:
            self._owners.clear()
        self.denied_uids = set()
        left = set(wanted)
        recent = list(reversed(self._recent))
        for pid in recent:
            if not left:
                return
            self._read_fds(pid, left)
        # A new program's pid is among the last few allocated: try those without
        # listing /proc (a pid that is a thread's, or gone, fails at once).
        last = last_pid()
        newest = range(last, max(0, last - NEWEST_PIDS), -1)
        for pid in newest:
            if not left:
                return
            if pid not in self._recent:
                self._read_fds(pid, left)
        for pid in _pids_newest_first(last):
            if not left:
                return
            if pid not in self._recent and pid not in newest:
                self._read_fds(pid, left)

    def _read_fds(self, pid: int, left: set[int]) -> None:
        """Learn the socket inodes one process holds; note it if it holds a wanted one."""
        base = f"{PROC}/{pid}/fd"
        try:
            # os.scandir and os.readlink, not Path: this loop is the scan's whole cost.
            entries = list(os.scandir(base))
        except PermissionError:
            with contextlib.suppress(OSError):
                self.denied_uids.add(Path(f"{PROC}/{pid}").stat().st_uid)
            return
        except OSError:
            return
        started: int | None = None
        for entry in entries:
            try:
                link = os.readlink(entry.path)  # noqa: PTH115
            except OSError:
                continue
            if link.startswith("socket:["):
                if started is None:
                    # /proc/TID of a thread opens too (unlisted): name its process.
                    pid = thread_group(pid)
                    started = start_time(pid)
                    if started is None:
                        return
                inode = int(link[8:-1])
                self._owners[inode] = (pid, started, entry.path)
                if inode in left:
                    left.discard(inode)
                    self._note(pid)

    def _note(self, pid: int) -> None:
        """Remember a pid that held a wanted socket (most recent last, a few kept)."""
        if pid in self._recent:
            self._recent.remove(pid)
        self._recent.append(pid)
        del self._recent[:-RECENT_OWNERS]

    def forget(self, inode: int) -> None:
        """Drop what is known of an inode (its socket closed)."""
        self._owners.pop(inode, None)


def net_namespace(pid: int | str) -> str | None:
    """The network namespace of a process (``net:[4026531840]``), None if unreadable."""
    try:
        return str(Path(f"{PROC}/{pid}/ns/net").readlink())
    except OSError:
        return None
