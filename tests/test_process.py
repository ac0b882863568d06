"""Which program: real processes with real sockets on loopback, looked up by four-tuple."""

from __future__ import annotations

import json
import os
import pwd
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Dot1Q, Ether
from scapy.layers.vxlan import VXLAN

from engine import linktypes
from engine.display_filter import compile_display_filter
from engine.errors import UsageError
from engine.filter_file import summarize
from engine.live import LiveSource
from engine.packet.model import Packet
from engine.pcapio import PcapRecord
from engine.process import Attributor, ProcessInfo, registry, unit_of
from engine.process.attribution import CLOSED, NOT_LOCAL, OTHER_NAMESPACE, TIME_WAIT_REASON
from engine.process.kernel_connects import KernelConnects
from engine.process.packet_owners import PacketOwners
from engine.process.procfs import InodeOwners, read_process, start_time
from engine.process.program import ProgramFilter, ProgramMatcher
from engine.process.top import ProcessTable
from engine.process.watch import Priority, WatcherProcess
from engine.session import CaptureSession
from tests.conftest import wait_for
from tests.process_programs import (
    PARENT,
    SYSTEM_PYTHON,
    TCP_CLIENT,
    TCP_SERVER,
    UDP_BURST,
    UDP_SENDER,
    program,
)

V4, V6 = "127.0.0.1", "::1"
ME = pwd.getpwuid(os.getuid()).pw_name
"""The user running the tests (their programs are this user's)."""


def ether() -> Ether:
    """Explicit addresses: a bare Ether() would look them up with ARP."""
    return Ether(src="00:00:00:00:00:01", dst="00:00:00:00:00:02")


def packed(address: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)


def ends(host: str, sport: int, dport: int) -> tuple[tuple[bytes, int], tuple[bytes, int]]:
    return (packed(host), sport), (packed(host), dport)


@pytest.fixture
def attributor() -> Iterator[Attributor]:
    found = Attributor()
    yield found
    found.close()


@pytest.mark.parametrize("host", [V4, V6])
def test_a_tcp_client_and_its_server_are_each_their_own_process(
    attributor: Attributor, host: str
) -> None:
    with (
        program(TCP_SERVER, host) as server,
        program(TCP_CLIENT, host, str(server.port)) as client,
    ):
        sent = attributor.for_endpoints(6, *ends(host, client.port, server.port))
        assert (sent.pid, sent.name, sent.user) == (client.pid, "python3", ME)
        assert "python3 -c" in sent.cmdline and sent.ppid == os.getpid()
        answered = attributor.for_endpoints(6, *ends(host, server.port, client.port))
        assert answered.pid == server.pid
        assert attributor.counters.lookups == 2


def test_curl_is_named_while_its_request_waits(attributor: Attributor) -> None:
    """curl connects to a socket the test holds open: its SYN's sender is curl's pid."""
    with socket.socket() as server:
        server.bind((V4, 0))
        server.listen()
        port = server.getsockname()[1]
        curl = subprocess.Popen(
            ["curl", "-s", "-m", "10", f"http://{V4}:{port}/"], stdout=subprocess.DEVNULL
        )
        try:
            connection, (_address, curl_port) = server.accept()
            owner = attributor.for_endpoints(6, *ends(V4, curl_port, port))
            assert (owner.pid, owner.name) == (curl.pid, "curl")
            assert owner.cmdline.startswith("curl -s")
            connection.close()
        finally:
            curl.kill()
            curl.wait()


def test_a_udp_sender_is_named(attributor: Attributor) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind((V4, 0))
        port = receiver.getsockname()[1]
        with program(UDP_SENDER, V4, str(port)) as sender:
            assert receiver.recv(100) == b"hello"
            owner = attributor.for_endpoints(17, *ends(V4, sender.port, port))
            assert owner.pid == sender.pid
            received = attributor.for_endpoints(17, *ends(V4, port, sender.port))
            assert received.pid == os.getpid()


@pytest.mark.root("runuser to nobody")
def test_a_program_of_user_nobody_is_named_with_its_user(attributor: Attributor) -> None:
    with (
        program(TCP_SERVER, V4) as server,
        program(TCP_CLIENT, V4, str(server.port), prefix=("runuser", "-u", "nobody", "--")) as c,
    ):
        owner = attributor.for_endpoints(6, *ends(V4, c.port, server.port))
        assert (owner.pid, owner.user, owner.uid) == (c.pid, "nobody", 65534)


