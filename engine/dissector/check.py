"""Checking a generated dissector with tshark: per-field counts, Lua errors, expert info.

tshark never exits non-zero because a script is broken (see
``shared/notes/tshark-lua.md``): a syntax or loading error is printed on
stderr and decoding goes on without the script; a runtime error shows up per
frame as ``_ws.lua.error``. The check looks at both, and at what the script
decoded: how many packets carry each field of the spec, and the expert infos
under the protocol.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.dissector import pdml
from engine.dissector.model import ProtocolSpec
from engine.dissector.tshark import Tshark, lua_messages, open_tshark, other_errors, staged
from engine.errors import (
    BadInputError,
    LivetapError,
    NotFoundError,
    UnavailableError,
    from_os_error,
)

CHECK_TIMEOUT = 300.0
MAX_EXPERT = 500
"""Expert infos kept in a report (all are counted)."""
MAX_LUA_ERRORS = 100


@dataclass(frozen=True, slots=True)
class FieldCount:
    """How many packets carried a field."""

    abbrev: str
    label: str
    packets: int


@dataclass(frozen=True, slots=True)
class LuaError:
    """A Lua problem: while loading the script (frame None) or while decoding a frame."""

    message: str
    frame: int | None = None


@dataclass(frozen=True, slots=True)
class ExpertInfo:
    """One expert info the dissector added to a frame."""

    frame: int | None
    severity: str
    group: str
    message: str


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What running tshark with a dissector over a capture showed.

    ``ok`` is False when the dissector is broken (Lua errors while loading or
    decoding); expert infos about malformed packets are the dissector doing
    its job and do not make it broken. A skipped check (no tshark) is ok and
    says why in ``skipped``.
    """

    protocol: str
    lua: str
    pcap: str
    packets: int = 0
    """Frames in the capture."""
    decoded: int = 0
    """Frames in which the protocol was decoded."""
    fields: tuple[FieldCount, ...] = ()
    lua_errors: tuple[LuaError, ...] = ()
    expert: tuple[ExpertInfo, ...] = ()
    """The first :data:`MAX_EXPERT` expert infos."""
    expert_total: int = 0
    expert_by_severity: tuple[tuple[str, int], ...] = ()
    skipped: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """The dissector loaded and decoded without a Lua error."""
        return not self.lua_errors

    def count(self, abbrev: str) -> int:
        """Packets that carried the field (0 for a field the spec does not have)."""
        return next((item.packets for item in self.fields if item.abbrev == abbrev), 0)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "ok": self.ok,
            "skipped": self.skipped,
            "protocol": self.protocol,
            "lua": self.lua,
            "pcap": self.pcap,
            "packets": self.packets,
            "decoded": self.decoded,
            "fields": [
                {"field": item.abbrev, "label": item.label, "packets": item.packets}
                for item in self.fields
            ],
            "lua_errors": [
                {"frame": error.frame, "message": error.message} for error in self.lua_errors
            ],
            "expert": [
                {
                    "frame": item.frame,
                    "severity": item.severity,
                    "group": item.group,
                    "message": item.message,
                }
                for item in self.expert
            ],
            "expert_total": self.expert_total,
            "expert_by_severity": dict(self.expert_by_severity),
            "warnings": list(self.warnings),
        }


def skipped_report(lua_path: Path, pcap: Path, spec: ProtocolSpec, reason: str) -> CheckReport:
    """The report of a check that could not run, with the reason."""
    return CheckReport(spec.name, str(lua_path), str(pcap), skipped=reason)


def check_dissector(
    lua_path: Path,
    pcap: Path,
    spec: ProtocolSpec,
    tshark: str | None = None,
    timeout: float = CHECK_TIMEOUT,
) -> CheckReport:
    """Run tshark with the script over a capture and report what it decoded.

    Without tshark (or a tshark without Lua) the report is skipped, with the
    reason. Raises :class:`NotFoundError` for a missing script or capture and
    :class:`BadInputError` when tshark cannot read the capture.
    """
    lua_path, pcap = Path(lua_path), Path(pcap)
    for path, what in ((lua_path, "Lua script"), (pcap, "capture")):
        if not path.is_file():
            raise NotFoundError(f"{path} does not exist: check the {what}'s path")
    try:
        tool = open_tshark(tshark)
    except UnavailableError as error:
        return skipped_report(lua_path, pcap, spec, f"check skipped: {error.message}")
    if tool is None:
        return skipped_report(
            lua_path,
            pcap,
            spec,
            "check skipped: tshark is not installed (install Wireshark's tshark, or name it "
            "with --tshark)",
        )
    packets = _count_packets(pcap)
    return _run_check(tool, lua_path, pcap, spec, packets=packets, timeout=timeout)


def _count_packets(pcap: Path) -> int:
    """Frames in the capture, by livetap's own reader (tshark's filter hides the others)."""
    from engine.pcapio import open_pcap

    with open_pcap(pcap) as reader:
        total = 0
        while batch := reader.read_batch(4096):
            total += len(batch)
        return total


