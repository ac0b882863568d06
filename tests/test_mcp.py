"""``livetap mcp`` driven by the MCP SDK's own client, against the real server process.

Over stdio (as desktop clients run it) and once over streamable HTTP. Real
loopback traffic, a real generated pcap compared with ``livetap analyze
--json``, real tshark, a real Chromium on a local site. Traffic goes to
127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent

from tests.conftest import free_tcp_port, free_udp_port, send_udp, wait_for
from tests.dissector_support import READINGS, sensor_message, udp_frame, write_frames
from tests.local_site import local_site
from tests.own_processes import own_processes
from tests.process_programs import UDP_BURST, program
from tests.sample_traffic import SERVER, write_sample_pcap

ROOT = Path(__file__).parent.parent
SENSOR_SPEC = ROOT / "examples" / "sensor.json"
TOOLS = {
    "list_interfaces",
    "capture_packets",
    "build_bpf",
    "analyze_pcap",
    "follow_stream",
    "check_threats",
    "find_credentials",
    "browser_requests",
    "start_ndjson_capture",
    "stop_ndjson_capture",
    "generate_dissector",
}
CAPS = ["--max-duration", "5", "--max-count", "1000"]
HTTP_TOKEN = "test-token-0123456789abcdef"


def _environment(runtime: Path) -> dict[str, str]:
    """The server's environment: ours, with a runtime directory of its own (NDJSON state)."""
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PYTHONPATH": str(ROOT)}


@asynccontextmanager
async def mcp_server(directory: Path, *extra: str) -> AsyncIterator[ClientSession]:
    """A ``livetap mcp`` process on stdio, and an initialized client session to it."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "tui.cli", "mcp", "--capture-directory", str(directory), *CAPS, *extra],
        env=_environment(directory.parent / "runtime"),
        cwd=str(ROOT),
    )
    with (directory.parent / "server-stderr.txt").open("a") as errors:
        async with (
            stdio_client(params, errlog=errors) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def _data(result: CallToolResult) -> dict[str, Any]:
    """A tool's structured result, which is also its text content as JSON."""
    assert result.structured_content is not None
    text = result.content[0]
    assert isinstance(text, TextContent)
    assert json.loads(text.text) == result.structured_content
    data: dict[str, Any] = result.structured_content
    return data


def _ok(result: CallToolResult) -> dict[str, Any]:
    data = _data(result)
    assert not result.is_error, data
    return data


def _error(result: CallToolResult, code: str) -> str:
    """The message of a tool error with this livetap error code."""
    data = _data(result)
    assert result.is_error, data
    assert data["success"] is False and data["error"]["code"] == code, data
    message: str = data["error"]["message"]
    return message


@pytest.fixture
def capture_dir(tmp_dir: Path) -> Path:
    directory = tmp_dir / "captures"
    directory.mkdir(mode=0o755)
    return directory


async def test_tools_have_schemas_and_the_config_is_a_resource(capture_dir: Path) -> None:
    async with mcp_server(capture_dir) as client:
        listed = await client.list_tools()
        assert {tool.name for tool in listed.tools} == TOOLS
        for tool in listed.tools:
            assert tool.input_schema["type"] == "object", tool.name
            assert tool.input_schema["additionalProperties"] is False, tool.name
            assert tool.description
        capture = next(tool for tool in listed.tools if tool.name == "capture_packets")
        properties = capture.input_schema["properties"]
        assert properties["duration_seconds"]["maximum"] == 5
        assert properties["count"]["maximum"] == 1000
        resources = await client.list_resources()
        assert [r.uri for r in resources.resources] == ["livetap://server/config"]
        config = await client.read_resource("livetap://server/config")
        first = config.contents[0]
        assert hasattr(first, "text")
        described = json.loads(first.text)
        assert described["capture_directory"] == str(capture_dir.resolve())
        assert described["show_secrets"] is False and described["max_count"] == 1000
        interfaces = _ok(await client.call_tool("list_interfaces", {}))
        assert "lo" in {item["name"] for item in interfaces["interfaces"]}


