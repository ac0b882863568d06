"""Which program, in the capture session: each packet of a live lo capture keeps its program."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import linktypes
from engine.analysis.reader import analyze_file
from engine.config import Settings, load_settings
from engine.errors import ExitCode, FilterError, PermissionDeniedError, UsageError
from engine.live import LiveSource
from engine.ndjson.capture import NdjsonCapture, NdjsonOptions
from engine.pcapio import PcapRecord
from engine.process.packet_owners import PacketOwners, for_capture
from engine.process.procfs import ProcessInfo
from engine.process.program import (
    ProgramMatcher,
    kernel_expression,
    split_process_clause,
    user_expression,
)
from engine.process.saved import packet_comment, parse_packet_comment, saved_processes
from engine.replay import open_file_source
from engine.ring import PacketRing
from engine.session import CaptureSession
from engine.source import SourceSpec
from tests.analysis_data import tshark
from tests.conftest import free_udp_port, wait_for
from tests.process_programs import TCP_CLIENT, UDP_BURST, program
from tests.sample_traffic import write_sample_pcap
from tests.test_process_app import http_server
from tui.cli import _packet_session, build_parser, main

V4 = "127.0.0.1"


@pytest.mark.root
def test_every_packet_of_a_live_capture_keeps_the_program_that_sent_it() -> None:
    port = free_udp_port()
    source = LiveSource("lo", expression=f"udp port {port}")
    session = CaptureSession(source, 1000, analyze=False, owners=PacketOwners("lo"))
    session.start()
    try:
        with program(UDP_BURST, V4, str(port), "50", "0.5") as sender:
            assert wait_for(lambda: session.ring.last_index == 50, timeout=10)
            owners = [session.process_of(index) for index in range(1, 51)]
            assert all(o is not None and (o.pid, o.name) == (sender.pid, "python3") for o in owners)
            assert session.ring.owner_id(1) == session.ring.owner_id(50) != 0  # one id, shared
    finally:
        session.stop()
    assert session.process_of(1) is not None, "the answers stay readable after the capture"


def test_only_this_hosts_interfaces_are_attributed(tmp_path: Path) -> None:
    mixed = SourceSpec(interfaces=("lo",), commands=("ssh host tcpdump -w -",))
    both = for_capture(mixed, ("lo", "ssh host tcpdump -w -"))
    assert both is not None and both.interface == "lo"
    record = PcapRecord(time.time(), 60, linktypes.ETHERNET, bytes(60), 1)
    assert both.ids([record]) == []  # not started: nothing is attributed
    path = write_sample_pcap(tmp_path / "sample.pcap")
    assert for_capture(SourceSpec(files=(str(path),)), ("sample.pcap",)) is None
    assert for_capture(SourceSpec(commands=("ssh host",)), ("ssh host",)) is None
    several = for_capture(SourceSpec(interfaces=("eth0", "lo")), ("eth0", "lo"))
    assert several is not None and several.interface == "any"


def test_an_evicted_packet_has_no_process_id() -> None:
    ring = PacketRing(2)
    records = [PcapRecord(float(i), 60, linktypes.ETHERNET, bytes(60), 0) for i in range(3)]
    ring.add_records(records[:2], [7, 8])
    assert (ring.owner_id(1), ring.owner_id(2)) == (7, 8)
    ring.add_records(records[2:])
    assert (ring.owner_id(1), ring.owner_id(2), ring.owner_id(3)) == (0, 8, 0)


@pytest.mark.root
def test_process_keeps_only_that_programs_packets_both_ways() -> None:
    """curl and a python client fetch from one server; --process curl keeps curl's alone,
    its requests and the server's answers to it (a connection opened after the start)."""
    with http_server() as (port, clients):
        source = LiveSource("lo", expression=f"tcp port {port}")
        owners = PacketOwners("lo", only=ProgramMatcher("curl"))
        session = CaptureSession(source, 1000, analyze=False, owners=owners)
        session.start()
        try:
            assert wait_for(lambda: owners.active)
            with program(TCP_CLIENT, V4, str(port)) as other:
                # Without the kernel hook a curl on lo can be over before the SYN watcher
                # looks (see the README's "Which program"): its packets are then not
                # curl's and are left out; then up to ten curls, one kept whole. With the
                # hook, the first one.
                kernel = owners.attributor.kernel if owners.attributor is not None else None
                for _attempt in range(1 if kernel is not None else 10):
                    fetched = subprocess.run(
                        ["curl", "-s", "-m", "5", f"http://{V4}:{port}/"],
                        capture_output=True,
                        check=True,
                    )
                    assert fetched.stdout == b"ok"
                    if wait_for(lambda: session.ring.last_index >= 8, timeout=2):
                        break
                assert session.ring.last_index >= 8
                time.sleep(0.3)
            curl_ports = set(clients) - {other.port}
            kept = [session.packet(i) for i in range(1, session.ring.last_index + 1)]
            assert all(p is not None and {p.sport, p.dport} & curl_ports for p in kept)
            assert port in {p.sport for p in kept if p is not None}
            assert {p.sport for p in kept if p is not None} - {port} <= curl_ports
            sent = [session.process_of(p.index) for p in kept if p and p.sport in curl_ports]
            assert {owner.name for owner in sent if owner is not None} == {"curl"}
        finally:
            session.stop()


