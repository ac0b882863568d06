"""Headless pcap capture on real lo traffic: stops, rotation, caps, full and read-only disks."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import linktypes
from engine.errors import (
    BadInputError,
    ExitCode,
    NotFoundError,
    PermissionDeniedError,
    ResourceError,
    UsageError,
)
from engine.live import LiveSource
from engine.pcap_capture import (
    CaptureOptions,
    CaptureReport,
    PcapCapture,
    RotatingPcapWriter,
    StopReason,
    rotated_name,
    run_capture,
)
from engine.pcapio import PcapRecord, open_pcap
from tests.conftest import free_udp_port, send_udp

ETHERNET_IP_UDP = 14 + 20 + 8


@contextlib.contextmanager
def mounted_tmpfs(directory: Path, options: str) -> Iterator[Path]:
    """A real tmpfs at ``directory`` (a small disk, or a read-only one), unmounted afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


@pytest.fixture
def small_disk(tmp_dir: Path) -> Iterator[Path]:
    """A 256 KiB file system that fills up for real."""
    with mounted_tmpfs(tmp_dir / "small", "size=256k,mode=0755") as directory:
        yield directory


@pytest.fixture
def read_only_disk(tmp_dir: Path) -> Iterator[Path]:
    """A file system not even root can write to."""
    with mounted_tmpfs(tmp_dir / "ro", "ro,size=64k,mode=0755") as directory:
        yield directory


@pytest.fixture
def udp_source() -> Iterator[tuple[LiveSource, int]]:
    """A live source on lo that sees one fresh UDP port only."""
    port = free_udp_port()
    source = LiveSource("lo", expression=f"udp port {port}")
    try:
        yield source, port
    finally:
        source.close()


def payloads(count: int, size: int = 32) -> list[bytes]:
    """Numbered payloads of one size, so order and completeness can be checked."""
    return [(b"%06d" % i).ljust(size, b".") for i in range(count)]


def read_records(path: Path) -> list[PcapRecord]:
    """Every record of a file, checking the reader found nothing wrong."""
    with open_pcap(path) as reader:
        records = list(reader)
        assert not reader.truncated and not reader.warnings, reader.warnings
    return records


