"""``livetap filter FILE -Y EXPR`` against ``tshark -r FILE -Y EXPR`` on files the tests build.

Every frame has explicit Ethernet addresses (a bare scapy ``Ether()`` would send ARP
on the real network); nothing is sent anywhere: the frames only go into files.
"""

from __future__ import annotations

import io
import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from engine import linktypes
from engine.errors import ExitCode
from engine.filter_file import MatchedFrame
from engine.pcapio import PcapRecord, open_pcap, write_pcap_file
from tests.analysis_data import (
    CLIENT_MAC,
    SERVER_MAC,
    Tcp,
    dns_pair,
    eth,
    http_request,
    http_response,
    tls_client_hello,
    tshark,
    write_frames,
    write_mixed,
)
from tui.commands.analyze import ProgressBar
from tui.commands.filter import _line_printer

LIVETAP = str(Path(sys.executable).parent / "livetap")

EXPRESSIONS = [
    "tcp",
    "udp",
    "dns",
    "icmp",
    "arp",
    "ipv6",
    "ip.addr == 10.0.0.9",
    "tcp.port == 80",
    "frame.len > 1000",
    "not tcp",
    "ip.src == 10.0.0.5 and tcp",
    "http",
    "tcp.flags.syn == 1 and tcp.flags.ack == 0",
    "udp.port in {53, 9999}",
    "ip.addr == 10.0.0.0/24 and not dns",
]


def livetap(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The installed console script, without a terminal."""
    return subprocess.run(
        [LIVETAP, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def agreeing_frames() -> list[Packet]:
    """Traffic where livetap and tshark must agree frame for frame.

    (Fragments and HTTP over several segments: :mod:`tests.test_filter_reassembly`.)
    """
    frames: list[Packet] = [
        Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=CLIENT_MAC, psrc="10.0.0.5", pdst="10.0.0.1"),
        eth(ARP(op=2, hwsrc=SERVER_MAC, psrc="10.0.0.1", hwdst=CLIENT_MAC, pdst="10.0.0.5"), True),
    ]
    frames += dns_pair("10.0.0.5", "10.0.0.53", 0x1111, "example.com", "93.184.216.34")
    web = Tcp("10.0.0.5", 41000, "93.184.216.34", 80).open()
    web.exchange(
        http_request("GET", "example.com", "/"), http_response("text/html", b"<html>hi</html>")
    )
    web.exchange(  # a big response in one segment: frame.len > 1000, still one HTTP message
        http_request("GET", "example.com", "/big"), http_response("text/plain", b"b" * 1300)
    )
    web.close()
    frames += web.frames
    tls = Tcp("10.0.0.5", 41001, "151.101.1.1", 443).open()
    tls.send(True, "PA", tls_client_hello("cdn.example.net"))
    tls.close()
    frames += tls.frames
    frames += [
        eth(IP(src="10.0.0.5", dst="10.0.0.9") / UDP(sport=40000, dport=9999) / b"custom"),
        eth(IP(src="10.0.0.9", dst="10.0.0.5") / UDP(sport=9999, dport=40000) / b"reply", True),
        eth(IP(src="10.0.0.5", dst="10.0.0.9") / ICMP(type=8, id=7, seq=1) / b"ping"),
        eth(IP(src="10.0.0.9", dst="10.0.0.5") / ICMP(type=0, id=7, seq=1) / b"ping", True),
        eth(IP(src="10.0.0.9", dst="10.0.0.5") / TCP(sport=22, dport=50022, flags="R")),
    ]
    six = Tcp("2001:db8::5", 50000, "2001:db8::80", 80, v6=True).open()
    six.exchange(http_request("GET", "v6.example", "/"), http_response("text/html", b"six"))
    six.close()
    frames += six.frames
    frames += [
        eth(IPv6(src="2001:db8::5", dst="2001:db8::53") / UDP(sport=50001, dport=7777) / b"v6"),
        eth(IP(src="10.0.0.5", dst="10.0.0.9") / UDP(sport=40001, dport=9999) / Raw(b"z" * 1200)),
    ]
    return frames


@pytest.fixture(scope="module")
def agreeing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_frames(tmp_path_factory.mktemp("filter") / "agreeing.pcap", agreeing_frames())


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mixed(tmp_path_factory.mktemp("filter") / "mixed.pcap")


def tshark_numbers(path: Path, expression: str) -> list[int]:
    """``tshark -r FILE -Y EXPR -T fields -e frame.number``."""
    return [
        int(n) for n in tshark(path, "-Y", expression, "-T", "fields", "-e", "frame.number").split()
    ]


def ours(path: Path, expression: str, *extra: str) -> dict[str, Any]:
    """``livetap filter FILE -Y EXPR --json``'s data (it must succeed)."""
    result = livetap("filter", str(path), "-Y", expression, "--json", *extra)
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)["data"]
    return data


