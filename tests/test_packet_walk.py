"""The packet model's walker against tshark: tunnels, encapsulations and link types.

Every frame here is built by the test (scapy with explicit MAC addresses, or bytes),
written to a pcap, and read both by :func:`engine.packet.walk` and by the real tshark:
the layer names must be tshark's, and so must the innermost addresses and ports, the
protocol hierarchy and the conversation tables (outer tunnel headers included).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.contrib.geneve import GENEVE
from scapy.contrib.mpls import MPLS
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, GRE, Dot1AD, Dot1Q, Ether
from scapy.layers.ppp import PPP, PPPoE
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw

from engine.analysis import analyze_file
from engine.analysis.hierarchy import flatten
from engine.filter_file import compile_filter, filter_file
from engine.packet import walk
from engine.packet.model import Packet as Frame
from engine.packet.stack import protocol_stack
from engine.packet.walk import IP_DISPATCH, KNOWN_LINKTYPES, MAX_TUNNEL_DEPTH
from engine.pcapio import PcapRecord, write_pcap_file
from tests.analysis_data import tshark, tshark_conversations, tshark_phs

OUTER_SRC, OUTER_DST = "02:00:00:00:00:01", "02:00:00:00:00:02"
INNER_SRC, INNER_DST = "02:00:00:00:00:03", "02:00:00:00:00:04"
INNER_IP = IP(src="10.9.0.1", dst="10.9.0.2")
INNER_TCP = INNER_IP / TCP(sport=1234, dport=80, flags="S")
INNER_UDP = INNER_IP / UDP(sport=1000, dport=2000) / b"hi"
INNER_V6 = IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=1000, dport=2000) / b"hi"


def _outer(protocol: int, payload: bytes) -> Packet:
    """An outer Ethernet/IPv4 header around a tunnel's bytes."""
    return (
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / IP(src="10.9.0.3", dst="10.9.0.4", proto=protocol)
        / Raw(payload)
    )


def _inner_ethernet(payload: Packet = INNER_TCP) -> bytes:
    return bytes(Ether(src=INNER_SRC, dst=INNER_DST) / payload)