def tcpdump_count(path: Path) -> int:
    """How many packets tcpdump reads from a file; it must read it without complaint."""
    result = subprocess.run(
        ["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "truncated" not in result.stderr, result.stderr
    return len(result.stdout.splitlines())


def stopped_at_once() -> threading.Event:
    """A stop request made before the capture starts: it keeps what is queued, then stops."""
    event = threading.Event()
    event.set()
    return event


@pytest.mark.root
def test_count_stops_at_exactly_n_packets_with_original_lengths(
    udp_source: tuple[LiveSource, int], tmp_dir: Path
) -> None:
    source, port = udp_source
    sent = payloads(200)
    send_udp(port, sent)
    report = run_capture(source, CaptureOptions(tmp_dir / "count.pcap", count=150))
    assert (report.stop_reason, report.exit_code) == (StopReason.COUNT, ExitCode.SUCCESS)
    assert report.packets == 150 and report.files == (tmp_dir / "count.pcap",)
    records = read_records(tmp_dir / "count.pcap")
    assert [r.data[ETHERNET_IP_UDP:] for r in records] == sent[:150]
    assert {r.length for r in records} == {ETHERNET_IP_UDP + 32}
    assert all(r.linktype == linktypes.ETHERNET for r in records)
    assert report.wire_bytes == 150 * (ETHERNET_IP_UDP + 32)
    assert report.bytes_written == (tmp_dir / "count.pcap").stat().st_size
    assert ((tmp_dir / "count.pcap").stat().st_mode & 0o777) == 0o600
    assert tcpdump_count(tmp_dir / "count.pcap") == 150


@pytest.mark.root
def test_the_snap_length_cuts_the_bytes_kept_not_the_length_recorded(tmp_dir: Path) -> None:
    port = free_udp_port()
    source = LiveSource("lo", snaplen=64, expression=f"udp port {port}")
    try:
        send_udp(port, payloads(5, size=200))
        report = run_capture(source, CaptureOptions(tmp_dir / "snap.pcap", count=5, snaplen=64))
    finally:
        source.close()
    records = read_records(tmp_dir / "snap.pcap")
    assert report.packets == 5 == len(records)
    assert {(len(r.data), r.length) for r in records} == {(64, ETHERNET_IP_UDP + 200)}


@pytest.mark.root
def test_a_stop_request_keeps_every_packet_that_arrived_before_it(
    udp_source: tuple[LiveSource, int], tmp_dir: Path
) -> None:
    source, port = udp_source
    sent = payloads(300)
    send_udp(port, sent)
    report = run_capture(source, CaptureOptions(tmp_dir / "stop.pcap"), stopped_at_once())
    assert (report.stop_reason, report.exit_code) == (StopReason.STOPPED, ExitCode.INTERRUPTED)
    assert report.packets == 300 and report.kernel_drops == 0
    assert [r.data[ETHERNET_IP_UDP:] for r in read_records(tmp_dir / "stop.pcap")] == sent


@pytest.mark.root
def test_a_stop_from_another_thread_ends_a_running_capture(
    udp_source: tuple[LiveSource, int], tmp_dir: Path
) -> None:
    source, port = udp_source
    stop = threading.Event()
    capture = PcapCapture(source, CaptureOptions(tmp_dir / "thread.pcap"))
    reports: list[CaptureReport] = []
    runner = threading.Thread(target=lambda: reports.append(capture.run(stop)))
    runner.start()
    send_udp(port, payloads(40))
    stop.set()
    runner.join(10)
    assert reports and reports[0].packets == 40
    assert reports[0].stop_reason == StopReason.STOPPED


@pytest.mark.root
def test_duration_ends_the_capture(udp_source: tuple[LiveSource, int], tmp_dir: Path) -> None:
    source, port = udp_source
    send_udp(port, payloads(25))
    report = run_capture(source, CaptureOptions(tmp_dir / "timed.pcap", duration=0.3))
    assert (report.stop_reason, report.exit_code) == (StopReason.DURATION, ExitCode.SUCCESS)
    assert report.packets == 25 == tcpdump_count(tmp_dir / "timed.pcap")


@pytest.mark.root
def test_rotation_starts_numbered_files_and_never_splits_a_record(
    udp_source: tuple[LiveSource, int], tmp_dir: Path
) -> None:
    source, port = udp_source
    sent = payloads(60, size=100)
    send_udp(port, sent)
    record = 16 + ETHERNET_IP_UDP + 100
    per_file = (2000 - 24) // record
    report = run_capture(
        source, CaptureOptions(tmp_dir / "rot.pcap", rotate_size=2000), stopped_at_once()
    )
    expected = [rotated_name(tmp_dir / "rot.pcap", n) for n in range(-(-60 // per_file))]
    assert report.files == tuple(expected)
    assert [p.name for p in expected[:3]] == ["rot.pcap", "rot.1.pcap", "rot.2.pcap"]
    assert all(p.stat().st_size <= 2000 for p in expected)
    assert [len(read_records(p)) for p in expected[:-1]] == [per_file] * (len(expected) - 1)
    kept = [r.data[ETHERNET_IP_UDP:] for p in expected for r in read_records(p)]
    assert kept == sent
    assert sum(tcpdump_count(p) for p in expected) == 60


@pytest.mark.root
def test_a_ring_of_files_keeps_only_the_newest(
    udp_source: tuple[LiveSource, int], tmp_dir: Path
) -> None:
    source, port = udp_source
    sent = payloads(60, size=100)
    send_udp(port, sent)
    options = CaptureOptions(tmp_dir / "ring.pcapng", rotate_size=2000, rotate_files=2)
    report = run_capture(source, options, stopped_at_once())
    last = report.files_removed + 1
    assert report.files_removed >= 3 and report.packets == 60
    on_disk = sorted(p.name for p in tmp_dir.iterdir())
    assert (
        [p.name for p in report.files]
        == on_disk
        == [f"ring.{last - 1}.pcapng", f"ring.{last}.pcapng"]
    )
    kept = [r.data[ETHERNET_IP_UDP:] for p in report.files for r in read_records(p)]
    assert kept == sent[-len(kept) :] and len(kept) < 60
    assert report.files[-1].read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # pcapng


@pytest.mark.root
def test_the_capture_size_cap_stops_before_it_is_exceeded(
    udp_source: tuple[LiveSource, int], tmp_dir: Path
) -> None:
    source, port = udp_source
    send_udp(port, payloads(100, size=100))
    options = CaptureOptions(tmp_dir / "capped.pcap", max_total=3000, rotate_size=1000)
    report = run_capture(source, options, stopped_at_once())
    assert (report.stop_reason, report.exit_code) == (StopReason.SIZE_LIMIT, ExitCode.PARTIAL)
    assert report.bytes_written <= 3000
    assert report.bytes_written == sum(p.stat().st_size for p in report.files)
    assert sum(len(read_records(p)) for p in report.files) == report.packets > 0
    assert any("maxCaptureSize" in note for note in report.notes)
    assert "note: stopped at the capture size cap" in "\n".join(report.text_lines())


@pytest.mark.root
def test_kernel_drops_are_reported_and_everything_else_is_kept(tmp_dir: Path) -> None:
    port = free_udp_port()
    source = LiveSource("lo", buffer_size=1 << 20, expression=f"udp port {port}")
    try:
        send_udp(port, payloads(30_000, size=16))  # more than a 1 MiB ring holds, unread
        report = run_capture(source, CaptureOptions(tmp_dir / "drops.pcap"), stopped_at_once())
    finally:
        source.close()
    assert report.kernel_drops is not None and report.kernel_drops > 0
    assert report.packets + report.kernel_drops == 30_000
    assert len(read_records(tmp_dir / "drops.pcap")) == report.packets
    assert report.to_dict()["kernel_drops"] == report.kernel_drops


@pytest.mark.root
def test_the_report_as_data(udp_source: tuple[LiveSource, int], tmp_dir: Path) -> None:
    source, port = udp_source
    send_udp(port, payloads(3))
    report = run_capture(source, CaptureOptions(tmp_dir / "r.pcap", count=3))
    data = report.to_dict()
    assert data["files"] == [str(tmp_dir / "r.pcap")]
    assert data["packets"] == 3 and data["kernel_drops"] == 0 and data["stop_reason"] == "count"
    assert data["bytes"] == 24 + 3 * (16 + ETHERNET_IP_UDP + 32) and data["error"] is None
    assert data["source"] == "interface lo" and data["filter"] == f"udp port {port}"
    text = "\n".join(report.text_lines())
    assert "packets captured: 3" in text and "packets dropped by the kernel: 0" in text


@pytest.mark.root
def test_a_full_disk_stops_cleanly_with_whole_records_only(
    udp_source: tuple[LiveSource, int], small_disk: Path
) -> None:
    source, port = udp_source
    send_udp(port, payloads(400, size=1000))  # about 420 kB for a 256 KiB disk
    path = small_disk / "full.pcap"
    report = run_capture(source, CaptureOptions(path), stopped_at_once())
    assert isinstance(report.error, ResourceError)
    assert (report.stop_reason, report.exit_code) == (StopReason.ERROR, ExitCode.RESOURCE_ERROR)
    assert "No space left on device" in report.error.message and str(path) in report.error.message
    records = read_records(path)
    assert len(records) == report.packets > 100
    assert report.packets + report.not_written + (report.kernel_drops or 0) == 400
    assert path.stat().st_size == report.bytes_written == 24 + report.packets * (16 + 1042)
    assert tcpdump_count(path) == report.packets
    assert [r.data[ETHERNET_IP_UDP:] for r in records] == payloads(400, 1000)[: report.packets]


@pytest.mark.root
def test_a_full_disk_as_pcapng_also_ends_on_a_whole_block(
    udp_source: tuple[LiveSource, int], small_disk: Path
) -> None:
    source, port = udp_source
    send_udp(port, payloads(400, size=1001))
    path = small_disk / "full.pcapng"
    report = run_capture(source, CaptureOptions(path), stopped_at_once())
    assert isinstance(report.error, ResourceError)
    assert len(read_records(path)) == report.packets == tcpdump_count(path) > 100


@pytest.mark.root
def test_a_read_only_directory_is_permission_denied(
    udp_source: tuple[LiveSource, int], read_only_disk: Path
) -> None:
    source, _port = udp_source
    with pytest.raises(PermissionDeniedError, match="Read-only file system"):
        PcapCapture(source, CaptureOptions(read_only_disk / "x.pcap"))


@pytest.mark.root
def test_a_missing_directory_is_not_found(
    udp_source: tuple[LiveSource, int], tmp_dir: Path
) -> None:
    source, _port = udp_source
    with pytest.raises(NotFoundError, match="does its directory exist"):
        PcapCapture(source, CaptureOptions(tmp_dir / "nowhere" / "x.pcap"))


@pytest.mark.root
def test_a_symbolic_link_at_the_path_is_never_written_through(
    udp_source: tuple[LiveSource, int], tmp_dir: Path
) -> None:
    source, _port = udp_source
    target = tmp_dir / "precious.txt"
    target.write_text("keep me")
    (tmp_dir / "planted.pcap").symlink_to(target)
    with pytest.raises(BadInputError, match="symbolic link"):
        PcapCapture(source, CaptureOptions(tmp_dir / "planted.pcap"))
    assert target.read_text() == "keep me"


@pytest.mark.root
def test_an_existing_file_is_replaced_and_made_private(
    udp_source: tuple[LiveSource, int], tmp_dir: Path
) -> None:
    source, port = udp_source
    path = tmp_dir / "old.pcap"
    path.write_bytes(b"x" * 10_000)
    path.chmod(0o644)
    send_udp(port, payloads(2))
    report = run_capture(source, CaptureOptions(path, count=2))
    assert report.packets == 2 == len(read_records(path))
    assert (path.stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rotate_files": 3}, "needs a file size"),
        ({"count": 0}, "count must be greater than zero"),
        ({"duration": -1.0}, "duration must be greater than zero"),
        ({"fmt": "csv"}, "unknown capture format"),
    ],
)
def test_options_that_make_no_sense_are_usage_errors(
    options: dict[str, object], message: str, tmp_dir: Path
) -> None:
    with pytest.raises(UsageError, match=message):
        CaptureOptions(tmp_dir / "x.pcap", **options)  # type: ignore[arg-type]


def test_the_writer_works_as_a_sink_for_records_from_anywhere(tmp_dir: Path) -> None:
    frame = bytes(14 + 20 + 8) + b"payload"
    records = [PcapRecord(1_700_000_000.25 + i, 100, linktypes.ETHERNET, frame) for i in range(5)]
    writer = RotatingPcapWriter(tmp_dir / "sink.pcap", linktypes.ETHERNET)
    assert writer.write(records[:2]) == 2 and writer.write(records[2:]) == 3
    writer.close()
    writer.close()
    back = read_records(tmp_dir / "sink.pcap")
    assert [(r.timestamp, r.length, r.data) for r in back] == [
        (r.timestamp, r.length, r.data) for r in records
    ]
