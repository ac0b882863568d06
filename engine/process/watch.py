"""New connections resolved the moment their first packet is sent, before a program exits.

The capture ring hands packets over in blocks, up to 20 ms late; a ``curl`` to a local
server has connected, fetched and exited by then, and its socket is gone. A watcher
reads only SYNs (a kernel filter; a plain socket, no ring, so each arrives at once),
and resolves both ends of each new connection while they still exist: the sender's
socket, and the listener that will accept it. The capture loop then finds the answer in
the :class:`~engine.process.attribution.Attributor`'s flow cache.

The watcher runs in a process of its own (:class:`WatcherProcess`, ``python -m
engine.process.watch IFACE``): in livetap's process it would wait for the GIL behind the
capture loop and the UI, often long enough for a short program to exit. It prints one
JSON line per answer, which a thread of livetap's reads into the flow cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from engine import bpf, linktypes
from engine.errors import PermissionDeniedError, from_os_error
from engine.live import ARPHRD_ETHERNET_LIKE, ETH_P_ALL, interface_hardware_type
from engine.packet.model import Packet
from engine.process.attribution import Attributor, FlowKey
from engine.process.procfs import ProcessInfo

SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
ARPHRD_LOOPBACK = 772
WATCHER_NICE = -10
REALTIME_BUDGET = 0.2
"""The share of a core the watcher may use at real-time priority."""
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("=qq")
FIRST_SYN = (
    "(tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn)"
    " or (ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 0x02)"
)
"""A connection's first packet (SYN without ACK), IPv4 and IPv6 (no extension headers)."""
WATCHED = f"({FIRST_SYN}) or (udp dst port 53)"
"""What the watcher reads: new TCP connections, and DNS queries (a program's lookup
socket is closed as soon as the answer is in, often before the capture loop looks)."""