ETHERNET_FRAMES: dict[str, bytes] = {
    "vxlan": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / IP(src="127.0.0.1", dst="127.0.0.2")
        / UDP(sport=40000, dport=4789)
        / VXLAN(vni=5)
        / Ether(src=INNER_SRC, dst=INNER_DST)
        / INNER_TCP
    ),
    "vxlan-arp": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / IP(src="127.0.0.1", dst="127.0.0.2")
        / UDP(sport=40001, dport=4789)
        / VXLAN(vni=5)
        / Ether(src=INNER_SRC, dst=INNER_DST)
        / ARP(psrc="10.9.0.1", pdst="10.9.0.2", hwsrc=INNER_SRC)
    ),
    "geneve": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / IP(src="127.0.0.1", dst="127.0.0.2")
        / UDP(sport=40000, dport=6081)
        / GENEVE(proto=0x6558)
        / Ether(src=INNER_SRC, dst=INNER_DST)
        / INNER_TCP
    ),
    "gre-teb": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / IP(src="127.0.0.1", dst="127.0.0.2")
        / GRE(proto=0x6558)
        / Raw(_inner_ethernet())
    ),
    "gre-key-ip": bytes(_outer(47, b"\x20\x00\x08\x00\x00\x00\x00\x07" + bytes(INNER_UDP))),
    "erspan-i": bytes(_outer(47, b"\x00\x00\x88\xbe" + _inner_ethernet(INNER_UDP))),
    "erspan-ii": bytes(
        _outer(
            47,
            b"\x10\x00\x88\xbe\x00\x00\x00\x01\x10\x00\x00\x01\x00\x00\x00\x00"
            + _inner_ethernet(INNER_UDP),
        )
    ),
    "erspan-iii": bytes(
        _outer(
            47,
            b"\x10\x00\x22\xeb\x00\x00\x00\x01\x20\x00\x00\x01" + b"\0" * 8 + _inner_ethernet(),
        )
    ),
    # WCCPv2 redirect: a 4-byte header before the IPv4 packet (WCCPv1: none)
    "gre-wccp": bytes(_outer(47, b"\x00\x00\x88\x3e\x05\x59\x00\x48" + bytes(INNER_TCP))),
    "gre-wccp-v1": bytes(_outer(47, b"\x00\x00\x88\x3e" + bytes(INNER_UDP))),
    # Cisco MetaData in GRE: the inner ethertype, version, length, options, SGT
    "gre-cmd": bytes(
        _outer(
            47,
            b"\x20\x00\x89\x09\x00\x00\x00\x28\x08\x00\x01\x01\x00\x01\x00\x00" + bytes(INNER_UDP),
        )
    ),
    # VXLAN-GPE: its next protocol says NSH (4), IPv4 (1), IPv6 (2) or Ethernet (3)
    "vxlan-gpe-nsh": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / IP(src="127.0.0.1", dst="127.0.0.2")
        / UDP(sport=40002, dport=4790)
        / Raw(b"\x0c\x00\x00\x04\x00\x00\x07\x00\x00\x02\x02\x01\x00\x00\x01\xff")
        / INNER_UDP
    ),
    "vxlan-gpe-ip": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / IP(src="127.0.0.1", dst="127.0.0.2")
        / UDP(sport=40003, dport=4790)
        / Raw(b"\x0c\x00\x00\x01\x00\x00\x07\x00")
        / INNER_TCP
    ),
    "pptp-gre": bytes(
        _outer(
            47,
            b"\x30\x01\x88\x0b"
            + struct.pack("!HH", 4 + len(INNER_UDP), 1)
            + b"\x00\x00\x00\x01\xff\x03\x00\x21"
            + bytes(INNER_UDP),
        )
    ),
    "ip-in-ip": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST) / IP(src="10.9.0.3", dst="10.9.0.4") / INNER_TCP
    ),
    "pim-register": bytes(_outer(103, b"\x21\x00\x00\x00\x00\x00\x00\x00" + bytes(INNER_UDP))),
    # a null Register (N set): the header of a packet, read as tshark reads it
    "pim-null-register": bytes(
        _outer(
            103,
            b"\x21\x00\x00\x00\x40\x00\x00\x00"
            + bytes(IP(src="10.9.0.1", dst="225.0.0.1", proto=103)),
        )
    ),
    "gre-in-udp": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / IP(src="10.9.0.3", dst="10.9.0.4")
        / UDP(sport=5, dport=4754)
        / Raw(b"\x00\x00\x08\x00" + bytes(INNER_UDP))
    ),
    "mpls-two-labels": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / MPLS(label=16, s=0)
        / MPLS(label=17, s=1)
        / INNER_IP
        / UDP(sport=5, dport=53)
        / DNS(qd=DNSQR(qname="a.example"))
    ),
    "mpls-over-udp": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / IP(src="127.0.0.1", dst="127.0.0.2")
        / UDP(sport=40000, dport=6635)
        / MPLS(label=16, s=1)
        / INNER_TCP
    ),
    "qinq-88a8": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST) / Dot1AD(vlan=10) / Dot1Q(vlan=20) / INNER_IP / ICMP()
    ),
    "qinq-9100": b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x91\x00\x00\x0a\x81\x00\x00\x14\x08\x00"
    + bytes(INNER_UDP),
    "pppoe": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST) / PPPoE(sessionid=1) / PPP(proto=0x21) / INNER_UDP
    ),
    "macsec-clear": b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x88\xe5\x20\x00\x00\x00\x00\x01"
    + b"\0" * 8
    + b"\x08\x00"
    + bytes(INNER_UDP)
    + b"\0" * 16,
    # IPv6 next header 143: an Ethernet frame (segment routing's L2 services)
    "ipv6-ethernet": bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / IPv6(src="fd00::a", dst="fd00::b", nh=143)
        / Raw(_inner_ethernet(INNER_UDP))
    ),
    # Arista's timestamp tag: subtype 1, a version saying 64 or 48 bits, then an ethertype
    "arista-64": b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\xd2\x8b\x00\x01\x00\x10"
    + bytes(8)
    + b"\x08\x00"
    + bytes(INNER_UDP),
    "arista-48-vlan": b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\xd2\x8b\x00\x01\x01\x20"
    + bytes(6)
    + b"\x81\x00\x00\x64\x08\x00"
    + bytes(INNER_UDP),
    "arista-unknown": b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\xd2\x8b\x00\x01\x00\x11"
    + bytes(8)
    + b"\x08\x00"
    + bytes(INNER_UDP),
    # C (changed text) without E: tshark does not read the payload either
    "macsec-changed": b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x88\xe5\x24\x00\x00\x00\x00\x06"
    + b"\0" * 8
    + b"\x08\x00"
    + bytes(INNER_UDP)
    + b"\0" * 16,
    "nsh": b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x89\x4f\x00\x06\x01\x01\x00\x00\x01\xff"
    + b"\0" * 16
    + bytes(INNER_UDP),
    "ipv6-in-ethertype-ipv4": b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00" + bytes(INNER_V6),
}


FR_ETHER_DST = "00:11:88:6b:68:30"
"""A destination whose first octets tshark 4.0 does not take for a Cisco HDLC type nor for
an HDLC control field followed by an NLPID (tcpdump's q933-heapoverflow-2.pcap has it)."""


def _fr_ethernet(payload: Packet) -> bytes:
    return bytes(Ether(src=INNER_SRC, dst=FR_ETHER_DST) / payload)


def _nflog_tlv(kind: int, value: bytes) -> bytes:
    return struct.pack("<HH", 4 + len(value), kind) + value + b"\0" * (-len(value) % 4)