def test_a_child_process_is_named_with_its_parent(attributor: Attributor) -> None:
    with (
        program(TCP_SERVER, V4) as server,
        program(PARENT, TCP_CLIENT, V4, str(server.port)) as child,
    ):
        owner = attributor.for_endpoints(6, *ends(V4, child.port, server.port))
        assert owner.pid == child.pid != child.process.pid
        assert owner.ppid == child.process.pid


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"livetap-test-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.mark.root("creates a network namespace")
def test_a_program_in_another_network_namespace_is_unknown_and_says_why(
    attributor: Attributor, namespace: str
) -> None:
    inside = ("ip", "netns", "exec", namespace)
    with (
        program(TCP_SERVER, V4, prefix=inside) as server,
        program(TCP_CLIENT, V4, str(server.port), prefix=inside) as client,
    ):
        owner = attributor.for_endpoints(6, *ends(V4, client.port, server.port))
        assert not owner.known and owner.reason == OTHER_NAMESPACE
        assert owner.label == "—"


NAMESPACE_SENDER = """
import os, socket, sys, time
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sender.bind((sys.argv[1], 0))
print(os.getpid(), sender.getsockname()[1], flush=True)
time.sleep(float(sys.argv[5]))
for _ in range(int(sys.argv[4])):
    sender.sendto(b"x" * 100, (sys.argv[2], int(sys.argv[3])))
time.sleep(60)
"""
"""From argv[1] to argv[2]:argv[3], argv[4] datagrams after argv[5] seconds."""
INSIDE, PEER = "10.231.7.1", "10.231.7.2"
"""Addresses inside the test's namespace only (the host's end of the veth has none)."""


@pytest.fixture
def veth_namespace() -> Iterator[tuple[str, str]]:
    """A namespace of the test's own behind a veth pair: (namespace, the host's end)."""
    tag = os.getpid() % 100_000
    name, host_end, inner_end = f"livetap-veth-{tag}", f"lt{tag}h", f"lt{tag}n"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    ip("netns", "add", name)
    try:
        ip("link", "add", host_end, "type", "veth", "peer", "name", inner_end, "netns", name)
        ip("link", "set", host_end, "up")
        ip("-n", name, "addr", "add", f"{INSIDE}/24", "dev", inner_end)
        ip("-n", name, "link", "set", inner_end, "up")
        ip("-n", name, "neigh", "add", PEER, "lladdr", "02:00:00:00:07:02", "dev", inner_end)
        yield name, host_end
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)
        subprocess.run(["ip", "link", "delete", host_end], check=False, capture_output=True)


@pytest.mark.root("creates a network namespace and a veth pair")
def test_a_program_behind_a_veth_in_a_namespace_is_unknown_with_its_reason_never_named(
    veth_namespace: tuple[str, str],
) -> None:
    """Its datagrams, captured live on the host's end of the veth, are never given a name:
    the packets are not this host's addresses' ("not this host's packet"), and its socket
    is found only in the other namespace's tables ("other network namespace")."""
    name, host_end = veth_namespace
    session = CaptureSession(
        LiveSource(host_end, expression="udp"), 100, analyze=False, owners=PacketOwners(host_end)
    )
    session.start()
    try:
        owners = session.owners
        assert owners is not None and wait_for(lambda: owners.active)
        with program(
            NAMESPACE_SENDER, INSIDE, PEER, "9", "5", "0.5", prefix=("ip", "netns", "exec", name)
        ) as sender:
            assert wait_for(lambda: session.ring.last_index >= 5, timeout=10)
            found = [session.process_of(i) for i in range(1, 6)]
            attributor = owners.attributor
            assert attributor is not None
            asked = attributor.resolve(17, (packed(INSIDE), sender.port), (packed(PEER), 9))
    finally:
        session.stop()
    packets = [session.packet(i) for i in range(1, 6)]
    assert all(p is not None and (p.src, p.sport) == (INSIDE, sender.port) for p in packets)
    assert all(owner is not None and not owner.known for owner in found)
    assert {owner.reason for owner in found if owner is not None} == {NOT_LOCAL.reason}
    assert all(owner is not None and owner.label == "—" for owner in found)
    assert not asked.known and asked.reason == OTHER_NAMESPACE and asked.pid != sender.pid


def test_the_answer_is_kept_for_the_flow_after_the_process_exits(
    attributor: Attributor,
) -> None:
    with program(TCP_SERVER, V4) as server:
        with program(TCP_CLIENT, V4, str(server.port)) as client:
            first = attributor.for_endpoints(6, *ends(V4, client.port, server.port))
        assert first.pid == client.pid
        # The client is gone: asked afresh, the kernel no longer knows the socket...
        later = attributor.resolve(6, *ends(V4, client.port, server.port))
        assert not later.known and later.reason == CLOSED
        # ... but the flow keeps what its first packet learnt, for a dictionary lookup.
        kept = attributor.for_endpoints(6, *ends(V4, client.port, server.port))
        assert kept == first and attributor.counters.lookups == 1
        # A SYN sent after that answer starts a new connection: asked again.
        fresh = attributor.for_endpoints(
            6, *ends(V4, client.port, server.port), timestamp=time.time(), tcp_flags=0x02
        )
        assert fresh.reason == CLOSED and attributor.counters.lookups == 2


