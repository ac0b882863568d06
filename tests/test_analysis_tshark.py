"""livetap's conversations, endpoints and protocol hierarchy against tshark's own numbers."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.dot11 import Dot11, Dot11QoS, RadioTap
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import LLC, SNAP

from engine import linktypes
from engine.analysis import analyze_file
from engine.analysis.hierarchy import flatten
from engine.pcapio import PcapRecord, write_pcap_file
from tests.analysis_data import (
    credentials_frames,
    patterns_frames,
    tshark,
    tshark_conversations,
    tshark_phs,
    tshark_size,
    write_follow,
    write_frames,
    write_mixed,
    write_timed,
)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_mixed(tmp_path_factory.mktemp("tshark") / "mixed.pcap")


def _ours(path: Path, report: str) -> dict[str, Any]:
    result = analyze_file(path, [report])
    assert result.exit_code == 0
    report_: dict[str, Any] = result.reports[report]
    return report_


def _side(address: str, port: int | None) -> str:
    return address if port is None else f"{address}:{port}"


def _compare_conversations(path: Path, kind: str, ours: list[dict[str, Any]]) -> None:
    theirs = tshark_conversations(path, kind)
    assert len(theirs) == len(ours), f"{kind}: tshark has {len(theirs)} rows, livetap {len(ours)}"
    assert theirs, f"the test file should have {kind} conversations"
    for row, mine in zip(theirs, ours, strict=True):  # same rows in the same order
        assert row["a"] == _side(mine["a"], mine.get("a_port"))
        assert row["b"] == _side(mine["b"], mine.get("b_port"))
        assert int(row["tf"]) == mine["frames_a_to_b"]  # tshark's "->" is A to B
        assert row["tb"] == tshark_size(mine["bytes_a_to_b"])
        assert int(row["rf"]) == mine["frames_b_to_a"]
        assert row["rb"] == tshark_size(mine["bytes_b_to_a"])
        assert int(row["f"]) == mine["frames"]
        assert row["by"] == tshark_size(mine["bytes"])
        assert float(row["start"]) == pytest.approx(mine["relative_start"], abs=1e-6)
        assert float(row["duration"]) == pytest.approx(mine["duration"], abs=1e-4)


@pytest.mark.parametrize("kind", ["ip", "ipv6", "tcp", "udp"])
def test_conversations_have_tsharks_totals(mixed: Path, kind: str) -> None:
    ours = _ours(mixed, "conversations")
    _compare_conversations(mixed, kind, ours["ipv4" if kind == "ip" else kind])


def test_a_reused_four_tuple_is_two_tcp_conversations(mixed: Path) -> None:
    rows = [r for r in _ours(mixed, "conversations")["tcp"] if r["a_port"] == 42000]
    assert len(rows) == 2
    assert rows[0]["stream"] != rows[1]["stream"]


def test_a_fragmented_datagram_counts_once_for_udp_and_per_fragment_for_ip(mixed: Path) -> None:
    conversations = _ours(mixed, "conversations")
    udp = next(r for r in conversations["udp"] if r["b_port"] == 9998)
    assert udp["frames"] == 1
    ip_rows = [r for r in conversations["ipv4"] if {r["a"], r["b"]} == {"10.0.0.5", "10.0.0.9"}]
    assert ip_rows[0]["frames"] >= 3 + 3  # three fragments and three other datagrams


def _tree_rows(report: dict[str, Any]) -> list[tuple[int, str, int, int]]:
    return [
        (depth, row["protocol"], row["frames"], row["bytes"])
        for depth, row in flatten(report["tree"])
    ]


def test_protocol_hierarchy_is_tsharks(mixed: Path) -> None:
    ours = _tree_rows(_ours(mixed, "protocols"))
    assert ours == tshark_phs(mixed)
    names = {name for _depth, name, _frames, _bytes in ours}
    # the file exercises reassembly, content types, tunnels, VLANs and IPv6
    assert {"tcp.segments", "data-text-lines", "json", "tls", "vlan", "ipv6", "ntp"} <= names


@pytest.mark.parametrize("builder", ["follow", "credentials", "patterns"])
def test_hierarchy_of_other_files_is_tsharks(tmp_path: Path, builder: str) -> None:
    path = tmp_path / f"{builder}.pcap"
    if builder == "follow":
        write_follow(path)
    elif builder == "credentials":
        write_frames(path, credentials_frames())
    else:
        write_timed(path, patterns_frames())
    assert _tree_rows(_ours(path, "protocols")) == tshark_phs(path)


def test_endpoints_are_tsharks(mixed: Path) -> None:
    ours = _ours(mixed, "talkers")
    theirs: dict[str, tuple[int, int]] = {}
    for line in tshark(mixed, "-q", "-z", "endpoints,ip").splitlines():
        parts = line.split()
        if len(parts) == 7 and parts[0].count(".") == 3:
            theirs[parts[0]] = (int(parts[1]), int(parts[2]))
    by_bytes = {e["address"]: (e["packets"], e["bytes"]) for e in ours["by_bytes"]}
    assert ours["endpoints"] >= len(theirs)  # livetap counts the IPv6 endpoints too
    for address, counts in by_bytes.items():
        if address in theirs:
            assert counts == theirs[address]
    top = max(theirs.items(), key=lambda item: item[1][1])
    assert ours["by_bytes"][0]["address"] == top[0]


def wlan(packet: bytes, qos: bool = False) -> bytes:
    """An unprotected 802.11 data frame carrying an IP packet through LLC/SNAP."""
    header = Dot11(
        type=2,
        subtype=8 if qos else 0,
        addr1="02:00:00:00:00:02",
        addr2="02:00:00:00:00:01",
        addr3="02:00:00:00:00:03",
    )
    if qos:
        header = header / Dot11QoS()
    ethertype = 0x86DD if packet[0] >> 4 == 6 else 0x0800
    snap = LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=ethertype)
    return bytes(header / snap) + packet


def _link_file(path: Path, linktype: int, frames: list[bytes]) -> Path:
    records = [PcapRecord(1000.0 + i, len(f), linktype, f) for i, f in enumerate(frames)]
    write_pcap_file(path, records)
    return path


def _ip_frames() -> tuple[bytes, bytes]:
    v4 = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=40000, dport=9999) / b"hello")
    v6 = bytes(IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=40000, dport=9999) / b"hi")
    return v4, v6


@pytest.mark.parametrize(
    ("name", "linktype"),
    [
        ("sll", linktypes.LINUX_SLL),
        ("sll2", linktypes.LINUX_SLL2),
        ("raw", linktypes.RAW),
        ("null", linktypes.NULL),
        ("loop", linktypes.LOOP),
        ("ipv4", linktypes.IPV4),
        ("ipv6", linktypes.IPV6),
        ("user", 147),
        ("radiotap", 127),
        ("wlan", 105),
        ("arcnet", 129),
        ("ipnet", 226),
        ("ipoib", 242),
        ("clip", 106),
        ("juniper", 178),
        ("pktap", 258),
        ("user2-pktap", 149),
    ],
)
def test_every_link_type_matches_tshark(tmp_path: Path, name: str, linktype: int) -> None:
    v4, v6 = _ip_frames()
    mac = b"\x02\x00\x00\x00\x00\x01\x00\x00"
    frames = {
        "sll": [struct.pack("!HHH8sH", 0, 1, 6, mac, 0x0800) + v4],
        "sll2": [struct.pack("!HHIHBB8s", 0x86DD, 0, 2, 1, 0, 6, mac) + v6],
        "raw": [v4, v6],
        "null": [struct.pack("<I", 2) + v4, struct.pack("<I", 30) + v6],
        "loop": [struct.pack(">I", 2) + v4],
        "ipv4": [v4, v6],  # IPv6 on a raw IPv4 link: tshark's hierarchy starts at ipv6
        "ipv6": [v6],
        "user": [v4],
        "radiotap": [bytes(RadioTap()) + wlan(v4), bytes(RadioTap()) + wlan(v6, qos=True)],
        "wlan": [wlan(v4)],
        # Linux ARCNET: source, destination, offset, protocol ID; RFC 1201 adds a split
        # flag and a sequence number
        "arcnet": [
            b"\x01\x02\x00\x00\xf0" + v4,
            b"\x02\x01\x00\x00\xd4\x00\x00\x01" + v4,
            b"\x01\x02\x00\x00\xc4\x00\x00\x03" + v6,
        ],
        "ipnet": [
            struct.pack("!BBHIIIII", 1, 2, 0, len(v4), 2, 0, 0, 0) + v4,
            struct.pack("!BBHIIIII", 1, 26, 0, len(v6), 2, 0, 0, 0) + v6,
        ],
        "ipoib": [bytes(40) + b"\x08\x00\x00\x00" + v4, bytes(40) + b"\x86\xdd\x00\x00" + v6],
        "clip": [v4, v4[:12] + v4[16:20] + v4[12:16] + v4[20:], v6],  # Linux ATM CLIP: raw IP
        # Apple's PKTAP: a little-endian header length, type, the frame's link type, ...
        "pktap": [
            struct.pack("<III", 108, 1, 1) + bytes(96) + mac[:6] + mac[:6] + b"\x08\x00" + v4
        ],
        "user2-pktap": [
            struct.pack("<III", 108, 1, 1) + bytes(96) + mac[:6] + mac[:6] + b"\x86\xdd" + v6
        ],
        "juniper": [
            b"MGC\x80\x00\x04\x01\x02\x03\x04" + mac[:6] + mac[:6] + b"\x08\x00" + v4,
            b"MGC\x00" + mac[:6] + mac[:6] + b"\x86\xdd" + v6,
        ],
    }[name]
    path = _link_file(tmp_path / f"{name}.pcap", linktype, frames)
    assert _tree_rows(_ours(path, "protocols")) == tshark_phs(path)
    if name == "juniper":  # tshark's hierarchy names the Juniper header "text"
        assert _tree_rows(_ours(path, "protocols"))[0][1] == "text"
    conversations = _ours(path, "conversations")
    ipv4 = conversations["ipv4"]
    if name == "user":
        assert ipv4 == []  # a user link type is only counted
        assert _ours(path, "summary")["unknown_link_type_packets"] == 1
    else:
        _compare_conversations(path, "udp", conversations["udp"])


def test_pcapng_with_several_interfaces_matches_tshark(tmp_path: Path) -> None:
    v4, v6 = _ip_frames()
    ethernet = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + v4
    records = [
        PcapRecord(1000.0, len(ethernet), linktypes.ETHERNET, ethernet),
        PcapRecord(1001.0, len(v6), linktypes.RAW, v6),
        PcapRecord(1002.0, len(v4), linktypes.RAW, v4),
        PcapRecord(1003.0, len(v4), 147, v4),
    ]
    path = tmp_path / "multi.pcapng"
    write_pcap_file(path, records)
    summary = _ours(path, "summary")
    assert summary["link_types"] == {"ethernet": 1, "raw IP": 2, "linktype 147": 1}
    assert summary["unknown_link_type_packets"] == 1
    assert _tree_rows(_ours(path, "protocols")) == tshark_phs(path)
    _compare_conversations(path, "udp", _ours(path, "conversations")["udp"])


def test_records_shorter_than_an_ethernet_header_are_not_eth(tmp_path: Path) -> None:
    """tshark's hierarchy puts them under _ws.short / _ws.malformed, not under eth."""
    v4, _v6 = _ip_frames()
    ethernet = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + v4
    records = [
        PcapRecord(1000.0, len(ethernet), linktypes.ETHERNET, ethernet),
        PcapRecord(1001.0, 600, linktypes.ETHERNET, ethernet[:8]),
        PcapRecord(1002.0, 600, linktypes.ETHERNET, b""),
    ]
    path = tmp_path / "short.pcap"
    write_pcap_file(path, records)
    ours = _tree_rows(_ours(path, "protocols"))
    theirs = tshark_phs(path)
    top = {"eth", "ip", "udp"}
    assert [row for row in ours if row[1] in top] == [row for row in theirs if row[1] in top]
    assert [row[2] for row in theirs if row[1] == "eth"] == [1]


