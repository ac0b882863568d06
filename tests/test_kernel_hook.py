"""The kernel hooks (engine/process/kernel_connects.py) as a reviewer checks them: every
descriptor closed on every path, a refusal or a missing BTF degrades with its reason, two
at once stay apart, a process's chosen name is never taken as text to obey; and the UDP
hook names a sender that sent one datagram and exited."""

from __future__ import annotations

import ctypes
import gc
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.process import Attributor, bpf_code, kernel_connects
from engine.process.attribution import CLOSED, OTHER_NAMESPACE, TIME_WAIT_REASON
from engine.process.bpf_code import ins, movi
from engine.process.kernel_connects import KernelConnects, open_kernel_connects
from engine.process.procfs import printable
from tests.conftest import wait_for
from tests.process_programs import SYSTEM_PYTHON

V4 = "127.0.0.1"
SO_TIMESTAMP = 29
"""Linux's SO_TIMESTAMP_OLD (Python's socket module does not name it)."""
LOOPBACK = socket.inet_aton(V4)

SEND_ONE = """
import ctypes, os, socket, sys
if len(sys.argv) > 3:
    ctypes.CDLL(None).prctl(15, sys.argv[3].encode(), 0, 0, 0)  # PR_SET_NAME
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
sender = socket.socket(family, socket.SOCK_DGRAM)
sender.sendto(b"one", (sys.argv[1], int(sys.argv[2])))
print(os.getpid(), sender.getsockname()[1], flush=True)
"""
"""Sends one datagram from a port the kernel picks, prints ``pid port`` and exits."""

CONNECT_ONE = """
import os, socket, sys
client = socket.create_connection((sys.argv[1], int(sys.argv[2])))
print(os.getpid(), client.getsockname()[1], flush=True)
client.close()
"""


def open_fds() -> set[str]:
    """This process's descriptors that are BPF objects (maps, programs, links)."""
    found = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if "bpf" in target:
            found.add(fd.name)
    return found


