"""Real programs with sockets on loopback, started as known pids, for the process tests.

Each program is the system ``python3`` (readable by every user, unlike the venv's, so
one can run as ``nobody``) running a few lines that print ``pid port`` once its socket
is ready, then hold the socket until killed.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

SYSTEM_PYTHON = "/usr/bin/python3"

TCP_SERVER = """
import os, socket, sys, time
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
server = socket.socket(family, socket.SOCK_STREAM)
server.bind((sys.argv[1], 0))
server.listen()
print(os.getpid(), server.getsockname()[1], flush=True)
held = []
while True:
    held.append(server.accept())
"""

TCP_CLIENT = """
import os, socket, sys, time
client = socket.create_connection((sys.argv[1], int(sys.argv[2])))
print(os.getpid(), client.getsockname()[1], flush=True)
time.sleep(60)
"""

UDP_SENDER = """
import os, socket, sys, time
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
sender = socket.socket(family, socket.SOCK_DGRAM)
sender.bind((sys.argv[1], 0))
sender.sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
print(os.getpid(), sender.getsockname()[1], flush=True)
time.sleep(60)
"""

UDP_BURST = """
import os, socket, sys, time
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sender.bind((sys.argv[1], 0))
print(os.getpid(), sender.getsockname()[1], flush=True)
time.sleep(float(sys.argv[4]))
for _ in range(int(sys.argv[3])):
    sender.sendto(b"x" * 100, (sys.argv[1], int(sys.argv[2])))
time.sleep(60)
"""
"""Sends argv[3] datagrams of 100 bytes after argv[4] seconds (time to start capturing)."""

PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], *sys.argv[2:]])
child.wait()
"""
"""Runs a program as its child; the child's ``pid port`` line is what is printed."""


@dataclass(frozen=True, slots=True)
class Program:
    """A started program: its pid (the one that printed) and its socket's port."""

    process: subprocess.Popen[str]
    pid: int
    port: int


@contextmanager
def program(script: str, *args: str, prefix: tuple[str, ...] = ()) -> Iterator[Program]:
    """Start ``script`` (as ``prefix`` says: runuser, ip netns exec ...) and stop it after."""
    command = [*prefix, SYSTEM_PYTHON, "-c", script, *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2:
            raise RuntimeError(f"{command[:3]} did not start: {line!r}")
        yield Program(process, int(line[0]), int(line[1]))
    finally:
        process.kill()
        process.wait()
