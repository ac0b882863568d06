"""Typed errors with person-readable messages, and the documented exit codes.

Every operation a user triggers either returns a result or raises a
:class:`LivetapError` subclass. The CLI prints ``str(error)`` (one sentence
with the fix) and exits with ``error.exit_code``; the TUI shows the message and
keeps running. The table below is the one the README documents.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, shared by every livetap command."""

    SUCCESS = 0
    FAILURE = 1
    """An unexpected internal error (a bug: please report it)."""
    USAGE_ERROR = 2
    BAD_INPUT = 3
    """Input livetap cannot use: invalid filter, corrupt pcap, malformed spec."""
    PERMISSION_DENIED = 4
    RESOURCE_ERROR = 5
    """The system ran out of something: disk full, too many files, memory."""
    NOT_FOUND = 6
    """An interface, file, browser or tool that does not exist."""
    PARTIAL = 7
    """Finished with a usable but incomplete result (e.g. a truncated pcap)."""
    CONFLICT = 8
    """The operation clashes with the current state (e.g. already running)."""
    UNAVAILABLE = 9
    """A needed peer went away or never answered (browser, source command)."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C or SIGTERM after cleaning up."""


EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.SUCCESS: "success",
    ExitCode.FAILURE: "unexpected internal error (a bug; please report it)",
    ExitCode.USAGE_ERROR: "bad command line: unknown flag, missing or invalid argument",
    ExitCode.BAD_INPUT: "input livetap cannot use: invalid filter, corrupt pcap, bad config",
    ExitCode.PERMISSION_DENIED: "not allowed: not root / no CAP_NET_RAW, unwritable path",
    ExitCode.RESOURCE_ERROR: "out of a resource: disk full, too many open files, memory",
    ExitCode.NOT_FOUND: "no such interface, file, browser or tool",
    ExitCode.PARTIAL: "finished with a partial result (e.g. a truncated pcap); a warning says why",
    ExitCode.CONFLICT: "clashes with the current state (e.g. a capture already running)",
    ExitCode.UNAVAILABLE: "a peer went away or never answered (browser, source command)",
    ExitCode.INTERRUPTED: "interrupted by Ctrl-C or SIGTERM, after cleaning up",
}


class LivetapError(Exception):
    """Base of every error a user can cause; its message is fit for a person."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def code_name(self) -> str:
        """The exit code's symbolic name, as JSON error reports carry it."""
        return self.exit_code.name


class UsageError(LivetapError):
    """A command line or configuration value that cannot be used as given."""

    exit_code = ExitCode.USAGE_ERROR


class BadInputError(LivetapError):
    """Input that is malformed: a file, a filter or a spec livetap cannot use."""

    exit_code = ExitCode.BAD_INPUT


class FilterError(BadInputError):
    """A BPF expression libpcap refused; the message is libpcap's own."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"invalid filter {expression!r}: {reason}")
        self.expression = expression
        self.reason = reason


class PermissionDeniedError(LivetapError):
    """The operating system refused: privileges or file permissions."""

    exit_code = ExitCode.PERMISSION_DENIED


class ResourceError(LivetapError):
    """The system ran out of something (disk, descriptors, memory)."""

    exit_code = ExitCode.RESOURCE_ERROR


class NotFoundError(LivetapError):
    """Something named by the user does not exist."""

    exit_code = ExitCode.NOT_FOUND


class ConflictError(LivetapError):
    """The request clashes with what is running now."""

    exit_code = ExitCode.CONFLICT


class UnavailableError(LivetapError):
    """A peer livetap depends on went away or never answered."""

    exit_code = ExitCode.UNAVAILABLE


def from_os_error(error: OSError, doing: str) -> LivetapError:
    """Turn an OSError into the typed error a person can act on.

    ``doing`` completes the sentence "could not ..." (e.g. "write capture.pcap").
    """
    import errno

    reason = error.strerror or str(error)
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return PermissionDeniedError(f"could not {doing}: {reason}")
    if error.errno in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return NotFoundError(f"could not {doing}: {reason}")
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.ENOMEM):
        return ResourceError(f"could not {doing}: {reason}")
    return LivetapError(f"could not {doing}: {reason}")
