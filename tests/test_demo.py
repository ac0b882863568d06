"""``livetap demo``: both panes fill within seconds, nothing is left behind, no root falls back."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.own_processes import own_processes
from tui.app import LivetapApp
from tui.commands.demo import demo_sources
from tui.demo.recording import write_recording
from tui.demo.traffic import dns_answer, dns_query, sensor_message
from tui.screens.main import MainScreen
from tui.widgets.request_view import RequestList

LIVETAP = str(Path(sys.executable).parent / "livetap")


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.1)


def livetap_processes() -> str:
    """This run's Chromiums and demo processes (other runs on the machine aside)."""
    return own_processes("livetap-chromium-", "livetap-demo")


@pytest.mark.root
async def test_both_panes_have_rows_within_ten_seconds_and_exit_leaves_nothing() -> None:
    with demo_sources() as demo:
        assert demo.note == "" and demo.browser is not None
        app = LivetapApp(demo.session, browser=demo.browser)
        async with app.run_test(size=(200, 50)) as pilot:
            main = app.screen
            assert isinstance(main, MainScreen)
            requests = main.query_one(RequestList)
            began = time.monotonic()
            await until(pilot, lambda: main.packet_list.row_count > 20 and requests.row_count > 3)
            assert time.monotonic() - began < 10

            def protocols() -> set[str]:
                return {p.protocol for p in demo.session.ring}

            await until(pilot, lambda: {"HTTP", "DNS", "UDP", "ICMP", "TCP"} <= protocols())
            sensor = [p for p in demo.session.ring if p.dport == 47000]
            assert sensor and sensor[0].data[42:44] == b"SN"
    time.sleep(0.5)
    assert livetap_processes() == ""


@pytest.mark.root("setpriv to another user")
def test_without_root_the_demo_says_so_and_replays_the_recording() -> None:
    tmp_path = Path(tempfile.mkdtemp(prefix="livetap-test-"))
    tmp_path.chmod(0o777)
    done = tmp_path / "status"
    session = f"livetap-demo-{os.getpid()}"
    # setpriv must exec livetap itself: later execs as nobody cannot reach a Python under /root
    nobody = "setpriv --reuid=nobody --regid=nogroup --clear-groups"
    # Textual draws on stderr: leave it on the terminal; the note printed first stays there.
    inner = f"{nobody} {LIVETAP} demo --no-browser; echo $? > {done}; sleep 30"
    command = f"env -u COLUMNS -u LINES sh -c '{inner}'"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "40", command], check=True
    )
    try:

        def screen() -> str:
            return subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session],
                capture_output=True,
                text=True,
                check=False,
            ).stdout

        deadline = time.monotonic() + 20
        while "47000 Len=" not in screen() and time.monotonic() < deadline:
            time.sleep(0.2)  # the recording replays at its pace: the first rows come after
        assert "file livetap-demo.pcap" in screen()
        assert "47000 Len=" in screen()
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        deadline = time.monotonic() + 10
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.read_text().strip() == "0"
        time.sleep(0.3)
        assert "live capture needs root" in screen()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, check=False)
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_generated_recording_and_the_chatter_are_well_formed(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.pcap")
    from engine.pcapio import open_pcap

    with open_pcap(path) as reader:
        records = list(reader)
    assert len(records) > 300 and records[-1].timestamp - records[0].timestamp > 55
    assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(records))
    assert sensor_message(1, 7)[:2] == b"SN" and len(sensor_message(3, 1)) == 40
    answer = dns_answer(dns_query(0x1234, "a.demo"))
    assert answer is not None and answer[:2] == b"\x124" and answer.endswith(b"\x7f\x00\x00\x01")


def test_a_browser_leaving_mid_answer_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """A traceback on stderr would scribble over the running app (the slow endpoint's case)."""
    import socket
    import struct

    from tui.demo.site import demo_site

    with demo_site() as url:
        port = int(url.rsplit(":", 1)[1])
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"GET /api/slow HTTP/1.1\r\nHost: demo\r\n\r\n")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # a reset: the answer 1.5 s later meets a closed connection
        time.sleep(2.0)
    assert capsys.readouterr().err == ""


def test_under_serve_the_demo_capture_leaves_the_page_port_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 18 #13: `livetap serve` (its default page runs the demo) sets LIVETAP_SERVE_PORT."""
    from tui.commands.demo import _packet_session

    monkeypatch.setenv("LIVETAP_SERVE_PORT", "8123")
    session, note = _packet_session(tmp_path)
    try:
        assert note == ""  # live on lo (the tests run as root)
        assert session.stats().filter == "not tcp port 8123"
    finally:
        session.stop()
