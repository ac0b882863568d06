"""Another local user knocking: requests made as ``nobody``, with the system's Python.

livetap's served doors (``serve``, ``mcp --http``, ``--unix`` sockets) must
refuse a second, unprivileged user of the machine unless it has the token. The
probe runs under ``setpriv`` as nobody/nogroup with no supplementary groups,
using only the standard library, and prints one JSON object.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or "/usr/bin/python3"

PROBE = r"""
import http.client, json, socket, sys
spec = json.loads(sys.argv[1])
try:
    if spec["kind"] == "http":
        if "unix" in spec:
            class Conn(http.client.HTTPConnection):
                def connect(self):
                    self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    self.sock.settimeout(10)
                    self.sock.connect(spec["unix"])
            conn = Conn("localhost", timeout=10)
        else:
            conn = http.client.HTTPConnection(spec["host"], spec["port"], timeout=10)
        conn.request(spec.get("method", "GET"), spec["path"], body=spec.get("body"),
                     headers=spec.get("headers", {}))
        response = conn.getresponse()
        body = b"" if response.status == 101 else response.read(4000)
        print(json.dumps({"status": response.status,
                          "headers": {k.lower(): v for k, v in response.getheaders()},
                          "body": body.decode("utf-8", "replace")}))
    else:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(5)
        probe.connect(spec["unix"])
        print(json.dumps({"connected": True}))
except OSError as error:
    print(json.dumps({"error": type(error).__name__, "errno": error.errno}))
"""

INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "doors", "version": "1"},
        },
    }
)
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
WEBSOCKET_HEADERS = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def knock(spec: dict[str, Any], as_nobody: bool = True) -> dict[str, Any]:
    """Run the probe (as nobody unless told otherwise) and return what it printed."""
    command = [SYSTEM_PYTHON, "-I", "-c", PROBE, json.dumps(spec)]
    if as_nobody:
        command = [*NOBODY, *command]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=30, check=False, cwd="/"
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer
