"""The ``livetap`` command: the live TUI by default, subcommands for headless work.

Every failure a user can cause ends in one sentence on stderr and an exit code
from :class:`engine.errors.ExitCode`; no traceback reaches the terminal.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import EXIT_CODE_MEANINGS, ExitCode, LivetapError
from tui.commands import command_names, subcommands
from tui.commands._output import print_json_error
from tui.signals import install_exit_signals

if TYPE_CHECKING:
    from engine.list_config import ColourRule

DESCRIPTION = """\
Live network traffic in the terminal. Without a subcommand, livetap opens the
live view: packets on an interface (default: the one with the default route),
a pcap/pcapng file (-r) or the pcap stream of a command (--source-cmd).
Each can be repeated: several interfaces and commands are read side by side,
several files are merged by time (like mergecap); the list then has a Source
column and frame.source filters by input. Live capture needs root or CAP_NET_RAW."""

EXAMPLES = """\
examples:
  sudo livetap                         capture on the default interface
  sudo livetap -i lo -f "udp port 53"  loopback, DNS only
  livetap -r trace.pcap --realtime     replay a file at its original pace
  livetap -r a.pcap -r b.pcap          two files merged by time (like mergecap)
  sudo livetap -i eth0 -i wlan0        two interfaces side by side, a Source column
  livetap --source-cmd "ssh host sudo tcpdump -U -w - not port 22"
  livetap interfaces                   list interfaces (like tcpdump -D)
  livetap --no-packets --open http://127.0.0.1:8000/ --throttle slow-3g --block '*://*/api/*'
  livetap demo                         the live view on traffic it makes itself
  sudo livetap capture pcap -i lo -w out.pcap --duration 30s
  livetap filter trace.pcap -Y "dns or tcp.port == 443"   like tshark -r -Y
  livetap bpf "dns or https from 10.0.0.5"
  livetap dissector generate --spec examples/sensor.json

environment: CAPTURE_INTERFACE, CAPTURE_SNAPLEN, CAPTURE_BUFFER, LIVETAP_CONFIG
config file: ~/.config/livetap/config.yaml (keys defaultInterface, snapLength,
  bufferSize, maxCaptureSize, captureDirectory, ringSize, maxRequests, preserveLog,
  processes, timeFormat, packetColumns, colouring, colouringRules)
