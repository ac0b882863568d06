"""Several sources at once: files merged by time (as mergecap), live inputs side by side."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from engine import linktypes
from engine.errors import UsageError
from engine.pcapio import PcapRecord, open_pcap, write_pcap_file
from engine.session import CaptureSession
from engine.source import SourceSpec, open_source
from engine.source_merge import MergedFileSource, MergedLiveSource
from tests.conftest import free_udp_port

A_MAC, B_MAC = "02:00:00:00:0a:01", "02:00:00:00:0b:01"


def udp_frame(mac: str, port: int, payload: bytes) -> bytes:
    frame = (
        Ether(src=mac, dst="02:00:00:00:00:ff")
        / IP(src="10.1.0.1", dst="10.1.0.2")
        / UDP(sport=4000, dport=port)
        / payload
    )
    return bytes(frame)


def write_file(path: Path, mac: str, times: list[float], port: int) -> Path:
    """A pcap of UDP frames at ``times``, each naming its file and its number."""
    records = [
        PcapRecord(t, 0, linktypes.ETHERNET, udp_frame(mac, port, f"{path.stem}-{n}".encode()))
        for n, t in enumerate(times)
    ]
    write_pcap_file(path, [r._replace(length=len(r.data)) for r in records])
    return path


@pytest.fixture
def two_files(tmp_path: Path) -> tuple[Path, Path]:
    """Interleaved in time, with one tie (the last file's comes first, as in mergecap)."""
    a = write_file(tmp_path / "a.pcap", A_MAC, [1000.0, 1000.2, 1000.4, 1000.5, 1000.9], 5001)
    b = write_file(
        tmp_path / "b.pcap", B_MAC, [999.5, 1000.1, 1000.5, 1000.6, 1001.0, 1001.5], 5002
    )
    return a, b


def read_all(session: CaptureSession) -> list[PcapRecord]:
    session.start()
    assert session.wait_finished(10)
    return list(session.ring.records())


def test_two_files_are_merged_by_time_into_one_index(two_files: tuple[Path, Path]) -> None:
    a, b = two_files
    source = open_source(SourceSpec(files=(str(a), str(b))))
    assert isinstance(source, MergedFileSource) and source.ring is not None
    assert source.source_names == ("a.pcap", "b.pcap")
    with CaptureSession(source) as session:
        records = read_all(session)
        assert [r.timestamp for r in records] == sorted(r.timestamp for r in records)
        assert len(records) == 11
        assert [r.source for r in records][:3] == [1, 0, 1]
        tie = [r for r in records if r.timestamp == 1000.5]
        assert [r.source for r in tie] == [1, 0]
        first = session.packet(1)
        assert first is not None and first.source == "b.pcap"
        assert session.packet(2) is not None and session.packet(2).source == "a.pcap"  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("mergecap") is None, reason="mergecap is not installed")
