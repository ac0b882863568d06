"""Following TCP streams: tshark's stream numbers, reassembly and output, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.analysis import follow_records, follow_stream, format_follow
from engine.analysis.follow import conversation_of
from engine.errors import NotFoundError, UsageError
from engine.pcapio import open_pcap
from tests.analysis_data import Tcp, tshark, write_follow, write_frames


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_follow(tmp_path_factory.mktemp("follow") / "streams.pcap")


def _tshark_follow(path: Path, mode: str, which: str) -> str:
    return tshark(path, "-q", "-z", f"follow,tcp,{mode},{which}")


@pytest.mark.parametrize("mode", ["ascii", "hex", "raw"])
@pytest.mark.parametrize("stream", [0, 1, 2, 3, 4])
def test_follow_output_is_tsharks(streams: Path, stream: int, mode: str) -> None:
    ours = format_follow(follow_stream(streams, stream=stream), mode)
    assert ours == _tshark_follow(streams, mode, str(stream))


def test_stream_numbers_and_reassembly(streams: Path) -> None:
    first = follow_stream(streams, stream=0)
    assert first.node0 == "10.1.0.1:33000" and first.node1 == "10.1.0.2:80"
    request = first.bytes_from(0)
    assert request.startswith(b"GET /page HTTP/1.1\r\nHost: follow.example\r\n")
    assert request.endswith(bytes(range(256)))  # the binary tail, after the request
    reply = first.bytes_from(1)
    assert reply.count(b"line one") == 1  # the retransmission is not repeated
    assert reply.endswith(b"first part\r\nsecond part\r\n")  # reordered back
    gap = follow_stream(streams, stream=1)
    assert b"[7 bytes missing in capture file]\x00" in gap.bytes_from(1)
    six = follow_stream(streams, stream=2)
    assert six.node0 == "[2001:db8::1]:5555"
    reused_first, reused_second = follow_stream(streams, stream=3), follow_stream(streams, stream=4)
    assert reused_first.bytes_from(0) == b"first connection\n"
    assert reused_second.bytes_from(0) == b"second connection\n"
    assert reused_second.streams_total == 5


def test_follow_by_endpoints_is_tsharks_address_form(streams: Path) -> None:
    conv = "10.1.0.1:33000 10.1.0.2:80"
    ours = follow_stream(streams, conv=conv)
    assert format_follow(ours, "ascii") == _tshark_follow(
        streams, "ascii", "10.1.0.1:33000,10.1.0.2:80"
    )
    reversed_order = follow_stream(streams, conv="10.1.0.2:80,10.1.0.1:33000")
    assert reversed_order.node0 == "10.1.0.1:33000"  # the first packet's sender, either way
    # tshark's address form feeds both streams of a reused 4-tuple to one follower
    reused = "10.1.0.5:44000,10.1.0.6:40404"
    assert format_follow(follow_stream(streams, conv=reused), "raw") == _tshark_follow(
        streams, "raw", reused
    )


def test_follow_records_from_memory(streams: Path) -> None:
    records = list(open_pcap(streams))
    from_memory = follow_records(records, conv="[2001:db8::1]:5555 [2001:db8::2]:80")
    assert from_memory.bytes_from(0) == b"hello over six\n"
    assert from_memory.bytes_from(1) == b"and back\n"
    # what the packet list's "s" key does: the selected packet's connection
    reply = next(r for r in records if b"and back" in r.data)
    conv = conversation_of(reply.linktype, reply.data)
    assert conv == "[2001:db8::2]:80 [2001:db8::1]:5555"
    assert follow_records(records, conv=conv).node0 == "[2001:db8::1]:5555"
    assert conversation_of(1, bytes(60)) is None  # not TCP


def test_follow_errors_say_what_to_do(streams: Path) -> None:
    with pytest.raises(NotFoundError, match=r"no TCP stream 9: the file has 5 streams \(0-4\)"):
        follow_stream(streams, stream=9)
    with pytest.raises(NotFoundError, match="no TCP packet"):
        follow_stream(streams, conv="10.9.9.9:1 10.9.9.8:2")
    for bad in ("10.1.0.1:33000", "10.1.0.1 10.1.0.2:80", "10.1.0.1:99999 10.1.0.2:80"):
        with pytest.raises(UsageError):
            follow_stream(streams, conv=bad)
    with pytest.raises(UsageError, match="IPv4 and an IPv6"):
        follow_stream(streams, conv="10.1.0.1:1 [::1]:2")
    with pytest.raises(UsageError):
        follow_stream(streams)
    with pytest.raises(UsageError):
        format_follow(follow_stream(streams, stream=0), "yaml")


def test_a_stream_that_starts_mid_connection(tmp_path: Path) -> None:
    late = Tcp("10.4.0.1", 50000, "10.4.0.2", 9000, cseq=4_294_967_000)  # wraps around 2**32
    late.send(True, "PA", b"x" * 200)
    late.send(True, "PA", b"y" * 200)
    late.send(False, "PA", b"reply")
    path = write_frames(tmp_path / "late.pcap", late.frames)
    for mode in ("ascii", "hex"):
        assert format_follow(follow_stream(path, stream=0), mode) == _tshark_follow(path, mode, "0")


def test_a_tcp_header_cut_short_is_not_followed(tmp_path: Path) -> None:
    """A header longer than what was captured, or under 20 bytes: tshark stops before its tap.

    tshark's TCP dissector throws on such a segment before its follow tap sees it: the
    stream exists (numbered) but follows nothing, ``Node 0: :0``.
    """
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    from engine import linktypes
    from engine.pcapio import PcapRecord, write_pcap_file

    long_header = (
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="10.9.0.1", dst="10.9.0.2")
        / TCP(sport=1234, dport=80, flags="PA", dataofs=15, options=[("NOP", None)] * 40)
        / (b"data" * 40)
    )
    raw = bytes(long_header)
    path = tmp_path / "cut.pcap"
    write_pcap_file(path, [PcapRecord(1.0, len(raw), linktypes.ETHERNET, raw[:64])])
    for mode in ("ascii", "hex"):
        ours = format_follow(follow_stream(path, stream=0), mode)
        assert ours == _tshark_follow(path, mode, "0")
    assert "Node 0: :0" in ours
    # nor counted in the TCP conversations (tshark's taps), only in the IP ones
    from engine.analysis import analyze_file
    from tests.analysis_data import tshark_conversations

    tables = analyze_file(path, ["conversations"]).reports["conversations"]
    assert tables["tcp"] == [] and tshark_conversations(path, "tcp") == []
    assert tables["tcp_total"] == 0
    assert len(tables["ipv4"]) == len(tshark_conversations(path, "ip")) == 1


def test_a_first_fragment_read_as_tcp_is_counted_but_not_followed(tmp_path: Path) -> None:
    """A first fragment cut by the snap length cannot be reassembled: tshark reads its TCP
    header (the conversation counts it) but gives its follow tap nothing."""
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    from engine import linktypes
    from engine.analysis import analyze_file
    from engine.pcapio import PcapRecord, write_pcap_file
    from tests.analysis_data import tshark_conversations

    whole = bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="10.9.0.1", dst="10.9.0.2", flags="MF")
        / TCP(sport=179, dport=100, flags="PA")
        / (b"B" * 1400)
    )
    path = tmp_path / "fragment.pcap"
    write_pcap_file(path, [PcapRecord(1.0, len(whole), linktypes.ETHERNET, whole[:120])])
    ours = format_follow(follow_stream(path, stream=0), "ascii")
    assert ours == _tshark_follow(path, "ascii", "0") and "Node 0: :0" in ours
    tables = analyze_file(path, ["conversations"]).reports["conversations"]
    assert len(tables["tcp"]) == len(tshark_conversations(path, "tcp")) == 1
