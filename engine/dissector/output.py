"""Where a dissector export writes: the capture directory, unless given an absolute path.

The same rule as ``capture pcap -w``: a relative name is in the configured
``captureDirectory`` (the current directory when none is configured), so an
export started from anywhere lands beside the captures, not in whatever
directory livetap happened to be started from.
"""

from __future__ import annotations

from pathlib import Path


def output_path(requested: Path | None, directory: Path, default_name: str) -> Path:
    """``requested`` (relative: inside ``directory``), or ``directory/default_name``.

    A directory given as ``requested`` gets ``default_name`` inside it; ``~`` is expanded.
    """
    path = Path(default_name) if requested is None else requested.expanduser()
    if not path.is_absolute():
        path = directory.expanduser() / path
    if path.is_dir():
        path = path / default_name
    return path


def shown_path(path: Path, base: Path | None = None) -> str:
    """The path as a message shows it: relative to ``base`` (the current directory) when
    inside it, so the common case still reads ``wrote sensor.lua``."""
    try:
        return str(path.relative_to(base or Path.cwd()))
    except ValueError:
        return str(path)
