"""``livetap dissector``: Wireshark Lua dissectors from a protocol spec.

``generate`` writes the Lua script (and checks it with ``--check``), ``check``
runs tshark with a script over a capture, ``schema`` prints the spec's JSON
Schema, ``draft`` writes a first-guess spec from one packet of a capture.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.dissector import (
    CheckReport,
    ProtocolSpec,
    check_dissector,
    draft_from_frame,
    find_tshark,
    generate_lua,
    load_spec,
    override,
    parse_spec,
    read_spec_data,
    schema_json,
)
from engine.dissector.model import is_valid_name
from engine.dissector.output import output_path, shown_path
from engine.errors import (
    BadInputError,
    ExitCode,
    LivetapError,
    NotFoundError,
    UnavailableError,
    UsageError,
)
from engine.pcapio import PcapRecord, open_pcap
from engine.textfile import write_text_whole
from tui.commands._output import print_json

NAME = "dissector"
HELP = "generate a Wireshark Lua dissector from a protocol spec, check it with tshark"

EXAMPLES = """\
examples:
  livetap dissector generate --spec examples/sensor.json
  livetap dissector generate --spec proto.yaml --port 5555 --check capture.pcap
  livetap dissector check --lua sensor.lua --spec sensor.json capture.pcap
  livetap dissector draft --pcap capture.pcap --frame 3 --output draft.json
  livetap dissector schema > spec.schema.json

The spec format is described in examples/README.md; exit codes: 0 success,
2 bad command line, 3 invalid spec, unreadable capture or broken dissector,
4 permission denied, 6 file or tshark not found, 9 tshark runs no Lua."""
SHOWN_EXPERT = 20
"""Expert infos listed in the text report (--json has up to 500)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The four actions, each with its own flags."""
    parser.epilog = EXAMPLES
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    formatter = argparse.RawDescriptionHelpFormatter

    generate = actions.add_parser(
        "generate",
        help="write a Lua dissector from a spec (and check it on a capture)",
        description="Write a Wireshark Lua dissector from a JSON or YAML protocol spec.",
        formatter_class=formatter,
    )
    generate.add_argument("--spec", type=Path, required=True, metavar="FILE", help="the spec")
    generate.add_argument(
        "--protocol-name", metavar="NAME", help="use this protocol name instead of the spec's"
    )
    generate.add_argument(
        "--port", type=int, metavar="N", help="register on this port instead of the spec's ports"
    )
    generate.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="where to write; a relative name is in the config's captureDirectory "
        "(default: NAME.lua there)",
    )
    generate.add_argument(
        "--check", type=Path, metavar="PCAP", help="then run tshark with it over this capture"
    )
    _common(generate, tshark=True)

    check = actions.add_parser(
        "check",
        help="run tshark with a dissector over a capture and report what it decoded",
        description="Run tshark with a Lua dissector over a capture: packets per field, Lua "
        "errors, expert info. Exits 3 when the dissector is broken.",
        formatter_class=formatter,
    )
    check.add_argument("--lua", type=Path, required=True, metavar="FILE", help="the Lua script")
    check.add_argument(
        "--spec", type=Path, required=True, metavar="FILE", help="the spec it was made from"
    )
    check.add_argument("pcap", type=Path, metavar="PCAP", help="a pcap or pcapng capture")
    _common(check, tshark=True)

    schema = actions.add_parser(
        "schema",
        help="print the JSON Schema of the spec format",
        description="Print the JSON Schema of the protocol spec format.",
        formatter_class=formatter,
    )
    _common(schema, tshark=False)

    draft = actions.add_parser(
        "draft",
        help="write a draft spec from one UDP/TCP packet of a capture",
        description="Guess a spec from one UDP or TCP packet: transport, port, and a first "
        "guess at the fields, for you to edit.",
        formatter_class=formatter,
    )
    draft.add_argument("--pcap", type=Path, required=True, metavar="FILE", help="the capture")
    draft.add_argument(
        "--frame", type=int, required=True, metavar="N", help="the packet's number (from 1)"
    )
    draft.add_argument("--name", default="draft", help="the protocol name (default: draft)")
    draft.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="write the spec here, a relative name in the config's captureDirectory "
        "(default: print)",
    )
    _common(draft, tshark=False)


def _common(parser: argparse.ArgumentParser, tshark: bool) -> None:
    if tshark:
        parser.add_argument("--tshark", metavar="PATH", help="the tshark to run (default: PATH)")
    parser.add_argument("--json", action="store_true", help="print a JSON document")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action."""
    actions = {"generate": _generate, "check": _check, "schema": _schema, "draft": _draft}
    return actions[args.action](args)