"""


def _exit_code_table() -> str:
    rows = [f"  {code.value:>3}  {code.name:<18} {EXIT_CODE_MEANINGS[code]}" for code in ExitCode]
    return "exit codes:\n" + "\n".join(rows)


def _commands_needed(argv: Sequence[str]) -> list[str] | None:
    """Which subcommand modules the parser needs: the one named, all for --help, else none."""
    names = command_names()
    named = [arg for arg in argv if arg in names][:1]
    if named:
        return named
    return None if any(arg in ("-h", "--help") for arg in argv) else []


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser for ``livetap`` and the subcommands ``argv`` needs (default: all)."""
    parser = argparse.ArgumentParser(
        prog="livetap",
        description=DESCRIPTION,
        epilog=EXAMPLES + "\n" + _exit_code_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_LazyVersion)
    source = parser.add_argument_group("what to capture")
    source.add_argument(
        "-i",
        "--interface",
        action="append",
        help="interface to capture on ('any' for all); repeat to read several side by side",
    )
    source.add_argument(
        "-f", "--filter", default="", metavar="BPF", help="BPF capture filter, as tcpdump takes it"
    )
    source.add_argument(
        "-r",
        "--read",
        metavar="FILE",
        action="append",
        help="read packets from a pcap or pcapng file; repeat to merge files by time",
    )
    source.add_argument(
        "--realtime", action="store_true", help="with -r: replay at the file's original pace"
    )
    source.add_argument(
        "--source-cmd",
        metavar="COMMAND",
        action="append",
        help="read the pcap stream a command writes (run without a shell, split like sh); "
        "repeat for several, also beside -i",
    )
    source.add_argument("--no-packets", action="store_true", help="show only the browser pane")
    source.add_argument(
        "--no-process",
        action="store_true",
        help="do not tie live packets to the program that sent them (no Process column)",
    )
    source.add_argument(
        "--process",
        metavar="NAME|PID",
        help="keep only this program's traffic (its children's and later connections too)",
    )
    browser = parser.add_argument_group("browser requests (Chrome DevTools Protocol)")
    browser.add_argument(
        "--browser",
        metavar="SPEC",
        help="'launch' a headless Chromium, or attach: a port (9222), host:port or ws:// URL",
    )
    browser.add_argument(
        "--open", metavar="URL", help="load URL in the browser (implies --browser launch)"
    )
    browser.add_argument(
        "--headed", action="store_true", help="with --browser launch: a visible window"
    )
    browser.add_argument(
        "--chromium", metavar="PATH", help="the Chromium/Chrome executable to launch"
    )
    browser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="with --browser launch: turn Chromium's sandbox off (only where it cannot start)",
    )
    browser.add_argument(
        "--allow-remote-browser",
        action="store_true",
        help="allow attaching to a non-loopback debugging port (it gives full browser control)",
    )
    _add_browser_control_flags(browser)
    _add_tls_flags(parser)
    tuning = parser.add_argument_group("tuning")
    tuning.add_argument(
        "-s", "--snaplen", type=int, help="bytes kept of each packet (default 65535)"
    )
    tuning.add_argument(
        "-B", "--buffer-size", metavar="SIZE", help="kernel ring size, e.g. 16M (default 8M)"
    )
    tuning.add_argument(
        "--ring-size", type=int, metavar="N", help="packets kept in memory (default 100000)"
    )
    tuning.add_argument(
        "--max-requests",
        type=int,
        metavar="N",
        help="browser requests kept in memory (default 100000); the oldest are dropped",
    )
    tuning.add_argument(
        "--config", type=Path, metavar="FILE", help="config file to read instead of the default"
    )
    tuning.add_argument(
        "--theme",
        help="start with this theme (livetap-dark, livetap-light, livetap-high-contrast, "
        "or any other the t picker offers, e.g. dracula)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in subcommands(None if argv is None else _commands_needed(argv)):
        command_parser = sub.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(command_parser)
        command_parser.set_defaults(run=command.run)
    return parser


def _add_browser_control_flags(browser: argparse._ArgumentGroup) -> None:
    """--block, --throttle, --no-cache, --allow-control and --show-secrets (issue 17)."""
    from engine.browser.network_conditions import THROTTLE_HELP

    browser.add_argument(
        "--block",
        action="append",
        metavar="PATTERN",
        help="fail the browser's requests to matching URLs (* wildcards over the whole URL, "
        "as the NDJSON filters: '*://*/api/*'); repeatable",
    )
    browser.add_argument(
        "--throttle", metavar="PROFILE", help=f"slow the browser's network: {THROTTLE_HELP}"
    )
    browser.add_argument("--no-cache", action="store_true", help="disable the browser's cache")
    browser.add_argument(
        "--allow-control",
        action="store_true",
        help="allow --block/--throttle/--no-cache on an attached browser (reset on exit)",
    )
    browser.add_argument(
        "--show-secrets",
        action="store_true",
        help="copies of requests (y) keep cookies, credentials and tokens (hidden by default)",
    )


def _add_tls_flags(parser: argparse.ArgumentParser) -> None:
    """--keylog and --embed-secrets: decrypted TLS (issue 17)."""
    tls = parser.add_argument_group("decrypted TLS (key logs)")
    tls.add_argument(
        "--keylog",
        metavar="FILE",
        help="TLS key log (SSLKEYLOGFILE format) to decrypt with: an existing one (curl's, a "
        "browser's, one for -r), or where a --browser launch keeps its keys after exit "
        "(without it they live in a private file removed on exit)",
    )
    tls.add_argument(
        "--embed-secrets",
        action="store_true",
        help="w saves pcapng with the TLS keys inside (a Decryption Secrets Block): the file "
        "then decrypts everywhere, for anyone who gets it",
    )


def open_key_log(args: argparse.Namespace) -> Any:
    """The key log the flags ask for (a launched browser always writes one, a -r pcapng may
    carry secrets), or None."""
    from engine.tls_keylog import KeyLog

    launching = (args.browser or ("launch" if args.open else None)) == "launch"
    embedded = b""
    if args.read:
        from engine.analysis.decrypted import embedded_secrets

        embedded = b"".join(embedded_secrets(Path(name)) for name in args.read)
    key_log = KeyLog.from_flag(args.keylog, launching=launching, embedded=embedded)
    if args.embed_secrets and key_log is None:
        from engine.errors import UsageError

        raise UsageError("--embed-secrets needs TLS keys: add --keylog FILE or --browser launch")
    return key_log


class _LazyVersion(argparse._VersionAction):
    """``--version``, the package metadata read only when asked (it costs ~20 ms a start)."""

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        from engine import native

        self.version = f"livetap {_version()} (analysis: {native.status().reason})"
        super().__call__(*args, **kwargs)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("livetap")
    except PackageNotFoundError:
        return "unknown"


def source_spec(args: argparse.Namespace, settings: Any) -> Any:
    """What the flags and the configuration ask to read (see engine.source).

    Under ``livetap serve``, a capture on lo or any leaves out the page's own port.
    """
    from engine.config import served_port
    from engine.source import configured_spec, excluding_tcp_port

    files, commands = tuple(args.read or ()), tuple(args.source_cmd or ())
    spec = configured_spec(
        args.interface, files, commands, args.filter or "", settings, realtime=args.realtime
    )
    return excluding_tcp_port(spec, served_port())


def open_browser(args: argparse.Namespace, max_requests: int, key_log: Any = None) -> Any:
    """Launch or attach to the browser the flags name (None without --browser/--open)."""
    spec = args.browser or ("launch" if args.open else None)
    from engine.browser.network_conditions import NetworkControls

    controls = NetworkControls.parse(args.block, args.throttle, args.no_cache)
    if spec is None and controls.active:
        from engine.errors import UsageError

        raise UsageError("--block, --throttle and --no-cache need a browser: add --browser launch")
    if spec is None:
        if args.no_packets:
            from engine.errors import UsageError

            raise UsageError(
                "--no-packets leaves nothing to show: add --browser launch or --browser PORT"
            )
        return None
    from engine.browser.session import BrowserSession
    from engine.browser.target import parse_browser_spec

    target = parse_browser_spec(
        spec,
        headed=args.headed,
        chromium=args.chromium,
        allow_remote=args.allow_remote_browser,
        no_sandbox=args.no_sandbox,
    )
    if not target.sandbox:
        from engine.browser.session import NO_SANDBOX_WARNING

        print(f"livetap: warning: {NO_SANDBOX_WARNING}", file=sys.stderr)
    browser = BrowserSession(
        target,
        open_url=args.open,
        max_requests=max_requests,
        controls=controls,
        allow_control=args.allow_control,
        key_log=key_log,
    )
    browser.start()
    return browser


def run_live(args: argparse.Namespace) -> int:
    """The TUI on the chosen source; the source is opened first so errors print plainly."""
    from engine.config import load_settings

    settings = load_settings(
        {
            "interface": args.interface[0] if args.interface else None,
            "snaplen": args.snaplen,
            "buffer_size": args.buffer_size,
            "ring_size": args.ring_size,
            "max_requests": args.max_requests,
            "processes": False if args.no_process else None,
        },
        config_path=args.config,
    )
    theme = args.theme or settings.theme
    if theme:
        _check_theme(theme)
    _check_rule_colours(settings.colour_rules)
    key_log = open_key_log(args)
    browser = session = None
    try:
        browser = open_browser(args, settings.max_requests, key_log)
        if not args.no_packets:
            session = _packet_session(args, settings)
        from tui.app import LivetapApp

        app = LivetapApp(
            session, theme=theme, save_directory=settings.capture_directory, browser=browser
        )
        app.show_secrets = args.show_secrets
        app.preserve_log = settings.preserve_log
        app.list_settings = settings
        app.key_log = key_log
        app.embed_secrets = args.embed_secrets
        app.config_path = args.config or settings.config_file
        install_exit_signals(app, session, browser)
        app.run()
    finally:
        if session is not None:
            session.stop()
        if browser is not None:
            browser.stop()
        if key_log is not None:
            key_log.close()
    if app.return_code == ExitCode.INTERRUPTED:
        return ExitCode.INTERRUPTED
    error = session.stats().error if session is not None else None
    if error:
        print(f"livetap: {error}", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    return ExitCode.SUCCESS


def _packet_session(args: argparse.Namespace, settings: Any) -> Any:
    """The capture session the flags ask for, tying packets to programs unless told not to."""
    from engine.errors import UsageError
    from engine.process.packet_owners import for_capture
    from engine.process.program import KERNEL_FILTER, ProgramMatcher
    from engine.session import CaptureSession
    from engine.source import open_source

    only = ProgramMatcher(args.process) if args.process is not None else None
    enabled = settings.processes and not args.no_process
    if only is not None and not enabled:
        raise UsageError(
            "--process needs to know each packet's program: leave out --no-process "
            "(or processes: false in the config file)"
        )
    spec = source_spec(args, settings)
    if only is not None:
        if spec.files or not (spec.interfaces or not spec.commands):
            raise UsageError(
                "--process keeps one program of this host: capture live (-i), not -r or "
                "--source-cmd alone"
            )
        expression = f"({spec.filter}) and ({KERNEL_FILTER})" if spec.filter else KERNEL_FILTER
        spec = replace(spec, filter=expression)
    source = open_source(spec)
    owners = for_capture(spec, source.source_names, only) if enabled else None
    return CaptureSession(source, settings.ring_size, owners=owners)


def _report_crash(error: BaseException) -> int:
    """Keep the traceback in a file and tell the user where, in one line."""
    fd, path = tempfile.mkstemp(prefix="livetap-crash-", suffix=".txt")
    with os.fdopen(fd, "w") as out:
        traceback.print_exception(error, file=out)
    print(
        f"livetap: internal error: {error!r} (details in {path}; please report it)", file=sys.stderr
    )
    return ExitCode.FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``livetap`` console script."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
    try:
        if args.command:
            at_once = argv is None and getattr(args, "exit_at_once", False)
            if at_once:
                gc.disable()  # the process ends in os._exit: no cycle needs collecting
            code: int = args.run(args)
            if at_once:
                _exit_at_once(code)
            return code
        return run_live(args)
    except LivetapError as error:
        if getattr(args, "json", False):
            print_json_error(error)
        else:
            print(f"livetap: {error.message}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # `livetap bpf --examples | head`: the reader left; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.SUCCESS
    except Exception as error:
        return _report_crash(error)


def _exit_at_once(code: int) -> None:
    """End the process without freeing what it built (``analyze``'s tables: a tenth of its
    time on a big file), as mypy does; the output is flushed and atexit handlers run first."""
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `livetap analyze f | head`: the reader left, not an error
        pass
    os._exit(code)


def _check_theme(name: str) -> None:
    """Refuse an unknown theme before the screen is taken over."""
    from engine.errors import UsageError
    from tui.app import theme_names

    names = theme_names()
    if name not in names:
        raise UsageError(f"there is no theme named {name!r}; choose one of: {', '.join(names)}")


def _check_rule_colours(rules: tuple[ColourRule, ...]) -> None:
    """Refuse a colouring rule whose colour is no theme variable (bad config: exit 3)."""
    from engine.errors import BadInputError
    from themes import RULE_COLOURS

    for rule in rules:
        if rule.colour not in RULE_COLOURS:
            raise BadInputError(
                f"colouringRules: {rule.name!r} names colour {rule.colour!r}, which is not a "
                f"theme variable (choose one of: {', '.join(sorted(RULE_COLOURS))})"
            )


if __name__ == "__main__":
    sys.exit(main())
