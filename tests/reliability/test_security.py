"""What livetap writes is private, nothing is written through a planted link, no shell, no eval.

livetap runs as root and captures secrets. Every file it writes (a saved buffer,
a headless capture, an NDJSON capture, a HAR, a Lua dissector, a spec draft) is
0600, an existing one is made 0600, and a symbolic link at the output path is
refused (on this machine ``fs.protected_symlinks`` may be 0, so /tmp links are a
real attack). The source is scanned for shells, eval/exec and pickle. A launched
Chromium has no debugging port at all (DevTools over pipes); attaching elsewhere
than loopback needs a flag.
"""

from __future__ import annotations

import ast
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import psutil
import pytest

from engine.browser.launch import LaunchedBrowser
from engine.browser.target import parse_browser_spec, websocket_url
from engine.errors import ExitCode, LivetapError, PermissionDeniedError
from engine.har import ndjson_to_har, write_har
from engine.ndjson.writer import RotatingWriter
from engine.pcapio import PcapRecord, write_pcap_file
from engine.textfile import write_text_whole
from tests.conftest import free_udp_port, wait_for
from tests.reliability.support import Sender, livetap, private, udp_frame

ROOT = Path(__file__).resolve().parents[2]
RECORD = PcapRecord(1.0, 60, 1, udp_frame(b"secret"))
SENSOR_SPEC = ROOT / "examples" / "sensor.json"


def write_pcap(path: Path) -> None:
    write_pcap_file(path, [RECORD])


def write_ndjson(path: Path) -> None:
    writer = RotatingWriter(path)
    writer.write({"type": "packet", "index": 1})
    writer.close()


def write_a_har(path: Path) -> None:
    source = path.with_name("source.ndjson")
    source.write_text('{"type":"request","id":"req_1","url":"http://127.0.0.1/"}\n')
    write_har(ndjson_to_har([source]), path)


def capture_with_cli(path: Path) -> None:
    """``livetap capture pcap -w path``; raises LivetapError with the exit code it gave."""
    port = free_udp_port()
    with Sender(port):
        result = livetap(
            "capture", "pcap", "-i", "lo", "-f", f"udp port {port}", "-c", "3", "-w", str(path)
        )
    if result.returncode:
        error = LivetapError(result.stderr)
        error.exit_code = ExitCode(result.returncode)
        raise error


def _cli_writes(*args: str) -> None:
    """A livetap command that writes a file; raises LivetapError with the exit code it gave."""
    result = livetap(*args)
    if result.returncode:
        error = LivetapError(result.stderr)
        error.exit_code = ExitCode(result.returncode)
        raise error


def generate_lua(path: Path) -> None:
    """``livetap dissector generate``: a Lua dissector."""
    _cli_writes("dissector", "generate", "--spec", str(SENSOR_SPEC), "--output", str(path))


def draft_spec(path: Path) -> None:
    """``livetap dissector draft``: a JSON spec drafted from a packet."""
    pcap = path.with_name(f"{path.name}.source.pcap")
    write_pcap_file(pcap, [RECORD])
    _cli_writes("dissector", "draft", "--pcap", str(pcap), "--frame", "1", "--output", str(path))


def mcp_lua(path: Path) -> None:
    """The MCP server's generate_dissector writer, into its capture directory."""
    write_text_whole(path, "-- a dissector\n")


def har_cli(path: Path) -> None:
    """``livetap har -o``."""
    source = path.with_name(f"{path.name}.source.ndjson")
    source.write_text('{"type":"request","id":"req_1","url":"http://127.0.0.1/"}\n')
    _cli_writes("har", str(source), "-o", str(path))


WRITERS: dict[str, Callable[[Path], None]] = {
    "save-pcap": write_pcap,
    "capture-pcap": capture_with_cli,
    "ndjson": write_ndjson,
    "har": write_a_har,
    "har-cli": har_cli,
    "lua": generate_lua,
    "spec-draft": draft_spec,
    "text-whole": mcp_lua,
}
WRITER_PARAMS = [  # capture-pcap captures on lo
    pytest.param(w, marks=pytest.mark.root) if w == "capture-pcap" else w for w in sorted(WRITERS)
]


@pytest.mark.parametrize("writer", WRITER_PARAMS)
def test_every_file_livetap_writes_is_private(writer: str, tmp_path: Path) -> None:
    old_umask = os.umask(0)  # even a careless umask
    try:
        fresh = tmp_path / "fresh.out"
        WRITERS[writer](fresh)
        assert private(fresh)
        existing = tmp_path / "existing.out"
        existing.write_text("old")
        existing.chmod(0o644)
        WRITERS[writer](existing)
        assert private(existing), f"{writer} left an existing file readable by others"
    finally:
        os.umask(old_umask)


