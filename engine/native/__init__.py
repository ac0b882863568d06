"""The analysis hot path compiled to C with mypyc, used only when it matches the sources.

``livetap analyze`` walks every frame of a file in Python; compiled by mypyc (the
modules in :data:`MODULES`, typed as they are, unchanged) the same code runs about
1.6x faster, which the issue's "2x tshark" target needs. The compiled modules are
built by ``setup.sh`` (``python -m engine.native build``) into ``_built/`` next to
this file, never committed, with a manifest of the SHA-256 of every source they
were built from.

:func:`install` (called by ``engine/__init__.py``, before any of these modules is
imported) puts a finder in front of the import system that hands out the compiled
modules, but only when every source still has its manifest hash and the build is
for this interpreter: a source edited after the build (or a build for another
Python) makes all of them pure Python again, since compiled modules call each other
natively and cannot be mixed with an edited copy. ``LIVETAP_PURE=1`` asks for pure
Python (the tests that replace a function inside these modules run that way).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

MODULES: tuple[str, ...] = (
    "engine.packet.walk",
    "engine.packet.app",
    "engine.packet.ports",
    "engine.pcapio.read",
    "engine.analysis.addresses",
    "engine.analysis.aggregate",
    "engine.analysis.conversations",
    "engine.analysis.credentials",
    "engine.analysis.dns",
    "engine.analysis.fragments",
    "engine.analysis.hierarchy",
    "engine.analysis.http",
    "engine.analysis.ports",
    "engine.analysis.shards",
    "engine.analysis.talkers",
    "engine.analysis.threats",
    "engine.analysis.tls",
)
"""What is compiled: what ``analyze`` runs per frame, and what that calls."""

PURE_VARIABLE = "LIVETAP_PURE"
BUILT = Path(__file__).resolve().parent / "_built"
"""Where ``build`` puts the compiled modules and their manifest (git-ignored)."""
MANIFEST = BUILT / "manifest.json"
ROOT = Path(__file__).resolve().parent.parent.parent
"""The folder that holds the ``engine`` package."""


def source_of(module: str) -> Path:
    """The ``.py`` file of one of :data:`MODULES`."""
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def digest(path: Path) -> str:
    """The SHA-256 of a source file, as the manifest records it."""
    import hashlib  # only when a source's size or time changed: ~3 ms of every start

    return hashlib.sha256(path.read_bytes()).hexdigest()


def fingerprint(path: Path) -> dict[str, str | int]:
    """What the manifest records of a source: its SHA-256, and its size and time to skip
    hashing it at every start while it has not been touched."""
    status = path.stat()
    return {"sha256": digest(path), "size": status.st_size, "mtime_ns": status.st_mtime_ns}


def unchanged(path: Path, entry: dict[str, Any]) -> bool:
    """Whether a source is still the one the manifest entry was compiled from."""
    status = path.stat()
    if status.st_size == entry.get("size") and status.st_mtime_ns == entry.get("mtime_ns"):
        return True
    return digest(path) == entry.get("sha256")


def interpreter() -> str:
    """What a build is only good for: this Python's implementation, version and ABI."""
    return f"{sys.implementation.cache_tag}-{sys.abiflags}-{sys.platform}"


@dataclass(frozen=True, slots=True)
class NativeStatus:
    """Whether the compiled modules are in use, and if not, why (for ``--version``, tests)."""

    compiled: bool
    reason: str


_state: list[NativeStatus] = [NativeStatus(False, "not installed yet")]
"""This process's status (one item, replaced by :func:`install`)."""


class _CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules (and mypyc's shared library) in ``_built/``."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        file = self.files.get(fullname)
        if file is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(file))
        return importlib.util.spec_from_file_location(fullname, file, loader=loader)


def _usable_build() -> tuple[dict[str, Path] | None, str]:
    """The compiled files by module name, or None and the reason they cannot be used."""
    if os.environ.get(PURE_VARIABLE, "") not in ("", "0"):
        return None, f"pure Python ({PURE_VARIABLE} is set)"
    try:
        manifest = json.loads(MANIFEST.read_text())
    except FileNotFoundError:
        return None, "pure Python (not compiled: run setup.sh)"
    except (OSError, ValueError) as error:
        return None, f"pure Python (unreadable build manifest: {error})"
    if manifest.get("interpreter") != interpreter():
        return None, "pure Python (compiled for another Python: run setup.sh)"
    files: dict[str, Path] = {}
    for module, entry in manifest.get("modules", {}).items():
        if module in MODULES:
            try:
                if not unchanged(source_of(module), entry):
                    return None, f"pure Python ({module} changed since it was compiled)"
            except OSError:
                return None, f"pure Python ({module} is missing)"
        files[module] = BUILT / entry["file"]
    if set(MODULES) - set(files):
        return None, "pure Python (the build is older than the module list: run setup.sh)"
    if not all(file.is_file() for file in files.values()):
        return None, "pure Python (compiled files are missing: run setup.sh)"
    return files, f"compiled with mypyc ({len(MODULES)} modules)"


def install() -> NativeStatus:
    """Serve the compiled modules from now on, when they match the sources; the outcome."""
    if any(isinstance(finder, _CompiledFinder) for finder in sys.meta_path):
        return _state[0]
    files, reason = _usable_build()
    if files is not None and not any(module in sys.modules for module in MODULES):
        sys.meta_path.insert(0, _CompiledFinder(files))
        _state[0] = NativeStatus(True, reason)
    else:
        _state[0] = NativeStatus(False, reason if files is None else "pure Python (imported first)")
    return _state[0]


def status() -> NativeStatus:
    """Whether this process runs the compiled modules, and if not, why."""
    return _state[0]