class SynWatcher:
    """A thread handing every new TCP connection's SYN on an interface to ``on_syn``."""

    def __init__(self, interface: str, on_syn: Callable[[Packet, float], object]) -> None:
        self._on_syn = on_syn
        hatype = interface_hardware_type(interface) if interface != "any" else -1
        ethernet = hatype in ARPHRD_ETHERNET_LIKE
        self._linktype = linktypes.ETHERNET if ethernet else linktypes.RAW
        compiled = bpf.compile_filter(WATCHED, self._linktype, 128)
        kind = socket.SOCK_RAW if ethernet else socket.SOCK_DGRAM
        try:
            self._sock = socket.socket(socket.AF_PACKET, kind, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise PermissionDeniedError(
                "telling which program opened a connection needs CAP_NET_RAW (see SECURITY.md)"
            ) from None
        try:
            bpf.attach(self._sock, compiled)
            if hatype == ARPHRD_LOOPBACK:  # lo shows each frame twice: keep one
                self._sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            if interface != "any":
                self._sock.bind((interface, ETH_P_ALL))
        except OSError as error:
            self._sock.close()
            raise from_os_error(error, f"watch new connections on {interface}") from None
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self.seen = 0
        """SYNs read, for the benchmark."""
        self._thread = threading.Thread(target=self.run, name="syn-watcher", daemon=True)

    def start(self) -> SynWatcher:
        """Start watching in a thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the socket."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        self._sock.close()

    def run(self, realtime: bool = False, parent: int | None = None) -> None:
        """Read SYNs until stopped (in the thread, or in a watcher process's main thread).

        ``realtime`` (the watcher process): see :class:`Priority`. ``parent``: stop
        when that process is gone (livetap killed without a chance to stop its watcher).
        """
        priority = Priority(realtime)
        while not self._stop.is_set():
            try:
                data, ancillary, _flags, _address = self._sock.recvmsg(256, 64)
            except TimeoutError:
                if parent is not None and os.getppid() != parent:
                    return
                continue
            except OSError:
                return
            self.seen += 1
            sent = time.time()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    seconds, nanoseconds = _TIMESPEC.unpack_from(value)
                    sent = seconds + nanoseconds * 1e-9
            self._on_syn(Packet(self._linktype, data), sent)
            priority.account()


class Priority:
    """The watcher's scheduling: ahead of ordinary work, within a CPU budget.

    Under load a wake-up late by a few milliseconds is a ``curl`` that has exited
    (measured: 97.5 % right at load 13 on 2 cores with nice -10, 99.8 % with
    SCHED_FIFO). A real-time thread that kept the CPU would starve the machine, so
    past :data:`REALTIME_BUDGET` of a core in a second (a SYN flood) it drops to an
    ordinary thread until the rate falls. Where not allowed (no root or CAP_SYS_NICE)
    it stays ordinary, silently.
    """

    def __init__(self, realtime: bool) -> None:
        self._allowed = realtime
        self._window_start = time.monotonic()
        self._window_cpu = time.thread_time()
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WATCHER_NICE)
        self.realtime = self._set(realtime=True) if realtime else False

    def _set(self, *, realtime: bool) -> bool:
        policy = os.SCHED_FIFO if realtime else os.SCHED_OTHER
        try:
            os.sched_setscheduler(0, policy, os.sched_param(1 if realtime else 0))
        except (OSError, AttributeError):
            return False
        return realtime

    def account(self) -> None:
        """After each SYN: leave or resume real time by the last second's CPU use."""
        now = time.monotonic()
        if now - self._window_start < 1.0 and not self.realtime:
            return
        used = time.thread_time() - self._window_cpu
        elapsed = now - self._window_start
        if self.realtime and used > REALTIME_BUDGET * max(elapsed, 1.0):
            self.realtime = self._set(realtime=False)
        elif elapsed >= 1.0:
            if self._allowed and not self.realtime and used < REALTIME_BUDGET * elapsed / 4:
                self.realtime = self._set(realtime=True)
            self._window_start, self._window_cpu = now, time.thread_time()


def _line(key: FlowKey, owner: ProcessInfo, learnt: float, since: float) -> str:
    protocol, local, local_port, remote, remote_port = key
    found = [protocol, local.hex(), local_port, remote.hex(), remote_port]
    fields = [owner.pid, owner.name, owner.cmdline, owner.user, owner.uid, owner.ppid]
    return json.dumps([found, learnt, since, [*fields, owner.unit, owner.start]])


def _parse(line: str) -> tuple[FlowKey, ProcessInfo, float, float]:
    (protocol, local, local_port, remote, remote_port), learnt, since, fields = json.loads(line)
    key = (protocol, bytes.fromhex(local), local_port, bytes.fromhex(remote), remote_port)
    return key, ProcessInfo(*fields), learnt, since


class WatcherProcess:
    """The SYN watcher in a process of its own, feeding this process's flow cache.

    A thread reads its answers as they come; the capture loop also drains them before
    it resolves a new flow itself (:attr:`Attributor.before_lookup`), so an answer
    still in the pipe, behind the GIL, is not lost to a lookup that comes too late.
    """

    def __init__(self, attributor: Attributor, interface: str) -> None:
        self._attributor = attributor
        self._process = subprocess.Popen(
            [sys.executable, "-m", "engine.process.watch", interface],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        assert self._process.stdout is not None
        self._fd = self._process.stdout.fileno()
        self._buffer = b""
        self._lock = threading.Lock()
        self._ended = False
        self.answers = 0
        """Answers received, for the benchmark."""
        while b"\n" not in self._buffer:
            chunk = os.read(self._fd, 4096)
            if not chunk:
                break
            self._buffer += chunk
        ready, _, self._buffer = self._buffer.partition(b"\n")
        if ready.strip() != b"ready":
            self._process.wait()
            error = self._process.stderr.read().decode() if self._process.stderr else ""
            raise PermissionDeniedError(error.strip() or "the connection watcher did not start")
        os.set_blocking(self._fd, False)
        attributor.before_lookup = self.drain
        self._thread = threading.Thread(target=self._read, name="syn-answers", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._ended:
            readable, _, _ = select.select([self._fd], [], [], 0.2)
            if readable:
                self.drain()

    def drain(self) -> None:
        """Take every answer already written to the pipe (never waits for one)."""
        with self._lock:
            while True:
                try:
                    chunk = os.read(self._fd, 1 << 16)
                except BlockingIOError:
                    break
                except OSError:
                    chunk = b""
                if not chunk:
                    self._ended = True
                    break
                self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                with contextlib.suppress(ValueError, TypeError):
                    self._attributor.remember(*_parse(line.decode()))
                    self.answers += 1

    @property
    def pid(self) -> int:
        """The watcher process's pid."""
        return self._process.pid

    def cpu_seconds(self) -> float:
        """CPU time the watcher process used so far (user + system)."""
        try:
            text = Path(f"/proc/{self._process.pid}/stat").read_bytes()
        except OSError:
            return 0.0
        fields = text[text.rfind(b")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Stop the watcher process."""
        self._attributor.before_lookup = None
        self._ended = True
        self._process.terminate()
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._thread.join(timeout=2)


def _warm_up(attributor: Attributor) -> None:
    """Resolve one connection before saying "ready": the first lookup imports, opens the
    netlink socket and reads /proc, long enough for a short program's first connection
    (a curl to a local server) to be over before its answer. Nothing is sent: the SYN
    is built here, to a listener of the watcher's own."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        loopback = socket.inet_aton("127.0.0.1")
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0, 64, 6, 0, loopback, loopback)
        tcp = struct.pack("!HHIIBBHHH", 9, port, 0, 0, 0x50, 0x02, 65535, 0, 0)
        frame = bytes(6) + bytes(6) + b"\x08\x00" + ip + tcp
        with contextlib.suppress(Exception):  # a warm-up only: the watcher runs without it
            attributor.learn_connection(Packet(linktypes.ETHERNET, frame), time.time())


def main() -> int:
    """``python -m engine.process.watch IFACE``: print each new connection's owners."""
    from engine.errors import LivetapError

    parent = os.getppid()  # before "ready": livetap may be gone right after reading it
    attributor = Attributor()

    def answer(packet: Packet, sent: float) -> None:
        learnt = time.time()
        lines = [
            _line(key, owner, learnt, sent)
            for key, owner in attributor.learn_connection(packet, sent)
            if owner.known
        ]
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()

    try:
        watcher = SynWatcher(sys.argv[1], answer)
    except LivetapError as error:
        print(error.message, file=sys.stderr)
        return int(error.exit_code)
    _warm_up(attributor)
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        watcher.run(realtime=True, parent=parent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
