"""The ``livetap`` command as a user runs it: messages, exit codes, the real TUI in tmux."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.errors import ExitCode
from tests.conftest import free_udp_port, send_udp, wait_for
from tests.own_processes import own_processes, own_temp
from tests.sample_traffic import write_sample_pcap

LIVETAP = str(Path(sys.executable).parent / "livetap")


def livetap(
    *args: str, user: str | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, optionally as another user, without a terminal."""
    command = [LIVETAP, *args]
    if user:
        command = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *command]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_help_explains_the_command_and_the_exit_codes() -> None:
    result = livetap("--help")
    assert result.returncode == 0
    for text in (
        "--interface",
        "--filter",
        "--read",
        "--source-cmd",
        "--realtime",
        "interfaces",
        "exit codes:",
    ):
        assert text in result.stdout
    for code in ExitCode:
        assert code.name in result.stdout


def test_interfaces_lists_loopback_like_tcpdump() -> None:
    result = livetap("interfaces")
    assert result.returncode == 0
    lo_line = next(line for line in result.stdout.splitlines() if ".lo [" in line)
    assert "Loopback" in lo_line and "Up" in lo_line and "127.0.0.1" in lo_line
    document = json.loads(livetap("interfaces", "--json").stdout)
    assert document["success"] is True
    rows = document["data"]
    lo = next(row for row in rows if row["name"] == "lo")
    assert lo["loopback"] and "127.0.0.1" in lo["addresses"] and lo["linktype"] == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("-i", "nosuch0"), ExitCode.NOT_FOUND, "no network interface named 'nosuch0'"),
        (("-i", "lo", "-f", "udp portt 53"), ExitCode.BAD_INPUT, "syntax error"),
        (("-r", "/nonexistent/trace.pcap"), ExitCode.NOT_FOUND, "trace.pcap"),
        (("--bogus-flag",), ExitCode.USAGE_ERROR, "unrecognized arguments"),
        (("-r", "x.pcap", "--source-cmd", "cat x.pcap"), ExitCode.USAGE_ERROR, "cannot be mixed"),
        (("--source-cmd", "no-such-tool-here -w -"), ExitCode.NOT_FOUND, "not found on PATH"),
        (("-i", "lo", "--theme", "no-such-theme"), ExitCode.USAGE_ERROR, "no theme named"),
        (("-i", "lo", "--snaplen", "5"), ExitCode.USAGE_ERROR, "snap length"),
    ],
)
def test_bad_input_gets_one_clear_line_and_its_exit_code(
    args: tuple[str, ...], code: ExitCode, message: str
) -> None:
    result = livetap(*args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_file_that_is_not_a_pcap_is_bad_input(tmp_dir: Path) -> None:
    path = tmp_dir / "notes.txt"
    path.write_text("this is not a capture\n")
    result = livetap("-r", str(path))
    assert result.returncode == ExitCode.BAD_INPUT
    assert "notes.txt" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.root("setpriv to another user")
def test_without_root_live_capture_says_how_to_fix_it(tmp_dir: Path) -> None:
    result = livetap("-i", "lo", user="nobody")
    assert result.returncode == ExitCode.PERMISSION_DENIED, result.stderr
    assert "needs root or the CAP_NET_RAW capability" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.root("setpriv to another user")
def test_an_unreadable_pcap_is_permission_denied(tmp_dir: Path) -> None:
    path = write_sample_pcap(tmp_dir / "secret.pcap")
    path.chmod(0o600)
    result = livetap("-r", str(path), user="nobody")
    assert result.returncode == ExitCode.PERMISSION_DENIED, result.stderr
    assert "secret.pcap" in result.stderr


def browser_processes() -> str:
    """Pids of the Chromiums this run's livetap launched (profiles livetap-chromium-*)."""
    return own_processes()


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


@pytest.mark.root
def test_the_real_tui_in_tmux_shows_packets_and_quits_on_q(tmp_dir: Path) -> None:
    assert shutil.which("tmux"), "tmux is needed (setup.sh installs it)"
    port = free_udp_port()
    done = tmp_dir / "exit-status"
    session = f"livetap-test-{port}"
    # pytest exports COLUMNS=80/LINES=24, which Textual would believe over the terminal
    command = f"env -u COLUMNS -u LINES {LIVETAP} -i lo -f 'udp port {port}'; echo $? > {done}"
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "45", command)
    try:
        assert wait_for(lambda: "LIVE" in tmux("capture-pane", "-p", "-t", session), timeout=15)
        send_udp(port, [b"seen in tmux"] * 3)
        assert wait_for(
            lambda: f"→ {port} Len=12" in tmux("capture-pane", "-p", "-t", session), timeout=10
        )
        screen = tmux("capture-pane", "-p", "-t", session)
        assert (
            "interface lo" in screen
            and f"filter: udp port {port}" in screen
            and "3 packets" in screen
        )
        tmux("send-keys", "-t", session, "q")
        assert wait_for(done.exists, timeout=10)
        time.sleep(0.1)
        assert done.read_text().strip() == "0"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)