@pytest.mark.parametrize("writer", WRITER_PARAMS)
def test_a_symbolic_link_at_the_output_path_is_refused(writer: str, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    victim.chmod(0o644)
    planted = tmp_path / "out.file"
    planted.symlink_to(victim)
    dangling = tmp_path / "dangling.file"
    dangling.symlink_to(tmp_path / "created-through-link")
    for link in (planted, dangling):
        with pytest.raises(LivetapError) as refused:
            WRITERS[writer](link)
        assert refused.value.exit_code == ExitCode.BAD_INPUT
        assert "symbolic link" in refused.value.message
    assert victim.read_text() == "precious" and (victim.stat().st_mode & 0o777) == 0o644
    assert not (tmp_path / "created-through-link").exists()


NOBODY = 65534


@pytest.mark.parametrize(
    "plant",
    ["link", pytest.param("foreign", marks=pytest.mark.root("chown to another user")), "open"],
)
def test_a_planted_runtime_directory_is_refused(plant: str, tmp_path: Path) -> None:
    """Without XDG_RUNTIME_DIR the state lives under /tmp, where anyone could make it first.

    platformdirs vets the runtime directory itself (ours, 0700); livetap's own
    directory inside it is vetted here: not a link, ours, not writable by others.
    """
    victim = tmp_path / "victim"
    victim.write_text("precious")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    planted = runtime / "livetap"
    if plant == "link":  # livetap's directory is a link to one the planter controls
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        (elsewhere / "ndjson-capture.log").symlink_to(victim)
        planted.symlink_to(elsewhere)
    elif plant == "foreign":  # it belongs to another user, who can swap what is inside
        planted.mkdir(mode=0o700)
        os.chown(planted, NOBODY, NOBODY)
    else:  # it can be written by anyone
        planted.mkdir()
        planted.chmod(0o777)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("SUDO_UID", None)
    result = livetap("capture", "ndjson", "start", "--file", str(tmp_path / "x.ndjson"), env=env)
    if result.returncode == 0:  # it started somewhere after all: leave nothing running
        livetap("capture", "ndjson", "stop", env=env)
    assert result.returncode == ExitCode.PERMISSION_DENIED, result.stderr
    assert "runtime directory" in result.stdout + result.stderr
    assert "XDG_RUNTIME_DIR" in result.stdout + result.stderr
    assert victim.read_text() == "precious"
    assert not (tmp_path / "x.ndjson").exists()


def test_a_private_runtime_directory_is_tightened_and_used(tmp_path: Path) -> None:
    from engine.ndjson.control import runtime_dir

    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    (runtime / "livetap").mkdir()
    (runtime / "livetap").chmod(0o750)
    old = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    try:
        assert runtime_dir() == runtime / "livetap"
    finally:
        if old is None:
            del os.environ["XDG_RUNTIME_DIR"]
        else:
            os.environ["XDG_RUNTIME_DIR"] = old
    assert ((runtime / "livetap").stat().st_mode & 0o777) == 0o700


# -- the source ------------------------------------------------------------------------------------


def python_files() -> Iterator[Path]:
    for package in ("engine", "tui", "themes"):
        yield from sorted((ROOT / package).rglob("*.py"))


FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_ATTRIBUTES = {
    ("os", "system"),
    ("os", "popen"),
    ("os", "execl"),
    ("os", "execlp"),
    ("os", "spawnl"),
    ("subprocess", "getoutput"),
    ("subprocess", "getstatusoutput"),
    ("yaml", "load"),
    ("yaml", "unsafe_load"),
    ("yaml", "full_load"),
    ("marshal", "loads"),
}
FORBIDDEN_MODULES = {"pickle", "cPickle", "dill", "shelve", "marshal", "jsonpickle"}


def findings(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "shell" and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                ):
                    yield f"line {node.lineno}: shell={ast.unparse(keyword.value)}"
            function = node.func
            if isinstance(function, ast.Name) and function.id in FORBIDDEN_CALLS:
                yield f"line {node.lineno}: {function.id}()"
            if (
                isinstance(function, ast.Attribute)
                and isinstance(function.value, ast.Name)
                and (function.value.id, function.attr) in FORBIDDEN_ATTRIBUTES
            ):
                yield f"line {node.lineno}: {function.value.id}.{function.attr}()"
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
            for name in names:
                if name.split(".")[0] in FORBIDDEN_MODULES:
                    yield f"line {node.lineno}: import {name}"


PICKLE_BETWEEN_FORKS = ("engine/analysis/shards.py", "import pickle")
"""The one pickle allowed: ``analyze`` and the child it forks, over a pipe made before the
fork. Both are the same program image; nothing from a file, a socket or another user is
ever unpickled. Any other use, or pickle anywhere else, fails the test."""


def test_no_shell_no_eval_no_pickle_in_the_source() -> None:
    problems = [
        f"{path.relative_to(ROOT)} {finding}"
        for path in python_files()
        for finding in findings(ast.parse(path.read_text(), str(path)))
        if not _between_forks(path, finding)
    ]
    assert problems == []


def _between_forks(path: Path, finding: str) -> bool:
    """Whether a finding is the allowed pickle of the forked analysis (and only that)."""
    name, what = PICKLE_BETWEEN_FORKS
    if path.relative_to(ROOT).as_posix() != name or not finding.endswith(what):
        return False
    source = path.read_text()
    # the module forks and pickles only through the pipe: no file or socket is unpickled
    return (
        "os.fork()" in source and source.count("pickle.load(") == 1 and "pickle.loads" not in source
    )


def test_the_scanner_finds_what_it_looks_for() -> None:
    sample = (
        "import pickle\nimport subprocess, os, yaml\nsubprocess.run('x', shell=True)\n"
        "eval('1')\nos.system('x')\nyaml.load(s)\nsubprocess.Popen(a, shell=flag)\n"
    )
    assert len(list(findings(ast.parse(sample)))) == 6


# -- the browser's debugging port ---------------------------------------------------------------


def listening(process: psutil.Process) -> list[tuple[str, int]]:
    found = []
    for member in [process, *process.children(recursive=True)]:
        try:
            connections = member.net_connections(kind="inet")
        except psutil.Error:
            continue
        found += [(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN]
    return found


def test_a_launched_browser_listens_on_no_port_and_has_a_private_profile() -> None:
    browser = LaunchedBrowser()
    try:
        root = psutil.Process(browser.process.pid)
        assert wait_for(lambda: len(root.children(recursive=True)) >= 3, timeout=10)
        assert listening(root) == []
        command = root.cmdline()
        assert "--remote-debugging-pipe" in command
        assert not any(part.startswith("--remote-debugging-port") for part in command)
        for directory in (browser.home, browser.profile, browser.home / "tmp"):
            assert (directory.stat().st_mode & 0o777) == 0o700
            assert directory.stat().st_uid == browser.account.uid
    finally:
        browser.stop()
    assert not browser.home.exists()


@pytest.mark.parametrize(
    "spec",
    [
        "10.1.2.3:9222",
        "0.0.0.0:9222",
        "ws://192.168.1.5:9222/devtools/browser/x",
        "http://127.0.0.1@evil.example:9222",
        "127.0.0.1.nip.io:9222",
        "[2001:db8::1]:9222",
        "localhost.evil.example:9222",
    ],
)
def test_a_non_loopback_browser_needs_the_flag(spec: str) -> None:
    with pytest.raises(PermissionDeniedError, match="--allow-remote-browser"):
        parse_browser_spec(spec)
    assert not parse_browser_spec(spec, allow_remote=True).launch


@pytest.mark.parametrize("spec", ["9222", "127.0.0.1:9222", "localhost:9222", "[::1]:9222"])
def test_loopback_browsers_need_no_flag(spec: str) -> None:
    assert not parse_browser_spec(spec).launch


def test_the_command_line_refuses_a_remote_browser_with_exit_4() -> None:
    result = livetap("--no-packets", "--browser", "10.1.2.3:9222")
    assert result.returncode == ExitCode.PERMISSION_DENIED
    assert "--allow-remote-browser" in result.stderr and "Traceback" not in result.stderr


@contextmanager
def devtools_answering(document: dict[str, str]) -> Iterator[int]:
    """An HTTP server on 127.0.0.1 answering /json/version with ``document``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(document).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_an_attached_endpoint_cannot_redirect_livetap_to_another_host() -> None:
    evil = {"webSocketDebuggerUrl": "ws://evil.example:9222/devtools/browser/abc"}
    with devtools_answering(evil) as port:
        url = websocket_url(parse_browser_spec(str(port)))
    assert url == f"ws://127.0.0.1:{port}/devtools/browser/abc"
