"""Deep mode: the file decoded by Wireshark's own dissectors, through tshark.

The fast path knows the protocols in :func:`fast_protocols`; tshark knows every one
Wireshark has a dissector for. One tshark run gives both the Protocol column of every
packet (``-T fields -e _ws.col.Protocol``) and the protocol hierarchy
(``-z io,phs``). tshark is run directly rather than through pyshark: pyshark parses
tshark's XML/JSON per packet (a few thousand packets a second), the field output is
an order of magnitude faster and says the same.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.analysis.ports import TCP_APPS, UDP_APPS
from engine.errors import BadInputError, NotFoundError
from engine.packet.walk import ETH

_PHS_LINE = re.compile(r"^( *)(\S+)\s+frames:(\d+) bytes:(\d+)\s*$")


def tshark_path() -> str:
    """tshark on PATH, or NotFoundError saying how to get it."""
    found = shutil.which("tshark")
    if found is None:
        raise NotFoundError(
            "tshark is not installed: deep mode needs it (apt-get install tshark); "
            "the fast analysis works without it"
        )
    return found


def tshark_version(tshark: str) -> str:
    """``TShark 4.0.17`` or similar, for the report."""
    try:
        out = subprocess.run(
            [tshark, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "tshark"
    first = out.splitlines()[0] if out else "tshark"
    match = re.match(r"(TShark \(Wireshark\) [\d.]+|TShark [\d.]+)", first)
    return match.group(1) if match else first.split(" (")[0]


@dataclass(slots=True)
class DeepResult:
    """What tshark said about a file."""

    tool: str
    packets: int = 0
    protocols: dict[str, int] = field(default_factory=dict)
    """Packets per Protocol column value."""
    tree: list[dict[str, Any]] = field(default_factory=list)
    frames: int = 0
    bytes: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The ``deep`` report."""
        return {
            "tool": self.tool,
            "packets": self.packets,
            "protocols": dict(sorted(self.protocols.items(), key=lambda item: -item[1])),
        }

    def protocols_report(self) -> dict[str, Any]:
        """The ``protocols`` report as tshark's io,phs gives it."""
        return {"source": "tshark", "frames": self.frames, "bytes": self.bytes, "tree": self.tree}


def deep_decode(path: Path) -> DeepResult:
    """Run tshark over the file; KeyboardInterrupt stops it (the caller handles that).

    Two runs side by side: ``-q -z io,phs`` for the hierarchy (a run that prints
    fields builds a pruned tree, which would change the statistics) and ``-T fields
    -e _ws.col.Protocol`` for the Protocol column of every packet.
    """
    tshark = tshark_path()
    result = DeepResult(tshark_version(tshark))
    base = [tshark, "-n", "-r", str(path)]
    processes: list[subprocess.Popen[str]] = []
    try:
        for extra in (["-q", "-z", "io,phs"], ["-T", "fields", "-e", "_ws.col.Protocol"]):
            processes.append(
                subprocess.Popen(
                    base + extra,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    errors="replace",
                )
            )
        statistics, columns = processes
        columns_out, columns_err = columns.communicate()
        phs_out, phs_err = statistics.communicate()
    except OSError as error:
        raise NotFoundError(f"could not run tshark: {error.strerror or error}") from None
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for line in columns_out.splitlines():
        name = line.strip() or "(none)"
        result.protocols[name] = result.protocols.get(name, 0) + 1
        result.packets += 1
    result.tree = parse_phs(phs_out.splitlines())
    result.frames = sum(node["frames"] for node in result.tree)
    result.bytes = sum(node["bytes"] for node in result.tree)
    _percentages(result.tree, result.frames, result.bytes)
    problems = [
        line
        for line in (phs_err + columns_err).splitlines()
        if line.strip() and "Running as user" not in line
    ]
    if statistics.returncode != 0 and not result.packets:
        reason = problems[-1] if problems else f"exit status {statistics.returncode}"
        raise BadInputError(f"tshark could not read {path}: {reason}")
    result.warnings.extend(f"tshark: {line}" for line in dict.fromkeys(problems[:5]))
    return result


def parse_phs(lines: list[str]) -> list[dict[str, Any]]:
    """tshark's ``-z io,phs`` text as nested rows (without percentages)."""
    roots: list[dict[str, Any]] = []
    stack: list[tuple[int, dict[str, Any]]] = []
    for line in lines:
        match = _PHS_LINE.match(line)
        if match is None:
            continue
        depth = len(match.group(1)) // 2
        node: dict[str, Any] = {
            "protocol": match.group(2),
            "frames": int(match.group(3)),
            "bytes": int(match.group(4)),
            "children": [],
        }
        while stack and stack[-1][0] >= depth:
            stack.pop()
        (stack[-1][1]["children"] if stack else roots).append(node)
        stack.append((depth, node))
    return roots


def _percentages(nodes: list[dict[str, Any]], frames: int, size: int) -> None:
    for node in nodes:
        node["frames_percent"] = round(100.0 * node["frames"] / frames, 2) if frames else 0.0
        node["bytes_percent"] = round(100.0 * node["bytes"] / size, 2) if size else 0.0
        _percentages(node["children"], frames, size)
        node["children"] = node.pop("children")  # keep "children" last, as the fast tree


def fast_protocols() -> list[str]:
    """Every protocol name the struct-level path puts in its hierarchy."""
    names = {
        *ETH,
        "vlan",
        "sll",
        "netlink",
        "null",
        "raw",
        "user_dlt",
        "radiotap",
        "wlan_radio",
        "wlan",
        "wlan.mgt",
        "stp",
        "tcp.segments",
        "ftp.current-working-directory",
        "ip",
        "ipv6",
        "arp",
        "rarp",
        "llc",
        "lldp",
        "pppoed",
        "pppoes",
        "eapol",
        "mpls",
        "ptp",
        "tcp",
        "udp",
        "icmp",
        "icmpv6",
        "igmp",
        "gre",
        "esp",
        "ah",
        "ospf",
        "pim",
        "vrrp",
        "sctp",
        "data",
        "data-text-lines",
        "json",
        "xml",
        "urlencoded-form",
        "media",
        *TCP_APPS.values(),
        *UDP_APPS.values(),
    }
    return sorted(names)


def deep_protocols() -> tuple[str, list[str]]:
    """(tshark version, every protocol filter name of ``tshark -G protocols``)."""
    tshark = tshark_path()
    try:
        out = subprocess.run(
            [tshark, "-G", "protocols"], capture_output=True, text=True, timeout=120, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NotFoundError(f"could not run tshark -G protocols: {error}") from None
    names = sorted({line.split("\t")[2] for line in out.splitlines() if line.count("\t") >= 2})
    return tshark_version(tshark), names
