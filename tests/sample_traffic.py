"""A small, fixed mix of packets (DNS, HTTP, TLS, TCP, UDP, ICMP, ARP, IPv6) as a pcap.

Deterministic: the same bytes and timestamps every time, for snapshot tests
and screenshots. Ethernet addresses are always explicit (a bare scapy
``Ether()`` would send ARP on the real network); nothing is sent anywhere.
"""

from __future__ import annotations

import struct
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from engine import linktypes
from engine.pcapio import PcapRecord, write_pcap_file

CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
CLIENT, SERVER, RESOLVER = "10.0.0.5", "93.184.216.34", "10.0.0.53"
START = 1_700_000_000.0


def _tls_client_hello(server_name: str) -> bytes:
    """A minimal TLS 1.2 ClientHello record with a server_name extension."""
    name = server_name.encode()
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    extensions = struct.pack("!HH", 0, len(sni)) + sni
    body = (
        b"\x03\x03"
        + bytes(32)
        + b"\x00"
        + struct.pack("!H", 2)
        + b"\x13\x01"
        + b"\x01\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )
    handshake = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def _eth(payload: Packet, reverse: bool = False) -> Packet:
    src, dst = (SERVER_MAC, CLIENT_MAC) if reverse else (CLIENT_MAC, SERVER_MAC)
    return Ether(src=src, dst=dst) / payload


def sample_frames() -> list[Packet]:
    """The frames, in order: a short browsing session."""
    http = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: livetap-test\r\n\r\n"
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"
    return [
        Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=CLIENT_MAC, psrc=CLIENT, pdst=RESOLVER),
        _eth(
            ARP(op=2, hwsrc=SERVER_MAC, psrc=RESOLVER, hwdst=CLIENT_MAC, pdst=CLIENT), reverse=True
        ),
        _eth(
            IP(src=CLIENT, dst=RESOLVER)
            / UDP(sport=53001, dport=53)
            / DNS(id=0x1A2B, rd=1, qd=DNSQR(qname="example.com"))
        ),
        _eth(
            IP(src=RESOLVER, dst=CLIENT)
            / UDP(sport=53, dport=53001)
            / DNS(
                id=0x1A2B,
                qr=1,
                rd=1,
                ra=1,
                qd=DNSQR(qname="example.com"),
                an=DNSRR(rrname="example.com", rdata=SERVER),
            ),
            reverse=True,
        ),
        _eth(
            IP(src=CLIENT, dst=SERVER)
            / TCP(sport=41000, dport=80, flags="S", seq=100, window=64240)
        ),
        _eth(
            IP(src=SERVER, dst=CLIENT)
            / TCP(sport=80, dport=41000, flags="SA", seq=500, ack=101, window=65535),
            reverse=True,
        ),
        _eth(
            IP(src=CLIENT, dst=SERVER)
            / TCP(sport=41000, dport=80, flags="A", seq=101, ack=501, window=502)
        ),
        _eth(
            IP(src=CLIENT, dst=SERVER)
            / TCP(sport=41000, dport=80, flags="PA", seq=101, ack=501, window=502)
            / Raw(http)
        ),
        _eth(
            IP(src=SERVER, dst=CLIENT)
            / TCP(sport=80, dport=41000, flags="PA", seq=501, ack=101 + len(http), window=501)
            / Raw(reply),
            reverse=True,
        ),
        _eth(
            IP(src=CLIENT, dst=SERVER)
            / TCP(sport=41002, dport=443, flags="PA", seq=7, ack=9, window=502)
            / Raw(_tls_client_hello("example.com"))
        ),
        _eth(IP(src=CLIENT, dst="127.0.0.1") / ICMP(type=8, id=0x77, seq=1) / b"ping"),
        _eth(
            IP(src="127.0.0.1", dst=CLIENT) / ICMP(type=0, id=0x77, seq=1) / b"ping", reverse=True
        ),
        _eth(IP(src=CLIENT, dst=RESOLVER) / UDP(sport=40000, dport=9999) / b"custom protocol"),
        _eth(IPv6(src="fe80::1", dst="fe80::2") / ICMPv6EchoRequest(id=5, seq=2)),
        _eth(
            IP(src=CLIENT, dst=SERVER)
            / TCP(sport=41000, dport=80, flags="FA", seq=180, ack=570, window=502)
        ),
    ]


def sample_records() -> list[PcapRecord]:
    """The frames as pcap records, 25 ms apart."""
    return [
        PcapRecord(START + i * 0.025, len(raw), linktypes.ETHERNET, raw)
        for i, raw in enumerate(bytes(frame) for frame in sample_frames())
    ]


def write_sample_pcap(path: Path) -> Path:
    """Write the sample to ``path`` (pcap) and return it."""
    write_pcap_file(path, sample_records())
    return path