OTHER_LINKS: dict[str, tuple[int, bytes]] = {
    "ppp": (9, b"\xff\x03\x00\x21" + bytes(INNER_UDP)),
    "ppp-compressed": (9, b"\x21" + bytes(INNER_UDP)),
    "ppp-mpls": (9, b"\xff\x03\x02\x81" + bytes(MPLS(label=16, s=1) / INNER_UDP)),
    "ppp-hdlc": (50, b"\xff\x03\x00\x57" + bytes(INNER_V6)),
    "cisco-hdlc": (104, b"\x0f\x00\x86\xdd" + bytes(INNER_V6)),
    # SLARP (code 0, a request): an address and a mask, then 2 reserved bytes
    "cisco-hdlc-slarp": (104, b"\x8f\x00\x80\x35" + bytes(4) + bytes([10, 9, 0, 1]) + bytes(6)),
    "frame-relay": (107, b"\x04\x01\x03\xcc" + bytes(INNER_UDP)),
    "frame-relay-snap": (107, b"\x04\x01\x03\x80\x00\x00\x00\x08\x00" + bytes(INNER_UDP)),
    "frame-relay-cisco": (107, b"\x48\xe1\x86\xdd" + bytes(INNER_V6)),
    # neither a Cisco type nor an HDLC control and NLPID tshark knows: an Ethernet frame
    "frame-relay-ethernet": (107, b"\x48\xe1" + _fr_ethernet(INNER_UDP) + b"\0" * 4),
    "frame-relay-bridged": (107, b"\x48\xe1\x65\x58" + _inner_ethernet(INNER_UDP)),
    # an I frame's 2-octet control field, then NLPID 0 (CLNP's inactive subset)
    "frame-relay-i-frame": (107, b"\x48\xe1" + _inner_ethernet(INNER_UDP)),
    "nflog": (
        239,
        b"\x02\x00\x00\x00" + _nflog_tlv(1, b"\x08\x00\x01\x00") + _nflog_tlv(9, bytes(INNER_UDP)),
    ),
    "nflog-v6": (239, b"\x0a\x00\x00\x00" + _nflog_tlv(9, bytes(INNER_V6))),
    "raw-ipv4-holding-ipv6": (228, bytes(INNER_V6)),
}


def _tshark_view(path: Path) -> list[tuple[list[str], str, str]]:
    """Per frame: tshark's layer names (pseudo-layers dropped), last source address, ports."""
    out = tshark(
        path,
        "-T",
        "fields",
        "-E",
        "occurrence=l",
        "-e",
        "frame.protocols",
        "-e",
        "ip.src",
        "-e",
        "ipv6.src",
        "-e",
        "tcp.srcport",
        "-e",
        "udp.srcport",
    )
    rows = []
    for line in out.splitlines():
        protocols, ip4, ip6, tcp_port, udp_port = line.split("\t")
        names = [name for name in protocols.split(":") if name not in ("ethertype",)]
        rows.append((names, ip4 or ip6, tcp_port or udp_port))
    return rows


def _address(pair: bytes) -> str:
    import ipaddress

    half = len(pair) // 2
    return str(ipaddress.ip_address(pair[:half])) if pair else ""


def _write(tmp_path: Path, name: str, linktype: int, frames: list[bytes]) -> Path:
    path = tmp_path / f"{name}.pcap"
    write_pcap_file(
        path, [PcapRecord(1.0 + i / 1000, len(f), linktype, f) for i, f in enumerate(frames)]
    )
    return path


def _cases() -> list[tuple[str, int, bytes]]:
    cases = [(name, 1, frame) for name, frame in ETHERNET_FRAMES.items()]
    cases += [(name, linktype, frame) for name, (linktype, frame) in OTHER_LINKS.items()]
    return cases


@pytest.mark.parametrize(("name", "linktype", "frame"), _cases(), ids=[c[0] for c in _cases()])
def test_the_walk_names_tsharks_layers(
    tmp_path: Path, name: str, linktype: int, frame: bytes
) -> None:
    path = _write(tmp_path, name, linktype, [frame])
    [(names, address, port)] = _tshark_view(path)
    layers = walk(linktype, frame)
    # frame.protocols names the IP entry point of a raw IPv4 link ip (it adds no IPv4 tree)
    chain = ["ip" if n == IP_DISPATCH else n for n in layers.chain]
    # tshark's frame.protocols names an MPLS stack once; its hierarchy, like livetap, per label
    collapsed = [n for i, n in enumerate(chain) if not (n == "mpls" and chain[i - 1] == "mpls")]
    if name.startswith("vxlan-gpe"):  # its hierarchy says vxlan, its frame.protocols nothing
        collapsed.remove("vxlan")
    assert names[: len(collapsed)] == collapsed, f"tshark {names}, livetap {chain}"
    if address and layers.proto != -2:
        assert _address(layers.pair) == address
    if port and layers.sport >= 0 and layers.proto != -2:
        assert str(layers.sport) == port


