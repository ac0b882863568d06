"""The background NDJSON capture's engine API: options checked before anything starts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from engine.errors import NotFoundError, UsageError
from engine.ndjson import background
from engine.ndjson.background import BackgroundOptions

ROOT = Path(__file__).resolve().parent.parent


def test_options_are_checked_before_a_process_starts(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nothing to capture"):
        BackgroundOptions(tmp_path / "a.ndjson", browser=None).checked()
    with pytest.raises(UsageError, match="more than 0 MB"):
        BackgroundOptions(tmp_path / "a.ndjson", max_size_mb=0).checked()
    with pytest.raises(NotFoundError, match="does not exist"):
        BackgroundOptions(tmp_path / "missing" / "a.ndjson").checked()
    with pytest.raises(UsageError, match="is a directory"):
        BackgroundOptions(tmp_path).checked()
    config = BackgroundOptions(tmp_path / "a.ndjson", filters=("*/api/*",), packets=True).checked()
    assert config["file"] == str(tmp_path / "a.ndjson") and config["filters"] == ["*/api/*"]


def test_nothing_asks_for_status_when_no_capture_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    with pytest.raises(NotFoundError):
        background.status()


def test_front_ends_call_the_engine_not_each_others_argument_parsers() -> None:
    """The MCP server starts NDJSON captures through the engine, not the CLI's argparse."""
    for path in (ROOT / "tui" / "commands" / "mcp.py", *(ROOT / "engine" / "mcp").glob("*.py")):
        tree = ast.parse(path.read_text())
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "Namespace"
        ]
        assert calls == [], f"{path.relative_to(ROOT)} builds an argparse Namespace"


def test_network_controls_are_checked_before_a_process_starts(tmp_path: Path) -> None:
    from engine.errors import PermissionDeniedError

    out = tmp_path / "a.ndjson"
    with pytest.raises(UsageError, match="need a browser"):
        BackgroundOptions(out, browser=None, packets=True, no_cache=True).checked()
    with pytest.raises(UsageError, match="--throttle"):
        BackgroundOptions(out, throttle="warp").checked()
    with pytest.raises(PermissionDeniedError, match="--allow-control"):
        BackgroundOptions(out, browser="9222", block=("*/api/*",)).checked()
    config = BackgroundOptions(
        out, browser="9222", block=("*/api/*",), throttle="slow-3g", allow_control=True
    ).checked()
    assert (config["block"], config["throttle"], config["allow_control"]) == (
        ["*/api/*"],
        "slow-3g",
        True,
    )