@pytest.mark.root
async def test_capture_packets_sees_loopback_udp_under_a_filter(capture_dir: Path) -> None:
    port = free_udp_port()
    other = free_udp_port()
    async with mcp_server(capture_dir) as client:
        call = asyncio.ensure_future(
            client.call_tool(
                "capture_packets",
                {
                    "interface": "lo",
                    "bpf": f"udp dst port {port}",
                    "duration_seconds": 2,
                    "file_name": "udp.pcap",
                },
            )
        )
        await asyncio.sleep(0.5)
        for round_ in range(8):  # spread over the capture, whenever it started
            send_udp(port, [f"mcp {round_}".encode()])
            send_udp(other, [b"filtered out"])
            await asyncio.sleep(0.1)
        data = _ok(await asyncio.wait_for(call, 20))
        assert data["stop_reason"] == "duration" and data["filter"] == f"udp dst port {port}"
        assert data["packets"] >= 1 and data["packets"] == len(data["summaries"])
        for packet in data["summaries"]:
            assert (packet["src"], packet["dst"]) == ("127.0.0.1", "127.0.0.1")
            assert packet["dport"] == port and packet["protocol"] == "UDP"
            assert packet["length"] > 0 and packet["time"].endswith("Z")
        assert data["pcap"] == str(capture_dir.resolve() / "udp.pcap")
        assert Path(data["pcap"]).stat().st_mode & 0o777 == 0o600
        pcap = await client.read_resource(data["resource"])
        blob = pcap.contents[0]
        assert hasattr(blob, "blob")
        assert base64.b64decode(blob.blob)[:4] == b"\xd4\xc3\xb2\xa1"
        report = await client.read_resource("livetap://reports/capture_packets")
        first = report.contents[0]
        assert hasattr(first, "text")
        assert json.loads(first.text)["packets"] == data["packets"]


