"""Errors are printed as ``livetap: MESSAGE``, so no message may start with "livetap" itself."""

from __future__ import annotations

import ast
import re
import struct
from pathlib import Path

from engine.errors import ExitCode
from tests.test_cli import livetap

ROOT = Path(__file__).resolve().parent.parent


def _leading_text(node: ast.expr) -> str | None:
    """The literal text an error message starts with, if it starts with a literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def test_no_raised_message_starts_with_livetap() -> None:
    offenders = []
    for folder in ("engine", "tui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                    continue
                for argument in node.exc.args[:1]:
                    text = _leading_text(argument)
                    if text is not None and re.match(r"livetap[\s']", text, re.IGNORECASE):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text!r}")
    assert offenders == []


def _unknown_linktype_pcap(path: Path) -> Path:
    """A pcap of one UDP-looking frame under link type 147 (USER0), which scapy cannot read."""
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147)
    frame = bytes(40)
    record = struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
    path.write_bytes(header + record)
    return path


def test_failing_commands_never_print_the_prefix_twice(tmp_path: Path) -> None:
    odd = _unknown_linktype_pcap(tmp_path / "user0.pcap")
    runs = [
        (("bpf", "http to example.com"), ExitCode.BAD_INPUT, "not looked up"),
        (("capture", "pcap", "-i", "lo", "-w", "-"), ExitCode.USAGE_ERROR, "standard output"),
        (
            ("dissector", "draft", "--pcap", str(odd), "--frame", "1"),
            ExitCode.BAD_INPUT,
            "cannot draft",
        ),
        (("-i", "nosuch0"), ExitCode.NOT_FOUND, "nosuch0"),
        (("-r", str(tmp_path / "missing.pcap")), ExitCode.NOT_FOUND, "missing.pcap"),
    ]
    for args, code, text in runs:
        result = livetap(*args)
        assert result.returncode == code, (args, result.stderr)
        assert result.stderr.startswith("livetap: "), (args, result.stderr)
        assert text in result.stderr, (args, result.stderr)
        assert "livetap: livetap" not in result.stderr, (args, result.stderr)