# --------------------------------------------------------------------------- actions


def _generate(args: argparse.Namespace) -> int:
    if args.protocol_name is not None and not is_valid_name(args.protocol_name):
        raise UsageError(
            f"--protocol-name {args.protocol_name!r} is not a valid name: use lower-case "
            "letters, digits and underscores, starting with a letter"
        )
    if args.port is not None and not 1 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a port number (1 to 65535)")
    if args.check is not None and not args.check.is_file():
        raise NotFoundError(f"{args.check} does not exist: check the capture's path")
    data = override(read_spec_data(args.spec), args.protocol_name, args.port)
    spec = parse_spec(data, source=str(args.spec))
    output = output_path(args.output, _capture_directory(args), f"{spec.name}.lua")
    write_text_whole(output, generate_lua(spec))
    summary: dict[str, Any] = {
        "lua": str(output),
        "protocol": spec.name,
        "transport": spec.transport,
        "ports": _ports(spec),
        "heuristic": spec.heuristic,
        "fields": len(spec.abbreviations()),
    }
    report = None
    if args.check is not None:
        report = check_dissector(output, args.check, spec, tshark=args.tshark)
        summary["check"] = report.to_dict()
    if args.json:
        if report is not None and not report.ok:
            _print_json_failure(_broken(report), summary)
            return ExitCode.BAD_INPUT
        print_json(summary)
        return ExitCode.SUCCESS
    ports = ", ".join(summary["ports"]) or "no ports"
    heuristic = " + heuristic" if spec.heuristic else ""
    print(
        f"wrote {shown_path(output)}: {spec.name} over {spec.transport.upper()} "
        f"({ports}{heuristic}), {summary['fields']} fields"
    )
    if report is None:
        return ExitCode.SUCCESS
    return _print_report(report)


def _check(args: argparse.Namespace) -> int:
    if find_tshark(args.tshark) is None:
        raise NotFoundError(
            "tshark is not installed: install Wireshark's tshark, or name it with --tshark"
        )
    spec = load_spec(args.spec)
    report = check_dissector(args.lua, args.pcap, spec, tshark=args.tshark)
    if report.skipped:
        raise UnavailableError(report.skipped)
    if args.json:
        if not report.ok:
            _print_json_failure(_broken(report), report.to_dict())
            return ExitCode.BAD_INPUT
        print_json(report.to_dict())
        return ExitCode.SUCCESS
    return _print_report(report)


def _schema(args: argparse.Namespace) -> int:
    text = schema_json()
    if args.json:
        print_json(json.loads(text))
    else:
        sys.stdout.write(text)
    return ExitCode.SUCCESS


def _draft(args: argparse.Namespace) -> int:
    if args.frame < 1:
        raise UsageError(f"--frame {args.frame}: frames are numbered from 1")
    if not is_valid_name(args.name):
        raise UsageError(
            f"--name {args.name!r} is not a valid name: use lower-case letters, digits and "
            "underscores, starting with a letter"
        )
    record = _frame(args.pcap, args.frame)
    draft = draft_from_frame(record.linktype, record.data, name=args.name)
    parse_spec(draft, source="the draft")  # a draft must always be usable as it is
    text = json.dumps(draft, indent=2, ensure_ascii=False) + "\n"
    output: Path | None = None
    if args.output is not None:
        output = output_path(args.output, _capture_directory(args), f"{args.name}.json")
        write_text_whole(output, text)
    fields = len(draft["fields"])
    if args.json:
        print_json(
            {
                "output": str(output) if output is not None else None,
                "frame": args.frame,
                "transport": draft["transport"],
                "port": draft["ports"][0],
                "fields": fields,
                "spec": draft,
            }
        )
        return ExitCode.SUCCESS
    if output is None:
        sys.stdout.write(text)
        return ExitCode.SUCCESS
    print(
        f"wrote {shown_path(output)}: {fields} fields guessed from frame {args.frame} "
        f"({draft['transport'].upper()} port {draft['ports'][0]}); edit it, then run "
        f"livetap dissector generate --spec {shown_path(output)}"
    )
    return ExitCode.SUCCESS


