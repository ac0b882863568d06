"""``--report conversations`` on two cores gives the serial answer exactly, or reads alone.

The mixes are the benchmark's (``benchmarks/analyze.py``), small, with the size bound
lowered so that they are split: every row, total, stream number and name must equal
the serial reader's. A tunnelled frame makes the split unusable: the file is then read
by one process, with the same answer.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN

from benchmarks import analyze as bench
from engine import linktypes
from engine.analysis import Blocklist, analyze_file, shards
from engine.analysis.reader import ReadState, read_batches
from engine.pcapio import PcapRecord, write_pcap_file

COUNT = 6000


@pytest.fixture(scope="module", params=["today", "heavy"])
def mix(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shards") / f"{request.param}.pcap"
    bench.build(path, COUNT, mix=request.param)
    return path


def _split(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Split every file; returns a list that says, per analysis, whether the split was used."""
    used: list[bool] = []
    attempt = shards.conversations_on_two_cores

    def spy(*args: Any) -> dict[str, Any] | None:
        report = attempt(*args)
        used.append(report is not None)
        return report

    monkeypatch.setattr(shards, "usable", lambda path: True)
    monkeypatch.setattr(shards, "conversations_on_two_cores", spy)
    return used


def _serial(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = analyze_file(path, ["all"]).reports["conversations"]
    return report


def test_two_halves_give_the_serial_report(mix: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _serial(mix)
    used = _split(monkeypatch)
    seen: list[tuple[int, int]] = []
    result = analyze_file(
        mix, ["conversations"], progress=lambda done, size: seen.append((done, size))
    )
    assert used == [True]
    assert seen and seen[-1][0] == seen[-1][1] == mix.stat().st_size  # the parent's reading
    assert result.packets == COUNT and result.exit_code == 0
    assert result.reports["conversations"] == expected
    assert expected["tcp_total"] > 10 and expected["udp_total"] > 10
    rows = expected["ipv4"] + expected["ipv6"] + expected["tcp"] + expected["udp"]
    assert any(row["a_name"] or row["b_name"] for row in rows)


def test_a_tunnel_makes_one_process_read_the_file(
    mix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = [record for batch in read_batches(mix, ReadState()) for record in batch]
    inner = Ether(src="02:00:00:00:00:03", dst="02:00:00:00:00:04") / IP(
        src="192.0.2.1", dst="192.0.2.2"
    )
    outers = [
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="198.51.100.1", dst=f"198.51.100.{last}")
        / UDP(sport=40000, dport=4789)
        / VXLAN(vni=7)
        / inner
        / UDP(sport=1, dport=2)
        for last in (2, 3)  # one pair in each half
    ]
    middle = len(records) // 2
    tunnelled = [
        PcapRecord(records[middle].timestamp, len(bytes(o)), linktypes.ETHERNET, bytes(o))
        for o in outers
    ]
    path = tmp_path / "tunnel.pcap"
    write_pcap_file(path, [*records[:middle], *tunnelled, *records[middle:]])
    expected = _serial(path)
    used = _split(monkeypatch)
    assert analyze_file(path, ["conversations"]).reports["conversations"] == expected
    assert used == [False]


def test_small_files_and_busy_machines_are_read_alone(
    mix: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not shards.usable(mix)  # far below MIN_BYTES
    monkeypatch.setattr(shards, "MIN_BYTES", 0)
    cores = len(os.sched_getaffinity(0))
    monkeypatch.setattr(os, "getloadavg", lambda: (float(cores), 0.0, 0.0))
    assert not shards.usable(mix)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    assert not shards.usable(mix)  # forking a process with threads is not safe
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert shards.usable(mix) == (cores >= 2)


def test_several_reports_split_by_report_give_the_serial_ones(
    mix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = tmp_path / "blocklist.txt"
    listed.write_text("shop1.example\nhost7.example\ncdn3.example\n93.184.1.0/24\n")
    blocklist = Blocklist.load(listed)
    expected = analyze_file(mix, ["all"], blocklist=blocklist, top_n=5).reports
    used: list[bool] = []
    attempt = shards.reports_on_two_cores

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any] | None:
        document = attempt(*args, **kwargs)
        used.append(document is not None)
        return document

    monkeypatch.setattr(shards, "usable", lambda path: True)
    monkeypatch.setattr(shards, "reports_on_two_cores", spy)
    split = analyze_file(mix, ["all"], blocklist=blocklist, top_n=5)
    assert used == [True]
    assert split.packets == COUNT and split.exit_code == 0
    assert list(split.reports) == list(expected)  # in the order of --report all
    assert split.reports == expected
    analyze_file(mix, ["conversations", "talkers"])  # both the child's: nothing to split
    analyze_file(mix, ["http", "protocols"])  # both the parent's
    assert used == [True, False, False]
