"""The one architectural rule: the engine never imports Textual (or Rich, or the UI)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

BLOCKER = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"textual", "rich", "tui"}:
            raise ImportError(f"the engine imported {name}")
        return None
sys.meta_path.insert(0, Block())
import importlib
for module in MODULES:
    importlib.import_module(module)
assert not any(m.split(".")[0] in {"textual", "rich", "tui"} for m in sys.modules)
print("ok", len(MODULES))
"""


def test_every_engine_module_imports_with_textual_blocked() -> None:
    modules = [f"engine.{m.name}" for m in pkgutil.iter_modules(engine.__path__)]
    assert len(modules) >= 10
    script = f"MODULES = {modules!r}\n" + BLOCKER
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok {len(modules)}"


def test_the_blocker_would_catch_an_import() -> None:
    script = "MODULES = ['textual.app']\n" + BLOCKER
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and "imported textual" in result.stderr