def send_one(host: str, port: int, *extra: str, prefix: tuple[str, ...] = ()) -> tuple[int, int]:
    """Run a program that sends one datagram and exits: its (pid, source port)."""
    done = subprocess.run(
        [*prefix, SYSTEM_PYTHON, "-c", SEND_ONE, host, str(port), *extra],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    pid, source = done.stdout.split()
    return int(pid), int(source)


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((V4, 0))
        server.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        yield server


def arrival(server: socket.socket) -> float:
    """When the next datagram reached ``server`` (the kernel's stamp, as a capture's)."""
    _data, ancillary, _flags, _peer = server.recvmsg(64, 64)
    for level, kind, value in ancillary:
        if (level, kind) == (socket.SOL_SOCKET, SO_TIMESTAMP):
            seconds, micro = struct.unpack("qq", value[:16])
            return float(seconds + micro / 1e6)
    raise AssertionError("no timestamp")


@pytest.mark.root("loads BPF programs")
def test_every_descriptor_is_closed_by_close_by_collection_and_on_an_interrupted_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = open_fds()
    kernel = KernelConnects()
    assert len(open_fds() - before) == 9  # 5 maps, 2 programs, 2 attachments
    kernel.close()
    kernel.close()  # twice is harmless
    assert open_fds() == before
    assert kernel.sender((LOOPBACK, 9)) is None  # closed: no lookup on a stale fd

    KernelConnects()  # never closed: collected
    gc.collect()
    assert open_fds() == before

    def interrupted(self: KernelConnects) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(KernelConnects, "_calibrate", interrupted)
    with pytest.raises(KeyboardInterrupt):
        KernelConnects()
    assert open_fds() == before


@pytest.mark.root("loads BPF programs")
def test_a_program_the_verifier_refuses_degrades_with_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = open_fds()
    monkeypatch.setattr(kernel_connects, "_program", lambda *args: ins(0x95))  # r0 never set
    kernel, why = open_kernel_connects()
    assert kernel is None and "verifier refused it" in why and "R0" in why
    assert open_fds() == before

    monkeypatch.undo()
    monkeypatch.setattr(kernel_connects, "_send_program", lambda *args: movi(1, 0) + ins(0x95))
    kernel, why = open_kernel_connects()
    assert kernel is not None and why == ""  # TCP still recorded, UDP said why not
    assert not kernel.records_udp and "verifier refused it" in kernel.udp_missing
    hooked = Attributor()
    hooked.kernel = kernel
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((V4, 0))
        found = hooked.for_endpoints(
            17, (LOOPBACK, 1), (LOOPBACK, server.getsockname()[1]), timestamp=time.time()
        )
    hooked.close()
    assert found.reason.startswith(f"{CLOSED} (no kernel record: the UDP hook did not load")
    kernel.close()
    assert open_fds() == before


@pytest.mark.root("reads the kernel's BTF")
def test_no_btf_or_a_broken_one_is_a_reason_never_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(bpf_code, "BTF", tmp_path / "missing")
    kernel, why = open_kernel_connects()
    assert kernel is None and "missing" in why
    broken = tmp_path / "broken"
    broken.write_bytes(Path("/sys/kernel/btf/vmlinux").read_bytes()[:5000])
    monkeypatch.setattr(bpf_code, "BTF", broken)
    kernel, why = open_kernel_connects()
    assert kernel is None and "BTF" in why
    for garbage in (b"", b"\x9f\xeb" + os.urandom(30), os.urandom(100)):
        broken.write_bytes(garbage)
        with pytest.raises(OSError):
            bpf_code.member_offsets({"sock": ("sk_protocol",)}, broken)


def test_without_the_hook_a_closed_flow_says_why_there_is_no_kernel_record() -> None:
    plain = Attributor()
    plain.kernel_missing = "needs root or CAP_BPF + CAP_PERFMON"
    with socket.socket() as server:
        server.bind((V4, 0))
        server.listen()
        found = plain.for_endpoints(
            6, (LOOPBACK, 1), (LOOPBACK, server.getsockname()[1]), timestamp=time.time()
        )
    plain.close()
    assert not found.known
    assert found.reason == f"{CLOSED} (no kernel record: needs root or CAP_BPF + CAP_PERFMON)"


@pytest.mark.root("loads BPF programs")
def test_two_livetaps_at_once_each_have_their_own_record() -> None:
    first, second = KernelConnects(), KernelConnects()
    try:
        with socket.socket() as server:
            server.bind((V4, 0))
            server.listen()
            port = server.getsockname()[1]
            done = subprocess.run(
                [SYSTEM_PYTHON, "-c", CONNECT_ONE, V4, str(port)],
                capture_output=True,
                text=True,
                check=True,
            )
            pid, client = map(int, done.stdout.split())
            ends = (LOOPBACK, client), (LOOPBACK, port)
            named = [kernel.owner(*ends) for kernel in (first, second)]
            assert [found.pid if found else None for found in named] == [pid, pid]
            first.close()
            assert first.owner(*ends) is None
            found = second.owner(*ends)
            assert found is not None and found.pid == pid and not found.foreign
    finally:
        first.close()
        second.close()


@pytest.mark.root("loads BPF programs")
def test_a_name_a_process_chose_is_shown_without_its_control_characters(
    receiver: socket.socket,
) -> None:
    kernel = KernelConnects()
    try:
        pid, port = send_one(V4, receiver.getsockname()[1], "\x1b[2J\x07evil")
        found = kernel.sender((LOOPBACK, port))
        assert found is not None and found.pid == pid
        assert found.name == "?[2J?evil"
    finally:
        kernel.close()
    assert printable("a\x9bb\x7fc\nd é") == "a?b?c?d é"


@pytest.mark.root("loads BPF programs")
@pytest.mark.parametrize("host", [V4, "::1"])
def test_a_udp_sender_that_exited_at_once_is_named_by_the_kernels_record(host: str) -> None:
    kernel = KernelConnects()
    plain, hooked = Attributor(), Attributor()
    hooked.kernel = kernel
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = socket.inet_pton(family, host)
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as server:
            server.bind((host, 0))
            server.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
            port = server.getsockname()[1]
            pid, source = send_one(host, port)
            started = arrival(server)  # the datagram's time, as a capture stamps it
        ends = (address, source), (address, port)
        assert plain.for_endpoints(17, *ends, timestamp=started).reason == CLOSED
        found = hooked.for_endpoints(17, *ends, timestamp=started)
        assert (found.known, found.pid, found.name) == (True, pid, "python3")
        later = Attributor()
        later.kernel = kernel  # a flow that began long before that socket's first send
        stale = later.for_endpoints(17, *ends, timestamp=started - 60)
        assert not stale.known and stale.reason in (CLOSED, TIME_WAIT_REASON)
        later.close()
    finally:
        kernel.close()
        plain.close()
        hooked.close()


@pytest.mark.root("loads BPF programs and creates a network namespace")
def test_the_udp_record_never_names_a_sender_of_another_namespace(receiver: socket.socket) -> None:
    name = f"livetap-hook-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    kernel = KernelConnects()
    hooked = Attributor()
    hooked.kernel = kernel
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        pid, source = send_one(V4, 9, prefix=("ip", "netns", "exec", name))
        started = time.time()  # as late as the datagram's stamp could be
        record = kernel.sender((LOOPBACK, source))
        assert record is not None and record.pid == pid and record.foreign
        found = hooked.for_endpoints(17, (LOOPBACK, source), (LOOPBACK, 9), timestamp=started)
        assert not found.known and found.reason == OTHER_NAMESPACE
    finally:
        kernel.close()
        hooked.close()
        subprocess.run(["ip", "netns", "delete", name], check=False)


SEND_FROM = """
import os, socket, sys
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sender.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sender.bind((sys.argv[1], int(sys.argv[3])))
sender.sendto(b"one", (sys.argv[1], int(sys.argv[2])))
print(os.getpid(), sender.getsockname()[1], flush=True)
"""
"""Sends one datagram from a given port and exits."""


@pytest.mark.root("loads BPF programs")
def test_a_udp_port_another_program_sent_from_after_a_pause_is_that_programs(
    receiver: socket.socket,
) -> None:
    """UDP has no SYN: the same four-tuple a moment later may be another program's (the
    kernel's record says a socket first sent from that port after the answer was learnt)."""
    kernel = KernelConnects()
    hooked = Attributor()
    hooked.kernel = kernel
    target = receiver.getsockname()[1]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((V4, 0))
        port = probe.getsockname()[1]

    def send() -> int:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-c", SEND_FROM, V4, str(target), str(port)],
            capture_output=True,
            text=True,
            check=True,
        )
        pid = int(done.stdout.split()[0])
        started = arrival(receiver)
        found = hooked.for_endpoints(17, (LOOPBACK, port), (LOOPBACK, target), started)
        assert found.known and found.pid == pid
        return pid

    try:
        first = send()
        time.sleep(0.2)  # more than UDP_CHECK_GAP: the port's record is checked
        assert send() != first
    finally:
        kernel.close()
        hooked.close()


