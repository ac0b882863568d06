"""The launched Chromium's TLS key log: private, removed on exit, and it decrypts its HTTP/2.

Real headless Chromium (sandboxed, as nobody when the tests run as root) loads a
page from a local HTTPS server speaking HTTP/2 (tests/tls_site.py); the packets
are captured on lo and decrypted by tshark with the key log the browser wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from engine.errors import BadInputError, UnavailableError
from engine.ndjson.control import runtime_dir
from engine.session import CaptureSession
from engine.tls_keylog import KeyLog, secret_lines
from tests.conftest import wait_for
from tests.tls_site import PATHS, TlsSite, tls_site


@pytest.fixture
def site() -> Iterator[TlsSite]:
    with tls_site() as running:
        yield running


def page_done(browser: BrowserSession) -> bool:
    try:
        return bool(browser.evaluate("document.body && document.body.dataset.done === 'yes'"))
    except UnavailableError:
        return False


def decrypted_frames(capture: Path, keys: Path | None) -> list[tuple[str, str, str]]:
    """(stream id, frame type, :path) of every HTTP/2 frame tshark decrypts in the capture."""
    command = ["tshark", "-r", str(capture), "-Y", "http2", "-T", "fields", "-E", "occurrence=a"]
    command += ["-e", "http2.streamid", "-e", "http2.type", "-e", "http2.headers.path"]
    if keys is not None:
        command[1:1] = ["-o", f"tls.keylog_file:{keys}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    frames = []
    for line in result.stdout.splitlines():
        ids, types, paths = [*line.split("\t"), "", "", ""][:3]
        for stream, kind in zip(ids.split(","), types.split(","), strict=False):
            frames.append((stream, kind, paths))
    return frames


def settled(session: CaptureSession, quiet: float = 0.5, timeout: float = 10.0) -> bool:
    """Wait until the capture has taken no packet for ``quiet`` seconds (the page's last
    response is in the ring, not only in the browser)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = session.ring.last_index
        if now != last:
            last, since = now, time.monotonic()
        elif now >= 20 and time.monotonic() - since >= quiet:
            return True
        time.sleep(0.05)
    return False


def load_site(
    site: TlsSite, key_log: KeyLog, live_session: Callable[..., CaptureSession]
) -> tuple[CaptureSession, BrowserSession]:
    """Capture the site's port on lo while a launched browser (writing keys) loads it."""
    port = int(site.url.rsplit(":", 1)[1])
    session = live_session(f"tcp port {port}")
    target = BrowserTarget(launch=True, extra_flags=site.chromium_flags)
    browser = BrowserSession(target, open_url=site.url + "/", key_log=key_log)
    browser.start()
    return session, browser


