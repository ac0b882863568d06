"""The secret that ``livetap serve`` and ``livetap mcp --http`` require of every request.

livetap usually runs as root, and loopback is no boundary between the users of
one machine: anyone on it can connect to 127.0.0.1. So a served door takes a
token, like Jupyter's: random at each start (``secrets.token_urlsafe``), or the
user's own from a file (``--token-file``) or the environment (``LIVETAP_TOKEN``).
Listening beyond loopback (``--allow-remote``) needs a token the user set, so
that it can be given to the remote side on purpose rather than read off a log.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import BadInputError, PermissionDeniedError, UsageError, from_os_error

ENVIRONMENT = "LIVETAP_TOKEN"
MIN_LENGTH = 16
MAX_FILE_BYTES = 4096
_ALLOWED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


@dataclass(frozen=True, slots=True)
class AccessToken:
    """The token a server checks, and where it came from (``random``, a file, the environment)."""

    value: str
    source: str

    @property
    def chosen(self) -> bool:
        """Whether the user set it (a file or the environment) rather than livetap at random."""
        return self.source != "random"

    def matches(self, given: str | None) -> bool:
        """Whether ``given`` is the token, compared in constant time."""
        if not given:
            return False
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.value.encode("utf-8"))


def _checked(value: str, where: str) -> str:
    """A token as livetap accepts it: URL-safe characters, at least :data:`MIN_LENGTH` of them."""
    if len(value) < MIN_LENGTH:
        raise UsageError(
            f"the token from {where} is {len(value)} characters; use at least {MIN_LENGTH} "
            "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    if not set(value) <= _ALLOWED:
        raise UsageError(
            f"the token from {where} has characters other than letters, digits and -._~ "
            "(it travels in URLs and headers)"
        )
    return value


def read_token_file(path: Path) -> str:
    """The token in a file: its one line, which only its owner may read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise from_os_error(error, f"read the token file {path}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise BadInputError(f"the token file {path} is not a regular file")
    with os.fdopen(fd, "rb") as stream:
        if info.st_mode & 0o077:
            raise PermissionDeniedError(
                f"the token file {path} can be read by other users (mode "
                f"{stat.S_IMODE(info.st_mode):04o}); chmod 600 {path}"
            )
        raw = stream.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise BadInputError(f"the token file {path} is over {MAX_FILE_BYTES} bytes: not a token")
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        raise BadInputError(f"the token file {path} is not ASCII text") from None
    if not text:
        raise BadInputError(f"the token file {path} is empty")
    return _checked(text, str(path))


def resolve_token(token_file: Path | None, environ: MutableMapping[str, str]) -> AccessToken:
    """The server's token: from ``--token-file``, else ``LIVETAP_TOKEN``, else random.

    ``LIVETAP_TOKEN`` is taken out of ``environ``: the programs the server starts
    (each page's livetap, a browser, a capture process) have no use for it.
    """
    from_environment = environ.pop(ENVIRONMENT, "").strip()
    if token_file is not None:
        return AccessToken(read_token_file(token_file), f"file {token_file}")
    if from_environment:
        return AccessToken(_checked(from_environment, ENVIRONMENT), ENVIRONMENT)
    return AccessToken(secrets.token_urlsafe(32), "random")


def require_chosen_for_remote(token: AccessToken, command: str) -> None:
    """``--allow-remote`` with a random token is refused: the user must set one on purpose."""
    if not token.chosen:
        raise UsageError(
            f"{command} --allow-remote needs a token you set (--token-file FILE or "
            f"{ENVIRONMENT}), not a random one printed to the terminal"
        )
