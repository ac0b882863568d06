"""The background process of ``livetap capture ndjson start``.

It opens the sources (a browser, packets on an interface), starts the NDJSON
capture, reports readiness as one JSON line on its stdout (which ``start`` prints
and then closes), and serves ``stop`` and ``status`` on a Unix socket until stopped.
Run as ``python -m engine.ndjson.daemon '<options as JSON>'``.

The order matters: the browser connects first (so the packet filter can leave out
livetap's own DevTools connection), then the packets are opened, then the capture
subscribes and the packets are read (a file's from its first packet), and only then
is ``--open``'s page loaded, so its requests and packets are all written.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from engine.errors import ExitCode, LivetapError
from engine.ndjson.capture import NdjsonCapture, NdjsonOptions
from engine.ndjson.control import clear_state, socket_path, write_state
from engine.ndjson.url_filter import UrlFilter


def _report(document: dict[str, Any]) -> None:
    """The one line ``start`` waits for, then stdout is closed."""
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def devtools_port(browser: Any) -> int | None:
    """The TCP port of livetap's own DevTools connection to ``browser``, if it has one.

    A launched browser's websocket URL, or an attached one's endpoint; None when the
    connection is no TCP port (a pipe) or the port cannot be told.
    """
    process = getattr(browser, "browser_process", None)
    if process is not None:
        url = getattr(process, "websocket_url", None)
    else:
        url = getattr(getattr(browser, "target", None), "endpoint", None)
    if not isinstance(url, str) or not url:
        return None
    try:
        return urlsplit(url).port
    except ValueError:
        return None


def packet_filter(expression: str, port: int | None) -> str:
    """The user's capture filter, without livetap's DevTools connection when it has a port."""
    if port is None:
        return expression
    own = f"not tcp port {port}"
    return f"({expression}) and {own}" if expression.strip() else own


def _open_sources(config: dict[str, Any]) -> tuple[Any, Any]:
    """The browser (connected, no page opened yet) and the packet capture (not yet read)."""
    browser = packets = None
    if config.get("browser"):
        from engine.browser.session import BrowserSession
        from engine.browser.target import parse_browser_spec

        target = parse_browser_spec(
            config["browser"],
            headed=bool(config.get("headed")),
            chromium=config.get("chromium"),
            allow_remote=bool(config.get("allow_remote")),
            no_sandbox=bool(config.get("no_sandbox")),
        )
        from engine.browser.network_conditions import NetworkControls

        controls = NetworkControls.parse(
            config.get("block"), config.get("throttle"), bool(config.get("no_cache"))
        )
        browser = BrowserSession(  # --open waits until the capture listens
            target, controls=controls, allow_control=bool(config.get("allow_control"))
        )
        browser.start()
    if config.get("packets"):
        from engine.config import load_settings
        from engine.process.packet_owners import for_capture
        from engine.session import CaptureSession
        from engine.source import configured_spec, open_source

        expression = packet_filter(config.get("bpf") or "", devtools_port(browser))
        named = [str(name) for name in config.get("interfaces") or ()]
        files = tuple(str(name) for name in config.get("files") or ())
        commands = tuple(str(name) for name in config.get("commands") or ())
        try:
            settings = load_settings({"interface": named[0] if named else None})
            spec = configured_spec(named, files, commands, expression, settings)
            source = open_source(spec)
        except LivetapError:
            if browser is not None:
                browser.stop()
            raise
        owners = for_capture(spec, source.source_names) if settings.processes else None
        # started once the capture listens: files from 1; packet lines name their program
        packets = CaptureSession(source, owners=owners)
    return browser, packets


def _open_page(browser: Any, url: str) -> None:
    """Load ``url`` without holding up ``start`` (a slow page must not make it time out)."""

    def navigate() -> None:
        with contextlib.suppress(
            LivetapError
        ):  # as a page that fails to load: not start's business
            browser.navigate(url)

    threading.Thread(target=navigate, name="livetap-open", daemon=True).start()


def _serve(
    capture: NdjsonCapture, server: socket.socket, stopping: threading.Event
) -> dict[str, Any]:
    """Answer status requests until a stop request (or SIGTERM); return the final reply."""
    server.settimeout(0.2)
    while not stopping.is_set():
        try:
            client, _ = server.accept()
        except TimeoutError:
            continue
        with client:
            client.settimeout(5)
            with contextlib.suppress(OSError, ValueError):
                request = json.loads(client.recv(4096) or b"{}")
                command = request.get("command") if isinstance(request, dict) else None
                if command == "stop":
                    reply = _final(capture)
                    client.sendall(json.dumps(reply).encode() + b"\n")
                    return reply
                client.sendall(json.dumps(_status(capture)).encode() + b"\n")
    return _final(capture)


def _status(capture: NdjsonCapture) -> dict[str, Any]:
    data = {**capture.start_report(), **capture.stop_report(), "running": capture.running}
    return _with_error(capture, data)


def _final(capture: NdjsonCapture) -> dict[str, Any]:
    return _with_error(capture, capture.stop())


def _with_error(capture: NdjsonCapture, data: dict[str, Any]) -> dict[str, Any]:
    error = capture.error
    if error is None:
        return {"success": True, "data": data}
    return {
        "success": False,
        "error": {"code": error.code_name, "message": error.message},
        "data": data,
    }


def main(argv: list[str]) -> int:
    """Start everything, report, serve, clean up."""
    config = json.loads(argv[0])
    browser = packets = None
    capture: NdjsonCapture | None = None
    server: socket.socket | None = None
    try:
        browser, packets = _open_sources(config)
        options = NdjsonOptions(
            path=Path(config["file"]),
            max_size_mb=float(config["max_size_mb"]),
            url_filter=UrlFilter.parse(config.get("filters") or []),
            include_bodies=bool(config.get("include_bodies")),
            include_sensitive=bool(config.get("include_sensitive")),
            append=bool(config.get("append")),
            browser=browser is not None,
            packets=packets is not None,
            display_filter=config.get("display_filter") or "",
        )
        capture = NdjsonCapture(options, browser, packets)
        started = capture.start()
        if packets is not None:
            packets.start()
        if browser is not None and config.get("open"):
            _open_page(browser, config["open"])  # now: the capture hears the whole page load
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path = socket_path()
        with contextlib.suppress(OSError):
            path.unlink()
        server.bind(str(path))
        path.chmod(0o600)
        server.listen()
        write_state({"pid": os.getpid(), "socket": str(path), **started})
    except LivetapError as error:
        if server is not None:
            server.close()
        if capture is not None:
            capture.stop()
        for source in (packets, browser):
            if source is not None:
                source.stop()
        _report({"success": False, "error": {"code": error.code_name, "message": error.message}})
        return error.exit_code
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _report({"success": True, "data": started})
    try:
        _serve(capture, server, stopping)
    finally:
        server.close()
        for source in (packets, browser):
            if source is not None:
                source.stop()
        clear_state()
    return ExitCode.SUCCESS


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
