"""Agreement with Wireshark on a folder of real capture files: livetap next to tshark.

DESIGN.md says agreement with Wireshark is measured, not assumed. This runs livetap and
tshark over every capture file under a folder (recursively) and prints, per check, the
share of files on which both give exactly the same answer, then one line per failing file
saying what differs. ``--json OUT`` keeps everything (reasons, example rows, the frame
numbers a filter disagrees on and their protocol stacks) for whoever fixes the walker.

Checks, per file:

- ``packets``: ``tshark -T fields -e frame.number`` lines vs the summary's ``packets``;
- ``conv.ipv4`` ``conv.ipv6`` ``conv.tcp`` ``conv.udp``: the rows of ``tshark -q -z conv,…``
  vs ``livetap analyze --json --report conversations``, as a multiset of (A, port, B, port,
  frames and bytes A→B, frames and bytes B→A). tshark prints bytes of 10 kB and more
  rounded down (``372 kB``), so livetap's byte counts are printed tshark's way before the
  comparison: below 10,000 bytes in a direction the comparison is exact;
- ``phs``: the top of ``tshark -q -z io,phs`` (nodes eth, ip, ipv6, tcp, udp reached from the
  root through eth, vlan, ip, ipv6, tcp, udp only) vs ``--report protocols``;
- ``follow.{ascii,hex}.{first,largest}``: ``tshark -q -z follow,tcp,MODE,N`` vs ``livetap
  follow --stream N --format MODE``, byte for byte, for stream 0 and for the TCP stream with
  the most bytes (tshark's ``tcp.stream``, the lowest number on a tie);
- ``filter:EXPR``: the frame numbers a dozen display filters match in tshark vs in livetap.

tshark is run three times per file: once for the fields above (and each frame's
``frame.protocols``, kept to explain disagreements), once with every ``-z`` statistic at
once, and once with a small Lua tap that collects the frame numbers of each display filter
(one tap ``Listener`` per expression, evaluated like ``-Y`` in one pass). Twelve ``-Y``
runs per file would cost twelve start-ups of tshark; this costs one. Where the tap and
livetap differ, ``tshark -Y`` itself is asked (a tap misses frames whose dissection failed
early), so a reported disagreement is always against ``-Y``.

livetap has no headless ``-Y`` yet, so its side of the filter check calls the engine's
display filter from Python (:func:`livetap_filter_matches`, in a child process so that the
per-file timeout holds). If a ``livetap filter`` command exists, it is used instead.

Files tshark cannot read at all are skipped and counted. Both cores are used by default
(``--jobs 2``), every file has a time budget (``--timeout``), children run at a lower
priority (``--nice``), and a progress line shows on a terminal.

    .venv/bin/python benchmarks/corpus.py DIR [--jobs N] [--timeout S] [--json OUT]
                                              [--limit N] [--filter-address X]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIVETAP = Path(sys.executable).parent / "livetap"
SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")
"""What counts as a capture file; ``.gz`` only when tshark reads it (it is tried)."""
FILTERS = (
    "tcp",
    "udp",
    "dns",
    "http",
    "icmp",
    "arp",
    "ipv6",
    "ip.addr == {x}",
    "tcp.port == 80",
    "frame.len > 1000",
    "not tcp",
    "ip.src == {x} and tcp",
)
"""``{x}`` is the first IPv4 source in the file (tshark's ``ip.src`` of the first IPv4 frame)."""
NO_IPV4 = "192.0.2.1"
"""X in a file without IPv4: a documentation address, so both tools should match nothing."""
CONV_TABLES = {
    "ipv4": "IPv4 Conversations",
    "ipv6": "IPv6 Conversations",
    "tcp": "TCP Conversations",
    "udp": "UDP Conversations",
}
PHS_NODES = frozenset({"eth", "ip", "ipv6", "tcp", "udp"})
"""The hierarchy rows compared: the ones the packet walker itself is responsible for."""
PHS_PATH = PHS_NODES | {"vlan"}
"""Protocols a compared row may sit under (besides the root, whatever link layer it is)."""
FOLLOW_RULE = "=" * 67
EXAMPLES = 8
"""Differing rows or frames kept per check in the JSON (the reason line shows fewer)."""
LUA_TAP = """\
-- Written by benchmarks/corpus.py: frame numbers matching each display filter
-- (the arguments), one tap listener per filter, printed when tshark ends.
local filters = {...}
for i, expression in ipairs(filters) do
  local hits = {}
  local last = -1
  local listener = Listener.new(nil, expression)
  function listener.packet(pinfo)
    if pinfo.number ~= last then
      hits[#hits + 1] = pinfo.number
      last = pinfo.number
    end
  end
  function listener.draw()
    io.write("LIVETAP-CORPUS-FILTER " .. i .. " " .. table.concat(hits, ",") .. "\\n")
  end
end
"""

Json = dict[str, Any]


class FileTimeout(Exception):
    """The file's time budget ran out; the message says in which step."""


@dataclass
class Check:
    """One check's outcome on one file."""

    status: str
    """``agree``, ``disagree``, ``error`` (a tool failed or the time ran out) or ``n/a``."""
    reason: str = ""
    """One line for a person; empty when the tools agree."""
    details: Json = field(default_factory=dict)

    def as_json(self) -> Json:
        document: Json = {"status": self.status}
        if self.reason:
            document["reason"] = self.reason
        if self.details:
            document["details"] = self.details
        return document


@dataclass
class FileResult:
    """Everything learnt about one file."""

    path: str
    readable: bool = True
    tshark_error: str = ""
    """tshark's complaint when it read the file only in part (or not at all)."""
    packets: int = 0
    stacks: Counter[str] = field(default_factory=Counter)
    """tshark's ``frame.protocols`` of each frame, counted."""
    link_types: dict[str, int] = field(default_factory=dict)
    """livetap's summary ``link_types`` (name or number: packets), to group causes by."""
    checks: dict[str, Check] = field(default_factory=dict)
    seconds: float = 0.0

    def as_json(self) -> Json:
        return {
            "file": self.path,
            "readable_by_tshark": self.readable,
            "tshark_error": self.tshark_error,
            "packets": self.packets,
            "link_types": self.link_types,
            "protocol_stacks": dict(self.stacks.most_common(12)),
            "seconds": round(self.seconds, 3),
            "checks": {name: check.as_json() for name, check in self.checks.items()},
        }


@dataclass(frozen=True)
class Options:
    """What every per-file job needs to know."""

    timeout: float
    filter_address: str | None
    lua_tap: Path
    livetap_filter_command: bool
    """``livetap filter FILE -Y EXPR --json`` exists and is preferred over the engine call."""


# -- running the tools --------------------------------------------------------------------------


class Budget:
    """A file's deadline, shared by every tool run for it, so one file cannot eat the run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def run(self, argv: Sequence[str], step: str) -> subprocess.CompletedProcess[bytes]:
        """Run a tool with what is left of the budget; raise FileTimeout when it is spent."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise FileTimeout(f"timeout ({self.seconds:g} s) before {step}")
        try:
            return subprocess.run(
                argv, capture_output=True, timeout=left, check=False, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise FileTimeout(f"timeout ({self.seconds:g} s) in {step}") from None


def _first_line(data: bytes | str) -> str:
    """The first non-empty line of a tool's complaint, without tshark's root warning."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("Running as user"):
            return line[:200]
    return ""


def _short(value: object, width: int = 70) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 1] + "…"


# -- tshark's side ------------------------------------------------------------------------------


@dataclass
class TsharkFields:
    """What the first tshark pass learns: the frames, their streams and stacks."""

    frames: int = 0
    stream_bytes: dict[int, int] = field(default_factory=dict)
    first_ipv4_source: str | None = None
    stack_of: dict[int, str] = field(default_factory=dict)


def tshark_fields(path: Path, budget: Budget) -> tuple[TsharkFields, int, str]:
    """``tshark -T fields``: frame count, bytes per tcp.stream, first ip.src, stacks."""
    argv = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=/t"]
    for name in ("frame.number", "tcp.stream", "frame.len", "ip.src", "frame.protocols"):
        argv += ["-e", name]
    done = budget.run(argv, "tshark -T fields")
    fields = TsharkFields()
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 5:
            continue
        fields.frames += 1
        number_text, streams, length_text, sources, stack = parts[:5]
        number = int(number_text) if number_text.isdigit() else fields.frames
        length = int(length_text) if length_text.isdigit() else 0
        for stream in {s for s in streams.split(",") if s.isdigit()}:
            fields.stream_bytes[int(stream)] = fields.stream_bytes.get(int(stream), 0) + length
        if fields.first_ipv4_source is None and sources:
            fields.first_ipv4_source = sources.split(",")[0]
        fields.stack_of[number] = stack
    return fields, done.returncode, _first_line(done.stderr)


def tshark_statistics(path: Path, budget: Budget, streams: Sequence[int]) -> bytes:
    """One tshark pass with conv (four tables), io,phs and follow of each stream."""
    argv = ["tshark", "-n", "-q", "-r", str(path)]
    for table in ("ip", "ipv6", "tcp", "udp"):
        argv += ["-z", f"conv,{table}"]
    argv += ["-z", "io,phs"]
    for stream in streams:
        argv += ["-z", f"follow,tcp,ascii,{stream}", "-z", f"follow,tcp,hex,{stream}"]
    return budget.run(argv, "tshark -z conv/phs/follow").stdout


def tshark_filters(
    path: Path, budget: Budget, filters: Sequence[str], lua_tap: Path
) -> tuple[str, str]:
    """The Lua tap's pass: a line of frame numbers per filter (and tshark's complaint).

    A pass of its own: a tap whose filter names a frame field (``frame.len``) makes
    tshark's ``io,phs`` grow a ``frame`` root, so the statistics must not share it.
    """
    argv = ["tshark", "-n", "-q", "-r", str(path), "-X", f"lua_script:{lua_tap}"]
    argv += [f"-Xlua_script1:{expression}" for expression in filters]
    done = budget.run(argv, "tshark's filter tap")
    return done.stdout.decode("utf-8", "replace"), _first_line(done.stderr)


ConvRow = tuple[str, int | None, str, int | None, int, str, int, str]
"""(A, A's port, B, B's port, frames A→B, bytes A→B as tshark prints them, same B→A)."""


def format_size(size: int) -> str:
    """A byte count the way tshark 4.0's conversation table prints it (format_size, SI).

    Below 10 units of the next prefix the count is exact ("9999 bytes"); above, it is
    divided and truncated ("10 kB" for 10,000 to 10,999 bytes).
    """
    for divisor, prefix in ((10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if size // divisor >= 10:
            return f"{size // divisor} {prefix}B"
    return f"{size} bytes"


def _split_port(endpoint: str) -> tuple[str, int | None]:
    address, _, port = endpoint.rpartition(":")
    return (address, int(port)) if port.isdigit() and address else (endpoint, None)


def parse_conversations(text: str) -> dict[str, list[ConvRow]]:
    """tshark's four conversation tables; a table tshark did not print is absent.

    A row is ``A <-> B  frames bytes unit (B→A, the "<-" column)  frames bytes unit (A→B,
    "->")  total  relative-start  duration``; tcp and udp endpoints end in ``:port``.
    """
    tables: dict[str, list[ConvRow]] = {}
    lines = text.splitlines()
    for kind, title in CONV_TABLES.items():
        try:
            start = lines.index(title)
        except ValueError:
            continue
        rows: list[ConvRow] = []
        for line in lines[start + 1 :]:
            if line.startswith("="):
                break
            tokens = line.split()
            if len(tokens) < 12 or tokens[1] != "<->":
                continue
            a, b = tokens[0], tokens[2]
            a_port: int | None = None
            b_port: int | None = None
            if kind in ("tcp", "udp"):
                a, a_port = _split_port(a)
                b, b_port = _split_port(b)
            f_ba, size_ba = int(tokens[3]), f"{tokens[4]} {tokens[5]}"
            f_ab, size_ab = int(tokens[6]), f"{tokens[7]} {tokens[8]}"
            rows.append((a, a_port, b, b_port, f_ab, size_ab, f_ba, size_ba))
        tables[kind] = rows
    return tables


PhsNodes = dict[str, tuple[int, int]]
"""Path ("eth/ip/tcp") → (frames, bytes), the compared rows only."""


def _phs_wanted(path: Sequence[str]) -> bool:
    return path[-1] in PHS_NODES and all(name in PHS_PATH for name in path[1:])


def parse_hierarchy(text: str) -> PhsNodes | None:
    """The compared rows of ``-z io,phs`` (two spaces of indent a level)."""
    lines = text.splitlines()
    try:
        start = lines.index("Protocol Hierarchy Statistics")
    except ValueError:
        return None
    nodes: PhsNodes = {}
    stack: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("="):
            break
        match = re.match(r"^( *)(\S+)\s+frames:(\d+) bytes:(\d+)\s*$", line)
        if not match:
            continue
        depth = len(match.group(1)) // 2
        del stack[depth:]
        stack.append(match.group(2))
        if _phs_wanted(stack):
            nodes["/".join(stack)] = (int(match.group(3)), int(match.group(4)))
    return nodes


def parse_follow(output: bytes) -> dict[tuple[str, int], bytes]:
    """Each ``follow,tcp,MODE,N`` block of a tshark run, as tshark prints it.

    A block is the blank line, the rule, ``Follow: tcp,MODE``, ``Filter: tcp.stream eq N``,
    the nodes, the payload and the closing rule (a payload line of exactly 67 "=" would
    end a block early; no capture here has one).
    """
    rule = FOLLOW_RULE.encode()
    blocks: dict[tuple[str, int], bytes] = {}
    pattern = re.compile(
        b"\n" + rule + rb"\nFollow: tcp,(ascii|hex)\nFilter: tcp\.stream eq (\d+)\n"
    )
    for match in pattern.finditer(output):
        end = output.find(b"\n" + rule + b"\n", match.end() - 1)
        if end < 0:
            continue
        block = output[match.start() : end + len(rule) + 2]
        blocks[(match.group(1).decode(), int(match.group(2)))] = block
    return blocks


def tshark_display_filter(path: Path, budget: Budget, expression: str) -> list[int] | None:
    """``tshark -Y EXPR -T fields -e frame.number``: the reference answer for one filter.

    The Lua tap is only a fast first look: tshark does not call a tap listener for a frame
    whose dissection failed early in some link types (a raw IPv4 frame with broken options
    matched ``frame.len > 1000`` under ``-Y`` but reached no tap), so every filter on which
    the tap and livetap differ is asked again this way.
    """
    argv = ["tshark", "-n", "-r", str(path), "-Y", expression, "-T", "fields"]
    done = budget.run([*argv, "-e", "frame.number"], f"tshark -Y {expression!r}")
    if done.returncode != 0 and not done.stdout:
        return None
    return [int(n) for n in done.stdout.split() if n.isdigit()]


def parse_filter_tap(text: str, count: int) -> dict[int, list[int]] | None:
    """The Lua tap's lines: filter index (1-based) → matching frame numbers."""
    hits: dict[int, list[int]] = {}
    for line in text.splitlines():
        if line.startswith("LIVETAP-CORPUS-FILTER "):
            parts = line.split(" ", 2)
            numbers = parts[2] if len(parts) > 2 else ""
            hits[int(parts[1])] = [int(n) for n in numbers.split(",") if n]
    return hits if len(hits) == count else None


# -- livetap's side -----------------------------------------------------------------------------


def livetap_analyze(path: Path, budget: Budget) -> tuple[Json | None, str]:
    """``livetap analyze FILE --json`` with the three compared reports, or why not."""
    argv = [str(LIVETAP), "analyze", str(path), "--json"]
    argv += ["--report", "summary,conversations,protocols"]
    done = budget.run(argv, "livetap analyze")
    try:
        document = json.loads(done.stdout)
    except ValueError:
        return None, f"livetap analyze exit {done.returncode}: {_first_line(done.stderr)}"
    if not isinstance(document, dict) or not document.get("success"):
        error = document.get("error", {}) if isinstance(document, dict) else {}
        message = error.get("message", "") if isinstance(error, dict) else ""
        return None, f"livetap analyze exit {done.returncode}: {_short(message, 150)}"
    data = document.get("data")
    return (data if isinstance(data, dict) else None), ""


def livetap_follow(path: Path, stream: int, mode: str, budget: Budget) -> tuple[bytes | None, str]:
    """``livetap follow FILE --stream N --format MODE``'s output, or why there is none."""
    argv = [str(LIVETAP), "follow", str(path), "--stream", str(stream), "--format", mode]
    done = budget.run(argv, f"livetap follow {mode} {stream}")
    if done.returncode != 0:
        return None, f"livetap follow exit {done.returncode}: {_first_line(done.stderr)}"
    return done.stdout, ""


# ---------------------------------------------------------------------------------------------
# livetap's display filter, called from Python: livetap has no headless ``-Y`` yet.
# This reads the file with engine.pcapio, builds each PacketSummary as the packet ring does
# (engine.decode.decode over the record's link type and bytes) and asks the compiled
# engine.display_filter for each expression. It runs in a child process of the benchmark
# (``corpus.py _match FILE EXPR...``) so that the per-file timeout can stop it.
# ---------------------------------------------------------------------------------------------


def livetap_filter_matches(path: Path, expressions: Sequence[str]) -> dict[str, list[int]]:
    """Frame numbers (1-based, file order) each expression matches in livetap's engine."""
    from engine.decode import decode
    from engine.display_filter import compile_display_filter
    from engine.events import PacketSummary
    from engine.pcapio import open_pcap

    compiled = [(text, compile_display_filter(text)) for text in expressions]
    hits: dict[str, list[int]] = {text: [] for text in expressions}
    with open_pcap(path) as reader:
        for index, (timestamp, length, linktype, data, _source) in enumerate(reader, start=1):
            src, dst, sport, dport, protocol, info = decode(linktype, data)
            summary = PacketSummary(
                index, timestamp, length, linktype, src, dst, sport, dport, protocol, info, data
            )
            for text, display_filter in compiled:
                if display_filter.matches_packet(summary):
                    hits[text].append(index)
    return hits


def _match_main(argv: Sequence[str]) -> int:
    """The child process: ``_match FILE EXPR...`` prints ``{expr: [frames]}`` or an error."""
    try:
        hits = livetap_filter_matches(Path(argv[0]), argv[1:])
    except Exception as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        return 1
    print(json.dumps({"hits": hits}))
    return 0


def _frames_from_cli(document: object) -> list[int] | None:
    """Frame numbers out of a ``livetap filter --json`` document, whatever its exact shape.

    The command does not exist yet; this accepts ``data.frames`` / ``data.packets`` /
    ``data.matches`` as numbers or as objects with ``number``, ``index`` or ``frame``.
    """
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        return None
    for key in ("frames", "packets", "matches"):
        items = data.get(key)
        if isinstance(items, list):
            numbers: list[int] = []
            for item in items:
                if isinstance(item, int):
                    numbers.append(item)
                elif isinstance(item, dict):
                    value = next((item[k] for k in ("number", "index", "frame") if k in item), None)
                    if not isinstance(value, int):
                        return None
                    numbers.append(value)
            return numbers
    return None


def livetap_filters(
    path: Path, expressions: Sequence[str], budget: Budget, use_command: bool
) -> tuple[dict[str, list[int]] | None, str]:
    """Frame numbers per expression from livetap: the CLI when it exists, else the engine."""
    if use_command:
        hits: dict[str, list[int]] = {}
        for expression in expressions:
            argv = [str(LIVETAP), "filter", str(path), "-Y", expression, "--json"]
            done = budget.run(argv, f"livetap filter {expression!r}")
            try:
                numbers = _frames_from_cli(json.loads(done.stdout))
            except ValueError:
                numbers = None
            if numbers is None:
                return None, f"livetap filter exit {done.returncode}: {_first_line(done.stderr)}"
            hits[expression] = numbers
        return hits, ""
    done = budget.run(
        [sys.executable, str(Path(__file__).resolve()), "_match", str(path), *expressions],
        "the display filter",
    )
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        return None, f"display filter child exit {done.returncode}: {_first_line(done.stderr)}"
    if "hits" not in answer:
        return None, str(answer.get("error", "no answer"))
    return answer["hits"], ""


def livetap_filter_command_exists() -> bool:
    """Whether this livetap has ``livetap filter`` (a headless -Y)."""
    try:
        done = subprocess.run(
            [str(LIVETAP), "filter", "--help"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and b"-Y" in done.stdout


# -- comparisons --------------------------------------------------------------------------------


def _livetap_rows(rows: Iterable[Mapping[str, Any]]) -> list[ConvRow]:
    return [
        (
            str(row["a"]),
            row.get("a_port"),
            str(row["b"]),
            row.get("b_port"),
            int(row["frames_a_to_b"]),
            format_size(int(row["bytes_a_to_b"])),
            int(row["frames_b_to_a"]),
            format_size(int(row["bytes_b_to_a"])),
        )
        for row in rows
    ]


def _row_text(row: ConvRow) -> str:
    a, a_port, b, b_port, f_ab, s_ab, f_ba, s_ba = row
    left = a if a_port is None else f"{a}:{a_port}"
    right = b if b_port is None else f"{b}:{b_port}"
    return f"{left} <-> {right} A→B {f_ab}/{s_ab} B→A {f_ba}/{s_ba}"


def compare_conversations(
    kind: str, tshark_rows: list[ConvRow] | None, livetap_report: Json
) -> Check:
    """The rows as multisets: what only tshark has, what only livetap has."""
    if tshark_rows is None:
        return Check("error", f"tshark printed no {CONV_TABLES[kind]} table")
    listed = livetap_report.get(kind)
    total = livetap_report.get(f"{kind}_total")
    if not isinstance(listed, list) or not isinstance(total, int):
        return Check("error", f"livetap's report has no {kind} table")
    ours = Counter(_livetap_rows(listed))
    theirs = Counter(tshark_rows)
    truncated = total > len(listed)
    only_tshark = [] if truncated else sorted((theirs - ours).elements(), key=str)
    only_livetap = sorted((ours - theirs).elements(), key=str)
    if not only_tshark and not only_livetap and total == len(tshark_rows):
        return Check("agree")
    parts = [f"tshark {len(tshark_rows)} rows, livetap {total}"]
    if truncated:
        parts.append(f"(livetap's JSON lists {len(listed)}; listed rows checked against tshark)")
    if only_tshark:
        parts.append(f"only tshark: {_row_text(only_tshark[0])}")
    if only_livetap:
        parts.append(f"only livetap: {_row_text(only_livetap[0])}")
    details = {
        "tshark_rows": len(tshark_rows),
        "livetap_rows": total,
        "only_tshark": [_row_text(r) for r in only_tshark[:EXAMPLES]],
        "only_livetap": [_row_text(r) for r in only_livetap[:EXAMPLES]],
        "only_tshark_count": len(only_tshark),
        "only_livetap_count": len(only_livetap),
    }
    return Check("disagree", "; ".join(parts), details)


def livetap_hierarchy(report: Json) -> PhsNodes:
    """The compared rows of livetap's protocol tree (same rule as for tshark's)."""
    nodes: PhsNodes = {}

    def walk(children: object, path: list[str]) -> None:
        if not isinstance(children, list):
            return
        for node in children:
            if not isinstance(node, dict):
                continue
            here = [*path, str(node.get("protocol"))]
            if _phs_wanted(here):
                nodes["/".join(here)] = (int(node.get("frames", 0)), int(node.get("bytes", 0)))
            walk(node.get("children"), here)

    walk(report.get("tree"), [])
    return nodes


def compare_hierarchy(theirs: PhsNodes | None, report: Json | None) -> Check:
    """Path by path: frames and bytes of eth, ip, ipv6, tcp, udp at the top of the tree."""
    if theirs is None:
        return Check("error", "tshark printed no protocol hierarchy")
    if report is None:
        return Check("error", "livetap's report has no protocols")
    ours = livetap_hierarchy(report)
    differences: list[str] = []
    for path in sorted(set(theirs) | set(ours)):
        mine, other = ours.get(path), theirs.get(path)
        if mine == other:
            continue
        shown_t = "absent" if other is None else f"{other[0]} frames {other[1]} B"
        shown_l = "absent" if mine is None else f"{mine[0]} frames {mine[1]} B"
        differences.append(f"{path}: tshark {shown_t}, livetap {shown_l}")
    if not differences:
        return Check("agree")
    details = {
        "differences": differences,
        "tshark": {k: list(v) for k, v in theirs.items()},
        "livetap": {k: list(v) for k, v in ours.items()},
    }
    return Check("disagree", "; ".join(differences[:3]), details)


def compare_follow(theirs: bytes | None, ours: bytes | None, why_not: str) -> Check:
    """Byte for byte; the reason names the first line that differs."""
    if theirs is None:
        return Check("error", "tshark printed no follow block")
    if ours is None:
        return Check("error", why_not)
    if theirs == ours:
        return Check("agree")
    t_lines, l_lines = theirs.split(b"\n"), ours.split(b"\n")
    line = next(
        (i for i, (t, m) in enumerate(zip(t_lines, l_lines, strict=False)) if t != m),
        min(len(t_lines), len(l_lines)),
    )
    t_text = t_lines[line].decode("latin-1") if line < len(t_lines) else "<end>"
    l_text = l_lines[line].decode("latin-1") if line < len(l_lines) else "<end>"
    reason = (
        f"{len(theirs)} vs {len(ours)} bytes; line {line + 1}: tshark {_short(t_text, 60)!r} "
        f"vs livetap {_short(l_text, 60)!r}"
    )
    details = {
        "tshark_bytes": len(theirs),
        "livetap_bytes": len(ours),
        "first_differing_line": line + 1,
        "tshark_head": theirs[:400].decode("latin-1"),
        "livetap_head": ours[:400].decode("latin-1"),
    }
    return Check("disagree", reason, details)


def compare_filter(theirs: list[int], ours: list[int], stack_of: Mapping[int, str]) -> Check:
    """Frame sets; the reason gives counts, the first frames only one side matched and stacks."""
    t_set, l_set = set(theirs), set(ours)
    if t_set == l_set:
        return Check("agree")
    only_t = sorted(t_set - l_set)
    only_l = sorted(l_set - t_set)
    parts = [f"tshark {len(t_set)} frames, livetap {len(l_set)}"]
    if only_t:
        parts.append(f"only tshark #{only_t[0]} ({stack_of.get(only_t[0], '?')})")
    if only_l:
        parts.append(f"only livetap #{only_l[0]} ({stack_of.get(only_l[0], '?')})")
    details = {
        "tshark_count": len(t_set),
        "livetap_count": len(l_set),
        "only_tshark": [[n, stack_of.get(n, "?")] for n in only_t[:EXAMPLES]],
        "only_livetap": [[n, stack_of.get(n, "?")] for n in only_l[:EXAMPLES]],
        "only_tshark_count": len(only_t),
        "only_livetap_count": len(only_l),
    }
    return Check("disagree", "; ".join(parts), details)


# -- one file -----------------------------------------------------------------------------------


CONV_CHECKS = [f"conv.{kind}" for kind in CONV_TABLES]
FOLLOW_CHECKS = [
    f"follow.{mode}.{which}" for which in ("first", "largest") for mode in ("ascii", "hex")
]
FILTER_CHECKS = [f"filter:{template}" for template in FILTERS]
CHECKS = ["packets", *CONV_CHECKS, "phs", *FOLLOW_CHECKS, *FILTER_CHECKS]


def check_file(path: Path, base: Path, options: Options) -> FileResult:
    """Every check on one file within its time budget; never raises for a bad file."""
    started = time.monotonic()
    result = FileResult(str(path.relative_to(base)))
    budget = Budget(options.timeout)
    try:
        _check_file(path, result, budget, options)
    except FileTimeout as timeout:
        for name in CHECKS:
            result.checks.setdefault(name, Check("error", str(timeout)))
    result.seconds = time.monotonic() - started
    return result


def _check_file(path: Path, result: FileResult, budget: Budget, options: Options) -> None:
    fields, code, complaint = tshark_fields(path, budget)
    if fields.frames == 0 and code != 0:
        result.readable = False
        result.tshark_error = complaint or f"tshark exit {code}"
        return
    if code != 0:
        result.tshark_error = complaint or f"tshark exit {code}"
    result.packets = fields.frames
    result.stacks = Counter(fields.stack_of.values())

    x = options.filter_address or fields.first_ipv4_source or NO_IPV4
    expressions = [template.format(x=x) for template in FILTERS]
    largest = max(fields.stream_bytes, key=lambda s: (fields.stream_bytes[s], -s), default=None)
    streams = sorted({0, largest}) if largest is not None else []

    analysis, analyze_error = livetap_analyze(path, budget)
    output = tshark_statistics(path, budget, streams)
    text = output.decode("utf-8", "replace")

    # packets
    if analysis is None:
        result.checks["packets"] = Check("error", analyze_error)
    else:
        summary = analysis.get("reports", {}).get("summary", {})
        link_types = summary.get("link_types")
        if isinstance(link_types, dict):
            result.link_types = {str(k): int(v) for k, v in link_types.items()}
        packets = summary.get("packets")
        if packets == fields.frames:
            result.checks["packets"] = Check("agree")
        else:
            warnings = analysis.get("warnings") or []
            note = f" ({_short(warnings[0], 120)})" if warnings else ""
            result.checks["packets"] = Check(
                "disagree",
                f"tshark {fields.frames}, livetap {packets}{note}",
                {"tshark": fields.frames, "livetap": packets, "warnings": warnings[:5]},
            )

    # conversations and hierarchy
    tables = parse_conversations(text)
    reports: Json = analysis.get("reports", {}) if analysis is not None else {}
    for kind in CONV_TABLES:
        name = f"conv.{kind}"
        if analysis is None:
            result.checks[name] = Check("error", analyze_error)
        else:
            result.checks[name] = compare_conversations(
                kind, tables.get(kind), reports.get("conversations", {})
            )
    if analysis is None:
        result.checks["phs"] = Check("error", analyze_error)
    else:
        result.checks["phs"] = compare_hierarchy(parse_hierarchy(text), reports.get("protocols"))

    # follow
    blocks = parse_follow(output)
    if largest is None:
        for name in FOLLOW_CHECKS:
            result.checks[name] = Check("n/a", "no TCP stream")
    else:
        for which, stream in (("first", 0), ("largest", largest)):
            for mode in ("ascii", "hex"):
                theirs = blocks.get((mode, stream))
                ours, why_not = livetap_follow(path, stream, mode, budget)
                check = compare_follow(theirs, ours, why_not)
                check.details["stream"] = stream
                result.checks[f"follow.{mode}.{which}"] = check

    # display filters
    tap_output, tap_complaint = tshark_filters(path, budget, expressions, options.lua_tap)
    tapped = parse_filter_tap(tap_output, len(expressions))
    hits, filter_error = livetap_filters(path, expressions, budget, options.livetap_filter_command)
    for template, expression in zip(FILTERS, expressions, strict=True):
        name = f"filter:{template}"
        if tapped is None:
            result.checks[name] = Check("error", f"tshark's filter tap: {tap_complaint}")
        elif hits is None:
            result.checks[name] = Check("error", filter_error)
        else:
            index = expressions.index(expression) + 1
            check = compare_filter(tapped[index], hits[expression], fields.stack_of)
            if check.status != "agree":
                frames = tshark_display_filter(path, budget, expression)
                if frames is not None and set(frames) != set(tapped[index]):
                    check = compare_filter(frames, hits[expression], fields.stack_of)
                    check.details["tap_differed_from_-Y"] = True
                if check.status != "agree":
                    check.details["expression"] = expression
            result.checks[name] = check


# -- the run ------------------------------------------------------------------------------------


def capture_files(folder: Path) -> list[Path]:
    """Capture files under the folder by suffix, sorted for a stable order."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES))


def summarize(results: Sequence[FileResult]) -> Json:
    """Per check: files agreeing, disagreeing, failing, not applicable, and the share."""
    table: Json = {}
    for name in CHECKS:
        counts = Counter(r.checks[name].status for r in results if r.readable and name in r.checks)
        judged = counts["agree"] + counts["disagree"] + counts["error"]
        table[name] = {
            "agree": counts["agree"],
            "disagree": counts["disagree"],
            "error": counts["error"],
            "not_applicable": counts["n/a"],
            "share": round(counts["agree"] / judged, 4) if judged else None,
        }
    return table


def _tool_version() -> str:
    try:
        done = subprocess.run(["tshark", "-v"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return _first_line(done.stdout)


def _livetap_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return done.stdout.decode().strip()


def print_report(document: Json) -> None:
    """The share per check, then one line per failing file and check."""
    print(
        f"corpus {document['corpus']}: {document['files_found']} files found, "
        f"{document['files_unreadable_by_tshark']} unreadable by tshark (skipped), "
        f"{document['files_checked']} checked in {document['seconds']:.0f} s"
    )
    print(f"{'check':34} {'agree':>6} {'differ':>6} {'error':>6} {'n/a':>5}  share")
    for name, row in document["checks"].items():
        share = "-" if row["share"] is None else f"{100 * row['share']:.1f}%"
        print(
            f"{name:34} {row['agree']:6} {row['disagree']:6} {row['error']:6} "
            f"{row['not_applicable']:5}  {share}"
        )
    for name in CHECKS:
        failing = [
            (f["file"], f["checks"][name])
            for f in document["files"]
            if name in f["checks"] and f["checks"][name]["status"] in ("disagree", "error")
        ]
        if failing:
            print(f"\n{name}: {len(failing)} files")
            for file, check in failing:
                print(f"  {file}: {check['status']}: {check.get('reason', '')}")


def run(folder: Path, jobs: int, options: Options, limit: int | None, progress: bool) -> Json:
    """Check every file, ``jobs`` at a time; the JSON document of the whole run."""
    files = capture_files(folder)
    if limit is not None:
        files = files[:limit]
    started = time.monotonic()
    results: list[FileResult] = []
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(check_file, path, folder, options): path for path in files}
        for future in as_completed(futures):
            result = future.result()
            with lock:
                results.append(result)
                if progress:
                    line = f"\r[{len(results)}/{len(files)}] {_short(result.path, 60)}"
                    sys.stderr.write(f"{line:80}")
                    sys.stderr.flush()
    if progress:
        sys.stderr.write("\r" + " " * 80 + "\r")
    results.sort(key=lambda r: r.path)
    readable = [r for r in results if r.readable]
    return {
        "corpus": str(folder),
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "tshark": _tool_version(),
        "livetap_commit": _livetap_commit(),
        "filter_source": "livetap filter" if options.livetap_filter_command else "engine",
        "timeout": options.timeout,
        "seconds": round(time.monotonic() - started, 1),
        "files_found": len(files),
        "files_unreadable_by_tshark": len(results) - len(readable),
        "unreadable": [
            {"file": r.path, "tshark": r.tshark_error} for r in results if not r.readable
        ],
        "files_checked": len(readable),
        "checks": summarize(results),
        "files": [r.as_json() for r in readable],
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the flags, check the folder, print the report and write the JSON."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["_match"]:
        return _match_main(arguments[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("folder", metavar="DIR", type=Path, help="searched recursively")
    parser.add_argument("--jobs", type=int, default=2, help="files at once (default 2)")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds for all the work on one file"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the full result here")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N files (sorted)")
    parser.add_argument(
        "--filter-address", metavar="X", help="X in the filters (default: each file's first ip.src)"
    )
    parser.add_argument("--nice", type=int, default=10, help="niceness to add (default 10)")
    args = parser.parse_args(arguments)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    if shutil.which("tshark") is None:
        parser.error("tshark is not on PATH")
    if args.nice:
        os.nice(args.nice)
    with tempfile.TemporaryDirectory(prefix="livetap-corpus-") as scratch:
        lua_tap = Path(scratch) / "filters.lua"
        lua_tap.write_text(LUA_TAP)
        options = Options(
            timeout=args.timeout,
            filter_address=args.filter_address,
            lua_tap=lua_tap,
            livetap_filter_command=livetap_filter_command_exists(),
        )
        document = run(
            args.folder.resolve(), max(1, args.jobs), options, args.limit, sys.stderr.isatty()
        )
    if args.json is not None:
        args.json.write_text(json.dumps(document, indent=1) + "\n")
    print_report(document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