def test_a_tunnel_counts_in_every_conversation_tshark_counts(tmp_path: Path) -> None:
    frames = [ETHERNET_FRAMES[n] for n in ("vxlan", "vxlan-arp", "geneve", "gre-teb", "ip-in-ip")]
    frames += [ETHERNET_FRAMES[n] for n in ("mpls-over-udp", "gre-in-udp", "erspan-ii")]
    frames += [ETHERNET_FRAMES[n] for n in ("gre-wccp", "gre-wccp-v1", "gre-cmd")]
    frames += [ETHERNET_FRAMES[n] for n in ("vxlan-gpe-nsh", "vxlan-gpe-ip", "pim-null-register")]
    frames.append(ETHERNET_FRAMES["ipv6-ethernet"])
    path = _write(tmp_path, "tunnels", 1, frames)
    ours = analyze_file(path, ["conversations", "protocols"]).reports
    for kind, key in (("ip", "ipv4"), ("udp", "udp"), ("tcp", "tcp")):
        theirs = tshark_conversations(path, kind)
        rows = ours["conversations"][key]
        assert len(rows) == len(theirs), kind
        for row, mine in zip(theirs, rows, strict=True):
            a = mine["a"] if "a_port" not in mine else f"{mine['a']}:{mine['a_port']}"
            assert row["a"] == a
            assert int(row["f"]) == mine["frames"]
    hierarchy = [
        (depth, row["protocol"], row["frames"], row["bytes"])
        for depth, row in flatten(ours["protocols"]["tree"])
    ]
    theirs_phs = [row for row in tshark_phs(path) if row[1] != "data"]
    assert [row for row in hierarchy if row[1] != "data"] == theirs_phs


def test_a_first_fragment_cut_by_the_snap_length_counts_its_udp_as_tshark_does(
    tmp_path: Path,
) -> None:
    """It cannot be reassembled, so tshark reads the UDP header it can see."""
    whole = bytes(
        Ether(src=OUTER_SRC, dst=OUTER_DST)
        / IP(src="10.9.0.1", dst="10.9.0.2", flags="MF")
        / UDP(sport=1000, dport=68)
        / bytes(1400)
    )
    cut = whole[:90]
    path = tmp_path / "cut.pcap"
    write_pcap_file(path, [PcapRecord(1.0, len(whole), 1, cut)])
    theirs = tshark_conversations(path, "udp")
    ours = analyze_file(path, ["conversations"]).reports["conversations"]["udp"]
    assert len(theirs) == len(ours) == 1
    assert ours[0]["b_port"] == 68
    layers = walk(1, cut)
    assert layers.fragment is None and layers.sport == 1000


def test_offsets_point_at_the_innermost_headers() -> None:
    layers = walk(1, ETHERNET_FRAMES["vxlan"])
    frame = ETHERNET_FRAMES["vxlan"]
    assert frame[layers.net] >> 4 == 4
    assert frame[layers.net + 12 : layers.net + 20] == layers.pair
    assert struct.unpack_from("!HH", frame, layers.l4) == (1234, 80)
    assert layers.outer[0].dport == 4789


def test_tunnels_nest_only_so_deep() -> None:
    packet: Packet = INNER_TCP
    for _ in range(MAX_TUNNEL_DEPTH + 3):
        packet = IP(src="10.9.0.3", dst="10.9.0.4") / packet
    layers = walk(1, bytes(Ether(src=OUTER_SRC, dst=OUTER_DST) / packet))
    assert len(layers.outer) <= MAX_TUNNEL_DEPTH


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(KNOWN_LINKTYPES)), st.binary(max_size=200))
def test_the_walk_never_raises_and_stays_inside_the_frame(linktype: int, data: bytes) -> None:
    layers = walk(linktype, data)
    assert -1 <= layers.net <= len(data)
    assert -1 <= layers.l4 <= len(data)
    assert 0 <= layers.start <= max(layers.end, 0) <= len(data) or not layers.family


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(ETHERNET_FRAMES)), st.integers(0, 200))
def test_a_tunnel_cut_anywhere_still_walks(name: str, cut: int) -> None:
    frame = ETHERNET_FRAMES[name][:cut]
    layers = walk(1, frame)
    assert layers.chain[0] == "eth"


