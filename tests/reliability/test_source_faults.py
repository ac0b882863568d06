"""The interface goes away, the source command exits: reported, and the process stays up.

The interface is one end of a veth pair whose other end lives in a network
namespace this test creates; datagrams go to the namespace's address, so nothing
leaves the pair. Deleting the interface under a running capture must end that
capture with a message (and ``livetap capture pcap`` with exit 9), never kill the
process. A source command is run without a shell: a hostile string reaches no shell.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.errors import BadInputError, ExitCode, LivetapError
from engine.live import LiveSource
from engine.pcapio import open_pcap
from engine.replay import open_command_source
from engine.session import CaptureSession
from tests.conftest import free_udp_port, send_udp, wait_for
from tests.reliability.support import (
    LIVETAP,
    STARTED,
    document,
    livetap,
    pcap_bytes,
    udp_frame,
    wait_for_line,
)


@dataclass(frozen=True)
class Veth:
    """``near`` in this namespace (10.213.77.1/30), its peer in ``namespace`` (.2)."""

    namespace: str
    near: str
    far_address: str = "10.213.77.2"

    def send(self, count: int) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for number in range(count):
                sock.sendto(b"veth %d" % number, (self.far_address, 9))

    def delete(self) -> None:
        subprocess.run(["ip", "link", "del", self.near], check=True)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def veth() -> Iterator[Veth]:
    tag = f"{os.getpid() % 100_000}"
    namespace, near, far = f"livetap-rel-{tag}", f"ltr{tag}a", f"ltr{tag}b"
    ip("netns", "add", namespace)
    try:
        ip("link", "add", near, "type", "veth", "peer", "name", far, "netns", namespace)
        Path(f"/proc/sys/net/ipv6/conf/{near}/disable_ipv6").write_text("1")  # no chatter
        ip("addr", "add", "10.213.77.1/30", "dev", near)
        ip("link", "set", near, "up")
        ip("-n", namespace, "addr", "add", "10.213.77.2/30", "dev", far)
        ip("-n", namespace, "link", "set", far, "up")
        yield Veth(namespace, near)
    finally:
        subprocess.run(["ip", "link", "del", near], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)


@pytest.mark.root("network namespaces")
def test_the_interface_going_away_ends_the_capture_with_a_message(veth: Veth) -> None:
    session = CaptureSession(LiveSource(veth.near, expression="udp port 9"))
    session.start()
    try:
        veth.send(5)
        assert wait_for(lambda: session.stats().packets >= 5)
        veth.delete()
        assert wait_for(lambda: session.stats().error is not None, timeout=5)
        stats = session.stats()
        assert veth.near in str(stats.error)
        assert not stats.running
        assert session.packet(1) is not None  # what was captured is still there
    finally:
        session.stop()


@pytest.mark.root("network namespaces")
def test_capture_pcap_reports_the_interface_going_away_with_exit_9(
    veth: Veth, tmp_path: Path
) -> None:
    path = tmp_path / "veth.pcap"
    process = subprocess.Popen(
        [LIVETAP, "capture", "pcap", "-i", veth.near, "-f", "udp", "-w", str(path), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for_line(process.stderr, STARTED)
    veth.send(5)
    assert wait_for(lambda: path.stat().st_size >= 24 + 5 * (16 + 42 + 6))
    veth.delete()
    stdout, _ = process.communicate(timeout=20)
    assert process.returncode == ExitCode.UNAVAILABLE
    report = document(stdout)
    assert report["error"]["code"] == "UNAVAILABLE" and veth.near in report["error"]["message"]
    with open_pcap(path) as reader:
        assert sum(1 for _ in reader) == report["data"]["packets"] >= 5
        assert not reader.warnings


# -- source commands ---------------------------------------------------------------------------


@pytest.fixture
def capture_file(tmp_path: Path) -> Path:
    path = tmp_path / "five.pcap"
    path.write_bytes(pcap_bytes([udp_frame(b"p%d" % n * 20) for n in range(5)]))
    return path


def run_source(command: str) -> CaptureSession:
    session = CaptureSession(open_command_source(command, header_timeout=10))
    session.start()
    assert session.wait_finished(10)
    return session


def test_a_command_cut_mid_record_gives_what_came_and_a_warning(capture_file: Path) -> None:
    size = capture_file.stat().st_size
    session = run_source(f"head -c {size - 10} {capture_file}")
    stats = session.stats()
    session.stop()
    assert stats.packets == 4 and stats.finished and stats.error is None
    assert stats.warning is not None and "ends in the middle of a record" in stats.warning


def test_a_command_that_fails_after_its_output_is_reported(
    capture_file: Path, tmp_path: Path
) -> None:
    session = run_source(f"cat {capture_file} {tmp_path / 'missing'}")
    stats = session.stats()
    session.stop()
    assert stats.packets == 5
    assert stats.warning == "the source command exited with status 1"


def test_a_command_that_writes_no_pcap_is_bad_input() -> None:
    with pytest.raises(BadInputError, match=r"did not write a pcap stream \(exit status 1\)"):
        open_command_source("false")


@pytest.mark.root("tcpdump captures on lo")
def test_tcpdump_as_the_source_command_ends_after_its_count() -> None:
    port = free_udp_port()
    command = f"tcpdump -n -U -c 3 -i lo -w - udp port {port}"
    session = CaptureSession(open_command_source(command, header_timeout=10))
    session.start()
    try:
        assert wait_for(lambda: session.stats().running, timeout=5)
        for _ in range(20):
            send_udp(port, [b"to tcpdump"])
            if session.wait_finished(0.1):
                break
        stats = session.stats()
        assert stats.finished and stats.packets == 3 and stats.error is None
    finally:
        session.stop()


@pytest.mark.parametrize(
    "template",
    [
        "cat {file}; touch {marker}",
        "cat {file} && touch {marker}",
        "cat {file} | touch {marker}",
        "cat {file} > {marker}",
        "cat $(touch {marker})",
        "cat `touch {marker}`",
        "cat {file}\ntouch {marker}",
        "cat {file} || touch {marker} &",
    ],
)
def test_a_hostile_command_string_reaches_no_shell(
    template: str, capture_file: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    command = template.format(file=capture_file, marker=marker)
    try:
        source = open_command_source(command, header_timeout=5)
        source.close()
    except LivetapError:
        pass
    assert not marker.exists()


def test_the_command_line_refuses_a_source_that_writes_no_pcap(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result = livetap("--source-cmd", f"false; touch {marker}", "-i", "lo")
    assert result.returncode in (ExitCode.BAD_INPUT, ExitCode.NOT_FOUND)
    assert result.stderr.startswith("livetap: ") and "Traceback" not in result.stderr
    assert not marker.exists()
