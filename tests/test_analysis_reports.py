"""HTTP, DNS, credentials, patterns and threats against hand-counted expectations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.analysis import Blocklist, analyze_file, render_text
from engine.errors import BadInputError, NotFoundError
from tests.analysis_data import (
    credentials_frames,
    patterns_frames,
    write_frames,
    write_mixed,
    write_timed,
)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mixed(tmp_path_factory.mktemp("reports") / "mixed.pcap")


@pytest.fixture(scope="module")
def logins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_frames(tmp_path_factory.mktemp("reports") / "logins.pcap", credentials_frames())


@pytest.fixture(scope="module")
def patterns(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_timed(tmp_path_factory.mktemp("reports") / "patterns.pcap", patterns_frames())


def _report(path: Path, name: str, **options: Any) -> dict[str, Any]:
    result = analyze_file(path, [name], **options)
    assert result.exit_code == 0
    report: dict[str, Any] = result.reports[name]
    return report


def test_http_requests_with_their_responses(mixed: Path) -> None:
    http = _report(mixed, "http")
    assert (http["requests"], http["responses"]) == (6, 6)
    assert http["methods"] == {"GET": 6}
    assert http["status_codes"] == {"200": 6}
    assert http["hosts"][0] == {"host": "example.com", "requests": 3}
    first = http["items"][0]
    assert first["method"] == "GET" and first["host"] == "example.com"
    assert first["path"] == "/index.html" and first["url"] == "http://example.com/index.html"
    assert first["user_agent"] == "test-agent/1.0"
    assert first["status"] == 200 and first["content_type"] == "text/html"
    assert first["server_name"] == "example.com"  # named by the capture's DNS answer
    assert first["response_ms"] == pytest.approx(10.0)
    big = next(item for item in http["items"] if item["path"] == "/big")
    assert big["status"] == 200  # its body spans three segments
    six = next(item for item in http["items"] if item["host"] == "v6.example")
    assert six["url"] == "http://v6.example:8080/"
    assert six["client"] == "[2001:db8::5]:50000"


def test_dns_queries_answers_and_passive_names(mixed: Path) -> None:
    dns = _report(mixed, "dns")
    assert (dns["queries"], dns["responses"], dns["malformed"]) == (2, 2, 0)
    first = dns["items"][0]
    assert (first["name"], first["type"], first["rcode"]) == ("example.com", "A", "NOERROR")
    assert first["answers"] == ["A 93.184.216.34"]
    assert first["client"] == "10.0.0.5:53001" and first["server"] == "10.0.0.53:53"
    assert first["response_ms"] == pytest.approx(10.0)
    assert {"address": "93.184.216.34", "name": "example.com"} in dns["resolved"]
    assert {"address": "151.101.1.1", "name": "cdn.example.net"} in dns["resolved"]
    # the names show up in the other reports too
    conversations = _report(mixed, "conversations")
    named = {row["b"]: row["b_name"] for row in conversations["ipv4"]}
    assert named["93.184.216.34"] == "example.com"
    talkers = _report(mixed, "talkers")
    assert any(t["name"] == "cdn.example.net" for t in talkers["by_bytes"])


def test_cleartext_credentials_masked_and_shown(logins: Path) -> None:
    masked = _report(logins, "credentials")
    assert masked["found"] == 7 and not masked["secrets_shown"]
    found = {(c["protocol"], c["username"], c["secret"], c["accepted"]) for c in masked["items"]}
    assert found == {
        ("HTTP Basic", "alice", "w***", None),
        ("HTTP form", "bob", "h***", None),
        ("FTP", "carol", "s***", True),
        ("POP3", "dave", "w***", False),
        ("IMAP", "erin", "p***", True),
        ("Telnet", "frank", "l***", True),
        ("SMTP", "grace", "m***", True),
    }
    shown = _report(logins, "credentials", show_secrets=True)
    secrets = {c["protocol"]: c["secret"] for c in shown["items"]}
    assert secrets == {
        "HTTP Basic": "wonderland",
        "HTTP form": "hunter2",
        "FTP": "s3cret",
        "POP3": "wrongpass",
        "IMAP": "pass word",
        "Telnet": "letmein",
        "SMTP": "mailpass",
    }
    ftp = next(c for c in shown["items"] if c["protocol"] == "FTP")
    assert (ftp["client"], ftp["server"]) == ("10.2.0.2:45001", "10.2.0.21:21")
    form = next(c for c in shown["items"] if c["protocol"] == "HTTP form")
    assert form["where"] == "http://intranet.example/login"
    text = render_text({"credentials": masked})
    assert "hunter2" not in text and "h***" in text and "--show-secrets" in text


def test_patterns_scan_retransmissions_beacons_ports(patterns: Path) -> None:
    report = _report(patterns, "patterns")
    (scan,) = report["syn_scans"]
    assert scan["source"] == "10.3.0.66"
    assert (scan["attempts"], scan["targets"], scan["hosts"], scan["ports"]) == (20, 20, 1, 20)
    assert (scan["completed"], scan["refused"], scan["half_open"], scan["unanswered"]) == (
        0,
        15,
        2,
        3,
    )
    tcp = report["tcp"]
    assert tcp["retransmissions"] == 2
    (lossy,) = tcp["conversations"]
    assert (lossy["b_port"], lossy["data_segments"], lossy["retransmissions"]) == (8443, 12, 2)
    assert lossy["retransmission_percent"] == pytest.approx(16.67)
    assert lossy["resets"] == 1
    beacons = {(b["destination"], b["port"], b["protocol"]): b for b in report["beacons"]}
    assert set(beacons) == {("203.0.113.50", 4444, "tcp"), ("198.51.100.9", 41000, "udp")}
    assert beacons[("203.0.113.50", 4444, "tcp")]["sessions"] == 8
    assert beacons[("203.0.113.50", 4444, "tcp")]["interval"] == pytest.approx(30.0)
    assert beacons[("198.51.100.9", 41000, "udp")]["interval"] == pytest.approx(20.0)
    ports = {(p["protocol"], p["port"]) for p in report["unusual_ports"]}
    assert {("tcp", 31337), ("tcp", 4444), ("udp", 41000), ("udp", 41001)} <= ports
    assert not any(1000 <= port < 1020 for _proto, port in ports)  # probes are no services
    assert ("tcp", 8443) not in ports  # a usual one
    largest = report["largest_flows"][0]
    assert (largest["b_port"], largest["bytes_a_to_b"] > 5000) == (31337, True)


def test_nothing_stands_out_in_ordinary_traffic(mixed: Path) -> None:
    report = _report(mixed, "patterns")
    assert report["syn_scans"] == [] and report["beacons"] == []
    assert report["tcp"]["retransmissions"] == 0


def _blocklists(directory: Path) -> tuple[Path, Path]:
    urlhaus = directory / "urlhaus.csv"
    urlhaus.write_text(
        "################################################################\n"
        "# abuse.ch URLhaus Database Dump (CSV)                         #\n"
        "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
        '"1","2024-01-01 00:00:00","http://example.com/api","online","2024-01-01",'
        '"malware_download","elf","https://urlhaus.abuse.ch/url/1/","someone"\n'
        '"2","2024-01-01 00:00:00","http://8.8.8.8/x.sh","offline","",'
        '"malware_download","sh","https://urlhaus.abuse.ch/url/2/","someone"\n'
    )
    plain = directory / "plain.txt"
    plain.write_text(
        "# one entry a line\n"
        "cdn.example.net\n"
        "151.101.0.0/16   # a whole network\n"
        "0.0.0.0 reuse.example\n"
        "not a valid entry here\n"
    )
    return urlhaus, plain


def test_threats_from_urlhaus_and_plain_lists(mixed: Path, tmp_path: Path) -> None:
    blocklist = Blocklist.load(*_blocklists(tmp_path))
    assert blocklist.ignored == 1
    report = _report(mixed, "threats", blocklist=blocklist)
    assert report["blocklist"]["entries"] == blocklist.size
    found = {(m["kind"], m["indicator"]): m for m in report["matches"]}
    assert found[("url", "http://example.com/api")]["entry"] == "http://example.com/api"
    assert found[("address", "8.8.8.8")]["reason"] == "listed address"
    assert found[("address", "151.101.1.1")]["reason"] == "in a listed network"
    cdn = found[("host", "cdn.example.net")]
    assert cdn["reason"] == "listed domain" and cdn["seen_in"] == ["dns", "tls"]
    assert found[("host", "reuse.example")]["seen_in"] == ["http"]
    assert found[("host", "example.com")]["reason"] == "host of a listed URL"
    assert "its DNS name example.com" in found[("address", "93.184.216.34")]["reason"]
    assert ("url", "http://example.com/index.html") not in found
    text = render_text({"threats": report})
    assert "http://example.com/api" in text and "listed domain" in text


def test_no_blocklist_and_bad_blocklists(mixed: Path, tmp_path: Path) -> None:
    assert "no blocklist" in _report(mixed, "threats")["note"]
    with pytest.raises(NotFoundError, match="does not exist"):
        Blocklist.load(tmp_path / "missing.txt")
    junk = tmp_path / "junk.txt"
    junk.write_text("this is not\na blocklist at all\n")
    with pytest.raises(BadInputError, match="URLhaus CSV"):
        Blocklist.load(junk)
    with pytest.raises(BadInputError, match="directory"):
        Blocklist.load(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n")
    assert Blocklist.load(empty).size == 0