@pytest.mark.root
async def test_capture_packets_reads_several_interfaces_side_by_side(capture_dir: Path) -> None:
    """lo and any both see a loopback datagram: each summary names the interface it came by."""
    port = free_udp_port()
    async with mcp_server(capture_dir) as client:
        call = asyncio.ensure_future(
            client.call_tool(
                "capture_packets",
                {
                    "interfaces": ["lo", "any"],
                    "bpf": f"udp dst port {port}",
                    "duration_seconds": 2,
                    "save_pcap": True,
                },
            )
        )
        await asyncio.sleep(0.5)
        for round_ in range(6):
            send_udp(port, [f"both {round_}".encode()])
            await asyncio.sleep(0.1)
        data = _ok(await asyncio.wait_for(call, 20))
        assert data["interfaces"] == ["lo", "any"]
        by_interface = Counter(packet["interface"] for packet in data["summaries"])
        assert set(by_interface) == {"lo", "any"} and data["packets"] == len(data["summaries"])
        for packet in data["summaries"]:
            assert packet["dport"] == port and packet["protocol"] == "UDP"
        assert data["pcap"].endswith(".pcapng")  # lo is Ethernet, any Linux cooked: pcapng
        fields = subprocess.run(
            ["tshark", "-r", data["pcap"], "-T", "fields", "-e", "frame.interface_name"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert fields == [packet["interface"] for packet in data["summaries"]]
        _error(
            await client.call_tool("capture_packets", {"interface": "lo", "interfaces": ["lo"]}),
            "USAGE_ERROR",
        )


async def test_analysis_tools_match_the_cli(capture_dir: Path) -> None:
    pcap = write_sample_pcap(capture_dir / "sample.pcap")
    blocklist = capture_dir / "block.txt"
    blocklist.write_text(f"{SERVER}\nexample.com\n")
    cli = subprocess.run(
        [sys.executable, "-m", "tui.cli", "analyze", str(pcap), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    follow = subprocess.run(
        [sys.executable, "-m", "tui.cli", "follow", str(pcap), "--stream", "0", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    async with mcp_server(capture_dir) as client:
        analysed = _ok(await client.call_tool("analyze_pcap", {"path": "sample.pcap"}))
        assert analysed == json.loads(cli.stdout)["data"]
        assert "truncation" not in analysed
        short = _ok(
            await client.call_tool(
                "analyze_pcap", {"path": str(pcap), "reports": ["conversations"], "max_rows": 1}
            )
        )
        conversations = short["reports"]["conversations"]
        assert list(short["reports"]) == ["conversations"] and len(conversations["ipv4"]) == 1
        assert conversations["ipv4_total"] == 3
        marker = short["truncation"]
        assert marker["truncated"] is True and marker["omitted"] == 2 + 1 + 1
        assert {"path": "reports.conversations.ipv4", "kept": 1, "omitted": 2} in marker["lists"]
        followed = _ok(
            await client.call_tool("follow_stream", {"path": "sample.pcap", "stream": 0})
        )
        expected = json.loads(follow.stdout)["data"]
        for key in ("node0", "node1", "filter", "packets", "bytes_from_node0", "bytes_from_node1"):
            assert followed[key] == expected[key], key
        assert followed["chunks"][0]["data"].startswith("GET /index.html HTTP/1.1")
        threats = _ok(
            await client.call_tool(
                "check_threats", {"path": "sample.pcap", "blocklists": ["block.txt"]}
            )
        )
        assert threats["threats"]["blocklist"]["entries"] == 2
        assert threats["threats"]["matches"]
        credentials = _ok(await client.call_tool("find_credentials", {"path": "sample.pcap"}))
        assert credentials["credentials"]["secrets_shown"] is False
        built = _ok(
            await client.call_tool(
                "build_bpf", {"description": "http to 10.0.0.5", "explain": True}
            )
        )
        assert built["expression"] == "tcp dst port 80 and dst host 10.0.0.5"
        assert built["program"] and built["explanation"]


async def test_generate_and_check_a_dissector(capture_dir: Path) -> None:
    write_frames(
        capture_dir / "sensor.pcap", [udp_frame(sensor_message(1, READINGS, seq=41), 47000)]
    )
    spec = json.loads(SENSOR_SPEC.read_text())
    async with mcp_server(capture_dir) as client:
        data = _ok(
            await client.call_tool(
                "generate_dissector", {"spec": spec, "check_pcap": "sensor.pcap"}
            )
        )
        assert data["lua_path"] == str(capture_dir.resolve() / "sensor.lua")
        assert data["lua"] == (capture_dir / "sensor.lua").read_text()
        assert data["protocol"] == "sensor" and data["ports"] == ["47000", "47100-47109"]
        check = data["check"]
        assert check["ok"] is True and check["skipped"] is None
        assert check["packets"] == 1 and check["decoded"] == 1
        assert {"field": "sensor.seq", "label": "Sequence number", "packets": 1} in check["fields"]
        resources = {r.uri for r in (await client.list_resources()).resources}
        assert data["resource"] in resources


async def test_hostile_arguments_are_tool_errors_and_the_server_goes_on(
    capture_dir: Path,
) -> None:
    write_sample_pcap(capture_dir / "sample.pcap")
    (capture_dir / "escape.pcap").symlink_to("/etc/passwd")
    async with mcp_server(capture_dir) as client:
        message = _error(
            await client.call_tool("capture_packets", {"duration_seconds": 1e9}), "USAGE_ERROR"
        )
        assert "= 1e+09 is over this server's cap of 5 " in message and "--max-duration" in message
        _error(await client.call_tool("capture_packets", {"count": -1}), "USAGE_ERROR")
        _error(await client.call_tool("capture_packets", {"count": 10**9}), "USAGE_ERROR")
        _error(
            await client.call_tool("capture_packets", {"interface": "lo", "bpf": "udp port ((("}),
            "BAD_INPUT",
        )
        _error(await client.call_tool("capture_packets", {"interface": "no-such-if0"}), "NOT_FOUND")
        _error(
            await client.call_tool(
                "capture_packets",
                {"interface": "lo", "duration_seconds": 0.2, "file_name": "../x.pcap"},
            ),
            "PERMISSION_DENIED",
        )
        _error(
            await client.call_tool(
                "capture_packets", {"duration_seconds": 0.2, "file_name": "/tmp/x.pcap"}
            ),
            "PERMISSION_DENIED",
        )
        assert "outside the capture directory" in _error(
            await client.call_tool("analyze_pcap", {"path": "/etc/passwd"}), "PERMISSION_DENIED"
        )
        assert "'..'" in _error(
            await client.call_tool("analyze_pcap", {"path": "../etc/passwd"}), "PERMISSION_DENIED"
        )
        assert "symbolic link" in _error(
            await client.call_tool("find_credentials", {"path": "escape.pcap"}),
            "PERMISSION_DENIED",
        )
        _error(
            await client.call_tool(
                "check_threats", {"path": "sample.pcap", "blocklists": ["/etc/hosts"]}
            ),
            "PERMISSION_DENIED",
        )
        _error(
            await client.call_tool("analyze_pcap", {"path": "sample.pcap", "show_secrets": True}),
            "USAGE_ERROR",
        )
        _error(await client.call_tool("build_bpf", {"description": "http to foo"}), "BAD_INPUT")
        injected = json.loads(SENSOR_SPEC.read_text())
        injected["protocol"] = "sensor]] os.execute('touch /tmp/pwned') --[["
        _error(await client.call_tool("generate_dissector", {"spec": injected}), "BAD_INPUT")
        _error(
            await client.call_tool(
                "generate_dissector",
                {"spec": json.loads(SENSOR_SPEC.read_text()), "output": ".bashrc.lua"},
            ),
            "PERMISSION_DENIED",
        )
        _error(
            await client.call_tool("browser_requests", {"url": "file:///etc/shadow"}),
            "USAGE_ERROR",
        )
        _error(await client.call_tool("stop_ndjson_capture", {}), "NOT_FOUND")
        _error(await client.call_tool("no_such_tool", {}), "NOT_FOUND")
        with pytest.raises(MCPError, match="not a file this server wrote"):
            await client.read_resource("livetap://captures/..%2F..%2Fetc%2Fpasswd")
        assert not list(capture_dir.parent.glob("x.pcap")) and not Path("/tmp/pwned").exists()
        # still serving
        data = _ok(
            await client.call_tool("analyze_pcap", {"path": "sample.pcap", "reports": ["summary"]})
        )
        assert data["reports"]["summary"]["packets"] == 15


async def test_browser_requests_from_a_launched_browser(capture_dir: Path) -> None:
    with local_site() as site:
        async with mcp_server(capture_dir) as client:
            data = _ok(
                await client.call_tool(
                    "browser_requests",
                    {
                        "url": f"{site.url}/",
                        "wait_seconds": 15,
                        "last": 50,
                        "include_bodies": True,
                    },
                )
            )
            assert data["browser"]["launched"] is True and data["opened"] == f"{site.url}/"
            by_path = {
                item["url"].removeprefix(site.url).split("?")[0]: item for item in data["requests"]
            }
            page = by_path["/"]
            assert page["status"] == 200 and page["mime_type"] == "text/html"
            api = next(item for item in data["requests"] if "/api/data.json?item=7" in item["url"])
            assert api["status"] == 200 and json.loads(api["body"])["items"] == [1, 2, 3]
            assert api["state"] == "done" and api["body_encoding"] == "text"
            assert api["timing"] is not None and api["duration_ms"] is not None
            assert api["request_headers"]["Authorization"] == "[redacted]"
            assert by_path["/missing.txt"]["status"] == 404
            only_api = _ok(
                await client.call_tool("browser_requests", {"url_contains": "/api/", "last": 1})
            )
            assert len(only_api["requests"]) == 1 and "/api/" in only_api["requests"][0]["url"]
            assert only_api["truncation"]["omitted"] == only_api["matching"] - 1
    assert wait_for(lambda: not _chromium_running(), timeout=10)


def _chromium_running() -> bool:
    """Whether a Chromium of this run is running (other runs on the machine aside)."""
    return bool(own_processes())


async def test_ndjson_capture_start_stop_and_the_servers_time_cap(capture_dir: Path) -> None:
    with local_site() as site:
        async with mcp_server(capture_dir, "--max-ndjson-duration", "3") as client:
            started = _ok(
                await client.call_tool(
                    "start_ndjson_capture", {"file": "browser.ndjson", "url": f"{site.url}/"}
                )
            )
            assert started["file"] == str(capture_dir.resolve() / "browser.ndjson")
            assert set(started) == {"file", "started", "filter", "maxSizeMB"}
            _error(
                await client.call_tool("start_ndjson_capture", {"file": "again.ndjson"}),
                "CONFLICT",
            )
            await asyncio.sleep(1.5)
            stopped = _ok(await client.call_tool("stop_ndjson_capture", {}))
            assert stopped["file"] == started["file"] and stopped["eventsWritten"] >= 1
            assert "note" not in stopped
            lines = (capture_dir / "browser.ndjson").read_text().splitlines()
            assert any(json.loads(line)["type"] == "request" for line in lines)

            _ok(await client.call_tool("start_ndjson_capture", {"file": "capped.ndjson"}))
            await asyncio.sleep(5)
            capped = _ok(await client.call_tool("stop_ndjson_capture", {}))
            assert (
                "stopped by the server" in capped["note"]
                and "--max-ndjson-duration" in capped["note"]
            )
            uris = {r.uri for r in (await client.list_resources()).resources}
            assert "livetap://captures/browser.ndjson" in uris
    assert wait_for(lambda: not _chromium_running(), timeout=10)


async def test_streamable_http_transport(capture_dir: Path) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "tui.cli", "mcp", "--http", "0.0.0.0:1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        check=False,
    )
    assert refused.returncode == 4 and "--allow-remote" in refused.stderr
    port = free_tcp_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tui.cli",
            "mcp",
            "--http",
            f"127.0.0.1:{port}",
            "--capture-directory",
            str(capture_dir),
        ],
        cwd=ROOT,
        env={**_environment(capture_dir.parent / "runtime"), "LIVETAP_TOKEN": HTTP_TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: _listening(port), timeout=20), "the HTTP server did not start"
        bearer = httpx2.AsyncClient(headers={"Authorization": f"Bearer {HTTP_TOKEN}"})
        async with (
            bearer,
            streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=bearer) as (
                read,
                write,
            ),
            ClientSession(read, write) as client,
        ):
            await client.initialize()
            listed = await client.list_tools()
            assert {tool.name for tool in listed.tools} == TOOLS
            built = _ok(await client.call_tool("build_bpf", {"description": "dns"}))
            assert built["expression"] == "port 53"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_bad_server_configuration_is_one_sentence(tmp_dir: Path) -> None:
    here = ["--capture-directory", str(tmp_dir)]
    cases = [
        ([*here, "--max-duration", "-1"], 2, "--max-duration"),
        ([*here, "--max-bytes", "lots"], 2, "--max-bytes"),
        (["--capture-directory", str(tmp_dir / "missing")], 6, "does not exist"),
        (["--capture-directory", "/"], 2, "directory of its own"),
        ([*here, "--browser", "10.1.2.3:9222"], 4, "--allow-remote-browser"),
    ]
    for extra, code, words in cases:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "tui.cli", "mcp", *extra],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == code, (extra, result.stderr)
        assert words in result.stderr and "Traceback" not in result.stderr
        assert time.monotonic() - started < 30


def test_sigterm_stops_the_browser_and_exits_130(capture_dir: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "mcp", "--capture-directory", str(capture_dir)],
        cwd=ROOT,
        env=_environment(capture_dir.parent / "runtime"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None

    def send(message: dict[str, Any]) -> None:
        assert server.stdin is not None
        server.stdin.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
        server.stdin.flush()

    try:
        init = {"protocolVersion": "2025-11-25", "capabilities": {}}
        init["clientInfo"] = {"name": "test", "version": "1"}
        send({"id": 1, "method": "initialize", "params": init})
        assert json.loads(server.stdout.readline())["id"] == 1
        send({"method": "notifications/initialized"})
        send({"id": 2, "method": "tools/call", "params": {"name": "browser_requests"}})
        reply = json.loads(server.stdout.readline())
        assert reply["result"]["structuredContent"]["browser"]["launched"] is True
        assert _chromium_running()
        server.send_signal(signal.SIGTERM)  # stdin stays open: the signal alone ends it
        assert server.wait(20) == 130
        assert wait_for(lambda: not _chromium_running(), timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


@pytest.mark.root
async def test_capture_packets_names_each_packets_program(capture_dir: Path) -> None:
    """Five datagrams from a program of known pid: each summary names it (learnt while it
    ran, not when the file was read back)."""
    port = free_udp_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", port))
        async with mcp_server(capture_dir) as client:
            call = asyncio.ensure_future(
                client.call_tool(
                    "capture_packets",
                    {"interface": "lo", "bpf": f"udp dst port {port}", "duration_seconds": 3},
                )
            )
            with program(UDP_BURST, "127.0.0.1", str(port), "5", "1.0") as sender:
                data = _ok(await asyncio.wait_for(call, 20))
    assert data["packets"] == 5 == len(data["summaries"])
    expected = {"name": "python3", "pid": sender.pid, "user": "root"}
    assert [packet["process"] for packet in data["summaries"]] == [expected] * 5