def program_exists(number: int) -> bool:
    """Whether a BPF program with this id is still loaded (PROG_GET_FD_BY_ID)."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(struct.pack("<I", number), 144)
    fd = int(libc.syscall(321, 13, attr, 144))
    if fd >= 0:
        os.close(fd)
    return fd >= 0


HOLD_THE_HOOK = """
import ctypes, struct, sys, time
sys.path.insert(0, sys.argv[1])
from engine.process.kernel_connects import KernelConnects
kernel = KernelConnects()
libc = ctypes.CDLL(None, use_errno=True)
ids = []
for fd in kernel._fds:  # OBJ_GET_INFO_BY_FD: a program's id, and its name at offset 64
    info = ctypes.create_string_buffer(256)
    attr = ctypes.create_string_buffer(struct.pack("<IIQ", fd, 256, ctypes.addressof(info)), 144)
    if libc.syscall(321, 15, attr, 144) == 0 and info.raw[64:72] == b"livetap_":
        ids.append(struct.unpack_from("<I", info.raw, 4)[0])
print(" ".join(map(str, ids)), flush=True)
time.sleep(60)
"""
"""Loads the hooks, prints the ids of its programs, waits to be killed."""


@pytest.mark.root("loads BPF programs")
def test_a_livetap_killed_outright_leaves_no_program_behind() -> None:
    """SIGKILL runs no Python: the kernel closes the descriptors, which detaches and frees."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_HOOK, str(Path(__file__).parent.parent)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        loaded = [int(number) for number in holder.stdout.readline().split()]
        assert len(loaded) == 2 and all(program_exists(number) for number in loaded)
    finally:
        holder.kill()
        holder.wait()
    assert wait_for(lambda: not any(program_exists(number) for number in loaded))