def test_process_with_a_file_or_without_attribution_is_a_usage_error(tmp_path: Path) -> None:
    path = write_sample_pcap(tmp_path / "sample.pcap")
    assert main(["-r", str(path), "--process", "curl"]) == ExitCode.USAGE_ERROR
    assert main(["-i", "lo", "--process", "curl", "--no-process"]) == ExitCode.USAGE_ERROR
    assert main(["-i", "lo", "--process", " "]) == ExitCode.USAGE_ERROR


@pytest.mark.root
def test_ndjson_packet_lines_name_the_program(tmp_path: Path) -> None:
    port = free_udp_port()
    session = CaptureSession(
        LiveSource("lo", expression=f"udp port {port}"), 1000, owners=PacketOwners("lo")
    )
    session.start()
    path = tmp_path / "capture.ndjson"
    capture = NdjsonCapture(NdjsonOptions(path=path, browser=False, packets=True), None, session)
    capture.start()
    try:
        assert wait_for(lambda: session.owners is not None and session.owners.active)
        with program(UDP_BURST, V4, str(port), "5", "0.2") as sender:
            assert wait_for(lambda: session.ring.last_index == 5, timeout=10)
            time.sleep(0.3)
    finally:
        capture.stop()
        session.stop()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    packets = [line for line in lines if line["type"] == "packet"]
    assert len(packets) == 5
    assert all(line["process"] == {"name": "python3", "pid": sender.pid} for line in packets)