def test_the_launched_browser_key_log_is_private_decrypts_http2_and_goes_on_exit(
    site: TlsSite,
    live_session: Callable[..., CaptureSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key_log = KeyLog()
    session, browser = load_site(site, key_log, live_session)
    try:
        assert wait_for(lambda: page_done(browser), timeout=20), site.served
        keys = key_log.browser_file
        assert keys is not None
        assert keys.parent == runtime_dir()
        info = keys.stat()
        assert stat.S_IMODE(info.st_mode) == 0o600
        assert stat.S_IMODE(keys.parent.stat().st_mode) == 0o700
        assert wait_for(lambda: b"CLIENT_TRAFFIC_SECRET_0" in key_log.secrets(), timeout=5)
        assert settled(session)
        capture = tmp_path / "tls.pcapng"
        last = session.ring.last_index
        session.save_pcap(capture, last=last)
        with key_log.tshark_file() as merged:
            frames = decrypted_frames(capture, merged)
            assert merged is not None
            headless = headless_outputs(capture, merged, tmp_path, capsys)
        assert decrypted_frames(capture, None) == []  # nothing without the keys
        embedded = tmp_path / "embedded.pcapng"
        session.save_pcap(embedded, last=last, secrets=key_log.secrets())
        assert decrypted_frames(embedded, None) == frames  # the file carries its keys
    finally:
        browser.stop()
        key_log.close()
    assert not keys.exists()
    requested = {path for _, kind, path in frames if kind == "1" and path}
    assert set(PATHS) <= requested, frames
    assert requested <= set(site.served)  # nothing decrypted that the page did not ask for
    kinds = {kind for _, kind, _ in frames}
    assert {"0", "1", "4"} <= kinds  # DATA, HEADERS, SETTINGS
    streams = {stream for stream, kind, path in frames if kind == "1" and path in PATHS}
    assert len(streams) == len(PATHS)  # one stream each, on the one connection
    rewritten, analyzed, embedded_report, plain_report = headless
    assert decrypted_frames(rewritten, None) == frames  # capture pcap --embed-secrets
    assert "decrypted" not in plain_report["http"]
    from engine.analysis import analyze_file

    as_mcp = analyze_file(rewritten, ["http"], decrypt_embedded=False).document()
    assert "decrypted" not in as_mcp["reports"]["http"]  # the MCP server without --show-secrets
    for report in (analyzed, embedded_report):
        decrypted = report["http"]["decrypted"]
        listed = {(item["method"], item["path"], item["status"]) for item in decrypted["items"]}
        assert {("GET", path, "200") for path in PATHS} <= listed
        assert decrypted["requests"] == len(requested)


def headless_outputs(
    capture: Path, keys: Path, folder: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """capture pcap --embed-secrets of the capture, and analyze's http reports: with
    --keylog, of the rewritten file (its own secrets), and of the capture alone."""
    from tui.cli import main

    rewritten = folder / "rewritten.pcapng"
    command = ["capture", "pcap", "-r", str(capture), "-w", str(rewritten)]
    assert main([*command, "--keylog", str(keys), "--embed-secrets", "--json"]) == 0
    capsys.readouterr()
    reports = []
    for arguments in (
        [str(capture), "--keylog", str(keys)],
        [str(rewritten)],
        [str(capture)],
    ):
        assert main(["analyze", *arguments, "--report", "http", "--json"]) == 0
        reports.append(json.loads(capsys.readouterr().out)["data"]["reports"])
    return rewritten, reports[0], reports[1], reports[2]


def test_keylog_file_keeps_the_browser_secrets_after_exit(
    site: TlsSite, live_session: Callable[..., CaptureSession], tmp_path: Path
) -> None:
    kept = tmp_path / "kept.keys"
    key_log = KeyLog.from_flag(str(kept), launching=True)
    assert key_log is not None
    _, browser = load_site(site, key_log, live_session)
    try:
        assert wait_for(lambda: page_done(browser), timeout=20), site.served
        private = key_log.browser_file
    finally:
        browser.stop()
        key_log.close()
    assert private is not None and not private.exists()
    assert b"CLIENT_TRAFFIC_SECRET_0" in kept.read_bytes()
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_an_existing_key_log_is_read_and_a_missing_one_is_refused(tmp_path: Path) -> None:
    line = "CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48
    given = tmp_path / "curl.keys"
    given.write_text(f"# a comment\n{line}\nnot a key line\n")
    key_log = KeyLog.from_flag(str(given), launching=False)
    assert key_log is not None
    assert key_log.secrets() == (line + "\n").encode()
    with key_log.tshark_file() as merged:
        assert merged is not None
        assert merged.read_text() == line + "\n"
        assert stat.S_IMODE(merged.stat().st_mode) == 0o600
    assert not merged.exists()
    key_log.close()
    assert given.exists()  # the user's own file is never removed
    with pytest.raises(BadInputError, match="no such file"):
        KeyLog.from_flag(str(tmp_path / "none.keys"), launching=False)
    with pytest.raises(BadInputError, match="directory"):
        KeyLog.from_flag(str(tmp_path), launching=False)
    assert KeyLog.from_flag(None, launching=False) is None
    assert secret_lines(b"garbage\n\x00\xff") == b""
    assert os.access(given, os.R_OK)


def test_the_flags_refuse_a_missing_key_log_and_secrets_without_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.errors import ExitCode
    from engine.pcapio import write_pcap_file
    from tui.cli import main

    capture = tmp_path / "empty.pcap"
    write_pcap_file(capture, [])
    missing = str(tmp_path / "none.keys")
    assert main(["-r", str(capture), "--keylog", missing]) == ExitCode.BAD_INPUT
    assert "no such file" in capsys.readouterr().err
    assert main(["-r", str(capture), "--embed-secrets"]) == ExitCode.USAGE_ERROR
    assert "--embed-secrets needs TLS keys" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["q", "hangup"])
def test_the_command_line_removes_the_key_log_on_exit_or_keeps_it_in_keylog_file(
    site: TlsSite, tmp_dir: Path, how: str
) -> None:
    """livetap --open on the HTTPS site (a Chromium wrapper trusts its certificate): the key
    log is in $XDG_RUNTIME_DIR/livetap while it runs and gone after q or a hang-up."""
    from tests.own_processes import own_temp
    from tests.test_cli import LIVETAP, tmux

    runtime = tmp_dir / "runtime"
    runtime.mkdir(mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix="livetap-test-chromium-"))  # the browser's user
    folder.chmod(0o755)  # (nobody when root) runs the wrapper from here
    wrapper = folder / "chromium"
    real = shutil.which("chromium")
    assert real is not None
    wrapper.write_text(f'#!/bin/sh\nexec {real} {" ".join(site.chromium_flags)} "$@"\n')
    wrapper.chmod(0o755)
    kept = tmp_dir / "kept.keys"
    pid_file = tmp_dir / "pid"
    session = f"livetap-keylog-{os.getpid()}-{how}"
    keep = f" --keylog {kept}" if how == "q" else ""
    inner = (
        f"echo $$ > {pid_file}; exec {LIVETAP} --no-packets --open {site.url}/ "
        f"--chromium {wrapper}{keep}"
    )
    environment = f"env -u COLUMNS -u LINES TMPDIR={own_temp()} XDG_RUNTIME_DIR={runtime}"
    tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "120",
        "-y",
        "30",
        f"{environment} sh -c '{inner}'; sleep 30",
    )
    try:

        def logs() -> list[Path]:
            return sorted((runtime / "livetap").glob("keylog-*.txt"))

        def written() -> bool:
            found = logs()
            return bool(found) and b"CLIENT_TRAFFIC_SECRET_0" in found[0].read_bytes()

        assert wait_for(written, timeout=20), tmux("capture-pane", "-p", "-t", session)
        assert stat.S_IMODE(logs()[0].stat().st_mode) == 0o600
        assert wait_for(lambda: "/api/two.json" in tmux("capture-pane", "-p", "-t", session), 10)
        if how == "q":
            tmux("send-keys", "-t", session, "q")
        else:
            os.kill(int(pid_file.read_text()), signal.SIGHUP)
        assert wait_for(lambda: not logs(), timeout=15), logs()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)
    if how == "q":
        assert b"CLIENT_TRAFFIC_SECRET_0" in kept.read_bytes()
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    else:
        assert not kept.exists()
