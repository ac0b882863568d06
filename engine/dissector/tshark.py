"""Running tshark with a Lua script: finding it, and running it where Lua is allowed.

Some Wireshark builds silently ignore ``-X lua_script:`` for root (Debian's
runs it). So the first use probes, once per tshark, with a one-line script
that registers a field: if asking tshark for that field works, Lua runs as
this user; if not, and we are root, tshark runs as ``nobody`` through
``setpriv`` on copies of the files in a directory only ``nobody`` can read.
Subprocesses run without a shell and with timeouts.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from engine.errors import NotFoundError, UnavailableError

PROBE_TIMEOUT = 30.0
_PROBE_SCRIPT = """\
local probe = Proto("livetap_lua_probe", "livetap Lua probe")
probe.fields = { ProtoField.uint8("livetap_lua_probe.ok", "ok") }
"""
_EMPTY_PCAP = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")


@dataclass(frozen=True, slots=True)
class Tshark:
    """A tshark that runs Lua scripts, and how to start it."""

    path: str
    as_nobody: bool
    """Run through setpriv as nobody (this build ignores Lua scripts for root)."""

    def command(self, args: Sequence[str]) -> list[str]:
        """The argv that runs tshark with ``args``."""
        if not self.as_nobody:
            return [self.path, *args]
        user = pwd.getpwnam("nobody")
        return [
            "setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
            "--reset-env",
            self.path,
            *args,
        ]


def find_tshark(explicit: str | None = None) -> str | None:
    """tshark's path: the one named (which must exist), else the one on PATH, else None."""
    if explicit:
        found = shutil.which(explicit)
        if found is None:
            raise NotFoundError(f"{explicit} was not found or is not executable: check --tshark")
        return found
    return shutil.which("tshark")


def open_tshark(explicit: str | None = None) -> Tshark | None:
    """A :class:`Tshark` ready for Lua, or None when tshark is not installed.

    Raises :class:`UnavailableError` when tshark is there but runs no Lua
    scripts, neither as this user nor as nobody.
    """
    path = find_tshark(explicit)
    if path is None:
        return None
    mode = _lua_mode(path)
    if mode == "direct":
        return Tshark(path, as_nobody=False)
    if mode == "nobody":
        return Tshark(path, as_nobody=True)
    raise UnavailableError(
        f"{path} does not run Lua scripts (a build without Lua, or Lua disabled for this user)"
    )


@cache
def _lua_mode(path: str) -> str:
    """ "direct", "nobody" or "none": where this tshark runs Lua scripts (probed once)."""
    with tempfile.TemporaryDirectory(prefix="livetap-probe-") as directory:
        folder = Path(directory)
        script, capture = folder / "probe.lua", folder / "empty.pcap"
        script.write_text(_PROBE_SCRIPT)
        capture.write_bytes(_EMPTY_PCAP)
        args = ["-X", f"lua_script:{script}", "-r", str(capture), "-T", "fields"]
        args += ["-e", "livetap_lua_probe.ok"]
        if _probe(Tshark(path, as_nobody=False), args):
            return "direct"
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            return "none"
        with staged(Tshark(path, as_nobody=True), [script, capture]) as (copy, pcap):
            nobody_args = ["-X", f"lua_script:{copy}", "-r", str(pcap), "-T", "fields"]
            nobody_args += ["-e", "livetap_lua_probe.ok"]
            if _probe(Tshark(path, as_nobody=True), nobody_args):
                return "nobody"
    return "none"


def _probe(tool: Tshark, args: list[str]) -> bool:
    try:
        result = subprocess.run(
            tool.command(args),
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@contextlib.contextmanager
def staged(tool: Tshark, files: Sequence[Path]) -> Iterator[list[Path]]:
    """Paths of the files that ``tool`` can read: the files themselves, or private copies.

    For a tshark running as nobody, the files are copied into a fresh
    directory owned by nobody and readable by nobody alone, removed afterwards.
    """
    if not tool.as_nobody:
        yield list(files)
        return
    user = pwd.getpwnam("nobody")
    directory = Path(tempfile.mkdtemp(prefix="livetap-tshark-"))
    try:
        copies = []
        for index, original in enumerate(files):
            copy = directory / f"{index}-{original.name}"
            shutil.copyfile(original, copy)
            os.chown(copy, user.pw_uid, user.pw_gid)
            copy.chmod(0o600)
            copies.append(copy)
        os.chown(directory, user.pw_uid, user.pw_gid)
        directory.chmod(0o700)
        yield copies
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def lua_messages(stderr: str) -> list[str]:
    """The Lua problems tshark printed while loading scripts (``tshark: Lua: ...``), one each."""
    messages: list[str] = []
    current: list[str] | None = None
    for line in stderr.splitlines():
        if line.startswith("tshark: Lua:"):
            if current:
                messages.append("\n".join(current))
            current = [line.removeprefix("tshark: ").strip()]
        elif line.startswith(("tshark:", "Running as user")):
            if current:
                messages.append("\n".join(current))
            current = None
        elif current is not None and line.strip():
            current.append(line.rstrip())
    if current:
        messages.append("\n".join(current))
    return messages


def other_errors(stderr: str) -> list[str]:
    """tshark's own complaints (not Lua's, not the root warning), e.g. an unreadable file."""
    return [
        line.removeprefix("tshark: ").strip()
        for line in stderr.splitlines()
        if line.startswith("tshark: ") and not line.startswith("tshark: Lua:")
    ]