def test_processes_false_in_the_config_file_turns_attribution_off(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("processes: false\n")
    assert not load_settings({}, {}, config).processes
    assert not load_settings({"processes": False}, {}, None).processes
    config.write_text("processes: maybe\n")
    with pytest.raises(UsageError, match="processes must be true or false"):
        load_settings({}, {}, config)
    config.write_text("processes: false\n")
    assert main(["-i", "lo", "--config", str(config), "--process", "curl"]) == ExitCode.USAGE_ERROR


@pytest.mark.root
def test_the_live_view_attributes_by_default_and_process_narrows_to_tcp_and_udp() -> None:
    def session_for(*argv: str) -> CaptureSession:
        args = build_parser(list(argv)).parse_args(list(argv))
        made: CaptureSession = _packet_session(args, Settings(interface=None))
        return made

    plain = session_for("-i", "lo")
    narrowed = session_for("-i", "lo", "-f", "port 53", "--process", "4121")
    off = session_for("-i", "lo", "--no-process")
    try:
        assert plain.owners is not None and plain.owners.only is None
        assert narrowed.owners is not None and narrowed.owners.only is not None
        assert narrowed.source.filter.expression == "(port 53) and (tcp or udp)"
        assert narrowed.stats().filter.endswith(" · process 4121")
        assert off.owners is None
    finally:
        for session in (plain, narrowed, off):
            session.stop()


def test_when_attribution_cannot_start_the_status_says_so_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def refuse(interface: str) -> None:
        raise PermissionDeniedError("sock_diag needs CAP_NET_ADMIN")

    monkeypatch.setattr("engine.process.packet_owners.LiveAttribution", refuse)
    owners = PacketOwners("lo")
    owners.start()
    assert not owners.active and owners.attributor is None
    assert (
        owners.warning == "which program sent a packet is not shown: sock_diag needs CAP_NET_ADMIN"
    )
    record = PcapRecord(time.time(), 60, linktypes.ETHERNET, bytes(60), 0)
    assert owners.select([record]) == ([record], [])  # packets still kept, with no process
    path = write_sample_pcap(tmp_path / "sample.pcap")
    session = CaptureSession(open_file_source(path), owners=owners)
    assert session.stats().warning == owners.warning


LATER_PARENT = """
import os, subprocess, sys, time
print(os.getpid(), 0, flush=True)
time.sleep(float(sys.argv[1]))
subprocess.Popen([sys.executable, "-c", sys.argv[2], *sys.argv[3:]]).wait()
"""
"""Prints its own pid, then after argv[1] seconds runs argv[2] as its child."""


def test_a_process_clause_in_the_capture_filter_is_split_and_given_back() -> None:
    assert split_process_clause("tcp port 80 and process 4121") == ("tcp port 80", "4121")
    assert split_process_clause(" process curl ") == ("", "curl")
    assert split_process_clause("tcp port 80") == ("tcp port 80", None)
    assert split_process_clause("processes") == ("processes", None)
    assert kernel_expression("") == "tcp or udp"
    assert kernel_expression("port 80") == "(port 80) and (tcp or udp)"
    for bpf in ("", "port 80", "tcp and (port 1 or port 2)"):
        kernel = kernel_expression(bpf)
        expected = f"{bpf} and process 7" if bpf else "process 7"
        assert user_expression(kernel, "7") == expected


def test_process_in_the_filter_of_a_file_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    session = CaptureSession(open_file_source(write_sample_pcap(tmp_path / "sample.pcap")))
    with pytest.raises(UsageError, match="capture by program"):
        session.set_filter("udp and process 1")
    assert session.capture_filter == ""


@pytest.mark.root
def test_process_in_the_filter_keeps_the_program_from_then_on_with_its_childs_syn() -> None:
    """What ``--process PID`` does, set on a running capture (the ``f`` prompt): a child the
    program starts afterwards is kept from its SYN on; a stranger is not; a filter without
    the clause keeps everyone again; a bad one changes nothing."""
    with http_server() as (port, clients):
        source = LiveSource("lo", expression=f"tcp port {port}")
        owners = PacketOwners("lo")
        session = CaptureSession(source, 1000, analyze=False, owners=owners)
        session.start()
        try:
            assert wait_for(lambda: owners.active)
            with program(LATER_PARENT, "1.0", TCP_CLIENT, V4, str(port)) as parent:
                applied = session.set_filter(f"tcp port {port} and process {parent.pid}")
                assert (
                    applied == session.capture_filter == f"tcp port {port} and process {parent.pid}"
                )
                assert session.source.filter.expression == f"(tcp port {port}) and (tcp or udp)"
                assert session.stats().filter.endswith(f" · process {parent.pid}")
                with pytest.raises(FilterError):
                    session.set_filter("tcp port 99999 and process 1")
                assert owners.only is not None and owners.only.pid == parent.pid
                with program(TCP_CLIENT, V4, str(port)) as stranger:
                    assert wait_for(lambda: len(clients) >= 2, timeout=5)
                    assert wait_for(lambda: session.ring.last_index >= 3, timeout=5)
                    time.sleep(0.3)
                    kept = [session.packet(i) for i in range(1, session.ring.last_index + 1)]
                child_ports = {p.sport for p in kept if p is not None} - {port}
                assert len(child_ports) == 1 and stranger.port not in child_ports
                assert all(p is not None and stranger.port not in (p.sport, p.dport) for p in kept)
                syn = kept[0]
                assert syn is not None and syn.dport == port and "[SYN]" in syn.info
                assert {p.sport for p in kept if p is not None} == child_ports | {port}
                owner = session.process_of(1)
                assert owner is not None and owner.ppid == parent.pid
                session.set_filter(f"tcp port {port}")
                assert owners.only is None and session.capture_filter == f"tcp port {port}"
                before = session.ring.last_index
                with program(TCP_CLIENT, V4, str(port)) as later:

                    def later_seen() -> bool:
                        last = session.ring.last_index
                        found = (session.packet(i) for i in range(before + 1, last + 1))
                        return any(p is not None and p.sport == later.port for p in found)

                    assert wait_for(later_seen, timeout=5)  # not the program's: kept again
        finally:
            session.stop()


def test_a_packet_comment_names_the_process_and_is_read_back() -> None:
    owner = ProcessInfo(
        pid=4121, name="Web Content", cmdline="/x -a; user b", user="root", ppid=1, unit="u"
    )
    text = packet_comment(owner)
    assert text == "process: Web Content 4121; user root; parent 1; unit u"  # no command line
    assert parse_packet_comment(text) == ("Web Content", 4121, "root")
    gone = packet_comment(ProcessInfo(reason="the process exited", user="nobody"))
    assert gone == "process unknown: the process exited; user nobody"
    assert parse_packet_comment(gone) is None and packet_comment(None) == ""


@pytest.mark.root
def test_a_saved_pcapng_carries_each_packets_process_as_tshark_reads_it(tmp_path: Path) -> None:
    """5 datagrams of a known sender, saved from a live capture: tshark 4.0 shows its name,
    pid and user in each packet's comment; livetap counts them back; a .pcap has none."""
    port = free_udp_port()
    session = CaptureSession(
        LiveSource("lo", expression=f"udp port {port}"), 1000, owners=PacketOwners("lo")
    )
    session.start()
    try:
        assert wait_for(lambda: session.owners is not None and session.owners.active)
        with program(UDP_BURST, V4, str(port), "5", "0.2") as sender:
            assert wait_for(lambda: session.ring.last_index == 5, timeout=10)
        saved = session.save_pcap(tmp_path / "five.pcapng")
        session.save_pcap(tmp_path / "five.pcap")
    finally:
        session.stop()
    assert saved.packets == 5
    comments = tshark(saved.path, "-T", "fields", "-e", "frame.comment").splitlines()
    expected = f"process: python3 {sender.pid}; user root; parent "
    assert len(comments) == 5 and all(line.startswith(expected) for line in comments)
    assert not any("/usr/bin/python3" in line for line in comments)  # no command line
    matched = tshark(saved.path, "-Y", f'frame.comment contains "python3 {sender.pid};"')
    assert len(matched.splitlines()) == 5
    rows = [row.to_json() for row in saved_processes(saved.path)]
    assert rows == [
        {
            "process": f"python3 {sender.pid}",
            "name": "python3",
            "pid": sender.pid,
            "user": "root",
            "packets": 5,
            "bytes": 5 * 142,
        }
    ]
    assert tshark(tmp_path / "five.pcap", "-T", "fields", "-e", "frame.comment").split() == []
    assert saved_processes(tmp_path / "five.pcap") == []
    talkers = analyze_file(saved.path, ["talkers"]).reports["talkers"]
    assert talkers["by_process"] == rows and talkers["processes_total"] == 1
    assert "by_process" not in analyze_file(tmp_path / "five.pcap", ["talkers"]).reports["talkers"]
    text = subprocess.run(
        [sys.executable, "-m", "tui.cli", "analyze", "--report", "talkers", str(saved.path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "By process (1, from the file's packet comments)" in text
    assert any(
        line.split()[:4] == ["python3", str(sender.pid), "root", "5"] for line in text.splitlines()
    )