def test_a_socket_a_thread_opened_is_its_process(attributor: Attributor) -> None:
    """/proc/TID/fd opens for a thread id too: the answer is the process, never the tid."""
    found: list[object] = []
    with socket.socket() as server:
        server.bind((V4, 0))
        server.listen()

        def connect() -> None:
            with socket.create_connection(server.getsockname()) as client:
                found.append(threading.get_native_id())
                found.append(
                    attributor.for_endpoints(
                        6, *ends(V4, client.getsockname()[1], server.getsockname()[1])
                    )
                )

        thread = threading.Thread(target=connect)
        thread.start()
        thread.join()
    tid, owner = found
    assert isinstance(owner, ProcessInfo) and owner.pid == os.getpid() != tid


def test_a_reused_pid_is_not_named() -> None:
    """An inode remembered for a pid whose start time changed is looked for again."""
    owners = InodeOwners()
    pid = os.getpid()
    started = start_time(pid)
    assert started is not None
    path = f"/proc/{pid}/fd/0"
    owners._owners[123456789] = (pid, started - 1, path)  # as if another process had held it
    assert owners.owner(123456789) is None and owners.scans == 1
    gone = read_process(pid, started - 1)
    assert not gone.known and gone.reason == "the process exited"
    assert read_process(pid, started).pid == pid