def test_sigterm_restores_the_terminal_and_exits_130(tmp_dir: Path) -> None:
    pcap = write_sample_pcap(tmp_dir / "sample.pcap")
    done = tmp_dir / "exit-status"
    pid_file = tmp_dir / "pid"
    session = f"livetap-term-{os.getpid()}"
    inner = f"echo $$ > {pid_file}; exec {LIVETAP} -r {pcap}"
    command = f"env -u COLUMNS -u LINES sh -c '{inner}'; echo $? > {done}; sleep 30"
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "30", command)
    try:
        assert wait_for(
            lambda: "end of input" in tmux("capture-pane", "-p", "-t", session), timeout=15
        )
        os.kill(int(pid_file.read_text()), signal.SIGTERM)
        assert wait_for(done.exists, timeout=10)
        time.sleep(0.1)
        assert done.read_text().strip() == str(ExitCode.INTERRUPTED.value)
        mode = tmux("display", "-p", "-t", session, "#{alternate_on}").strip()
        assert mode == "0", "the terminal left the alternate screen"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("--no-packets",), ExitCode.USAGE_ERROR, "--no-packets leaves nothing to show"),
        (("--browser", "192.0.2.1:9222"), ExitCode.PERMISSION_DENIED, "--allow-remote-browser"),
        (("--browser", "9222", "--headed"), ExitCode.USAGE_ERROR, "--headed only applies"),
        (("--no-packets", "--browser", "CLOSED"), ExitCode.UNAVAILABLE, "no browser answers"),
        (
            ("--no-packets", "--browser", "launch", "--chromium", "no-such-browser"),
            ExitCode.NOT_FOUND,
            "no browser executable",
        ),
    ],
)
def test_browser_flags_fail_clearly(args: tuple[str, ...], code: ExitCode, message: str) -> None:
    args = tuple(str(free_udp_port()) if arg == "CLOSED" else arg for arg in args)
    result = livetap(*args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_browser_pane_alone_in_tmux_and_no_browser_left_after_q(tmp_dir: Path) -> None:
    """Also: --max-requests bounds what the pane holds (the page makes about ten requests)."""
    from tests.local_site import local_site

    done = tmp_dir / "exit-status"
    session = f"livetap-browser-{os.getpid()}"
    with local_site() as site:
        command = (
            f"env -u COLUMNS -u LINES TMPDIR={own_temp()} {LIVETAP} --no-packets"
            f" --max-requests 6 --open {site.url}/;"
            f" echo $? > {done}"
        )
        tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "40", command)
        try:

            def screen() -> str:
                return tmux("capture-pane", "-p", "-t", session)

            assert wait_for(lambda: "api/submit" in screen(), timeout=20), screen()
            assert wait_for(lambda: "browser connected" in screen(), timeout=5), screen()
            # the page's fetch to a closed port may fail a moment after the submit shows
            assert wait_for(lambda: "ERR_CONNECTION_REFUSED" in screen(), timeout=10), screen()

            def bounded() -> bool:  # the oldest requests made room for the newest
                return " dropped" in screen() and "style.css" not in screen()

            assert wait_for(bounded, timeout=5), screen()
            tmux("send-keys", "-t", session, "q")
            assert wait_for(done.exists, timeout=15)
            time.sleep(0.2)
            assert done.read_text().strip() == "0"
        finally:
            subprocess.run(
                ["tmux", "kill-session", "-t", session], capture_output=True, check=False
            )
    assert browser_processes() == ""


@pytest.mark.parametrize("how", [signal.SIGHUP, signal.SIGKILL])
def test_a_launched_browser_dies_with_livetap_even_on_hangup_or_kill(
    tmp_dir: Path, how: signal.Signals
) -> None:
    pid_file = tmp_dir / "pid"
    session = f"livetap-hup-{os.getpid()}-{how.value}"
    inner = f"echo $$ > {pid_file}; exec {LIVETAP} --no-packets --browser launch"
    tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "120",
        "-y",
        "30",
        f"env -u COLUMNS -u LINES TMPDIR={own_temp()} sh -c '{inner}'; sleep 30",
    )
    try:

        def screen() -> str:
            return tmux("capture-pane", "-p", "-t", session)

        assert wait_for(lambda: "connected" in screen(), timeout=20), screen()
        assert browser_processes(), "the browser should be running"
        os.kill(int(pid_file.read_text()), how)

        def gone() -> bool:
            return not browser_processes()

        assert wait_for(gone, timeout=10)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)


def test_a_closed_pipe_is_not_a_crash() -> None:
    result = subprocess.run(
        f"{LIVETAP} bpf --examples | head -1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (
        result.stdout.strip()
        and "internal error" not in result.stderr
        and "Traceback" not in result.stderr
    )