def test_a_udp_length_under_8_has_ports_but_no_conversation(tmp_path: Path) -> None:
    """IPv4 UDP with a length field of 0 (offloaded captures) or 4: tshark reads the ports
    (``udp`` and ``udp.port`` match) but its dissector stops before its taps; a length past
    the IP payload keeps its conversation; over IPv6 a length of 0 is a jumbogram's."""
    frames = [
        bytes(
            Ether(src=OUTER_SRC, dst=OUTER_DST)
            / IP(src="10.9.0.1", dst="10.9.0.2")
            / UDP(sport=1000, dport=4789, len=0)
            / bytes(64)
        ),
        bytes(
            Ether(src=OUTER_SRC, dst=OUTER_DST)
            / IP(src="10.9.0.1", dst="10.9.0.2")
            / UDP(sport=1001, dport=2000, len=4)
            / b"abcd"
        ),
        bytes(
            Ether(src=OUTER_SRC, dst=OUTER_DST)
            / IP(src="10.9.0.1", dst="10.9.0.2")
            / UDP(sport=1002, dport=2000, len=200)
            / b"abcd"
        ),
        bytes(
            Ether(src=OUTER_SRC, dst=OUTER_DST)
            / IPv6(src="fd00::1", dst="fd00::2")
            / UDP(sport=1003, dport=2000, len=0)
            / b"abcd"
        ),
    ]
    path = _write(tmp_path, "udp-lengths", 1, frames)
    ours = analyze_file(path, ["conversations"]).reports["conversations"]
    theirs = tshark_conversations(path, "udp")
    assert sorted(row["a"] for row in theirs) == sorted(
        f"{row['a']}:{row['a_port']}" for row in ours["udp"]
    )
    assert len(theirs) == 2
    assert len(ours["ipv4"]) == len(tshark_conversations(path, "ip")) == 1
    for expression in ("udp", "udp.port == 2000", "udp.srcport == 1000"):
        matched = tshark(path, "-Y", expression, "-T", "fields", "-e", "frame.number").split()
        ours_matched = filter_file(path, compile_filter(expression)).frames
        assert [str(frame.number) for frame in ours_matched] == matched, expression


def test_the_hierarchy_of_nflog_frames_starts_at_ip_as_tsharks(tmp_path: Path) -> None:
    linktype, frame = OTHER_LINKS["nflog"]
    path = _write(tmp_path, "nflog", linktype, [frame, OTHER_LINKS["nflog-v6"][1]])
    ours = analyze_file(path, ["protocols"]).reports["protocols"]
    rows = [(depth, row["protocol"], row["frames"]) for depth, row in flatten(ours["tree"])]
    assert rows == [(depth, name, frames) for depth, name, frames, _ in tshark_phs(path)]


def test_a_routing_headers_final_destination_keys_the_udp_conversation(tmp_path: Path) -> None:
    """tshark keys UDP conversations by the final destination a routing header with
    segments left names (type 0: the last address; segment routing: segment 0); the IPv6
    conversation keeps the header's destination."""
    from scapy.layers.inet6 import IPv6ExtHdrRouting, IPv6ExtHdrSegmentRouting

    frames = [
        bytes(
            Ether(src=OUTER_SRC, dst=OUTER_DST)
            / IPv6(src="fd00::1", dst="fd00::2")
            / IPv6ExtHdrRouting(addresses=["fd00::3", "fd00::4"], segleft=2)
            / UDP(sport=5000, dport=5001)
            / b"type 0"
        ),
        bytes(
            Ether(src=OUTER_SRC, dst=OUTER_DST)
            / IPv6(src="fd00::1", dst="fd00::5")
            / IPv6ExtHdrSegmentRouting(addresses=["fd00::9", "fd00::5"], segleft=1)
            / UDP(sport=5002, dport=5003)
            / b"srh"
        ),
        bytes(
            Ether(src=OUTER_SRC, dst=OUTER_DST)
            / IPv6(src="fd00::1", dst="fd00::6")
            / IPv6ExtHdrSegmentRouting(addresses=["fd00::6", "fd00::7"], segleft=0)
            / UDP(sport=5004, dport=5005)
            / b"done"
        ),
    ]
    path = _write(tmp_path, "routed", 1, frames)
    ours = analyze_file(path, ["conversations"]).reports["conversations"]
    for kind, key in (("udp", "udp"), ("ipv6", "ipv6")):
        theirs = sorted((row["a"], row["b"]) for row in tshark_conversations(path, kind))
        if kind == "udp":
            mine = [(f"{r['a']}:{r['a_port']}", f"{r['b']}:{r['b_port']}") for r in ours[key]]
        else:
            mine = [(r["a"], r["b"]) for r in ours[key]]
        assert sorted(mine) == theirs, kind


