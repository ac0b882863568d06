"""Text files written whole or not at all: dissectors and spec drafts.

A reader (Wireshark loading a plugin, an editor) never sees half a file: the
text goes to a temporary file in the same directory, renamed over the name, so
a symbolic link planted at the name is replaced, never followed. Mode 0600, as
every file livetap writes (``mkstemp`` creates it so): a draft holds bytes of a
captured packet, and livetap often runs as root.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.errors import BadInputError, from_os_error


def write_text_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600; errors are LivetapErrors."""
    directory = path.parent if str(path.parent) else Path()
    temporary: str | None = None
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).replace(path)
        temporary = None
    except IsADirectoryError:
        raise BadInputError(f"could not write {path}: it is a directory") from None
    except OSError as error:
        raise from_os_error(error, f"write {path}") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