def _run_check(
    tool: Tshark, lua_path: Path, pcap: Path, spec: ProtocolSpec, *, packets: int, timeout: float
) -> CheckReport:
    # tshark is run here directly, not through pyshark as the one-packet decodes are
    # (engine.dissector.pyshark_pdml): a check reads a whole capture, whose PDML streams
    # into a temporary file and is read back in bounded memory, at tshark's speed.
    wanted = f"{spec.name} || _ws.lua.error || _ws.malformed"
    with (
        staged(tool, [lua_path, pcap]) as (script, capture),
        tempfile.TemporaryFile() as output,
    ):
        args = ["-n", "-X", f"lua_script:{script}", "-r", str(capture)]
        args += ["-Y", wanted, "-T", "pdml"]
        try:
            result = subprocess.run(
                tool.command(args),
                stdout=output,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise UnavailableError(
                f"tshark did not finish checking {pcap} within {timeout:.0f} s"
            ) from None
        except OSError as error:
            raise from_os_error(error, f"run {tool.path}") from None
        stderr = result.stderr.decode("utf-8", "replace")
        load_errors = [LuaError(message) for message in lua_messages(stderr)]
        if result.returncode != 0:
            return _failed_run(
                lua_path, pcap, spec, packets=packets, stderr=stderr, load_errors=load_errors
            )
        output.seek(0)
        return _read_report(output, lua_path, pcap, spec, packets=packets, load_errors=load_errors)


def _failed_run(
    lua_path: Path,
    pcap: Path,
    spec: ProtocolSpec,
    *,
    packets: int,
    stderr: str,
    load_errors: list[LuaError],
) -> CheckReport:
    """tshark stopped: the filter names a protocol the script never registered, or a bad file."""
    problems = other_errors(stderr)
    unknown = any("neither a field nor a protocol" in line for line in problems) or any(
        f'"{spec.name}"' in line for line in problems
    )
    if not unknown:
        detail = problems[0] if problems else f"tshark failed ({stderr.strip()[:200]})"
        raise BadInputError(f"tshark could not check {pcap}: {detail}")
    if not load_errors:
        load_errors = [
            LuaError(
                f"the script does not register the protocol {spec.name!r}: was it generated "
                "from this spec?"
            )
        ]
    return CheckReport(
        spec.name,
        str(lua_path),
        str(pcap),
        packets=packets,
        fields=tuple(FieldCount(a, label, 0) for a, label in spec.labelled_abbreviations()),
        lua_errors=tuple(load_errors),
        warnings=tuple(_hints(spec, load_errors)),
    )


def _read_report(
    output: Any,
    lua_path: Path,
    pcap: Path,
    spec: ProtocolSpec,
    *,
    packets: int,
    load_errors: list[LuaError],
) -> CheckReport:
    counts: Counter[str] = Counter()
    abbreviations = spec.labelled_abbreviations()
    decoded = 0
    errors = list(load_errors)
    expert: list[ExpertInfo] = []
    expert_total = 0
    severities: Counter[str] = Counter()
    try:
        for packet in pdml.packets(output):
            frame = pdml.frame_number(packet)
            for message in pdml.lua_errors(packet) + pdml.malformed(packet, spec.name.upper()):
                if len(errors) < MAX_LUA_ERRORS:
                    errors.append(LuaError(message, frame))
            trees = pdml.protocol_trees(packet, spec.name)
            if not trees:
                continue
            decoded += 1
            present = pdml.field_names(trees)
            counts.update(abbrev for abbrev, _ in abbreviations if abbrev in present)
            for severity, group, message in pdml.expert_items(trees):
                expert_total += 1
                severities[severity] += 1
                if len(expert) < MAX_EXPERT:
                    expert.append(ExpertInfo(frame, severity, group, message))
    except Exception as error:  # ElementTree's ParseError and friends
        if isinstance(error, LivetapError):
            raise
        raise BadInputError(f"could not read tshark's output for {pcap}: {error}") from None
    warnings = _hints(spec, errors)
    if decoded == 0 and packets and not errors:
        where = ", ".join(
            str(first) if first == last else f"{first}-{last}" for first, last in spec.ports
        )
        warnings.append(
            f"no packet in {pcap.name} was decoded as {spec.name}: check that the capture has "
            f"{spec.transport.upper()} traffic on {where or 'a port the heuristic recognises'}"
        )
    return CheckReport(
        spec.name,
        str(lua_path),
        str(pcap),
        packets=packets,
        decoded=decoded,
        fields=tuple(FieldCount(a, label, counts[a]) for a, label in abbreviations),
        lua_errors=tuple(errors),
        expert=tuple(expert),
        expert_total=expert_total,
        expert_by_severity=tuple(sorted(severities.items())),
        warnings=tuple(warnings),
    )


def _hints(spec: ProtocolSpec, errors: list[LuaError]) -> list[str]:
    """Advice for the Lua errors whose cause is known."""
    hints = []
    text = "\n".join(error.message for error in errors)
    if "two protocols with the same name" in text:
        hints.append(
            f"Wireshark already has a protocol named {spec.name!r}: choose another name "
            "(--protocol-name)"
        )
    if "two protocols with the same description" in text:
        hints.append(
            "Wireshark already has a protocol with this description: change the spec's "
            '"description"'
        )
    return hints