# --------------------------------------------------------------------------- helpers


def _capture_directory(args: argparse.Namespace) -> Path:
    """The config's captureDirectory (the current directory when none is set)."""
    from engine.config import load_settings

    config = getattr(args, "config", None)
    return load_settings(
        {}, config_path=config if isinstance(config, Path) else None
    ).capture_directory


def _frame(pcap: Path, number: int) -> PcapRecord:
    """The record of frame ``number`` (from 1) of a capture."""
    seen = 0
    with open_pcap(pcap) as reader:
        while batch := reader.read_batch(4096):
            if seen + len(batch) >= number:
                return batch[number - seen - 1]
            seen += len(batch)
    raise NotFoundError(f"{pcap} has {seen} packets: there is no frame {number}")


def _ports(spec: ProtocolSpec) -> list[str]:
    return [str(first) if first == last else f"{first}-{last}" for first, last in spec.ports]


def _broken(report: CheckReport) -> LivetapError:
    first = report.lua_errors[0]
    where = f" (frame {first.frame})" if first.frame is not None else " (while loading)"
    message = _safe(first.message.splitlines()[0] if first.message else "a Lua error")
    more = len(report.lua_errors) - 1
    extra = f"; {more} more" if more else ""
    return BadInputError(f"the dissector is broken: {message}{where}{extra}")


def _print_json_failure(error: LivetapError, data: Any) -> None:
    """A failure document that still carries the report: success false, error and data."""
    document = {
        "success": False,
        "error": {"code": error.code_name, "message": error.message},
        "data": data,
    }
    print(json.dumps(document, indent=2, default=str))


def _safe(text: str, limit: int = 300) -> str:
    """Text from a capture or tshark, made harmless for a terminal (no escape sequences)."""
    cleaned = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"


def _print_report(report: CheckReport) -> int:
    """The check report as text; the exit code says whether the dissector is broken."""
    if report.skipped:
        print(f"note: {report.skipped}")
        return ExitCode.SUCCESS
    print(
        f"checked {report.lua} on {report.pcap}: {report.packets} packets, "
        f"{report.decoded} decoded as {report.protocol}"
    )
    if report.fields:
        print("packets per field:")
        width = max(len(item.abbrev) for item in report.fields)
        for item in report.fields:
            note = "" if item.packets else "  (never decoded)"
            print(f"  {item.packets:>7}  {item.abbrev:<{width}}  {_safe(item.label)}{note}")
    if report.expert_total:
        by_severity = ", ".join(f"{name}: {count}" for name, count in report.expert_by_severity)
        print(f"expert info: {report.expert_total} ({by_severity})")
        for expert in report.expert[:SHOWN_EXPERT]:
            print(
                f"  frame {expert.frame}  {expert.severity}/{expert.group}  {_safe(expert.message)}"
            )
        if report.expert_total > SHOWN_EXPERT:
            print(f"  ... {report.expert_total - SHOWN_EXPERT} more (--json lists up to 500)")
    else:
        print("expert info: none")
    for warning in report.warnings:
        print(f"warning: {_safe(warning)}")
    if report.ok:
        print("ok: the dissector loaded and decoded without Lua errors")
        return ExitCode.SUCCESS
    print(f"Lua errors: {len(report.lua_errors)}")
    for error in report.lua_errors:
        where = f"frame {error.frame}" if error.frame is not None else "loading"
        for index, line in enumerate(error.message.splitlines()[:6]):
            print(f"  {where + ':' if index == 0 else ' ' * (len(where) + 1)}  {_safe(line)}")
    sys.stdout.flush()
    print(f"livetap: {_broken(report).message}", file=sys.stderr)
    return ExitCode.BAD_INPUT