def test_a_packet_is_its_senders_and_a_foreign_one_is_unknown(attributor: Attributor) -> None:
    with socket.socket() as server:
        server.bind((V4, 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            sport, dport = client.getsockname()[1], server.getsockname()[1]
            frame = ether() / IP(src=V4, dst=V4) / TCP(sport=sport, dport=dport, flags="S")
            owner = attributor.for_packet(Packet(linktypes.ETHERNET, bytes(frame)))
            assert owner.pid == os.getpid()
    foreign = ether() / IP(src="192.0.2.1", dst="198.51.100.2") / TCP(sport=1, dport=2)
    assert attributor.for_packet(Packet(linktypes.ETHERNET, bytes(foreign))).reason == (
        "not this host's packet"
    )
    icmp = ether() / IPv6(src=V6, dst=V6) / b"x"
    assert attributor.for_packet(Packet(linktypes.ETHERNET, bytes(icmp))).reason == (
        "not TCP or UDP"
    )


@pytest.mark.root("drops capabilities with setpriv")
def test_without_ptrace_another_users_process_is_unknown_for_want_of_permission(
    tmp_path: Path,
) -> None:
    """uid 0 without CAP_SYS_PTRACE (as with only CAP_NET_RAW + CAP_NET_ADMIN)."""
    script = tmp_path / "ask.py"
    with (
        program(TCP_SERVER, V4) as server,
        program(TCP_CLIENT, V4, str(server.port), prefix=("runuser", "-u", "nobody", "--")) as c,
    ):
        script.write_text(
            "import socket\nfrom engine.process import Attributor\n"
            f"a = socket.inet_aton('{V4}')\n"
            f"print(Attributor().resolve(6, (a, {c.port}), (a, {server.port})).reason)\n"
        )
        keep = "+net_raw,+net_admin"
        done = subprocess.run(
            [
                "setpriv",
                f"--inh-caps=-all,{keep}",
                f"--ambient-caps=-all,{keep}",
                f"--bounding-set=-all,{keep}",
                sys.executable,
                str(script),
            ],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent.parent,
            check=False,
        )
    assert "no permission to read the processes of user nobody" in done.stdout, done.stderr


@pytest.mark.parametrize(
    ("cgroup", "unit"),
    [
        ("0::/system.slice/ssh.service\n", "ssh.service"),
        ("0::/user.slice/user-1000.slice/session-3.scope\n", "session-3.scope"),
        (f"0::/system.slice/docker-{'ab' * 32}.scope\n", f"docker:{'ab' * 6}"),
        (f"12:pids:/docker/{'cd' * 32}\n0::/\n", f"container:{'cd' * 6}"),
        (f"0::/machine.slice/libpod-{'ef' * 32}.scope/container\n", f"podman:{'ef' * 6}"),
        ("0::/\n", ""),
    ],
)
def test_the_unit_or_container_is_read_from_the_cgroup(cgroup: str, unit: str) -> None:
    assert unit_of(cgroup) == unit


def test_per_packet_cost_is_a_dictionary_lookup(attributor: Attributor) -> None:
    with program(TCP_SERVER, V4) as server, program(TCP_CLIENT, V4, str(server.port)) as client:
        tuple_ = ends(V4, client.port, server.port)
        assert wait_for(lambda: attributor.for_endpoints(6, *tuple_).pid == client.pid)
        for _ in range(1000):
            attributor.for_endpoints(6, *tuple_)
        assert attributor.counters.lookups == 1


@pytest.mark.root
def test_the_watcher_names_a_connection_whose_program_exited_before_its_packets_were_read(
    attributor: Attributor,
) -> None:
    """The SYN watcher process learns curl's connection as it opens; curl then exits."""
    watcher = WatcherProcess(attributor, "lo")
    try:
        with socket.socket() as server:
            server.bind((V4, 0))
            server.listen()
            port = server.getsockname()[1]
            curl = subprocess.Popen(
                ["curl", "-s", "-m", "10", f"http://{V4}:{port}/"], stdout=subprocess.DEVNULL
            )
            connection, (_address, curl_port) = server.accept()
            assert wait_for(lambda: watcher.answers >= 2)
            curl.kill()
            curl.wait()
            connection.close()
        assert not attributor.resolve(6, *ends(V4, curl_port, port)).known
        owner = attributor.for_endpoints(6, *ends(V4, curl_port, port))
        assert (owner.pid, owner.name) == (curl.pid, "curl")
        assert attributor.for_endpoints(6, *ends(V4, port, curl_port)).pid == os.getpid()
        assert attributor.counters.lookups == 0  # both ends were learnt by the watcher
    finally:
        watcher.stop()


def test_the_proc_filter_fields_read_what_was_learnt_at_capture_time(
    attributor: Attributor,
) -> None:
    with program(TCP_SERVER, V4) as server, program(TCP_CLIENT, V4, str(server.port)) as client:
        frame = ether() / IP(src=V4, dst=V4) / TCP(sport=client.port, dport=server.port)
        record = PcapRecord(time.time(), len(frame), linktypes.ETHERNET, bytes(frame))
        summary = summarize(1, record)
        wanted = compile_display_filter(
            f'proc.name == "python3" && proc.pid == {client.pid} && proc.user == "{ME}"'
        )
        other = compile_display_filter(f'proc.name == "curl" || proc.user != "{ME}"')
        cmdline = compile_display_filter('proc.cmdline contains "python3 -c"')
        assert not wanted.matches_packet(summary)  # nothing registered: no process
        registry.register(attributor)
        try:
            assert not wanted.matches_packet(summary)  # not learnt at capture time
            attributor.for_packet(Packet(linktypes.ETHERNET, bytes(frame)), record.timestamp)
            assert wanted.matches_packet(summary) and cmdline.matches_packet(summary)
            assert not other.matches_packet(summary)
            earlier = summarize(1, record._replace(timestamp=record.timestamp - 60))
            assert not wanted.matches_packet(earlier)  # another connection's, before it
        finally:
            registry.unregister(attributor)


@pytest.mark.root
def test_the_process_table_counts_what_a_program_sent(attributor: Attributor) -> None:
    """50 datagrams of 100 bytes: 50 packets of 142 bytes out of the sender, into us."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind((V4, 0))
        port = receiver.getsockname()[1]
        source = LiveSource("lo", expression=f"udp port {port}")
        table = ProcessTable(attributor)
        try:
            with program(UDP_BURST, V4, str(port), "50", "0.3") as sender:
                deadline = time.monotonic() + 10
                counted = 0
                while counted < 50 and time.monotonic() < deadline:
                    for record in source.read_batch(0.1):
                        packet = Packet(record.linktype, record.data)
                        table.add(packet, record.timestamp, record.length)
                        counted += 1
        finally:
            source.close()
    rows = {row.owner.pid: row for row, _rate in table.ranked()}
    out, into = rows[sender.pid], rows[os.getpid()]
    assert (out.packets_out, out.bytes_out, out.packets_in) == (50, 50 * 142, 0)
    assert (into.packets_in, into.bytes_in, into.packets_out) == (50, 50 * 142, 0)
    assert len(out.flows) == 1 and table.remote_names(out) == [V4]
    document = table.rows()
    assert {row["pid"] for row in document} == {sender.pid, os.getpid()}
    assert table.unattributed == 0


@pytest.mark.root
def test_livetap_top_prints_one_json_document_at_the_end() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "top", "--json", "-i", "lo", "--seconds", "1"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["success"] and document["data"]["interface"] == "lo"
    assert isinstance(document["data"]["processes"], list)


@pytest.mark.root
def test_capture_by_program_keeps_its_child_and_the_syn_of_a_connection_opened_later(
    attributor: Attributor,
) -> None:
    with program(TCP_SERVER, V4) as server:
        source = LiveSource("lo", expression=f"tcp port {server.port}")
        try:
            with (
                program(PARENT, TCP_CLIENT, V4, str(server.port)) as child,
                program(TCP_CLIENT, V4, str(server.port)) as stranger,
            ):
                by_parent = ProgramFilter(attributor, ProgramMatcher(str(child.process.pid)))
                kept: list[tuple[int, int, int]] = []
                dropped: list[tuple[int, int]] = []
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and (len(kept) < 3 or len(dropped) < 3):
                    for record in source.read_batch(0.1):
                        packet = Packet(record.linktype, record.data)
                        ports = packet.ports()
                        assert ports is not None
                        if by_parent.keep(packet, record.timestamp):
                            kept.append((*ports, packet.layers.flags))
                        else:
                            dropped.append(ports)
        finally:
            source.close()
    assert {child.port} <= {port for sport, dport, _ in kept for port in (sport, dport)}
    assert all(child.port in (sport, dport) for sport, dport, _ in kept)
    assert (child.port, server.port, 0x02) in kept  # its SYN, sent after the capture began
    assert dropped and all(stranger.port in ports for ports in dropped)


def test_a_program_is_matched_by_name_or_pid_and_an_unknown_never() -> None:
    curl = ProcessInfo(pid=4121, name="curl", cmdline="/usr/bin/curl -s x", ppid=1, start=5)
    assert ProgramMatcher("curl").matches(curl) and ProgramMatcher("4121").matches(curl)
    assert not ProgramMatcher("wget").matches(curl) and not ProgramMatcher("4122").matches(curl)
    assert not ProgramMatcher("curl").matches(ProcessInfo(reason="the process exited"))
    with pytest.raises(UsageError):
        ProgramMatcher(" ")


@pytest.mark.root("real-time scheduling")
def test_the_watcher_leaves_real_time_when_over_its_cpu_budget() -> None:
    states: list[bool] = []

    def in_a_thread() -> None:
        priority = Priority(realtime=True)
        states.append(priority.realtime)
        priority._window_cpu -= 1.0  # as if it had used a whole core for a second
        priority.account()
        states.append(priority.realtime)
        states.append(os.sched_getscheduler(0) == os.SCHED_OTHER)

    thread = threading.Thread(target=in_a_thread)
    thread.start()
    thread.join()
    assert states == [True, False, True]


@pytest.mark.parametrize(
    "frame",
    [
        ether() / IP(src=V4, dst=V4) / TCP(sport=1, dport=2, flags="S"),
        ether() / IPv6(src=V6, dst=V6) / TCP(sport=1, dport=2, flags="PA") / b"x",
        ether() / IP(src=V4, dst="192.0.2.9") / UDP(sport=3, dport=4) / b"x",
        ether() / IP(src="198.51.100.1", dst="192.0.2.9") / UDP(sport=3, dport=4),
        ether() / IP(src=V4, dst=V4, flags="MF") / UDP(sport=3, dport=4) / (b"x" * 40),
        ether() / Dot1Q(vlan=5) / IP(src=V4, dst=V4) / TCP(sport=1, dport=2),
        ether() / IPv6(src=V6, dst=V6) / IPv6ExtHdrHopByHop() / UDP(sport=3, dport=4),
        ether() / IP(src=V4, dst=V4) / ICMP(),
        ether()
        / IP(src=V4, dst=V4)
        / UDP(sport=5, dport=4789)
        / VXLAN(vni=1)
        / ether()
        / IP(src="192.0.2.1", dst="192.0.2.2")
        / TCP(sport=1, dport=2),
    ],
    ids=[
        "v4-syn",
        "v6-tcp",
        "v4-udp-out",
        "foreign",
        "fragment",
        "vlan",
        "v6-ext",
        "icmp",
        "vxlan",
    ],
)
def test_the_fast_frame_path_agrees_with_the_packet_model(frame: Ether) -> None:
    """for_frame reads fixed offsets where it can, and must answer as the walk does."""
    data = bytes(frame)
    slow, fast = Attributor(), Attributor()
    try:
        expected = slow.for_packet(Packet(linktypes.ETHERNET, data), 1.0)
        assert fast.for_frame(linktypes.ETHERNET, data, 1.0) == expected
        assert fast.counters.lookups == slow.counters.lookups
    finally:
        slow.close()
        fast.close()


@pytest.mark.root
def test_the_watcher_process_ends_when_livetap_is_killed() -> None:
    script = (
        "import time\nfrom engine.process import Attributor\n"
        "from engine.process.watch import WatcherProcess\n"
        "print(WatcherProcess(Attributor(), 'lo').pid, flush=True)\ntime.sleep(60)\n"
    )
    livetap = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert livetap.stdout is not None
    watcher = int(livetap.stdout.readline())
    livetap.kill()
    livetap.wait()
    assert wait_for(lambda: _ended(watcher), timeout=5)


def _ended(pid: int) -> bool:
    """Gone, or a zombie its new parent has not reaped yet (the container's init may not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return True
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z"


def test_the_last_flow_memo_never_outlives_a_new_answer(attributor: Attributor) -> None:
    """Runs of one flow skip the cache; a new answer for that flow (the watcher's) wins."""
    with socket.socket() as server:
        server.bind((V4, 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            sport, dport = client.getsockname()[1], server.getsockname()[1]
            data = bytes(ether() / IP(src=V4, dst=V4) / TCP(sport=sport, dport=dport, flags="A"))
            first = attributor.for_frame(linktypes.ETHERNET, data, time.time())
            assert first.pid == os.getpid()
            assert attributor.for_frame(linktypes.ETHERNET, data, time.time()) is first
            other = ProcessInfo(pid=1, name="other", start=1)
            key = (6, packed(V4), sport, packed(V4), dport)
            attributor.remember(key, other, time.time() + 1, time.time())
            assert attributor.for_frame(linktypes.ETHERNET, data, time.time()) is other
            assert attributor.counters.lookups == 1


def test_a_packet_from_another_host_counts_in_for_its_local_receiver(
    attributor: Attributor,
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind((V4, 0))
        port = receiver.getsockname()[1]
        table = ProcessTable(attributor)
        frame = ether() / IP(src="192.0.2.7", dst=V4) / UDP(sport=53, dport=port) / (b"x" * 58)
        table.add(Packet(linktypes.ETHERNET, bytes(frame)), time.time(), len(frame))
    (row, _rate), *others = table.ranked()
    assert not others and row.owner.pid == os.getpid()
    assert (row.packets_in, row.bytes_in, row.packets_out) == (1, 100, 0)
    assert table.remote_names(row) == ["192.0.2.7"]


@pytest.mark.root
def test_the_watcher_names_a_dns_query_of_a_program_that_exited_at_once(
    attributor: Attributor,
) -> None:
    """A query sent to port 53 by a program that exits right after: learnt as it left."""
    resolver = "127.0.0.77"
    watcher = WatcherProcess(attributor, "lo")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
            server.bind((resolver, 53))
            script = (
                "import os, socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                f"s.sendto(b'query', ('{resolver}', 53))\n"
                "print(os.getpid(), s.getsockname()[1], flush=True)\n"
            )
            asker = subprocess.run(
                [SYSTEM_PYTHON, "-c", script], capture_output=True, text=True, check=True
            )
            pid, port = (int(word) for word in asker.stdout.split())
            assert server.recv(100) == b"query"
        assert wait_for(lambda: watcher.answers >= 1)
        owner = attributor.for_endpoints(17, (packed(V4), port), (packed(resolver), 53))
        assert (owner.pid, owner.name) == (pid, "python3")
        assert attributor.counters.lookups == 0
    finally:
        watcher.stop()


def test_an_answer_still_in_the_watchers_pipe_is_taken_before_a_lookup(
    attributor: Attributor,
) -> None:
    """The capture path drains the watcher's answers before resolving a new flow itself."""
    key = (6, packed(V4), 40001, packed(V4), 40002)
    handed = ProcessInfo(pid=7, name="curl", start=1)
    attributor.before_lookup = lambda: attributor.remember(key, handed, time.time(), 100.0)
    owner = attributor.for_endpoints(6, *ends(V4, 40001, 40002), timestamp=100.0, tcp_flags=2)
    assert owner is handed and attributor.counters.lookups == 0
    # The display filter gives a packet from before that connection began no answer.
    frame = ether() / IP(src=V4, dst=V4) / TCP(sport=40001, dport=40002)
    assert attributor.cached(Packet(linktypes.ETHERNET, bytes(frame)), 50.0) is None
    assert attributor.cached(Packet(linktypes.ETHERNET, bytes(frame)), 100.0) is handed


@pytest.mark.root("runuser to nobody")
def test_a_process_that_is_not_dumpable_is_named_with_its_own_user(
    attributor: Attributor,
) -> None:
    """/proc/PID of a non-dumpable process belongs to root (or, in a user namespace that
    does not map root, the overflow uid); its user is still read from its status."""
    not_dumpable = "import ctypes\nctypes.CDLL(None).prctl(4, 0)\n" + TCP_CLIENT
    with (
        program(TCP_SERVER, V4) as server,
        program(not_dumpable, V4, str(server.port), prefix=("runuser", "-u", "nobody", "--")) as c,
    ):
        owner = attributor.for_endpoints(6, *ends(V4, c.port, server.port))
        assert (owner.pid, owner.user) == (c.pid, "nobody")


@pytest.mark.root
def test_livetap_top_ends_on_sigterm_with_its_document_and_no_watcher_left() -> None:
    top = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "top", "--json", "-i", "lo"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert wait_for(lambda: bool(_children(top.pid)), timeout=10)
    watcher = _children(top.pid)[0]
    time.sleep(0.5)
    top.terminate()
    out, _ = top.communicate(timeout=10)
    assert top.returncode == 130
    assert json.loads(out)["data"]["interface"] == "lo"
    assert wait_for(lambda: _ended(watcher), timeout=5)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def test_a_socket_handed_to_a_child_is_the_childs_once_the_parent_closed_it(
    attributor: Attributor,
) -> None:
    with socket.socket() as server:
        server.bind((V4, 0))
        server.listen()
        client = socket.create_connection(server.getsockname())
        tuple_ = ends(V4, client.getsockname()[1], server.getsockname()[1])
        assert attributor.resolve(6, *tuple_).pid == os.getpid()
        child = subprocess.Popen(
            [SYSTEM_PYTHON, "-c", "import time; time.sleep(60)"], pass_fds=[client.fileno()]
        )
        try:
            client.close()
            assert attributor.resolve(6, *tuple_).pid == child.pid
        finally:
            child.kill()
            child.wait()


def test_the_process_table_ranks_by_rate_names_remotes_from_dns_and_keeps_each_second(
    attributor: Attributor,
) -> None:
    """Known bytes at known times: the faster program now is first though the other sent
    more in all; a remote host is named by the DNS answer seen; the sparkline's seconds
    hold exactly what was sent in each."""
    from scapy.layers.dns import DNS, DNSQR, DNSRR

    from engine.process.top import sparkline

    if time.time() % 1 > 0.8:
        time.sleep(0.25)  # the whole test within one wall-clock second
    now = int(time.time()) + 0.5  # the packets "now" are in this second, as the clock is
    fast = ProcessInfo(pid=101, name="fast", user="a", start=1)
    slow = ProcessInfo(pid=102, name="slow", user="b", start=2)
    table = ProcessTable(attributor)
    answer = (
        ether()
        / IP(src="192.0.2.53", dst=V4)
        / UDP(sport=53, dport=5353)
        / DNS(
            id=1,
            qr=1,
            qd=DNSQR(qname="api.example.test"),
            an=DNSRR(rrname="api.example.test", type="A", rdata="192.0.2.7"),
        )
    )
    table.add(Packet(linktypes.ETHERNET, bytes(answer)), now - 9, 100, ProcessInfo(reason="x"))

    def send(owner: ProcessInfo, sport: int, dst: str, when: float, size: int) -> None:
        frame = ether() / IP(src=V4, dst=dst) / TCP(sport=sport, dport=443, flags="PA")
        table.add(Packet(linktypes.ETHERNET, bytes(frame)), when, size, owner)

    for _ in range(3):
        send(slow, 40001, "198.51.100.9", now - 5, 5000)  # 15,000 bytes, 5 s ago
    send(slow, 40001, "198.51.100.9", now - 0.2, 100)
    for _ in range(4):
        send(fast, 40000, "192.0.2.7", now - 0.2, 1000)  # 4,000 bytes just now
    ranked = table.ranked()
    assert [row.owner.name for row, _rate in ranked] == ["fast", "slow"]
    assert [round(rate) for _row, rate in ranked] == [4000, 100]
    first, second = ranked[0][0], ranked[1][0]
    assert table.remote_names(first) == ["api.example.test"]
    assert table.remote_names(second) == ["198.51.100.9"]
    history = second.history(now, 10)
    assert sum(history) == 15_100 and history[-6] == 15_000 and history[-1] == 100
    assert first.history(now, 10) == [0] * 9 + [4000]
    assert sparkline(history) == "    █    ▁"
    assert sparkline([0, 0]) == "  "
    assert table.rows()[0]["rate_history"] == [0] * 9 + [4000]


@pytest.mark.root("loads a BPF program")
@pytest.mark.parametrize("host", [V4, V6])
def test_the_kernels_record_names_a_connection_closed_before_it_was_looked_up(host: str) -> None:
    """The short-connection gap: curl connects, fetches and exits before anyone looks.
    Without the kernel hook the flow is unknown (closed); with it, curl and its pid; a
    record made after the flow's first packet (a later connection) is never used."""
    kernel = KernelConnects()
    plain, hooked = Attributor(), Attributor()
    hooked.kernel = kernel
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    url_host = f"[{host}]" if ":" in host else host
    try:
        with socket.socket(family) as server:
            server.bind((host, 0))
            server.listen()
            port = server.getsockname()[1]
            started = time.time()
            curl = subprocess.Popen(
                ["curl", "-s", "-m", "5", f"http://{url_host}:{port}/"], stdout=subprocess.DEVNULL
            )
            connection, peer = server.accept()
            client_port = peer[1]
            connection.recv(4096)
            connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
            connection.close()
            assert curl.wait(10) == 0
        ends_now = ends(host, client_port, port)
        assert plain.for_endpoints(6, *ends_now, timestamp=started).reason in (
            CLOSED,
            TIME_WAIT_REASON,
        )
        found = hooked.for_endpoints(6, *ends_now, timestamp=started)
        assert (found.known, found.pid, found.name, found.user) == (True, curl.pid, "curl", ME)
        later = Attributor()
        later.kernel = kernel  # a flow whose first packet came long before that connect
        stale = later.for_endpoints(6, *ends_now, timestamp=started - 60)
        assert not stale.known and stale.reason in (CLOSED, TIME_WAIT_REASON)
        later.close()
    finally:
        kernel.close()
        plain.close()
        hooked.close()


@pytest.mark.root("loads a BPF program")
def test_the_kernels_record_of_a_running_program_gives_its_whole_detail() -> None:
    """A client that closed its socket but still runs: named with its command line."""
    kernel = KernelConnects()
    hooked = Attributor()
    hooked.kernel = kernel
    script = (
        "import socket, sys, time; c = socket.create_connection(('127.0.0.1', int(sys.argv[1])));"
        "print(c.getsockname()[1], flush=True); c.close(); time.sleep(30)"
    )
    try:
        with socket.socket() as server:
            server.bind((V4, 0))
            server.listen()
            port = server.getsockname()[1]
            started = time.time()
            client = subprocess.Popen(
                [SYSTEM_PYTHON, "-c", script, str(port)], stdout=subprocess.PIPE, text=True
            )
            try:
                assert client.stdout is not None
                client_port = int(client.stdout.readline())
                accepted, _ = server.accept()
                accepted.close()
                assert wait_for(
                    lambda: (
                        hooked.resolve(6, *ends(V4, client_port, port)).reason
                        in (CLOSED, TIME_WAIT_REASON)
                    )
                )
                found = hooked.for_endpoints(6, *ends(V4, client_port, port), timestamp=started)
                assert found.pid == client.pid and "socket.create_connection" in found.cmdline
            finally:
                client.kill()
                client.wait()
    finally:
        kernel.close()
        hooked.close()


CLOSE_AND_STAY = """
import os, socket, struct, sys, time
client = socket.create_connection((sys.argv[1], int(sys.argv[2])))
port = client.getsockname()[1]
client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
client.close()
print(os.getpid(), port, flush=True)
time.sleep(60)
"""
"""Connects, closes its socket with a reset (gone from every table at once), keeps running."""


@pytest.mark.root("loads a BPF program and creates a network namespace")
def test_the_kernels_record_never_names_a_program_of_another_namespace(namespace: str) -> None:
    """The hook sees every namespace's connects: one made inside the test's namespace, on
    the same 127.0.0.1 addresses the host has, is not given to the host's four-tuple."""
    kernel = KernelConnects()
    hooked = Attributor()
    hooked.kernel = kernel
    inside = ("ip", "netns", "exec", namespace)
    started = time.time()
    try:
        with (
            program(TCP_SERVER, V4, prefix=inside) as server,
            program(CLOSE_AND_STAY, V4, str(server.port), prefix=inside) as client,
        ):
            record = kernel.owner(*ends(V4, client.port, server.port))
            assert record is not None and record.pid == client.pid  # the hook saw it
            assert record.foreign  # in a namespace that is not livetap's
            found = hooked.for_endpoints(6, *ends(V4, client.port, server.port), started)
            assert not found.known and found.reason in (OTHER_NAMESPACE, CLOSED)
            assert found.pid != client.pid
        gone = Attributor()  # the program has exited: /proc cannot tell its namespace now
        gone.kernel = kernel
        after = gone.for_endpoints(6, *ends(V4, client.port, server.port), started)
        gone.close()
        assert not after.known and after.reason == OTHER_NAMESPACE
    finally:
        kernel.close()
        hooked.close()


def test_the_detail_says_a_command_line_is_not_known_rather_than_inventing_one() -> None:
    """The kernel hook names a program that ended before /proc was read: pid, name and user
    only. The detail must not show its name as a command line, nor a parent pid of 0."""
    from engine.process.detail import process_node

    ended = process_node(ProcessInfo(pid=4121, name="curl", user="root", uid=0))
    lines = [node.label for node in ended.children]
    assert ended.label == "Process: curl 4121"
    assert "Command line: not known (the program ended before livetap read it)" in lines
    assert not any(line.startswith("Parent PID") for line in lines)
    read = process_node(ProcessInfo(4121, "curl", "curl -s http://x/", "root", 0, 880))
    assert [node.label for node in read.children][:4] == [
        "Command line: curl -s http://x/",
        "User: root",
        "PID: 4121",
        "Parent PID: 880",
    ]


def test_a_zombie_has_no_command_line_and_a_kernel_thread_its_name() -> None:
    """A zombie's /proc cmdline is empty: the detail then says the command line is not
    known, not ``[name]`` (which only a kernel thread, that never had one, is given)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        assert wait_for(lambda: _state(child.pid) == "Z", timeout=10)
        zombie = read_process(child.pid)
        assert zombie.known and zombie.name.startswith("python") and zombie.cmdline == ""
    finally:
        child.wait()
    kthreadd = read_process(2)
    if kthreadd.known:  # pid 2 is the kernel's thread starter outside a pid namespace
        assert kthreadd.cmdline == f"[{kthreadd.name}]"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""