def test_an_ipv6_conversation_counts_the_fragment_that_completes_a_datagram(
    tmp_path: Path,
) -> None:
    """tshark's IPv6 tap sees a fragmented datagram once, on its last fragment (its IPv4
    tap sees every fragment)."""
    from scapy.layers.inet import fragment
    from scapy.layers.inet6 import IPv6ExtHdrFragment, fragment6

    six = IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrFragment(id=7) / UDP(sport=1, dport=2)
    four = IP(src="10.9.0.1", dst="10.9.0.2") / UDP(sport=3, dport=4) / (b"4" * 3000)
    frames = [
        bytes(Ether(src=OUTER_SRC, dst=OUTER_DST) / piece)
        for piece in fragment6(six / (b"6" * 3000), 1280)  # type: ignore[no-untyped-call]
    ]
    frames += [
        bytes(Ether(src=OUTER_SRC, dst=OUTER_DST) / piece)
        for piece in fragment(four, fragsize=1200)  # type: ignore[no-untyped-call]
    ]
    path = _write(tmp_path, "fragments", 1, frames)
    ours = analyze_file(path, ["conversations"]).reports["conversations"]
    for kind, key in (("ipv6", "ipv6"), ("ip", "ipv4"), ("udp", "udp")):
        theirs = tshark_conversations(path, kind)
        assert [int(row["f"]) for row in theirs] == [row["frames"] for row in ours[key]], kind
    assert ours["ipv6"][0]["frames"] == 1 and ours["ipv4"][0]["frames"] == 3


def test_an_ipv6_mobility_header_has_no_ipv6_conversation_as_in_tshark(tmp_path: Path) -> None:
    """tshark's IPv6 tap skips a packet ending in a Mobility header (not one ending in No
    Next Header, after extension headers or not)."""
    from scapy.layers.inet6 import IPv6ExtHdrDestOpt

    frames = [
        bytes(Ether(src=OUTER_SRC, dst=OUTER_DST) / IPv6(src="fd00::1", dst="fd00::2", nh=59)),
        bytes(
            Ether(src=OUTER_SRC, dst=OUTER_DST)
            / IPv6(src="fd00::1", dst="fd00::3")
            / IPv6ExtHdrDestOpt(nh=59)
        ),
        bytes(
            Ether(src=OUTER_SRC, dst=OUTER_DST)
            / IPv6(src="fd00::1", dst="fd00::4", nh=135)
            / bytes([59, 0, 0, 0, 0, 0, 0, 0])
        ),
        bytes(Ether(src=OUTER_SRC, dst=OUTER_DST) / IPv6(src="fd00::1", dst="fd00::5", nh=253)),
    ]
    path = _write(tmp_path, "mobility", 1, frames)
    ours = analyze_file(path, ["conversations"]).reports["conversations"]["ipv6"]
    theirs = tshark_conversations(path, "ipv6")
    assert sorted((r["a"], r["b"]) for r in ours) == sorted((r["a"], r["b"]) for r in theirs)
    assert len(theirs) == 3


def test_rarp_is_read_as_tsharks_arp(tmp_path: Path) -> None:
    """Ethertype 0x8035 (RARP) carries an ARP packet: tshark's ``arp`` matches it and its
    hierarchy says ``arp``; the Protocol column says RARP for opcodes 3 and 4, in its words
    (found on tcpdump's getname_2_read4_asan.pcap, a malformed RARP reply)."""

    def rarp(op: int, macs: tuple[str, str, str], sender_ip: str, target_ip: str) -> bytes:
        src, dst, target = macs
        payload = ARP(op=op, hwsrc=src, hwdst=target, psrc=sender_ip, pdst=target_ip)
        return bytes(Ether(src=src, dst=dst, type=0x8035) / payload)

    broadcast, nobody = "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"
    frames = [
        rarp(3, (OUTER_SRC, broadcast, OUTER_SRC), "0.0.0.0", "0.0.0.0"),
        rarp(4, (OUTER_DST, OUTER_SRC, OUTER_SRC), "10.9.0.2", "10.9.0.7"),
        rarp(1, (OUTER_DST, OUTER_SRC, nobody), "10.9.0.2", "10.9.0.7"),  # ARP in a RARP frame
        bytes(Ether(src=OUTER_DST, dst=OUTER_SRC) / ARP(op=2, hwsrc=OUTER_DST, psrc="10.9.0.2")),
    ]
    path = _write(tmp_path, "rarp", 1, frames)
    out = tshark(path, "-T", "fields", "-e", "_ws.col.Protocol", "-e", "_ws.col.Info")
    theirs = [tuple(line.split("\t")) for line in out.splitlines()]
    assert [protocol for protocol, _info in theirs] == ["RARP", "RARP", "ARP", "ARP"]
    ours = filter_file(path, compile_filter("")).frames
    assert [(frame.protocol, frame.info) for frame in ours] == theirs
    for expression in ("arp", "arp.opcode == 4", "not arp"):
        matched = tshark(path, "-Y", expression, "-T", "fields", "-e", "frame.number").split()
        found = filter_file(path, compile_filter(expression)).frames
        assert [str(frame.number) for frame in found] == matched, expression
    ours_phs = analyze_file(path, ["protocols"]).reports["protocols"]
    rows = [(depth, row["protocol"], row["frames"]) for depth, row in flatten(ours_phs["tree"])]
    assert rows == [(depth, name, frames) for depth, name, frames, _ in tshark_phs(path)]