def numbers(data: dict[str, Any]) -> list[int]:
    return [frame["number"] for frame in data["frames"]]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_the_matching_frames_are_tsharks(agreeing: Path, expression: str) -> None:
    data = ours(agreeing, expression)
    expected = tshark_numbers(agreeing, expression)
    assert numbers(data) == expected
    assert data["matched"] == len(expected) and data["packets"] == len(agreeing_frames())
    assert data["filter"] == expression and data["complete"] is True


def test_every_expression_is_tested_on_matches_and_misses(agreeing: Path) -> None:
    total = len(agreeing_frames())
    for expression in EXPRESSIONS:  # the file must tell matching from not matching
        assert 0 < len(tshark_numbers(agreeing, expression)) < total, expression


def test_reassembled_protocols_are_on_tsharks_frame(mixed: Path) -> None:
    """Fragments and an HTTP response over three segments: the completing frame, as tshark."""
    for expression in ("udp", "http", "icmp", "dns", "tcp"):
        assert numbers(ours(mixed, expression)) == tshark_numbers(mixed, expression), expression


def test_json_frames_carry_the_list_columns(agreeing: Path) -> None:
    data = ours(agreeing, "dns")
    assert data["file"] == str(agreeing) and data["format"] == "pcap"
    assert data["output"] is None and data["warnings"] == [] and data["truncated"] is False
    query, answer = data["frames"]
    assert set(query) == {"number", "time", "src", "dst", "protocol", "length", "info"}
    assert (query["src"], query["dst"], query["protocol"]) == ("10.0.0.5", "10.0.0.53", "DNS")
    assert "example.com" in query["info"] and answer["src"] == "10.0.0.53"
    fields = tshark(agreeing, "-Y", "dns", "-T", "fields", "-e", "frame.time_relative")
    assert [frame["time"] for frame in data["frames"]] == pytest.approx(
        [float(t) for t in fields.split()], abs=1e-6
    )


def test_text_lines_are_laid_out_as_tsharks(agreeing: Path) -> None:
    result = livetap("filter", str(agreeing), "-Y", "dns or icmp")
    assert result.returncode == ExitCode.SUCCESS and result.stderr == ""
    ours_lines = result.stdout.splitlines()
    theirs = tshark(agreeing, "-Y", "dns or icmp").splitlines()
    assert len(ours_lines) == len(theirs) == 4
    for mine, their in zip(ours_lines, theirs, strict=True):
        # number, time, source → destination, protocol and length, column for column
        assert mine.split()[:7] == their.split()[:7]
        assert mine.index("→") == their.index("→")


def test_count_only(agreeing: Path) -> None:
    result = livetap("filter", str(agreeing), "-Y", "tcp", "--count-only")
    assert result.returncode == ExitCode.SUCCESS
    assert result.stdout.strip() == str(len(tshark_numbers(agreeing, "tcp")))
    data = ours(agreeing, "tcp", "--count-only")
    assert "frames" not in data and data["matched"] == len(tshark_numbers(agreeing, "tcp"))


