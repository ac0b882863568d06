"""Compile :data:`engine.native.MODULES` with mypyc into ``engine/native/_built``.

Run by ``setup.sh`` (and so by ``test.sh``) as ``python -m engine.native build``; it
does nothing when the build already matches the sources. It needs mypy (a
development dependency: mypyc ships with it), a C compiler and the Python headers;
without them it says so and livetap runs as pure Python, only slower.

mypyc is run on a copy of the ``engine`` package in a temporary folder, so that no
compiled file ever lands beside the sources (where it would shadow an edited
``.py``), and the result replaces ``_built`` in one rename.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from engine.native import (
    BUILT,
    MANIFEST,
    MODULES,
    PURE_VARIABLE,
    ROOT,
    fingerprint,
    interpreter,
    source_of,
    unchanged,
)


def up_to_date() -> bool:
    """Whether ``_built`` holds exactly today's sources compiled for this Python."""
    try:
        manifest = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return False
    modules = manifest.get("modules", {})
    try:
        return manifest.get("interpreter") == interpreter() and all(
            module in modules
            and unchanged(source_of(module), modules[module])
            and (BUILT / modules[module]["file"]).is_file()
            for module in MODULES
        )
    except (OSError, KeyError, TypeError):
        return False


def missing_tools() -> str | None:
    """Why this machine cannot compile (no C compiler, no headers, no mypyc), or None."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler}); on Debian: apt-get install gcc"
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not include.is_file():
        return f"no Python headers ({include}); on Debian: apt-get install python3-dev"
    if importlib.util.find_spec("mypyc") is None:  # a build tool: never imported here
        return "no mypyc (it comes with mypy: pip install mypy)"
    return None


def build(quiet: bool = False) -> None:
    """Compile the modules into ``_built`` (replacing it); raises on failure."""
    with tempfile.TemporaryDirectory(prefix="livetap-mypyc-") as folder:
        work = Path(folder)
        shutil.copytree(
            ROOT / "engine",
            work / "engine",
            ignore=shutil.ignore_patterns("__pycache__", "_built", "*.so"),
        )
        sources = [str(Path(*module.split(".")).with_suffix(".py")) for module in MODULES]
        environment = dict(os.environ, MYPY_CACHE_DIR=str(work / ".mypy_cache"))
        environment.pop(PURE_VARIABLE, None)
        done = subprocess.run(
            [sys.executable, "-m", "mypyc", *sources],
            cwd=work,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"mypyc failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        staged = work / "_built"
        modules: dict[str, dict[str, str | int]] = {}
        for module in MODULES:
            relative = Path(*module.split(".")).with_suffix("").as_posix() + suffix
            (staged / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(work / relative, staged / relative)
            modules[module] = {**fingerprint(source_of(module)), "file": relative}
        for shared in work.glob(f"*__mypyc{suffix}"):  # the library every module calls into
            shutil.copy2(shared, staged / shared.name)
            modules[shared.name.removesuffix(suffix)] = {"file": shared.name}
        (staged / "manifest.json").write_text(
            json.dumps({"interpreter": interpreter(), "modules": modules}, indent=1) + "\n"
        )
        old = BUILT.with_name("_built.old")
        shutil.rmtree(old, ignore_errors=True)
        if BUILT.exists():
            BUILT.rename(old)
        shutil.move(str(staged), BUILT)
        shutil.rmtree(old, ignore_errors=True)
    if not quiet:
        _say(f"compiled {len(MODULES)} modules into {BUILT}")


def _say(text: str) -> None:
    print(f"engine.native: {text}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """``python -m engine.native build [--force]``: 0 built or up to date, 1 not built."""
    parser = argparse.ArgumentParser(prog="python -m engine.native", description=__doc__)
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--force", action="store_true", help="build even when up to date")
    options = parser.parse_args(argv)
    if options.command == "check" or (up_to_date() and not options.force):
        fresh = up_to_date()
        _say("up to date" if fresh else "not built")
        return 0 if fresh else 1
    reason = missing_tools()
    if reason is not None:
        _say(f"not compiled ({reason}); livetap runs as pure Python, slower")
        return 1
    started = time.monotonic()
    _say("compiling the analysis modules with mypyc (about a minute)...")
    try:
        build(quiet=True)
    except (RuntimeError, OSError) as error:
        _say(f"not compiled ({error}); livetap runs as pure Python, slower")
        return 1
    _say(f"compiled {len(MODULES)} modules in {time.monotonic() - started:.0f} s")
    return 0
