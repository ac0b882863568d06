"""Tools by name: their JSON schemas, argument checking, and errors turned into results.

A call never raises. Its arguments are checked against the tool's schema (a
bad type, an unknown argument, a value over one of the server's caps: a
``USAGE_ERROR`` naming the argument); a :class:`~engine.errors.LivetapError`
becomes a failure carrying its code and message, as the CLI's JSON errors do;
anything else is a bug, kept with its traceback in a file the message names.
"""

from __future__ import annotations

import json
import os
import tempfile
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import LivetapError, NotFoundError, UsageError

ToolFunction = Callable[[dict[str, Any]], dict[str, Any]]


class ReportedError(Exception):
    """A failure that still has a result to show (a broken dissector's check report)."""

    def __init__(self, error: LivetapError, data: dict[str, Any]) -> None:
        super().__init__(error.message)
        self.error = error
        self.data = data


@dataclass(frozen=True)
class Tool:
    """One tool: what an agent sees of it, and the function that does the work."""

    name: str
    title: str
    description: str
    schema: dict[str, Any]
    """The input's JSON Schema (an object; unknown arguments refused)."""
    run: ToolFunction
    read_only: bool = True
    """Whether it leaves the machine as it was (no file written, nothing started)."""
    caps: Mapping[str, str] = field(default_factory=dict)
    """Argument -> the server flag that sets its maximum, for the error message."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A tool's result (``ok``) or its failure document, both JSON-ready."""

    ok: bool
    data: dict[str, Any]

    def text(self) -> str:
        """The result as JSON text."""
        return json.dumps(self.data, indent=1, ensure_ascii=False, default=str)


def failure(error: LivetapError, data: dict[str, Any] | None = None) -> Outcome:
    """The CLI's JSON error shape: ``{"success": false, "error": {"code", "message"}}``."""
    document: dict[str, Any] = {
        "success": False,
        "error": {"code": error.code_name, "message": error.message},
    }
    if data is not None:
        document["data"] = data
    return Outcome(False, document)


class Registry:
    """The tools of one server, called by name with checked arguments."""

    def __init__(self, tools: Iterable[Tool]) -> None:
        from jsonschema import Draft202012Validator

        self._tools = {tool.name: tool for tool in tools}
        self._validators = {}
        for tool in self._tools.values():
            Draft202012Validator.check_schema(tool.schema)
            self._validators[tool.name] = Draft202012Validator(tool.schema)

    @property
    def tools(self) -> list[Tool]:
        """Every tool, in the order they were given."""
        return list(self._tools.values())

    def call(self, name: str, arguments: Mapping[str, Any] | None) -> Outcome:
        """Run one tool; every failure is an Outcome, never an exception."""
        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(self._tools)
            return failure(NotFoundError(f"there is no tool named {name!r} (tools: {known})"))
        args = dict(arguments or {})
        try:
            self._check(tool, args)
            return Outcome(True, tool.run(args))
        except ReportedError as reported:
            return failure(reported.error, reported.data)
        except LivetapError as error:
            return failure(error)
        except Exception as error:
            return failure(_crash(tool.name, error))

    def _check(self, tool: Tool, args: dict[str, Any]) -> None:
        """Raise a UsageError naming the first argument the schema refuses."""
        from jsonschema.exceptions import best_match

        error = best_match(self._validators[tool.name].iter_errors(args))
        if error is None:
            return
        where = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "maximum" and where in tool.caps:
            raise UsageError(
                f"{tool.name}: {where} = {_number(error.instance)} is over this server's cap of "
                f"{_number(error.validator_value)} (set when the server starts: livetap mcp "
                f"{tool.caps[where]}); ask for less"
            )
        message = error.message if len(error.message) <= 300 else error.message[:300] + "…"
        raise UsageError(f"{tool.name}: {where or 'arguments'}: {message}")


def _number(value: Any) -> str:
    """A number as a person writes it: 5, 2.5, 1e+09."""
    return f"{value:g}" if isinstance(value, float) else repr(value)


def _crash(name: str, error: Exception) -> LivetapError:
    """A bug: the traceback goes to a file, the agent gets one sentence naming it."""
    try:
        fd, path = tempfile.mkstemp(prefix="livetap-crash-", suffix=".txt")
        with os.fdopen(fd, "w") as out:
            traceback.print_exception(error, file=out)
        where = f" (details in {path}; please report it)"
    except OSError:
        where = ""
    return LivetapError(f"{name}: internal error: {error!r}{where}")  # exit code FAILURE
