"""The capture directory as a fence: where tools may write, and where they may read.

An agent names files; the server runs as root. So a name is resolved before
use and refused when it leaves the directory: ``..`` anywhere, an absolute path
elsewhere, a symbolic link (in the directories on the way or at the end) that
points outside. Files a tool writes also need a suffix of their kind and no
hidden part (``.ssh/...``), so no tool can plant a dotfile or a file another
program trusts, even inside the directory. The writers themselves never follow
a link at the final name (``O_NOFOLLOW`` or a rename over it).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from engine.errors import BadInputError, NotFoundError, PermissionDeniedError, UsageError

MAX_NAME = 255


class CaptureDirectory:
    """Turns names an agent gives into paths inside one directory, or refuses them."""

    def __init__(self, root: Path, read_anywhere: bool = False) -> None:
        self.root = root.resolve(strict=True)
        self.read_anywhere = read_anywhere

    def contains(self, path: Path) -> bool:
        """Whether a resolved path is the directory or below it."""
        return path == self.root or self.root in path.parents

    def relative(self, path: Path) -> str:
        """A path inside the directory, relative to it (for resource URIs)."""
        return path.relative_to(self.root).as_posix()

    def _name(self, name: str) -> Path:
        """The name as a path, with the checks every name gets."""
        text = name.strip()
        if not text:
            raise UsageError("a file name is needed")
        if "\x00" in text or len(text) > 4 * MAX_NAME:
            raise UsageError(f"{name[:80]!r} is not a usable file name")
        path = Path(text).expanduser() if text.startswith("~") else Path(text)
        if ".." in path.parts:
            raise PermissionDeniedError(
                f"{text!r} climbs out with '..': files are read and written only inside the "
                f"capture directory {self.root}"
            )
        return path

    def output(self, name: str, suffixes: Collection[str]) -> Path:
        """Where a tool may write ``name``: inside the directory, with one of ``suffixes``."""
        path = self._name(name)
        candidate = path if path.is_absolute() else self.root / path
        if candidate.name.startswith("."):
            raise PermissionDeniedError(f"{path.name!r}: tools do not write hidden files")
        if candidate.suffix.lower() not in suffixes:
            wanted = " or ".join(sorted(suffixes))
            raise UsageError(f"{path.name!r}: the file name must end in {wanted}")
        try:
            parent = candidate.parent.resolve(strict=True)
        except FileNotFoundError:
            raise NotFoundError(
                f"the directory {candidate.parent} does not exist (inside the capture directory "
                f"{self.root} only existing directories can be written to)"
            ) from None
        except (OSError, RuntimeError) as error:
            raise BadInputError(f"cannot use {path}: {error}") from None
        if not self.contains(parent):
            raise PermissionDeniedError(
                f"{text_of(path)} is outside the capture directory {self.root}: this server "
                "writes files only there"
            )
        relative_parts = parent.relative_to(self.root).parts
        if any(part.startswith(".") for part in relative_parts):
            raise PermissionDeniedError(
                f"{text_of(path)}: tools do not write in hidden directories"
            )
        target = parent / candidate.name
        if len(target.name) > MAX_NAME:
            raise UsageError(f"{target.name[:80]!r}...: the file name is too long")
        if target.is_symlink():
            raise PermissionDeniedError(
                f"{target} is a symbolic link, which this server never writes through"
            )
        if target.is_dir():
            raise BadInputError(f"{target} is a directory; name a file")
        return target

    def input(self, name: str, what: str = "file") -> Path:
        """A file a tool may read: inside the directory, or anywhere with ``--read-anywhere``.

        A relative name is always taken relative to the capture directory.
        """
        path = self._name(name) if not self.read_anywhere else Path(name.strip()).expanduser()
        if not str(path):
            raise UsageError(f"a {what} path is needed")
        candidate = path if path.is_absolute() else self.root / path
        try:
            resolved = candidate.resolve(strict=True)
        except FileNotFoundError:
            where = "" if path.is_absolute() else f" in the capture directory {self.root}"
            raise NotFoundError(f"the {what} {text_of(path)} does not exist{where}") from None
        except (OSError, RuntimeError) as error:
            raise BadInputError(f"cannot use the {what} {text_of(path)}: {error}") from None
        if not self.read_anywhere and not self.contains(resolved):
            via = " (through a symbolic link)" if resolved != candidate.absolute() else ""
            raise PermissionDeniedError(
                f"the {what} {text_of(path)} is outside the capture directory {self.root}{via}: "
                "this server reads files only there unless it was started with --read-anywhere"
            )
        if not resolved.is_file():
            raise BadInputError(f"the {what} {text_of(path)} is not a regular file")
        return resolved


def text_of(path: Path) -> str:
    """A path as it appears in a message, at most 200 characters."""
    text = str(path)
    return text if len(text) <= 200 else text[:200] + "…"
