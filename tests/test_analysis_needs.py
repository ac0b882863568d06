"""A report that is not asked for is not computed, and asking for fewer changes nothing.

The mixes are the benchmark's (``benchmarks/analyze.py``), small: today's mix and the
HTTP/DNS-heavy one. Every report computed alone must equal the same report computed
with all the others; with only ``conversations`` the HTTP, DNS, TLS and login readers
are never called.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from benchmarks import analyze as bench
from engine.analysis import REPORTS, Analyzer, Blocklist, aggregate, analyze_file
from engine.analysis.credentials import LoginReader
from engine.analysis.dns import DnsLog
from engine.analysis.http import HttpLog
from engine.analysis.reader import ReadState, read_batches

COUNT = 4000


@pytest.fixture(scope="module", params=["today", "heavy"])
def mix(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("needs") / f"{request.param}.pcap"
    shares = bench.build(path, COUNT, mix=request.param)
    if request.param == "heavy":
        assert shares["http"] > 0.1 and shares["dns"] > 0.2
    return path


@pytest.fixture(scope="module")
def blocklist(tmp_path_factory: pytest.TempPathFactory) -> Blocklist:
    listed = tmp_path_factory.mktemp("needs") / "blocklist.txt"
    listed.write_text(
        "shop1.example\nhost7.example\ncdn3.example\nhttp://shop2.example/\n93.184.1.0/24\n"
    )
    return Blocklist.load(listed)


def _fed(path: Path, reports: list[str] | None) -> Analyzer:
    analyzer = Analyzer(reports=reports)
    for batch in read_batches(path, ReadState()):
        analyzer.add_records(batch)
    return analyzer


def _forbid(monkeypatch: pytest.MonkeyPatch, calls: list[str]) -> None:
    """Record any call of an application-layer reader."""

    def spy(name: str) -> Any:
        def called(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return ()

        return called

    monkeypatch.setattr(HttpLog, "segment", spy("http"))
    monkeypatch.setattr(DnsLog, "message", spy("dns"))
    monkeypatch.setattr(aggregate, "tls_segment", spy("tls"))
    monkeypatch.setattr(LoginReader, "feed", spy("login"))


@pytest.mark.pure
def test_conversations_alone_reads_no_application_layer(
    mix: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    _forbid(monkeypatch, calls)
    analyzer = _fed(mix, ["conversations"])
    assert calls == []
    assert analyzer.paths == {}
    assert (analyzer.http.requests, analyzer.http.responses, analyzer.http.items) == (0, 0, [])
    assert (analyzer.dns.queries, analyzer.dns.responses, analyzer.dns.items) == (0, 0, [])
    assert analyzer.sightings.hosts == {} and analyzer.sightings.urls == {}
    assert analyzer.credentials.items == []
    assert all(stream.app == [None, None] for stream in analyzer.tcp.streams)
    assert all(stream.retransmissions == 0 for stream in analyzer.tcp.streams)
    _fed(mix, ["protocols", "dns"])  # the spies do see the readers when they are needed
    assert {"http", "tls", "dns"} <= set(calls)
    calls.clear()
    assert calls == []
    assert len(analyzer.names) > 0  # the DNS answers still name the conversations' addresses
    report = analyzer.report(["conversations"])["conversations"]
    assert report["tcp_total"] == len(analyzer.tcp.streams) > 0
    with pytest.raises(ValueError, match="not computed"):
        analyzer.report(["http"])
    with pytest.raises(ValueError, match="not computed"):
        analyzer.report(["all"])


def test_each_reader_runs_only_for_the_reports_that_need_it(mix: Path) -> None:
    dns_only = _fed(mix, ["dns"])
    assert dns_only.dns.queries > 0 and dns_only.http.requests == 0 and dns_only.paths == {}
    http_only = _fed(mix, ["http"])
    assert http_only.http.requests > 0 and http_only.dns.queries == 0
    assert http_only.sightings.hosts == {}  # no threat report: nothing kept for it
    talkers = _fed(mix, ["talkers"])
    assert talkers.http.requests == 0 and talkers.dns.queries == 0 and len(talkers.names) > 0
    assert _fed(mix, None).needs.reports == frozenset(REPORTS)  # live statistics: everything


@pytest.mark.parametrize("name", REPORTS)
def test_a_report_alone_equals_the_report_among_all(
    mix: Path, blocklist: Blocklist, name: str
) -> None:
    everything = analyze_file(mix, ["all"], blocklist=blocklist)
    alone = analyze_file(mix, [name], blocklist=blocklist)
    assert list(alone.reports) == [name]
    assert alone.reports[name] == everything.reports[name]


def test_threat_clients_are_formatted_when_the_report_is_written(
    mix: Path, blocklist: Blocklist
) -> None:
    threats = analyze_file(mix, ["threats"], blocklist=blocklist).reports["threats"]
    clients = [c for match in threats["matches"] for c in match.get("clients", [])]
    assert clients, threats["matches"][:3]
    for client in clients:
        ipaddress.ip_address(client)  # text, as before: not raw bytes
