"""The one architectural rule: the engine never imports Textual (or Rich, or the UI).

And the distribution's runtime dependencies are exactly what its packages import.
"""

from __future__ import annotations

import ast
import importlib.metadata
import pkgutil
import re
import subprocess
import sys
import tomllib
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


# -- dependencies ---------------------------------------------------------------------------

ROOT = Path(__file__).parent.parent
SHIPPED = ("engine", "tui", "themes")
"""The packages of the distribution: what they import at run time must be installed with it."""


def _runtime_imports() -> dict[str, set[str]]:
    """Top-level module → the files importing it, over the shipped packages.

    Imports inside functions count (they run); those under ``if TYPE_CHECKING:`` do not.
    """
    found: dict[str, set[str]] = {}
    for package in SHIPPED:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            typing_only = {
                id(inner)
                for node in ast.walk(tree)
                if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                for statement in node.body
                for inner in ast.walk(statement)
            }
            for node in ast.walk(tree):
                if id(node) in typing_only:
                    continue
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _third_party(imports: dict[str, set[str]]) -> dict[str, set[str]]:
    return {
        module: files
        for module, files in imports.items()
        if module not in sys.stdlib_module_names and module not in SHIPPED
    }


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, set[str]]:
    """[project.dependencies] of pyproject.toml: each distribution → the modules it provides."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {
        _normalized(re.split(r"[\s;<>=!~\[(]", line, maxsplit=1)[0])
        for line in project["dependencies"]
    }
    provides: dict[str, set[str]] = {name: set() for name in names}
    for module, distributions in importlib.metadata.packages_distributions().items():
        for distribution in distributions:
            if _normalized(distribution) in provides:
                provides[_normalized(distribution)].add(module)
    return provides


def test_the_import_scan_sees_lazy_imports_and_skips_typing_only_ones() -> None:
    imports = _runtime_imports()
    assert "tui/commands/_mcp_http.py" in imports["uvicorn"]  # imported inside functions
    assert "textual" in imports and "engine" in imports and "os" in imports
    assert not {"tests", "benchmarks"} & imports.keys()


def test_every_runtime_import_is_a_declared_runtime_dependency() -> None:
    provided = {module for modules in _declared().values() for module in modules}
    missing = {
        module: sorted(files)
        for module, files in _third_party(_runtime_imports()).items()
        if module not in provided
    }
    assert missing == {}, "imported at run time but not in [project.dependencies]"


def test_every_declared_runtime_dependency_is_imported() -> None:
    imported = _third_party(_runtime_imports()).keys()
    declared = _declared()
    assert {"pyshark", "chrome-devtools-protocol", "jsonschema"} <= declared.keys()
    unused = {name for name, modules in declared.items() if not modules & imported}
    assert unused == set(), "declared in [project.dependencies] but imported nowhere"
