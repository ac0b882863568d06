"""The walk's Ethernet fast paths (untagged IPv4 UDP, IPv6 TCP and UDP) read a frame
exactly as its general steps (:func:`_ipv4`, :func:`_ipv6`, :func:`_transport`) do."""

from __future__ import annotations

import random

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw

from engine.packet.walk import ETH, _ipv4, _ipv6, walk_ethernet_raw


def eth() -> Packet:
    """An Ethernet header with explicit addresses (nothing is sent anywhere)."""
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


V4 = IP(src="10.0.0.1", dst="10.0.0.2")
V6 = IPv6(src="2001:db8::1", dst="2001:db8::2")
FRAMES: list[Packet] = [
    eth() / V4 / UDP(sport=5353, dport=53) / Raw(b"x" * 30),
    eth() / V4 / UDP(sport=1, dport=4789) / VXLAN(vni=1) / eth() / V4 / UDP(),
    eth() / V6 / TCP(sport=40000, dport=443, flags="PA") / Raw(b"y" * 100),
    eth() / V6 / TCP(sport=40000, dport=443, flags="S", options=[("MSS", 1460)]),
    eth() / V6 / UDP(sport=40000, dport=53) / Raw(b"z" * 40),
    eth() / V6 / UDP(sport=40000, dport=4789) / VXLAN(vni=2) / eth() / V4 / UDP(),
    eth() / V6 / IPv6ExtHdrHopByHop() / UDP(sport=1, dport=2) / Raw(b"w" * 20),
]


def _general(frame: bytes) -> tuple[object, ...]:
    """The frame read by the general steps only."""
    if frame[12:14] == b"\x86\xdd":
        return tuple(_ipv6(frame, 14, ETH, ()))
    return tuple(_ipv4(frame, 14, ETH, ()))


def _variants(frame: bytes, rng: random.Random) -> list[bytes]:
    """The frame, cut short at every length, and with header bytes changed at random."""
    out = [frame[:cut] for cut in range(14, len(frame) + 1)]
    for _ in range(200):
        changed = bytearray(frame)
        where = rng.randrange(14, min(len(frame), 70))
        changed[where] = rng.randrange(256)
        out.append(bytes(changed))
    return out


@pytest.mark.parametrize("packet", FRAMES, ids=lambda p: p.summary())
def test_the_fast_path_reads_as_the_general_steps(packet: Packet) -> None:
    rng = random.Random(7)
    for frame in _variants(bytes(packet), rng):
        if len(frame) < 34:
            continue  # not an IP header: neither path applies
        assert tuple(walk_ethernet_raw(frame)) == _general(frame), frame.hex()


def test_the_fast_path_returns_plain_tuples() -> None:
    for packet in FRAMES[:5]:
        assert type(walk_ethernet_raw(bytes(packet))) is tuple
