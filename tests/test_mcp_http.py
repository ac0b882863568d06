"""``livetap mcp --http`` and ``--unix``: no other local user gets in without the token.

Real servers on 127.0.0.1 (free ports) and on a Unix socket; the second user is
``nobody`` (tests/doors.py). The MCP SDK's own client, with the bearer token,
must still get in.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from engine.errors import ConflictError, UsageError
from engine.unix_socket import listen_private
from tests.conftest import free_tcp_port, wait_for
from tests.doors import INITIALIZE, MCP_HEADERS, knock

ROOT = Path(__file__).parent.parent
TOKEN = "mcp-door-token-0123456789abcdef"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _livetap(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "mcp", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env or {k: v for k, v in os.environ.items() if k != "LIVETAP_TOKEN"},
        timeout=30,
        check=False,
    )


def _start(directory: Path, *args: str, token: str | None = TOKEN) -> subprocess.Popen[str]:
    runtime = directory.parent / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PYTHONPATH": str(ROOT)}
    env.pop("LIVETAP_TOKEN", None)
    if token is not None:
        env["LIVETAP_TOKEN"] = token
    return subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "mcp", "--capture-directory", str(directory), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(server: subprocess.Popen[str]) -> str:
    server.terminate()
    try:
        _, errors = server.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        _, errors = server.communicate()
    return errors


@pytest.fixture
def capture_dir(tmp_dir: Path) -> Path:
    directory = tmp_dir / "captures"
    directory.mkdir(mode=0o755)
    return directory


@pytest.fixture
def http_server(capture_dir: Path) -> Iterator[int]:
    port = free_tcp_port()
    server = _start(capture_dir, "--http", f"127.0.0.1:{port}")
    try:
        assert wait_for(lambda: _listening(port), timeout=20), "the HTTP server did not start"
        yield port
    finally:
        _stop(server)


def _post(port: int, headers: dict[str, str], as_nobody: bool = True) -> dict[str, object]:
    spec = {
        "kind": "http",
        "host": "127.0.0.1",
        "port": port,
        "method": "POST",
        "path": "/mcp",
        "headers": {**MCP_HEADERS, **headers},
        "body": INITIALIZE,
    }
    return knock(spec, as_nobody)


@pytest.mark.root("setpriv to another user")
def test_another_user_without_the_token_gets_401_with_the_token_200(http_server: int) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdef"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
        {"Cookie": f"token={TOKEN}"},
    ):
        refused = _post(http_server, headers)
        assert refused["status"] == 401, (headers, refused)
        assert refused["headers"]["www-authenticate"].startswith("Bearer")  # type: ignore[index]
        assert "serverInfo" not in str(refused["body"])
    refused_get = knock({"kind": "http", "host": "127.0.0.1", "port": http_server, "path": "/mcp"})
    assert refused_get["status"] == 401
    accepted = _post(http_server, {"Authorization": f"Bearer {TOKEN}"})
    assert accepted["status"] == 200, accepted
    assert "livetap" in str(accepted["body"]) and "serverInfo" in str(accepted["body"])


async def test_the_sdk_client_with_the_bearer_token_uses_the_tools(http_server: int) -> None:
    client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
    async with (
        client,
        streamable_http_client(f"http://127.0.0.1:{http_server}/mcp", http_client=client) as (
            read,
            write,
        ),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        built = await session.call_tool("build_bpf", {"description": "dns"})
        assert built.structured_content is not None
        assert built.structured_content["expression"] == "port 53"


@pytest.mark.root("setpriv to another user")
def test_a_random_token_is_printed_and_is_the_only_key(capture_dir: Path) -> None:
    port = free_tcp_port()
    server = _start(capture_dir, "--http", f"127.0.0.1:{port}", token=None)
    try:
        assert wait_for(lambda: _listening(port), timeout=20)
        assert _post(port, {})["status"] == 401
    finally:
        errors = _stop(server)
    printed = [line for line in errors.splitlines() if "Authorization: Bearer" in line]
    assert printed, errors
    token = printed[0].rsplit(" ", 1)[1]
    assert len(token) >= 40 and token != TOKEN


@pytest.mark.root("setpriv to another user")
def test_the_unix_socket_is_0600_and_nobody_cannot_connect(capture_dir: Path) -> None:
    path = capture_dir.parent / "mcp.sock"
    server = _start(capture_dir, "--unix", str(path), token=None)
    try:
        assert wait_for(path.exists, timeout=20), "the socket did not appear"
        info = path.lstat()
        assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
        assert info.st_uid == os.geteuid()
        refused = knock({"kind": "unix", "unix": str(path)})
        assert refused == {"error": "PermissionError", "errno": 13}
        posted = knock(
            {
                "kind": "http",
                "unix": str(path),
                "method": "POST",
                "path": "/mcp",
                "headers": MCP_HEADERS,
                "body": INITIALIZE,
            },
            as_nobody=False,
        )
        assert posted["status"] == 200 and "serverInfo" in str(posted["body"])
    finally:
        errors = _stop(server)
    assert server.returncode == 130, errors
    assert not path.exists(), "the server removes its socket when it stops"


async def test_the_sdk_client_over_the_unix_socket(capture_dir: Path) -> None:
    path = capture_dir.parent / "sdk.sock"
    server = _start(capture_dir, "--unix", str(path), token=None)
    try:
        assert wait_for(path.exists, timeout=20)
        client = httpx2.AsyncClient(transport=httpx2.AsyncHTTPTransport(uds=str(path)))
        async with (
            client,
            streamable_http_client("http://localhost/mcp", http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listed = await session.list_tools()
            assert "follow_stream" in {tool.name for tool in listed.tools}
    finally:
        _stop(server)


def test_a_planted_file_or_link_at_the_socket_path_is_refused(tmp_dir: Path) -> None:
    victim = tmp_dir / "victim"
    victim.write_text("precious")
    link = tmp_dir / "link.sock"
    link.symlink_to(victim)
    plain = tmp_dir / "plain.sock"
    plain.write_text("x")
    for path, words in ((link, "symbolic link"), (plain, "not a socket")):
        result = _livetap("--capture-directory", str(tmp_dir), "--unix", str(path))
        assert result.returncode == 3 and words in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert victim.read_text() == "precious" and link.is_symlink()


def test_allow_remote_needs_a_token_you_set(tmp_dir: Path) -> None:
    remote = ["--capture-directory", str(tmp_dir), "--http", "192.0.2.1:8765", "--allow-remote"]
    refused = _livetap(*remote)
    assert refused.returncode == 2, refused.stderr
    assert "--token-file" in refused.stderr and "LIVETAP_TOKEN" in refused.stderr
    assert "Traceback" not in refused.stderr
    both = _livetap("--http", "127.0.0.1:1", "--unix", str(tmp_dir / "s"))
    assert both.returncode == 2 and "choose one" in both.stderr


def test_bad_token_files_are_one_sentence(tmp_dir: Path) -> None:
    readable = tmp_dir / "readable"
    readable.write_text("a-token-that-is-long-enough\n")
    readable.chmod(0o644)
    short = tmp_dir / "short"
    short.write_text("abc\n")
    short.chmod(0o600)
    empty = tmp_dir / "empty"
    empty.write_text("\n")
    empty.chmod(0o600)
    cases = [
        (tmp_dir / "missing", 6, "No such file"),
        (readable, 4, "chmod 600"),
        (short, 2, "at least 16"),
        (empty, 3, "is empty"),
        (tmp_dir, 3, "not a regular file"),
    ]
    for path, code, words in cases:
        result = _livetap("--http", "127.0.0.1:1", "--token-file", str(path))
        assert result.returncode == code, (path, result.stderr)
        assert words in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    weird = _livetap("--http", "127.0.0.1:1", env={**os.environ, "LIVETAP_TOKEN": "bad token " * 3})
    assert weird.returncode == 2 and "-._~" in weird.stderr


def test_a_stale_socket_is_replaced_and_a_live_one_is_a_conflict(tmp_dir: Path) -> None:
    path = tmp_dir / "stale.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: a server that died
    old_umask = os.umask(0)  # even a careless umask
    try:
        live = listen_private(path)
    finally:
        os.umask(old_umask)
    try:
        assert stat.S_IMODE(path.lstat().st_mode) == 0o600
        with pytest.raises(ConflictError, match="already listens"):
            listen_private(path)
    finally:
        live.close()
    with pytest.raises(UsageError, match="too long"):
        listen_private(tmp_dir / ("x" * 120))
