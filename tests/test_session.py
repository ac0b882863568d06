"""The capture session on real loopback traffic: summaries, filters, ring, files, commands."""

from __future__ import annotations

import itertools
import shutil
import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP

from engine.errors import FilterError, NotFoundError
from engine.events import PacketSummary
from engine.live import LiveSource
from engine.pcapio import PcapRecord, write_pcap_file
from engine.replay import open_command_source, open_file_source
from engine.session import CaptureSession
from tests.conftest import LOOPBACK, free_tcp_port, free_udp_port, send_udp, wait_for

Starter = Callable[..., CaptureSession]


def packets(session: CaptureSession) -> list[PacketSummary]:
    """Everything in the session's ring, oldest first."""
    return list(session.ring)


def rows(session: CaptureSession) -> list[tuple[object, ...]]:
    """The visible columns of every packet (what the list shows, minus time)."""
    return [
        (p.src, p.dst, p.sport, p.dport, p.protocol, p.length, p.info) for p in packets(session)
    ]


def send_raw_ip(packet: IP) -> None:
    """Send a hand-built IPv4 packet to 127.0.0.1 through a raw socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as raw:
        raw.sendto(bytes(packet), (LOOPBACK, 0))


@pytest.mark.root
def test_udp_datagrams_are_summarised_exactly(live_session: Starter) -> None:
    port = free_udp_port()
    session = live_session(f"udp port {port}")
    source_port = send_udp(port, [b"one", b"twenty-two bytes here!"])
    assert wait_for(lambda: len(session.ring) == 2)
    assert rows(session) == [
        (
            LOOPBACK,
            LOOPBACK,
            source_port,
            port,
            "UDP",
            14 + 20 + 8 + 3,
            f"{source_port} → {port} Len=3",
        ),
        (
            LOOPBACK,
            LOOPBACK,
            source_port,
            port,
            "UDP",
            14 + 20 + 8 + 22,
            f"{source_port} → {port} Len=22",
        ),
    ]
    assert [p.data[-3:] for p in packets(session)] == [b"one", b"re!"]
    assert [p.index for p in packets(session)] == [1, 2]


@pytest.mark.root
def test_dns_query_is_named(live_session: Starter) -> None:
    source_port = free_udp_port()
    session = live_session(f"udp port 53 and udp src port {source_port}")
    query = bytes(DNS(id=0x2A2A, rd=1, qd=DNSQR(qname="livetap.example", qtype="AAAA")))
    send_udp(53, [query], source_port=source_port)
    assert wait_for(lambda: len(session.ring) == 1)
    packet = packets(session)[0]
    assert (packet.protocol, packet.sport, packet.dport) == ("DNS", source_port, 53)
    assert packet.info == "Standard query 0x2a2a AAAA livetap.example"


@pytest.mark.root
def test_tcp_syn_and_the_kernels_reset(live_session: Starter) -> None:
    port, closed = free_tcp_port(), free_tcp_port()
    session = live_session(f"tcp port {closed}")
    send_raw_ip(
        IP(src=LOOPBACK, dst=LOOPBACK)
        / TCP(sport=port, dport=closed, flags="S", seq=1000, window=512)
    )
    assert wait_for(lambda: len(session.ring) == 2)
    syn, reset = packets(session)
    assert (syn.src, syn.dst, syn.sport, syn.dport, syn.protocol) == (
        LOOPBACK,
        LOOPBACK,
        port,
        closed,
        "TCP",
    )
    assert syn.info == f"{port} → {closed} [SYN] Seq=1000 Win=512 Len=0"
    assert (reset.sport, reset.dport) == (closed, port)
    assert reset.info == f"{closed} → {port} [RST, ACK] Seq=0 Ack=1001 Win=0 Len=0"


@pytest.mark.root
def test_icmp_echo_and_reply(live_session: Starter) -> None:
    session = live_session("icmp and icmp[4:2] == 0x4c54")
    send_raw_ip(IP(src=LOOPBACK, dst=LOOPBACK) / ICMP(type=8, id=0x4C54, seq=7) / b"livetap")
    assert wait_for(lambda: len(session.ring) == 2)
    assert [(p.protocol, p.info) for p in packets(session)] == [
        ("ICMP", "Echo (ping) request id=0x4c54, seq=7"),
        ("ICMP", "Echo (ping) reply id=0x4c54, seq=7"),
    ]
    assert all(p.sport is None and p.dport is None for p in packets(session))


@pytest.mark.root
def test_http_request_line_over_a_real_connection(live_session: Starter) -> None:
    with socket.socket() as server:
        server.bind((LOOPBACK, 0))
        server.listen()
        port = server.getsockname()[1]
        session = live_session(f"tcp port {port} and tcp[((tcp[12] & 0xf0) >> 2)] = 0x47")
        with socket.create_connection((LOOPBACK, port)) as client:
            accepted, _ = server.accept()
            client.sendall(b"GET /status?x=1 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            accepted.recv(1000)
            accepted.close()
        assert wait_for(lambda: len(session.ring) == 1)
    assert packets(session)[0].protocol == "HTTP"
    assert packets(session)[0].info == "GET /status?x=1 HTTP/1.1"


@pytest.mark.root
def test_a_filter_change_mid_stream_takes_effect_and_loses_nothing(live_session: Starter) -> None:
    first, second = free_udp_port(), free_udp_port()
    session = live_session(f"udp port {first}")
    before = [b"before-%03d" % i for i in range(50)]
    send_udp(first, before)
    send_udp(second, [b"ignored-%03d" % i for i in range(50)])
    assert session.set_filter(f"udp port {second}") == f"udp port {second}"
    after = [b"after-%03d" % i for i in range(50)]
    send_udp(first, [b"late-%03d" % i for i in range(50)])
    send_udp(second, after)
    assert wait_for(lambda: len(session.ring) >= 100)
    payloads = [p.data[42:] for p in packets(session)]
    assert payloads == before + after
    assert session.stats().filter == f"udp port {second}"


@pytest.mark.root
def test_a_bad_filter_is_refused_and_the_old_one_keeps_capturing(live_session: Starter) -> None:
    port = free_udp_port()
    session = live_session(f"udp port {port}")
    with pytest.raises(FilterError, match="syntax error"):
        session.set_filter("udp portt 53")
    send_udp(port, [b"still here"])
    assert wait_for(lambda: len(session.ring) == 1)
    assert session.stats().filter == f"udp port {port}"
    assert session.running


@pytest.mark.root
def test_the_ring_keeps_the_newest_and_counts_evictions(live_session: Starter) -> None:
    port = free_udp_port()
    session = live_session(f"udp port {port}", ring_size=10)
    send_udp(port, [b"%02d" % i for i in range(30)])
    assert wait_for(lambda: session.ring.last_index == 30)
    stats = session.stats()
    assert (stats.packets, stats.evicted, stats.buffered) == (30, 20, 10)
    assert session.ring.first_index == 21
    assert session.packet(20) is None
    assert [p.data[-2:] for p in packets(session)] == [b"%02d" % i for i in range(20, 30)]
    assert stats.kernel_drops == 0


@pytest.mark.root
def test_poll_hands_over_batches_without_gaps(live_session: Starter) -> None:
    port = free_udp_port()
    session = live_session(f"udp port {port}")
    seen: list[int] = []
    for round_number in range(3):
        send_udp(port, [b"x"] * (round_number + 5))
        expected = sum(range(5, 6 + round_number))
        assert wait_for(partial(lambda target: session.ring.last_index == target, expected))
        batch = session.poll()
        seen.extend(range(batch.first_index, batch.last_index + 1))
    assert seen == list(range(1, 5 + 6 + 7 + 1))
    assert session.poll().count == 0


@pytest.mark.root
def test_a_saved_pcap_reads_back_as_the_same_summaries(
    live_session: Starter, tmp_dir: Path
) -> None:
    port = free_udp_port()
    session = live_session(f"udp port {port} or (icmp and icmp[4:2] == 0x4c55)")
    send_udp(port, [b"a" * n for n in range(1, 20)])
    send_raw_ip(IP(src=LOOPBACK, dst=LOOPBACK) / ICMP(type=8, id=0x4C55, seq=1))
    assert wait_for(lambda: len(session.ring) == 21)
    saved = session.save_pcap(tmp_dir / "saved.pcap")
    assert saved.packets == 21
    assert (saved.path.stat().st_mode & 0o777) == 0o600
    replay = CaptureSession(open_file_source(saved.path), 1000)
    with replay:
        assert replay.wait_finished(5)
    assert rows(replay) == rows(session)
    assert [p.timestamp for p in packets(replay)] == pytest.approx(
        [p.timestamp for p in packets(session)], abs=1e-6
    )
    assert replay.stats().finished and replay.stats().kernel_drops is None


@pytest.mark.root
def test_a_file_source_applies_its_filter_in_user_space(
    tmp_dir: Path, live_session: Starter
) -> None:
    port, other = free_udp_port(), free_udp_port()
    session = live_session(f"udp port {port} or udp port {other}")
    send_udp(port, [b"keep"] * 3)
    send_udp(other, [b"drop"] * 4)
    assert wait_for(lambda: len(session.ring) == 7)
    path = session.save_pcap(tmp_dir / "mixed.pcapng").path
    replay = CaptureSession(open_file_source(path, expression=f"udp port {port}"), 100)
    with replay:
        assert replay.wait_finished(5)
    assert [p.data[-4:] for p in packets(replay)] == [b"keep"] * 3


@pytest.mark.root
def test_a_command_source_reads_tcpdumps_stream(live_session: Starter) -> None:
    tcpdump = shutil.which("tcpdump")
    assert tcpdump, "tcpdump is needed (setup.sh installs it)"
    port = free_udp_port()
    source = open_command_source(f"{tcpdump} -i lo -U -n -w - udp port {port}")
    session = CaptureSession(source, 100)
    with session:
        # tcpdump writes its header at once but needs a moment to start capturing
        stop = threading.Event()

        def keep_sending() -> None:
            while not stop.is_set():
                send_udp(port, [b"remote"])
                stop.wait(0.05)

        sender = threading.Thread(target=keep_sending)
        sender.start()
        try:
            assert wait_for(lambda: len(session.ring) >= 3, timeout=10)
        finally:
            stop.set()
            sender.join()
    first = packets(session)[0]
    assert (first.protocol, first.dport, first.data[-6:]) == ("UDP", port, b"remote")
    assert session.stats().source.startswith("command ")


def test_a_command_that_does_not_exist_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="not found on PATH"):
        open_command_source("no-such-livetap-command -w -")


def test_an_unknown_interface_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="livetap interfaces"):
        LiveSource("nosuch0")


@pytest.mark.root
def test_stop_closes_the_socket_and_ends_the_thread(live_session: Starter) -> None:
    session = live_session("udp port 9")
    assert session.running
    session.stop()
    assert not session.running
    source = session.source
    assert isinstance(source, LiveSource)
    assert source._sock.fileno() == -1


def test_realtime_replay_keeps_the_files_pace(tmp_dir: Path) -> None:
    frame = bytes(IP(src=LOOPBACK, dst=LOOPBACK) / ICMP())
    records = [PcapRecord(1000.0 + offset, len(frame), 101, frame) for offset in (0.0, 0.4, 0.8)]
    path = tmp_dir / "paced.pcap"
    write_pcap_file(path, records)
    arrivals: list[float] = []
    session = CaptureSession(open_file_source(path, realtime=True), 10)
    session.on_packets = lambda: arrivals.extend(
        [time.monotonic()] * (session.ring.last_index - len(arrivals))
    )
    with session:
        assert session.wait_finished(10)
    assert session.ring.last_index == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert all(gap >= 0.35 for gap in gaps), gaps
    assert [p.timestamp for p in packets(session)] == [1000.0, 1000.4, 1000.8]


def _two_port_file(path: Path, keep: int, drop: int) -> Path:
    """A pcap of 3 datagrams to ``keep`` and 4 to ``drop``, interleaved."""
    from scapy.layers.inet import UDP
    from scapy.layers.l2 import Ether

    frames = [
        bytes(Ether() / IP(src=LOOPBACK, dst=LOOPBACK) / UDP(sport=40000, dport=port) / b"x")
        for port in (keep, drop, keep, drop, drop, keep, drop)
    ]
    records = [PcapRecord(1000.0 + n * 0.01, len(f), 1, f) for n, f in enumerate(frames)]
    write_pcap_file(path, records)
    return path


@pytest.mark.parametrize("realtime", [False, True])
def test_a_capture_filter_on_a_file_reads_it_again_through_the_filter(
    tmp_dir: Path, realtime: bool
) -> None:
    path = _two_port_file(tmp_dir / "two.pcap", 5001, 5002)
    session = CaptureSession(open_file_source(path, realtime=realtime), 100)
    with session:
        assert session.wait_finished(5) and len(session.ring) == 7
        session.set_display_filter("udp.dstport == 5001 or udp.dstport == 5002")
        assert session.set_filter("udp dst port 5001") == "udp dst port 5001"
        assert session.generation == 1
        assert session.wait_finished(5)
        assert [p.dport for p in packets(session)] == [5001] * 3
        stats = session.stats()
        assert (stats.packets, stats.filter, stats.finished) == (3, "udp dst port 5001", True)
        assert session.view is not None and session.view.ring is session.ring
        assert wait_for(lambda: len(session.view or ()) == 3)
        analysis = session.analysis
        assert analysis is not None
        assert wait_for(lambda: analysis.analyzer.snapshot().packets == 3)
        assert session.set_filter("") == ""  # cleared: every packet again
        assert session.wait_finished(5)
        assert [p.dport for p in packets(session)].count(5002) == 4 and session.generation == 2


def test_a_bad_capture_filter_on_a_file_changes_nothing(tmp_dir: Path) -> None:
    path = _two_port_file(tmp_dir / "two.pcap", 5001, 5002)
    session = CaptureSession(open_file_source(path, expression="udp dst port 5002"), 100)
    with session:
        assert session.wait_finished(5)
        ring = session.ring
        with pytest.raises(FilterError):
            session.set_filter("udp portt 5001")
        assert session.ring is ring and session.generation == 0
        assert [p.dport for p in packets(session)] == [5002] * 4
        assert session.stats().filter == "udp dst port 5002"
