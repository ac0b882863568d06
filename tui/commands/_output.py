"""Printing results: JSON documents in the contract's shape, or plain text."""

from __future__ import annotations

import json
import sys
from typing import Any

from engine.errors import LivetapError
from tui.commands._json import dumps


def print_json(data: Any) -> None:
    """A success document: ``{"success": true, "data": ...}``.

    The text of ``json.dumps(..., indent=2, default=str)``, made faster (:mod:`._json`).
    """
    print(dumps({"success": True, "data": data}))


def print_json_error(error: LivetapError) -> None:
    """A failure document: ``{"success": false, "error": {"code", "message"}}``."""
    document = {"success": False, "error": {"code": error.code_name, "message": error.message}}
    print(json.dumps(document, indent=2))
    sys.stdout.flush()