def tshark_rows(path: Path, *args: str) -> list[str]:
    """Time, length and bytes of each frame, as tshark reads them."""
    fields = ("-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len")
    return tshark(path, *args, *fields).splitlines()


@pytest.mark.parametrize("name", ["out.pcap", "out.pcapng"])
def test_write_keeps_exactly_the_matching_frames(agreeing: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    expression = "ip.addr == 10.0.0.9 or ipv6"
    result = livetap("filter", str(agreeing), "-Y", expression, "-w", str(out))
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    expected = tshark_rows(agreeing, "-Y", expression)
    assert f"wrote {len(expected)} to {out}" in result.stdout
    assert tshark_rows(out) == expected  # tshark reads back exactly the matched frames
    with open_pcap(out) as reader:
        assert reader.format == ("pcapng" if name.endswith("ng") else "pcap")
        written = [bytes(record.data) for record in reader]
    with open_pcap(agreeing) as reader:
        originals = [bytes(record.data) for record in reader]
    assert written == [originals[n - 1] for n in tshark_numbers(agreeing, expression)]
    assert out.stat().st_mode & 0o777 == 0o600
    data = ours(agreeing, expression, "-w", str(tmp_path / "again.pcap"))
    assert data["output"] == {
        "file": str(tmp_path / "again.pcap"),
        "format": "pcap",
        "packets": len(expected),
    }


def several_link_types(path: Path) -> Path:
    """A pcapng file with an Ethernet and a raw-IP interface, packets of both in turn."""
    records = []
    for i in range(4):
        packet = IP(src="10.0.0.5", dst="10.0.0.9") / UDP(sport=40000 + i, dport=9999) / b"x"
        raw = bytes(eth(packet)) if i % 2 == 0 else bytes(packet)
        linktype = linktypes.ETHERNET if i % 2 == 0 else linktypes.RAW
        records.append(PcapRecord(1000.0 + i, len(raw), linktype, raw))
    write_pcap_file(path, records)
    return path


def test_write_keeps_the_link_types(tmp_path: Path) -> None:
    source = several_link_types(tmp_path / "multi.pcapng")
    out = tmp_path / "out.pcapng"
    result = livetap("filter", str(source), "-Y", "udp.srcport != 40000", "-w", str(out))
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    encapsulations = tshark(out, "-T", "fields", "-e", "frame.encap_type", "-e", "udp.srcport")
    assert encapsulations.split() == ["7", "40001", "1", "40002", "7", "40003"]  # raw IP, Ethernet
    # a .pcap file holds one link type: refused, and no file that looks complete is left
    refused = livetap("filter", str(source), "-Y", "udp", "-w", str(tmp_path / "out.pcap"))
    assert refused.returncode == ExitCode.BAD_INPUT
    assert "save as .pcapng" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "out.pcap").exists()


def test_nothing_matching_is_still_a_valid_empty_file(agreeing: Path, tmp_path: Path) -> None:
    out = tmp_path / "none.pcap"
    result = livetap("filter", str(agreeing), "-Y", "ip.addr == 192.0.2.99", "-w", str(out))
    assert result.returncode == ExitCode.SUCCESS
    assert tshark_rows(out) == []
    assert livetap("filter", str(agreeing), "-Y", "vlan").stdout == ""


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("-Y", "tcp.prot == 80"), ExitCode.BAD_INPUT, "column 1: unknown field 'tcp.prot'"),
        (("-Y", "tcp.port == "), ExitCode.BAD_INPUT, "at column 13: expected a value"),
        (("-Y", "ip.addr == 10.0.0.300"), ExitCode.BAD_INPUT, "at column 12"),
        (("-Y", "tcp", "-w", "{file}"), ExitCode.USAGE_ERROR, "is the file being read"),
        (("-Y", "tcp", "-w", "/nonexistent/dir/out.pcap"), ExitCode.NOT_FOUND, "/nonexistent"),
        (("-Y", "tcp", "-w", "-"), ExitCode.USAGE_ERROR, "not standard output"),
    ],
)
def test_usage_and_filter_errors(
    agreeing: Path, tmp_path: Path, args: tuple[str, ...], code: ExitCode, message: str
) -> None:
    copy = tmp_path / "copy.pcap"
    copy.write_bytes(agreeing.read_bytes())
    argv = ["filter", str(copy), *(a.format(file=copy) for a in args)]
    result = livetap(*argv)
    assert result.returncode == code, result.stderr
    assert message in result.stderr and result.stdout == ""
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    document = json.loads(livetap(*argv, "--json").stdout)
    assert document["success"] is False and document["error"]["code"] == code.name
    assert copy.read_bytes() == agreeing.read_bytes()  # the input is never touched