def _matches(path: Path, expression: str) -> tuple[list[str], list[str]]:
    """The frame numbers tshark's ``-Y`` and livetap's filter match."""
    theirs = tshark(path, "-Y", expression, "-T", "fields", "-e", "frame.number").split()
    ours = [str(frame.number) for frame in filter_file(path, compile_filter(expression)).frames]
    return theirs, ours


def test_ipv6_on_a_raw_ipv4_link_has_no_ipv4_layer_as_in_tshark(tmp_path: Path) -> None:
    """Raw IPv4 (228) and Linux ATM CLIP (106) reach IP through tshark's IP entry point,
    which hands version 6 on before adding an IPv4 tree: ``frame.protocols`` says
    ``ip:ipv6``, but ``-Y ip`` does not match and the hierarchy starts at ``ipv6`` (found
    on tcpdump's LINKTYPE_IPV4_invalid.pcap). IPv6 inside IPv4 (protocol 41) keeps both."""
    six_in_four = bytes(IP(src="10.9.0.5", dst="10.9.0.6") / INNER_V6)
    frames = [bytes(INNER_V6), six_in_four, bytes(INNER_UDP)]
    for linktype in (228, 106):
        path = _write(tmp_path, f"ipv6-on-{linktype}", linktype, frames)
        stacks = tshark(path, "-T", "fields", "-e", "frame.protocols").split()
        assert stacks[0].endswith("ip:ipv6:udp:data")
        assert [protocol_stack(Frame(linktype, frame)) for frame in frames] == stacks
        for expression in ("ip", "ipv6", "udp", "not ip", "ip.addr == 10.9.0.5"):
            theirs, ours = _matches(path, expression)
            assert ours == theirs, (linktype, expression)
        report = analyze_file(path, ["protocols"]).reports["protocols"]
        rows = [(depth, row["protocol"], row["frames"]) for depth, row in flatten(report["tree"])]
        assert rows == [(depth, name, frames) for depth, name, frames, _ in tshark_phs(path)]
        assert ("ipv6" if linktype == 228 else "clip") in {name for _, name, _ in rows[:1]}


def test_a_cisco_frame_relay_payload_that_looks_like_ethernet_is_ethernet(tmp_path: Path) -> None:
    """After a Frame Relay address, tshark 4.0 reads a type its Cisco HDLC table does not
    know as the start of a bridged Ethernet frame when that frame's type field is a length
    or a type it knows (found on tcpdump's q933-heapoverflow-2.pcap); other unknown types
    are data, and 0x6558 carries an Ethernet frame too."""
    fcs = b"\0" * 4
    dot3 = Ether(src=INNER_SRC, dst=FR_ETHER_DST, type=23) / Raw(b"\x88\x6b\x03" + b"x" * 20)
    frames = [
        OTHER_LINKS["frame-relay-ethernet"][1],
        OTHER_LINKS["frame-relay-bridged"][1],
        b"\x48\xe1" + bytes(dot3) + fcs,  # 802.3: a length, then LLC
        b"\x48\xe1\x12\x34\x56" + bytes(9) + b"\xb0\xaf" + bytes(30),  # no known type: data
        b"\x48\xe1\x00\x11" + b"\x77" * 8,  # too short for Ethernet: data
        OTHER_LINKS["frame-relay-cisco"][1],
        OTHER_LINKS["frame-relay-i-frame"][1],  # RFC 2427 (CLNP)
        b"\x00\x01\x00\x11" + _fr_ethernet(INNER_UDP),  # DLCI 0 without UI: LAPF, data
    ]
    path = _write(tmp_path, "frame-relay", 107, frames)
    report = analyze_file(path, ["protocols", "conversations"]).reports
    rows = [(d, row["protocol"], row["frames"]) for d, row in flatten(report["protocols"]["tree"])]
    theirs = [(depth, name, count) for depth, name, count, _ in tshark_phs(path)]
    assert (1, "eth", 3) in theirs
    # tshark also names CLNP, LAPF's expert text and payloads; the model stops before them
    named = {"fr", "eth", "llc", "ip", "ipv6", "udp"}
    assert [row for row in rows if row[1] in named] == [row for row in theirs if row[1] in named]
    ours_udp = sorted((row["a"], row["frames"]) for row in report["conversations"]["udp"])
    theirs_udp = sorted(
        (row["a"].rsplit(":", 1)[0], int(row["f"])) for row in tshark_conversations(path, "udp")
    )
    assert ours_udp == theirs_udp == [("10.9.0.1", 2), ("fd00::1", 1)]
    for expression in ("llc", "udp", "ip.src == 10.9.0.1", "ipv6"):
        theirs_matched, ours = _matches(path, expression)
        assert ours == theirs_matched, expression


