"""generate_dissector: a Wireshark Lua dissector from a spec, written and checked by tshark.

The spec is a JSON object in the call, or a spec file the fence allows. Spec
text never becomes code (names must be identifiers, every text is an escaped
Lua string: :mod:`engine.dissector.lua`), so a spec that tries ``]]`` or
similar is refused or rendered harmless. The script is written into the
capture directory; with ``check_pcap`` tshark runs it over that capture, and a
dissector with Lua errors is a failure that still carries the check report.
"""

from __future__ import annotations

from typing import Any

from engine.dissector import (
    ProtocolSpec,
    check_dissector,
    generate_lua,
    override,
    parse_spec,
    read_spec_data,
)
from engine.dissector.model import is_valid_name
from engine.errors import BadInputError, UsageError
from engine.textfile import write_text_whole
from tui.mcp.bound import cap_text
from tui.mcp.paths import CaptureDirectory
from tui.mcp.registry import ReportedError
from tui.mcp.state import SessionState

CHECK_TIMEOUT = 60.0
MAX_LUA_CHARS = 200_000
LUA_SUFFIXES = frozenset({".lua"})
SPEC_SUFFIXES = (".json", ".yaml", ".yml")


class Dissectors:
    """The generate_dissector tool, writing into one capture directory."""

    def __init__(self, directory: CaptureDirectory, state: SessionState) -> None:
        self.directory = directory
        self.state = state

    def __call__(self, args: dict[str, Any]) -> dict[str, Any]:
        """Validate, generate, write, and check when a capture is named."""
        spec = self._spec(args)
        lua = generate_lua(spec)
        output = self.directory.output(args.get("output") or f"{spec.name}.lua", LUA_SUFFIXES)
        check_pcap = (
            self.directory.input(args["check_pcap"], "capture") if args.get("check_pcap") else None
        )
        write_text_whole(output, lua)
        uri = self.state.add_file(
            output, self.directory.relative(output), "lua", "generate_dissector"
        )
        text, cut = cap_text(lua, MAX_LUA_CHARS)
        result: dict[str, Any] = {
            "lua_path": str(output),
            "resource": uri,
            "protocol": spec.name,
            "transport": spec.transport,
            "ports": [str(a) if a == b else f"{a}-{b}" for a, b in spec.ports],
            "heuristic": spec.heuristic,
            "fields": len(spec.abbreviations()),
            "lua": text,
            "check": None,
        }
        if cut:
            result["lua_truncated"] = cut
        if check_pcap is not None:
            report = check_dissector(output, check_pcap, spec, timeout=CHECK_TIMEOUT)
            result["check"] = report.to_dict()
            if not report.ok:
                first = report.lua_errors[0]
                where = f" (frame {first.frame})" if first.frame is not None else " (while loading)"
                line = first.message.splitlines()[0][:300] if first.message else "a Lua error"
                raise ReportedError(
                    BadInputError(f"the dissector is broken: {line}{where}"), result
                )
        return result

    def _spec(self, args: dict[str, Any]) -> ProtocolSpec:
        """The spec from the call (an object) or from a file, with the overrides applied."""
        given = args["spec"]
        if isinstance(given, dict):
            data, source = given, "the spec"
        else:
            path = self.directory.input(str(given), "spec")
            if path.suffix.lower() not in SPEC_SUFFIXES:
                raise UsageError(f"{path.name}: a spec file ends in .json, .yaml or .yml")
            data, source = read_spec_data(path), path.name
        name, port = args.get("protocol_name"), args.get("port")
        if name is not None and not is_valid_name(name):
            raise UsageError(
                f"protocol_name {name[:80]!r} is not a valid name: use lower-case letters, digits "
                "and underscores, starting with a letter"
            )
        return parse_spec(override(data, name, port), source=source)
