"""``livetap capture pcap`` to a .pcapng writes each packet's program as its packet comment
(as the live view's ``w`` does), read back by tshark as ``frame.comment``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from engine.errors import ExitCode
from tests.process_programs import SYSTEM_PYTHON
from tests.test_capture_cli import Capture
from tests.test_kernel_hook import SEND_ONE

V4 = "127.0.0.1"
TSHARK = ("tshark", "-n", "-r")
COMMENT = ("-e", "frame.comment", "-E", "occurrence=f")


def serve_once(server: socket.socket) -> None:
    """Answer one HTTP request (curl's)."""
    connection, _ = server.accept()
    with connection:
        connection.recv(4096)
        connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")


def comments(path: Path) -> list[tuple[int, str]]:
    """(source port, packet comment) of each packet, as tshark reads them."""
    done = subprocess.run(
        [*TSHARK, str(path), "-T", "fields", "-e", "udp.srcport", "-e", "tcp.srcport", *COMMENT],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = []
    for line in done.stdout.splitlines():
        udp, tcp, comment = line.split("\t")
        rows.append((int(udp or tcp), comment))
    return rows


@pytest.mark.root
def test_each_packet_carries_its_program_as_a_comment_tshark_reads(tmp_dir: Path) -> None:
    output = tmp_dir / "processes.pcapng"
    with (
        socket.socket() as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver,
    ):
        server.bind((V4, 0))
        server.listen()
        receiver.bind((V4, 0))
        port, udp_port = server.getsockname()[1], receiver.getsockname()[1]
        capture = Capture(
            "-i", "lo", "-f", f"tcp port {port} or udp port {udp_port}", "-w", str(output)
        )
        answering = threading.Thread(target=serve_once, args=(server,))
        answering.start()
        curl = subprocess.Popen(
            [
                "curl",
                "-s",
                "-m",
                "5",
                "-w",
                "%{local_port}",
                "-o",
                "/dev/null",
                f"http://{V4}:{port}/",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        curl_port = int(curl.communicate(timeout=10)[0])
        answering.join(5)
        sent = subprocess.run(
            [SYSTEM_PYTHON, "-c", SEND_ONE, V4, str(udp_port)],
            capture_output=True,
            text=True,
            check=True,
        )
        receiver.recv(16)
        time.sleep(0.3)  # the last packets are read from the ring
        code, _stdout, stderr = capture.finish(signal.SIGINT)
        assert code == ExitCode.INTERRUPTED, stderr
    sender_pid, sender_port = map(int, sent.stdout.split())
    rows = comments(output)
    from_curl = [comment for source, comment in rows if source == curl_port]
    from_server = [comment for source, comment in rows if source == port]
    from_sender = [comment for source, comment in rows if source == sender_port]
    assert from_curl and from_server and len(from_sender) == 1
    assert all(text.startswith(f"process: curl {curl.pid}; user root") for text in from_curl)
    assert all(text.startswith("process: ") and f" {os.getpid()};" in text for text in from_server)
    assert from_sender[0].startswith(f"process: python3 {sender_pid}; user root")


@pytest.mark.root
@pytest.mark.parametrize("flag", ["--no-process", "--config", None])
def test_no_comments_with_no_process_or_in_a_pcap_file(tmp_dir: Path, flag: str | None) -> None:
    name = "quiet.pcapng" if flag else "plain.pcap"
    output = tmp_dir / name
    config = tmp_dir / "config.yaml"
    config.write_text("processes: false\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind((V4, 0))
        udp_port = receiver.getsockname()[1]
        extra = {"--no-process": ["--no-process"], "--config": ["--config", str(config)]}.get(
            flag or "", []
        )
        capture = Capture("-i", "lo", "-f", f"udp port {udp_port}", "-w", str(output), *extra)
        subprocess.run([SYSTEM_PYTHON, "-c", SEND_ONE, V4, str(udp_port)], check=True)
        receiver.recv(16)
        time.sleep(0.3)  # the last packets are read from the ring
        code, _stdout, stderr = capture.finish(signal.SIGINT)
        assert code == ExitCode.INTERRUPTED, stderr
    rows = comments(output)
    assert len(rows) == 1 and rows[0][1] == ""