def test_the_merge_has_mergecaps_order(two_files: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_files
    merged = tmp_path / "merged.pcap"
    subprocess.run(["mergecap", "-F", "pcap", "-w", str(merged), str(a), str(b)], check=True)
    with open_pcap(merged) as reader:
        expected = [(r.timestamp, r.data) for r in reader]
    with CaptureSession(open_source(SourceSpec(files=(str(a), str(b))))) as session:
        ours = [(r.timestamp, r.data) for r in read_all(session)]
    assert len(ours) == len(expected) == 11
    assert [data for _t, data in ours] == [data for _t, data in expected]


def test_a_capture_filter_on_merged_files_reads_them_again(two_files: tuple[Path, Path]) -> None:
    a, b = two_files
    with CaptureSession(open_source(SourceSpec(files=(str(a), str(b))))) as session:
        read_all(session)
        session.set_filter("udp port 5002")
        assert session.wait_finished(10)
        records = list(session.ring.records())
        assert len(records) == 6 and {r.source for r in records} == {1}


def test_merged_files_replayed_at_their_pace(two_files: tuple[Path, Path]) -> None:
    a, b = two_files
    source = open_source(SourceSpec(files=(str(a), str(b)), realtime=True))
    assert source.ring is None
    started = time.monotonic()
    with CaptureSession(source) as session:
        records = read_all(session)
    assert time.monotonic() - started >= 1.5  # 999.5 → 1001.5
    assert [r.timestamp for r in records] == sorted(r.timestamp for r in records)


def test_files_of_the_same_name_are_told_apart(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a = write_file(tmp_path / "x" / "t.pcap", A_MAC, [1.0], 5001)
    b = write_file(tmp_path / "y" / "t.pcap", B_MAC, [2.0], 5002)
    source = open_source(SourceSpec(files=(str(a), str(b))))
    try:
        assert source.source_names == ("t.pcap (1)", "t.pcap (2)")
    finally:
        source.close()


def test_mixing_files_with_live_inputs_is_a_usage_error(two_files: tuple[Path, Path]) -> None:
    a, b = two_files
    with pytest.raises(UsageError, match="-r cannot be mixed with --source-cmd"):
        open_source(SourceSpec(files=(str(a),), commands=(f"cat {b}",)))


def test_two_commands_are_read_side_by_side(two_files: tuple[Path, Path]) -> None:
    a, b = two_files
    source = open_source(SourceSpec(commands=(f"cat {a}", f"cat {b}")))
    assert isinstance(source, MergedLiveSource)
    assert source.source_names == (f"cat {a}", f"cat {b}")
    with CaptureSession(source) as session:
        records = read_all(session)
    assert len(records) == 11
    by_source = {n: [r.data for r in records if r.source == n] for n in (0, 1)}
    assert len(by_source[0]) == 5 and len(by_source[1]) == 6
    assert all(data[6:12] == bytes.fromhex("020000000a01") for data in by_source[0])


@pytest.mark.root
def test_an_interface_and_a_command_side_by_side(two_files: tuple[Path, Path]) -> None:
    a, _b = two_files
    port = free_udp_port()
    source = open_source(
        SourceSpec(("lo",), commands=(f"sh -c 'sleep 0.3; cat {a}; sleep 5'",), filter="udp")
    )
    assert source.source_names[0] == "lo"
    with CaptureSession(source) as session:
        session.start()
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for _ in range(5):
                sender.sendto(b"livetap-merged", ("127.0.0.1", port))
                time.sleep(0.05)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            records = list(session.ring.records())
            if {r.source for r in records} == {0, 1} and len(records) >= 10:
                break
            time.sleep(0.05)
        names = {session.packet(n).source for n in range(1, session.ring.last_index + 1)}  # type: ignore[union-attr]
    assert names == {"lo", source.source_names[1]}
    assert sum(1 for r in records if r.source == 0 and b"livetap-merged" in r.data) == 5
    assert sum(1 for r in records if r.source == 1) == 5


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_saving_merged_files_keeps_each_input_as_a_pcapng_interface(
    two_files: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = two_files
    with CaptureSession(open_source(SourceSpec(files=(str(a), str(b))))) as session:
        read_all(session)
        saved = session.save_pcap(tmp_path / "saved.pcapng")
    assert saved.packets == 11
    out = subprocess.run(
        ["tshark", "-r", str(saved.path), "-T", "fields", "-e", "frame.interface_name"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[:3] == ["b.pcap", "a.pcap", "b.pcap"] and len(out) == 11


def test_the_command_line_names_several_inputs() -> None:
    from engine.config import load_settings
    from tui.cli import build_parser, source_spec

    def spec(*argv: str, configured: str | None = None) -> SourceSpec:
        args = build_parser().parse_args(list(argv))
        spec: SourceSpec = source_spec(args, load_settings({"interface": configured}))
        return spec

    assert spec("-r", "a.pcap", "-r", "b.pcap", configured="eth9").files == ("a.pcap", "b.pcap")
    assert spec("-r", "a.pcap", configured="eth9").interfaces == ()  # a default, not an input
    both = spec("-i", "lo", "-i", "eth0", "--source-cmd", "cat x")
    assert (both.interfaces, both.commands) == (("lo", "eth0"), ("cat x",))
    assert spec(configured="eth9").interfaces == ("eth9",)