def test_the_filter_is_required() -> None:
    result = livetap("filter", "x.pcap")
    assert result.returncode == ExitCode.USAGE_ERROR and "-Y" in result.stderr


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        ("missing", ExitCode.NOT_FOUND, "does not exist"),
        ("directory", ExitCode.BAD_INPUT, "is a directory"),
        ("text", ExitCode.BAD_INPUT, "not a pcap or pcapng file"),
        ("empty", ExitCode.BAD_INPUT, "empty"),
    ],
)
def test_unusable_files_get_one_sentence_and_their_code(
    tmp_path: Path, make: str, code: ExitCode, message: str
) -> None:
    path = tmp_path / make
    if make == "directory":
        path.mkdir()
    elif make == "text":
        path.write_text("not a capture\n")
    elif make == "empty":
        path.write_bytes(b"")
    result = livetap("filter", str(path), "-Y", "tcp", "-w", str(tmp_path / "out.pcap"))
    assert result.returncode == code
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.pcap").exists()  # no output for an input that is not one
    document = json.loads(livetap("filter", str(path), "-Y", "tcp", "--json").stdout)
    assert document["success"] is False and document["error"]["code"] == code.name


@pytest.mark.root("setpriv to another user")
def test_an_unreadable_file_is_permission_denied(agreeing: Path, tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    private = tmp_path / "private.pcap"
    private.write_bytes(agreeing.read_bytes())
    private.chmod(0o600)
    result = subprocess.run(
        [
            *("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"),
            *(LIVETAP, "filter", str(private), "-Y", "tcp"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == ExitCode.PERMISSION_DENIED, result.stderr
    assert "permission denied" in result.stderr and "Traceback" not in result.stderr


def test_a_truncated_file_gives_what_was_read_and_code_7(agreeing: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(agreeing.read_bytes()[:-20])
    total = len(agreeing_frames())
    result = livetap("filter", str(cut), "-Y", "frame", "--json")
    assert result.returncode == ExitCode.PARTIAL  # as analyze gives for a truncated file
    assert "warning" in result.stderr and "ends in the middle of a record" in result.stderr
    data = json.loads(result.stdout)["data"]
    assert data["truncated"] is True and data["complete"] is False
    assert numbers(data) == list(range(1, total))  # every whole record, the cut one left out
    text = livetap("filter", str(cut), "-Y", "frame", "-w", str(tmp_path / "out.pcap"))
    assert text.returncode == ExitCode.PARTIAL and f"wrote {total - 1}" in text.stdout
    assert len(tshark_rows(tmp_path / "out.pcap")) == total - 1


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_prints_what_matched_so_far(agreeing: Path, tmp_path: Path, signum: int) -> None:
    """A pipe that stops mid-file, then the signal: the matches so far, and exit 130."""
    fifo = tmp_path / "capture.pcap"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [LIVETAP, "filter", str(fifo), "-Y", "tcp", "--json", "-w", str(tmp_path / "so-far.pcap")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    data = agreeing.read_bytes()
    written = threading.Event()

    def write() -> None:
        with fifo.open("wb") as pipe:  # blocks until livetap opens the pipe
            pipe.write(data[: len(data) // 2])
            pipe.flush()
            written.set()
            time.sleep(30)  # hold the pipe open: livetap waits for more

    threading.Thread(target=write, daemon=True).start()
    assert written.wait(30)
    time.sleep(1.0)  # let livetap read what is there
    process.send_signal(signum)
    out, err = process.communicate(timeout=30)
    assert process.returncode == ExitCode.INTERRUPTED, err
    assert "interrupted" in err and "Traceback" not in err
    document = json.loads(out)["data"]
    assert document["interrupted"] is True and document["complete"] is False
    assert 0 < document["packets"] < len(agreeing_frames())
    assert numbers(document) == [
        n for n in tshark_numbers(agreeing, "tcp") if n <= document["packets"]
    ]
    assert document["output"]["packets"] == document["matched"] == len(document["frames"])
    assert len(tshark_rows(tmp_path / "so-far.pcap")) == document["matched"]  # all written


def test_a_progress_bar_on_a_terminal_for_a_long_file(agreeing: Path, tmp_path: Path) -> None:
    """stderr a terminal and reading past a second: the analyze bar, cleared at the end."""
    with open_pcap(agreeing) as reader:
        frames = list(reader)
    big = tmp_path / "big.pcap"
    write_pcap_file(big, (f for _ in range(400_000 // len(frames) + 1) for f in frames))
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [LIVETAP, "filter", str(big), "-Y", "tcp", "--count-only"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            stdin=subprocess.DEVNULL,
        )
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not chunk:
                break
            drawn += chunk
        out, _ = process.communicate(timeout=120)
    finally:
        os.close(controller)
    assert process.returncode == ExitCode.SUCCESS
    assert int(out) > 0
    assert b"reading [" in drawn and b"100%" in drawn
    assert drawn.endswith(b"\r")  # cleared: the terminal's line is left empty


def test_each_line_clears_the_bar_first(capsys: pytest.CaptureFixture[str]) -> None:
    bar_stream = io.StringIO()
    bar = ProgressBar(bar_stream, delay=0.0)
    bar(50, 100)
    show = _line_printer(bar)
    show(MatchedFrame(7, 1.5, "10.0.0.5", "10.0.0.9", "UDP", 60, "40000 → 9999 Len=6"))
    assert bar_stream.getvalue().endswith("\r")  # the bar was wiped before the line
    line = capsys.readouterr().out
    assert line == "    7   1.500000     10.0.0.5 → 10.0.0.9     UDP 60 40000 → 9999 Len=6\n"


def test_an_icmp_error_has_the_quoted_headers_fields(tmp_path: Path) -> None:
    """ICMP/ICMPv6 errors quoting UDP/TCP: Wireshark's fields include the quoted headers.

    The quoted IP header's addresses and TTL and the quoted ports are further occurrences,
    and ``udp``/``tcp`` match; the conversation tables (tshark's taps) do not count them.
    """
    from scapy.layers.inet import TCPerror, UDPerror
    from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6EchoRequest

    probe = IP(src="10.0.0.5", dst="198.51.100.7", ttl=1) / UDP(sport=42315, dport=33434)
    frames = [
        eth(probe / b"probe"),
        eth(IP(src="10.0.0.1", dst="10.0.0.5") / ICMP(type=11, code=0) / bytes(probe)[:28], True),
        eth(
            IP(src="198.51.100.7", dst="10.0.0.5")
            / ICMP(type=3, code=3)
            / IP(src="10.0.0.5", dst="198.51.100.7", ttl=9)
            / UDPerror(sport=42316, dport=33435),
            True,
        ),
        eth(
            IP(src="10.0.0.1", dst="10.0.0.5")
            / ICMP(type=3, code=1)
            / IP(src="10.0.0.5", dst="203.0.113.8")
            / TCPerror(sport=50000, dport=443, flags="S"),
            True,
        ),
        eth(
            IPv6(src="2001:db8::1", dst="2001:db8::5")
            / ICMPv6DestUnreach(code=4)
            / IPv6(src="2001:db8::5", dst="2001:db8::99")
            / UDPerror(sport=5000, dport=5001),
            True,
        ),
        eth(IP(src="10.0.0.5", dst="10.0.0.1") / ICMP(type=8) / b"echo"),  # not an error
        eth(IPv6(src="2001:db8::5", dst="2001:db8::1") / ICMPv6EchoRequest()),
    ]
    path = write_frames(tmp_path / "errors.pcap", frames)
    for expression in (
        "udp",
        "tcp",
        "not tcp",
        "udp.port == 33435",
        "tcp.port == 443",
        "ip.src == 10.0.0.5",
        "ip.addr == 203.0.113.8",
        "ip.ttl == 9",
        "ipv6.addr == 2001:db8::99",
        "ip.src == 10.0.0.5 and tcp",
        "icmp and udp",
    ):
        assert numbers(ours(path, expression)) == tshark_numbers(path, expression), expression
    conversations = json.loads(
        livetap("analyze", str(path), "--json", "--report", "conversations").stdout
    )["data"]["reports"]["conversations"]
    assert [row["frames_a_to_b"] for row in conversations["udp"]] == [1]  # the probe only


def test_an_icmp_header_under_6_bytes_is_not_icmp_as_in_tshark(tmp_path: Path) -> None:
    """tshark reads 6 bytes of an ICMP header before it adds ``icmp``: with fewer (by the IP
    length, or cut by the snap length) ``-Y icmp`` misses it, whatever the type."""
    whole = bytes(eth(IP(src="10.0.0.5", dst="10.0.0.9") / ICMP(type=8, id=1, seq=1) / b"ping"))
    records = [PcapRecord(1.0, len(whole), linktypes.ETHERNET, whole)]
    for captured in (0, 2, 4, 5, 6, 8):  # cut by the snap length
        records.append(PcapRecord(2.0, len(whole), linktypes.ETHERNET, whole[: 34 + captured]))
    for kind in (3, 11, 13):
        for size in (3, 5, 6):  # by the IP length
            header = IP(src="10.0.0.5", dst="10.0.0.9", proto=1, len=20 + size)
            frame = bytes(eth(header / Raw(bytes([kind]) + bytes(size - 1))))
            records.append(PcapRecord(3.0, len(frame), linktypes.ETHERNET, frame))
    path = tmp_path / "short-icmp.pcap"
    write_pcap_file(path, records)
    for expression in ("icmp", "not icmp", "ip and not icmp"):
        assert numbers(ours(path, expression)) == tshark_numbers(path, expression), expression
    assert len(tshark_numbers(path, "icmp")) == 6


def test_range_and_count_take_those_packets_as_wiresharks_numbers(
    agreeing: Path, tmp_path: Path
) -> None:
    total = len(tshark_numbers(agreeing, "frame"))
    assert total > 12
    data = ours(agreeing, "", "--range", "2-4,9,12-")
    assert numbers(data) == [2, 3, 4, 9, *range(12, total + 1)]
    assert data["range"] == "2-4,9,12-"
    tcp = tshark_numbers(agreeing, "tcp")
    in_range = [n for n in tcp if 3 <= n <= 10]
    assert numbers(ours(agreeing, "tcp", "--range", "3-10")) == in_range
    assert numbers(ours(agreeing, "tcp", "-c", "2")) == tcp[:2]
    out = tmp_path / "part.pcap"
    result = livetap("filter", str(agreeing), "--range", "1-3,9", "-w", str(out))
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    assert "4 of 9 packets in 1-3,9 taken; wrote 4" in result.stdout  # reading stops at 9
    assert tshark_rows(out) == [
        row for n, row in enumerate(tshark_rows(agreeing), 1) if n in (1, 2, 3, 9)
    ]
    bad = livetap("filter", str(agreeing), "--range", "9-2")
    assert bad.returncode == ExitCode.USAGE_ERROR and "range goes upwards" in bad.stderr
    assert "Traceback" not in bad.stderr
