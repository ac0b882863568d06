"""Who a launched Chromium runs as: never root.

livetap often runs as root (live capture). A browser that renders untrusted pages
must not: as root the browser would hold root's files and Chromium would need
``--no-sandbox``. So a root livetap starts it as the user who ran ``sudo``
(``SUDO_UID``/``SUDO_GID``), else as ``nobody``. ``nobody`` exists on every
system; a dedicated account would have to be created at install time, which a
``pip install`` cannot do, and buys little here because each browser gets its own
private profile directory anyway. Without root, the browser runs as livetap's user.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from engine.errors import UnavailableError

FALLBACK = "nobody"


@dataclass(frozen=True, slots=True)
class BrowserAccount:
    """A user and group to run the browser as, and whether that means switching to them."""

    uid: int
    gid: int
    name: str

    @property
    def switches(self) -> bool:
        """True when livetap must drop to this account (it runs as someone else, i.e. root)."""
        return self.uid != os.geteuid()


def _id_from(variable: str) -> int | None:
    """A numeric id from the environment (sudo sets SUDO_UID/SUDO_GID), or None."""
    value = os.environ.get(variable, "").strip()
    return int(value) if value.isdigit() else None


def _name_of(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def browser_account() -> BrowserAccount:
    """The unprivileged account for the browser (livetap's own user when it is not root)."""
    uid = os.geteuid()
    if uid != 0:
        return BrowserAccount(uid, os.getegid(), _name_of(uid))
    sudo_uid, sudo_gid = _id_from("SUDO_UID"), _id_from("SUDO_GID")
    if sudo_uid and sudo_gid:  # set and not root's 0
        return BrowserAccount(sudo_uid, sudo_gid, _name_of(sudo_uid))
    try:
        entry = pwd.getpwnam(FALLBACK)
    except KeyError:
        raise UnavailableError(
            "the browser cannot run as root and this system has no 'nobody' account to run it "
            "as: run livetap with sudo from your own account, or as a normal user"
        ) from None
    return BrowserAccount(entry.pw_uid, entry.pw_gid, FALLBACK)
