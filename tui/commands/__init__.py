"""livetap's subcommands, one module each, found here by name.

A subcommand module defines ``NAME`` and ``HELP`` (strings), ``add_arguments(parser)``
and ``run(args) -> int``; adding a module adds the subcommand, with no central list
to edit. Each ``run`` raises :class:`engine.errors.LivetapError` for anything a user
caused; the CLI turns that into a message (or a JSON error with ``--json``) and the
documented exit code.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True, slots=True)
class Subcommand:
    """One subcommand: its name, one-line help, and its two functions."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _load(module: ModuleType) -> Subcommand | None:
    """The subcommand a module defines, or None for helper modules."""
    if not hasattr(module, "NAME"):
        return None
    return Subcommand(module.NAME, module.HELP, module.add_arguments, module.run)


def command_names() -> list[str]:
    """The subcommands' names (a module's name is its command's), without importing them."""
    return sorted(
        info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")
    )


def subcommands(names: list[str] | None = None) -> list[Subcommand]:
    """The subcommands named (default: all), sorted by name.

    Importing a command module imports what it needs, so the live view (no
    subcommand) imports none of them: start-up stays fast.
    """
    found = []
    for name in command_names() if names is None else names:
        command = _load(importlib.import_module(f"{__name__}.{name}"))
        if command is not None:
            found.append(command)
    return sorted(found, key=lambda command: command.name)