def test_an_empty_ip_payload_names_no_protocol_above_ip(tmp_path: Path) -> None:
    """tshark hands an empty IP payload to no dissector: ``eth:ip``, whatever the protocol."""
    frames = [
        b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
        + bytes(IP(src="10.0.0.1", dst="10.0.0.2", proto=protocol))
        for protocol in (1, 2, 50, 89, 103)
    ]
    path = _link_file(tmp_path / "empty.pcap", linktypes.ETHERNET, frames)
    assert _tree_rows(_ours(path, "protocols")) == tshark_phs(path)


def test_a_cisco_isl_frame_is_isl_then_ethernet_as_in_tsharks_hierarchy(tmp_path: Path) -> None:
    v4, _v6 = _ip_frames()
    inner = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + v4
    isl = (
        b"\x01\x00\x0c\x00\x00\x00"  # destination (5 bytes), type and user
        + b"\x02\x00\x00\x00\x00\x09"  # source
        + struct.pack("!H", len(inner) + 12)
        + b"\xaa\xaa\x03\x00\x00\x0c"  # SNAP, the source's high bits
        + b"\x00\x0a\x00\x00\x00\x00"  # VLAN, index, reserved
        + inner
    )
    path = _link_file(tmp_path / "isl.pcap", linktypes.ETHERNET, [isl, inner])
    top = {"isl", "eth", "ip", "udp"}
    ours = [row for row in _tree_rows(_ours(path, "protocols")) if row[1] in top]
    assert ours == [row for row in tshark_phs(path) if row[1] in top]
    _compare_conversations(path, "udp", _ours(path, "conversations")["udp"])


def test_a_transport_header_cut_by_the_snap_length_is_still_named(tmp_path: Path) -> None:
    """Only an empty payload names nothing: a TCP or UDP header the capture cut is tcp/udp."""
    ethernet = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"
    records = []
    for number, transport in enumerate((TCP(sport=1, dport=2), UDP(sport=3, dport=4))):
        frame = ethernet + bytes(IP(src="10.0.0.1", dst="10.0.0.2") / transport / bytes(100))
        records.append(PcapRecord(1000.0 + number, len(frame), linktypes.ETHERNET, frame[:38]))
    path = tmp_path / "cut.pcap"
    write_pcap_file(path, records)
    top = {"eth", "ip", "tcp", "udp"}  # (tshark adds a _ws.short row under each)
    ours = [row for row in _tree_rows(_ours(path, "protocols")) if row[1] in top]
    assert ours == [row for row in tshark_phs(path) if row[1] in top]
    assert [row[1] for row in ours] == ["eth", "ip", "tcp", "udp"]
