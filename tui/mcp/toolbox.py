"""Every tool of ``livetap mcp`` with its JSON schema, bound to one server's configuration.

The schemas state the server's caps (``maximum``), so an agent sees them
before it asks; a call over a cap is refused with a message naming the flag
that sets it (nothing is clamped). :class:`Toolbox` is what the MCP layer
calls: the tools, their results as plain JSON, the resources, and ``close``.
"""

from __future__ import annotations

from typing import Any

from tui.mcp import schemas
from tui.mcp.analysis import Analysis, build_bpf
from tui.mcp.browser import BrowserRequests
from tui.mcp.capture import PacketCapture, interfaces
from tui.mcp.config import ServerConfig
from tui.mcp.dissector import Dissectors
from tui.mcp.ndjson import NdjsonBackend, NdjsonCaptures
from tui.mcp.paths import CaptureDirectory
from tui.mcp.registry import Outcome, Registry, Tool
from tui.mcp.resources import ResourceContent, ResourceInfo, list_resources, read_resource
from tui.mcp.state import SessionState

CLOSE_TIMEOUT = 5.0
"""How long closing waits for running captures to write their last packets."""
INSTRUCTIONS = """\
livetap: live network traffic and browser requests on this machine, for agents.
Capture packets (capture_packets, bounded by the server's caps; build_bpf turns
words into a filter), analyse pcap files in the capture directory (analyze_pcap,
follow_stream, check_threats, find_credentials), read a browser's requests
(browser_requests), stream to NDJSON (start_/stop_ndjson_capture) and generate
Wireshark Lua dissectors (generate_dissector). Files are read and written only
in the capture directory (see the livetap://server/config resource); the files
this session wrote and the last report of each tool are resources."""


