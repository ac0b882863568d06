"""The MCP tools' rules without the SDK: the capture directory fence, result bounds, config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import (
    BadInputError,
    NotFoundError,
    PermissionDeniedError,
    UsageError,
)
from tui.mcp import Toolbox, load_server_config
from tui.mcp.bound import bounded, cap_text
from tui.mcp.paths import CaptureDirectory
from tui.mcp.registry import Registry, Tool
from tui.mcp.schemas import EMPTY

PCAP = {".pcap", ".pcapng"}


@pytest.fixture
def fence(tmp_path: Path) -> CaptureDirectory:
    root = tmp_path / "captures"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.pcap").write_bytes(b"x")
    (root / "away").symlink_to(outside)
    (root / "link.pcap").symlink_to(outside / "secret.pcap")
    (root / "inside.pcap").write_bytes(b"y")
    return CaptureDirectory(root)


def test_writes_stay_inside_the_directory(fence: CaptureDirectory) -> None:
    root = fence.root
    assert fence.output("a.pcap", PCAP) == root / "a.pcap"
    assert fence.output("sub/b.pcapng", PCAP) == root / "sub" / "b.pcapng"
    assert fence.output(str(root / "c.pcap"), PCAP) == root / "c.pcap"
    refused = {
        "../a.pcap": PermissionDeniedError,
        "sub/../../a.pcap": PermissionDeniedError,
        "/tmp/a.pcap": PermissionDeniedError,
        "away/a.pcap": PermissionDeniedError,  # a directory link pointing out
        "link.pcap": PermissionDeniedError,  # never written through a link
        ".hidden.pcap": PermissionDeniedError,
        "a.sh": UsageError,
        "a.pcap.sh": UsageError,
        "missing/a.pcap": NotFoundError,
        "": UsageError,
        "a\x00.pcap": UsageError,
    }
    for name, error in refused.items():
        with pytest.raises(error):
            fence.output(name, PCAP)
    (root / ".ssh").mkdir()
    with pytest.raises(PermissionDeniedError, match="hidden"):
        fence.output(".ssh/keys.pcap", PCAP)


def test_reads_stay_inside_unless_read_anywhere(fence: CaptureDirectory) -> None:
    assert fence.input("inside.pcap") == fence.root / "inside.pcap"
    with pytest.raises(PermissionDeniedError, match="symbolic link"):
        fence.input("link.pcap")
    with pytest.raises(PermissionDeniedError, match="outside"):
        fence.input("away/secret.pcap")
    with pytest.raises(PermissionDeniedError, match=r"'\.\.'"):
        fence.input("../outside/secret.pcap")
    with pytest.raises(PermissionDeniedError):
        fence.input("/etc/hostname")
    with pytest.raises(NotFoundError):
        fence.input("nothing.pcap")
    with pytest.raises(BadInputError, match="regular file"):
        fence.input("sub")
    anywhere = CaptureDirectory(fence.root, read_anywhere=True)
    assert anywhere.input("link.pcap").name == "secret.pcap"
    assert anywhere.input("../outside/secret.pcap").name == "secret.pcap"


def test_long_lists_and_texts_are_cut_with_a_marker() -> None:
    document = {"a": list(range(10)), "b": {"c": [[1, 2, 3]] * 3}, "d": "x"}
    cut = bounded(document, 2)
    assert cut["a"] == [0, 1] and cut["b"]["c"] == [[1, 2], [1, 2]]
    marker = cut["truncation"]
    assert marker["truncated"] is True and marker["omitted"] == 8 + 1 + 1 + 1
    assert {"path": "a", "kept": 2, "omitted": 8} in marker["lists"]
    assert {"path": "b.c[0]", "kept": 2, "omitted": 1} in marker["lists"]
    assert "truncation" not in bounded(document, 100)
    small = bounded({"rows": ["x" * 100] * 100}, 100, max_chars=2000)
    assert len(json.dumps(small)) <= 2000 and small["truncation"]["omitted"] > 0
    assert cap_text("abcdef", 4) == ("abcd", {"truncated": True, "omitted": 2})
    assert cap_text("abc", 4) == ("abc", None)


def test_config_file_mcp_section_flags_and_environment(tmp_path: Path) -> None:
    directory = tmp_path / "captures"
    directory.mkdir()
    config = tmp_path / "mcp.yaml"
    config.write_text(
        f"captureDirectory: {directory}\n"
        "defaultInterface: eth9\n"
        "maxCaptureSize: 1M\n"
        "mcp:\n"
        "  maxDuration: 12\n"
        "  maxCount: 34\n"
        "  maxBytes: 5M\n"
        "  showSecrets: true\n"
    )
    loaded = load_server_config({"config": config, "max_count": 7}, environ={})
    assert loaded.capture_directory == directory.resolve()
    assert (loaded.max_duration, loaded.max_count) == (12.0, 7)
    assert loaded.max_bytes == 1 << 20  # maxCaptureSize is lower than maxBytes
    assert loaded.show_secrets is True and loaded.read_anywhere is False
    assert loaded.settings.interface == "eth9"
    from_env = load_server_config({"config": config}, environ={"CAPTURE_INTERFACE": "lo"})
    assert from_env.settings.interface == "lo"
    config.write_text(f"captureDirectory: {directory}\nmcp:\n  maxDurationz: 1\n")
    with pytest.raises(BadInputError, match=r"mcp\.'maxDurationz'"):
        load_server_config({"config": config}, environ={})
    config.write_text(f"captureDirectory: {directory}\nmcp:\n  showSecrets: yes please\n")
    with pytest.raises(BadInputError, match="true or false"):
        load_server_config({"config": config}, environ={})
    with pytest.raises(UsageError, match="--max-count"):
        load_server_config({"capture_directory": directory, "max_count": 0}, environ={})


def test_a_bug_in_a_tool_is_a_failure_naming_a_file_and_the_registry_goes_on() -> None:
    def broken(args: dict[str, object]) -> dict[str, object]:
        raise RuntimeError("boom")

    registry = Registry([Tool("broken", "Broken", "always fails", EMPTY, broken)])
    outcome = registry.call("broken", {})
    assert not outcome.ok and outcome.data["error"]["code"] == "FAILURE"
    message = outcome.data["error"]["message"]
    assert "boom" in message and "livetap-crash-" in message
    Path(message.split("details in ")[1].split(";")[0]).unlink()
    unknown = registry.call("broken", {"surprise": 1})
    assert unknown.data["error"]["code"] == "USAGE_ERROR"
    assert "surprise" in unknown.data["error"]["message"]


def test_every_tool_schema_is_closed_and_bounded(tmp_path: Path) -> None:
    toolbox = Toolbox(load_server_config({"capture_directory": tmp_path}, environ={}))
    try:
        for tool in toolbox.tools:
            assert tool.schema["additionalProperties"] is False, tool.name
            for name, prop in tool.schema["properties"].items():
                if prop.get("type") == "string":
                    assert "maxLength" in prop, (tool.name, name)
                if prop.get("type") in ("integer", "number"):
                    assert "maximum" in prop, (tool.name, name)
                if prop.get("type") == "array":
                    assert "maxItems" in prop, (tool.name, name)
    finally:
        toolbox.close()