def test_atm_arp_is_arp_only_when_its_lengths_fit_as_in_tshark(tmp_path: Path) -> None:
    """tshark's ATMARP dissector (ARP hardware type 19) adds ``arp`` only when the whole
    packet its six length fields announce was captured (tcpdump's arp-oobr.pcap has one
    that does not: an Ethernet ARP header read with ATM's layout)."""

    def atm_arp(lengths: tuple[int, int, int, int, int, int], extra: int) -> bytes:
        shtl, sstl, spln, thtl, tstl, tpln = lengths
        header = bytes([0, 19, 8, 0, shtl, sstl, 0, 1, spln, thtl, tstl, tpln])
        size = (shtl & 63) + (sstl & 63) + spln + (thtl & 63) + (tstl & 63) + tpln + extra
        ether = Ether(src=OUTER_SRC, dst="ff:ff:ff:ff:ff:ff", type=0x0806)
        return bytes(ether / Raw(header + bytes(range(1, 1 + size))))

    # read with ATM's layout, this sender MAC's octets are three lengths past the packet
    ethernet_arp = ARP(op=1, hwsrc="00:1f:29:da:2d:79", psrc="10.9.0.2", pdst="10.9.0.1")
    frames = [
        atm_arp((20, 0, 4, 0x40 | 20, 0, 4), 0),  # the type bits above the length ignored
        atm_arp((20, 0, 4, 20, 0, 4), -1),  # one byte short
        atm_arp((20, 0, 4, 20, 0, 4), 5),
        bytes(Ether(src=OUTER_SRC, dst="ff:ff:ff:ff:ff:ff") / ethernet_arp)[:14]
        + b"\x00\x13"
        + bytes(ethernet_arp)[2:],  # Ethernet's ARP layout under hardware type 19
        bytes(Ether(src=OUTER_SRC, dst="ff:ff:ff:ff:ff:ff") / ethernet_arp),
    ]
    path = _write(tmp_path, "atmarp", 1, frames)
    for expression in ("arp", "not arp", "arp.opcode == 1"):
        theirs, ours = _matches(path, expression)
        assert ours == theirs, expression
    assert _matches(path, "arp")[0] == ["1", "3", "5"]


def test_cisco_slarp_is_not_arp_as_in_tshark(tmp_path: Path) -> None:
    """On Cisco HDLC, type 0x8035 is SLARP (its keepalives and address requests), which
    tshark's ``arp`` does not match, though on Ethernet 0x8035 is RARP, which it does
    (tcpdump's HDLC.pcap and chdlc-slarp*.pcap)."""
    linktype, frame = OTHER_LINKS["cisco-hdlc-slarp"]
    path = _write(tmp_path, "slarp", linktype, [frame, OTHER_LINKS["cisco-hdlc"][1]])
    for expression in ("arp", "not arp", "ipv6"):
        theirs, ours = _matches(path, expression)
        assert ours == theirs, expression
    assert _matches(path, "arp")[0] == []
    report = analyze_file(path, ["protocols"]).reports["protocols"]
    rows = [(depth, row["protocol"], row["frames"]) for depth, row in flatten(report["tree"])]
    theirs_phs = [(depth, name, frames) for depth, name, frames, _ in tshark_phs(path)]
    assert [row for row in rows if row[1] != "data"] == [
        row for row in theirs_phs if row[1] != "data"
    ]


def test_an_ipv4_header_cut_short_gives_the_addresses_captured_as_in_tshark(
    tmp_path: Path,
) -> None:
    """tshark reads an IPv4 header field by field until the captured bytes end, so a
    header cut at 19 bytes still has ``ip.src``, and one whose options run past the
    capture both addresses (tcpdump's ipv4_invalid_length.pcap, ip_printroute_asan.pcap);
    a total length below the header length stops it before the addresses."""
    ether = Ether(src=OUTER_SRC, dst=OUTER_DST)
    whole = bytes(ether / IP(src="10.9.0.1", dst="10.9.0.2") / UDP(sport=1, dport=2))
    options = bytes(ether / IP(src="10.9.0.3", dst="10.9.0.4", options=b"\x07" * 40))
    bogus = bytearray(whole)
    bogus[16:18] = b"\x00\x0a"  # total length 10, under the 20-byte header
    ended = bytes(ether / IP(src="10.9.0.5", dst="10.9.0.6", options=b"\0" + b"\x07" * 39))
    frames = [whole[: 14 + 19], options[: 14 + 32], bytes(bogus[: 14 + 19]), whole]
    frames.append(ended[: 14 + 32])  # options cut, but the first one ends them
    path = _write(tmp_path, "cut-ipv4", 1, frames)
    for address in ("10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"):
        for field in ("ip.src", "ip.dst", "ip.addr"):
            theirs, ours = _matches(path, f"{field} == {address}")
            assert ours == theirs, (field, address)
    assert _matches(path, "ip.src == 10.9.0.1")[0] == ["1", "4"]
    assert _matches(path, "ip.addr == 10.9.0.6")[0] == ["5"]