class Toolbox:
    """The server's tools, state and resources; thread-safe, one per server process."""

    def __init__(self, config: ServerConfig, ndjson: NdjsonBackend | None = None) -> None:
        self.config = config
        self.directory = CaptureDirectory(config.capture_directory, config.read_anywhere)
        self.state = SessionState()
        self._browser = BrowserRequests(config)
        self._ndjson = NdjsonCaptures(config, self.directory, self.state, ndjson)
        self._capture = PacketCapture(config, self.directory, self.state)
        self.registry = Registry(self._tools())

    def _tools(self) -> list[Tool]:
        config = self.config
        analysis = Analysis(config, self.directory)
        dissectors = Dissectors(self.directory, self.state)
        return [
            Tool(
                "list_interfaces",
                "List network interfaces",
                "The interfaces this machine can capture on (like tcpdump -D), with addresses "
                "and flags, and the default one.",
                schemas.EMPTY,
                interfaces,
            ),
            Tool(
                "capture_packets",
                "Capture packets",
                "Capture live packets on an interface (or several side by side: interfaces) "
                "under a BPF filter and return one summary per packet (time, src, dst, ports, "
                "protocol, length, info, and the local program that sent or received it: "
                "process name, pid, user, or why unknown). Needs root. "
                f"Bounded: at most {config.max_duration:g} s, {config.max_count:,} packets and "
                f"{config.max_bytes:,} bytes per call (asking for more is an error). "
                "save_pcap keeps the pcap in the capture directory (a resource).",
                schemas.capture(config),
                self._capture,
                read_only=False,
                caps={"duration_seconds": "--max-duration", "count": "--max-count"},
            ),
            Tool(
                "build_bpf",
                "Build a BPF filter",
                "Turn a short description ('http to 10.0.0.5', 'tcp syn only', 'dns') into a "
                "BPF capture filter compiled by libpcap, with what each part means.",
                schemas.BUILD_BPF,
                build_bpf,
            ),
            Tool(
                "analyze_pcap",
                "Analyse a pcap",
                "Analyse a pcap/pcapng file in the capture directory: summary, protocol "
                "hierarchy, conversations, top talkers, HTTP, DNS, patterns (scans, beaconing), "
                "threats, credentials. The JSON of `livetap analyze --json` (its data); long "
                "lists are cut to max_rows and marked under 'truncation'.",
                schemas.ANALYZE,
                analysis.analyze,
            ),
            Tool(
                "follow_stream",
                "Follow a TCP stream",
                "A TCP stream's payload both ways (by tshark's stream number or a 4-tuple), as "
                "`livetap follow` gives it, in ascii, hex or raw, up to max_bytes of payload.",
                schemas.FOLLOW,
                analysis.follow,
            ),
            Tool(
                "check_threats",
                "Check against blocklists",
                "Addresses, host names (DNS, HTTP Host, TLS SNI) and URLs of a capture found in "
                "local blocklist files (URLhaus CSV, or one IP/CIDR/domain/URL a line). Nothing "
                "is looked up online.",
                schemas.THREATS,
                analysis.threats,
            ),
            Tool(
                "find_credentials",
                "Find cleartext credentials",
                "Cleartext logins in a capture (HTTP Basic and forms, FTP, POP3, IMAP, SMTP, "
                "Telnet) with the server's verdict. Secrets are "
                + ("shown (server setting)." if config.show_secrets else "masked."),
                schemas.PATH_ONLY,
                analysis.credentials,
            ),
            Tool(
                "browser_requests",
                "Browser requests",
                "The last requests of the server's browser ("
                + ("a headless Chromium it launches" if config.browser == "launch" else "attached")
                + ") with status, timing and headers; bodies on request. url opens an http(s) "
                "page first and waits for its requests to settle.",
                schemas.BROWSER,
                self._browser,
                read_only=False,
            ),
            Tool(
                "start_ndjson_capture",
                "Start an NDJSON capture",
                "Start streaming browser requests (and optionally packet summaries) to an NDJSON "
                "file in the capture directory, in the background, as `livetap capture ndjson "
                "start`. The server stops it after "
                f"{config.max_ndjson_duration:g} s, {config.max_bytes:,} bytes or "
                f"{config.max_count:,} events, and when it exits.",
                schemas.ndjson_start(config),
                self._ndjson.start,
                read_only=False,
                caps={"max_size_mb": "--max-bytes"},
            ),
            Tool(
                "stop_ndjson_capture",
                "Stop the NDJSON capture",
                "Stop the background NDJSON capture and return its figures, as `livetap capture "
                "ndjson stop`.",
                schemas.EMPTY,
                self._ndjson.stop,
                read_only=False,
            ),
            Tool(
                "generate_dissector",
                "Generate a Wireshark dissector",
                "Generate a Wireshark Lua dissector from a protocol spec (a JSON object, or a spec "
                "file in the capture directory), write it there and, with check_pcap, run it with "
                "tshark over that capture (fields decoded, Lua errors, expert info).",
                schemas.DISSECTOR,
                dissectors,
                read_only=False,
            ),
        ]

    @property
    def tools(self) -> list[Tool]:
        """Every tool, in a fixed order."""
        return self.registry.tools

    def call(self, name: str, arguments: dict[str, Any] | None) -> Outcome:
        """Run a tool; a success is kept as the tool's last report."""
        outcome = self.registry.call(name, arguments)
        if outcome.ok:
            self.state.set_report(name, outcome.data)
        return outcome

    def resources(self) -> list[ResourceInfo]:
        """The resources to list now."""
        return list_resources(self.state, self.config)

    def read(self, uri: str) -> list[ResourceContent]:
        """A resource's content (NotFoundError for an unknown URI)."""
        return read_resource(uri, self.state, self.config)

    def close(self) -> None:
        """End what the server started: captures (their files completed), NDJSON, the browser."""
        self.state.shutdown.set()
        self._capture.wait_idle(CLOSE_TIMEOUT)
        self._ndjson.close()
        self._browser.close()
