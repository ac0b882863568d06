"""The packet-list header decoder: exact summaries, truncation, fuzzing, agreement with scapy.

Frames are built with scapy (always with explicit Ethernet addresses: a bare
``Ether()`` would send ARP on the real network) and turned into bytes; nothing
is sent anywhere. TLS records are built by hand because scapy's TLS layer needs
the ``cryptography`` package.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import struct
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR, dns_compress
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6MLReport2,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6ND_RA,
    ICMPv6ND_Redirect,
    ICMPv6ND_RS,
    ICMPv6TimeExceeded,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import ARP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether, Loopback
from scapy.packet import Packet, Padding, Raw

from engine import decode as decoder
from engine import linktypes
from engine.decode import decode
from engine.events import HeaderSummary as S

A_MAC, B_MAC, BROADCAST = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "ff:ff:ff:ff:ff:ff"
C4, S4 = "192.0.2.10", "198.51.100.20"
C6, S6 = "2001:db8::10", "2001:db8:1::20"
ETH = linktypes.ETHERNET
Case = tuple[int, bytes, S]


@pytest.fixture(autouse=True)
def _decoder_errors_stay_zero() -> Iterator[None]:
    """No test may get its summary from decode()'s last-resort exception guard."""
    yield
    assert decoder.decoder_errors == 0


def eth(layer: Packet, src: str = A_MAC, dst: str = B_MAC) -> bytes:
    """An Ethernet frame with explicit addresses (never a bare Ether())."""
    return bytes(Ether(src=src, dst=dst) / layer)


def v4(layer: Packet | bytes) -> Packet:
    """An IPv4 packet from C4 to S4."""
    return IP(src=C4, dst=S4) / layer


def v6(layer: Packet | bytes) -> Packet:
    """An IPv6 packet from C6 to S6."""
    return IPv6(src=C6, dst=S6) / layer


def udp4(sport: int, dport: int, payload: Packet | bytes) -> bytes:
    """Ethernet/IPv4/UDP."""
    return eth(v4(UDP(sport=sport, dport=dport) / payload))


def tcp4(payload: Packet | bytes = b"", **fields: Any) -> bytes:
    """Ethernet/IPv4/TCP, 40000 → 443 unless ``fields`` say otherwise."""
    values: dict[str, Any] = {"sport": 40000, "dport": 443, "flags": "PA", "seq": 1, "ack": 2}
    values.update(fields)
    return eth(v4(TCP(**values) / payload))


def tcp_summary(protocol: str, info: str, sport: int = 40000, dport: int = 443) -> S:
    """The summary of a tcp4() frame."""
    return S(C4, S4, sport, dport, protocol, info)


# -- hand-built TLS -----------------------------------------------------------------


def tls_record(content: int, body: bytes, version: bytes = b"\x03\x03") -> bytes:
    """A TLS record: content type, version, length, body."""
    return bytes([content]) + version + struct.pack("!H", len(body)) + body


def handshake(kind: int, body: bytes) -> bytes:
    """A handshake message: type and 24-bit length."""
    return bytes([kind]) + struct.pack("!I", len(body))[1:] + body


def client_hello(server_name: bytes | None, *, before: bytes = b"") -> bytes:
    """A ClientHello body with a 32-byte session id, three suites and optional SNI.

    ``before`` is put in as an unknown extension ahead of server_name.
    """
    extensions = b""
    if before:
        extensions += struct.pack("!HH", 0xFAFA, len(before)) + before
    if server_name is not None:
        entry = b"\x00" + struct.pack("!H", len(server_name)) + server_name
        listing = struct.pack("!H", len(entry)) + entry
        extensions += struct.pack("!HH", 0, len(listing)) + listing
    extensions += struct.pack("!HH", 43, 3) + b"\x02\x03\x04"  # supported_versions
    return (
        b"\x03\x03"
        + bytes(range(32))
        + b"\x20"
        + bytes(32)
        + struct.pack("!H", 6)
        + b"\x13\x01\x13\x02\xc0\x2f"
        + b"\x01\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )


def dns_header(ident: int, flags: int, qd: int, an: int) -> bytes:
    """The 12-byte DNS header (no authority or additional records)."""
    return struct.pack("!HHHHHH", ident, flags, qd, an, 0, 0)


# -- exact summaries ----------------------------------------------------------------


def tcp_cases() -> list[Case]:
    """Flag combinations, Ack only with ACK, lengths from the IP header."""
    return [
        (
            ETH,
            tcp4(flags="S", seq=1000, ack=0, window=64240, sport=40000, dport=80),
            tcp_summary("TCP", "40000 → 80 [SYN] Seq=1000 Win=64240 Len=0", dport=80),
        ),
        (
            ETH,
            tcp4(flags="SA", seq=5000, ack=1001, window=65535),
            tcp_summary("TCP", "40000 → 443 [SYN, ACK] Seq=5000 Ack=1001 Win=65535 Len=0"),
        ),
        (
            ETH,
            tcp4(flags="RA", seq=0, ack=1001, window=0),
            tcp_summary("TCP", "40000 → 443 [RST, ACK] Seq=0 Ack=1001 Win=0 Len=0"),
        ),
        (
            ETH,
            tcp4(b"hello", flags="FPA", seq=4294967295, ack=7, window=502),
            tcp_summary("TCP", "40000 → 443 [FIN, PSH, ACK] Seq=4294967295 Ack=7 Win=502 Len=5"),
        ),
        (
            ETH,
            tcp4(flags="P", seq=9, ack=12345, window=1),
            tcp_summary("TCP", "40000 → 443 [PSH] Seq=9 Win=1 Len=0"),
        ),
        (
            ETH,
            tcp4(flags=0, seq=1, ack=0, window=8),
            tcp_summary("TCP", "40000 → 443 [<None>] Seq=1 Win=8 Len=0"),
        ),
        (
            ETH,
            tcp4(flags="FSRPAUEC", seq=1, ack=2, window=3),
            tcp_summary(
                "TCP",
                "40000 → 443 [FIN, SYN, RST, PSH, ACK, URG, ECE, CWR] Seq=1 Ack=2 Win=3 Len=0",
            ),
        ),
        (
            ETH,
            tcp4(
                b"\x00" * 10,
                flags="A",
                seq=1,
                ack=2,
                window=3,
                options=[("MSS", 1460), ("NOP", None), ("WScale", 7)],
            ),
            tcp_summary("TCP", "40000 → 443 [ACK] Seq=1 Ack=2 Win=3 Len=10"),
        ),
        (  # Ethernet padding is not payload: the IP total length says where the packet ends
            ETH,
            eth(v4(TCP(sport=1, dport=2, flags="A", seq=3, ack=4, window=5)) / Padding(bytes(6))),
            S(C4, S4, 1, 2, "TCP", "1 → 2 [ACK] Seq=3 Ack=4 Win=5 Len=0"),
        ),
        (  # a data offset past the end of the IP packet
            ETH,
            eth(v4(TCP(sport=1, dport=2, dataofs=15, flags="A"))),
            S(C4, S4, 1, 2, "TCP", "1 → 2 [malformed TCP: header length 60]"),
        ),
        (
            ETH,
            eth(v4(TCP(sport=1, dport=2, dataofs=2, flags="A"))),
            S(C4, S4, 1, 2, "TCP", "1 → 2 [malformed TCP: header length 8]"),
        ),
        (  # a DNS length prefix sent on its own is no DNS message yet
            ETH,
            tcp4(b"\x00\x1d", sport=50000, dport=53, flags="PA", seq=1, ack=2, window=3),
            S(C4, S4, 50000, 53, "TCP", "50000 → 53 [PSH, ACK] Seq=1 Ack=2 Win=3 Len=2"),
        ),
        (  # an unrecognised payload stays TCP
            ETH,
            tcp4(
                b"SSH-2.0-OpenSSH_9.6\r\n",
                sport=22,
                dport=50000,
                flags="PA",
                seq=1,
                ack=1,
                window=9,
            ),
            tcp_summary("TCP", "22 → 50000 [PSH, ACK] Seq=1 Ack=1 Win=9 Len=21", 22, 50000),
        ),
    ]


def udp_cases() -> list[Case]:
    """Lengths from the UDP header, clamped when it lies."""
    return [
        (ETH, udp4(40000, 9999, b"abc"), S(C4, S4, 40000, 9999, "UDP", "40000 → 9999 Len=3")),
        (
            ETH,
            eth(v4(UDP(sport=1, dport=2, len=500) / b"abcd")),
            S(C4, S4, 1, 2, "UDP", "1 → 2 Len=4"),
        ),
        (
            ETH,
            eth(v4(UDP(sport=1, dport=2) / b"abcd") / Padding(bytes(10))),
            S(C4, S4, 1, 2, "UDP", "1 → 2 Len=4"),
        ),
        (
            ETH,
            eth(v6(UDP(sport=443, dport=50000) / bytes(1200))),
            S(C6, S6, 443, 50000, "UDP", "443 → 50000 Len=1200"),
        ),
    ]


def dns_response() -> Packet:
    """A compressed response: CNAME then two A records (pointers into the question)."""
    message = DNS(
        id=0xBEEF,
        qr=1,
        rd=1,
        ra=1,
        qd=DNSQR(qname="www.example.com"),
        an=[
            DNSRR(rrname="www.example.com", type="CNAME", rdata="cdn.example.net"),
            DNSRR(rrname="cdn.example.net", rdata="93.184.216.34"),
            DNSRR(rrname="cdn.example.net", rdata="93.184.216.35"),
        ],
    )
    compressed: Packet = dns_compress(message)  # type: ignore[no-untyped-call]
    return compressed


def dns_cases() -> list[Case]:
    """Queries, responses, rcodes, the three DNS flavours, TCP framing, bad messages."""
    response = dns_response()
    assert b"\xc0\x0c" in bytes(response)  # really compressed
    many = DNS(
        id=7,
        qr=1,
        qd=DNSQR(qname="many.example"),
        an=[DNSRR(rrname="many.example", rdata=f"10.0.0.{i}") for i in range(1, 6)],
    )
    six = DNS(
        id=8,
        qr=1,
        qd=DNSQR(qname="v6.example", qtype="AAAA"),
        an=[DNSRR(rrname="v6.example", type="AAAA", rdata="2001:db8::53")],
    )
    query = bytes(DNS(id=0x1234, rd=1, qd=DNSQR(qname="example.com", qtype="AAAA")))
    loop = dns_header(0x0BAD, 0x0100, 1, 0) + b"\xc0\x0c\x00\x01\x00\x01"
    root = dns_header(0x0001, 0x0100, 1, 0) + b"\x00\x00\x02\x00\x01"
    odd = dns_header(0x0002, 0x0100, 1, 0) + b"\x03a\nb\x03c d\x00\x00\x01\x00\x01"
    pointer = (
        dns_header(0x0003, 0x0100, 1, 0) + b"\x01b\xc0\x14\x00\x01\x00\x01\x01a\x00" + bytes(250)
    )
    return [
        (
            ETH,
            udp4(50000, 53, pointer),
            S(C4, S4, 50000, 53, "DNS", "Standard query 0x0003 A b.a"),
        ),
        (
            ETH,
            udp4(53001, 53, query),
            S(C4, S4, 53001, 53, "DNS", "Standard query 0x1234 AAAA example.com"),
        ),
        (
            ETH,
            udp4(53, 53001, response),
            S(
                C4,
                S4,
                53,
                53001,
                "DNS",
                "Standard query response 0xbeef A www.example.com"
                " CNAME cdn.example.net A 93.184.216.34 A 93.184.216.35",
            ),
        ),
        (
            ETH,
            udp4(53, 53001, DNS(id=0x2A, qr=1, rcode=3, qd=DNSQR(qname="nosuch.example"))),
            S(C4, S4, 53, 53001, "DNS", "Standard query response 0x002a A nosuch.example NXDOMAIN"),
        ),
        (
            ETH,
            udp4(53, 53001, many),
            S(
                C4,
                S4,
                53,
                53001,
                "DNS",
                "Standard query response 0x0007 A many.example"
                " A 10.0.0.1 A 10.0.0.2 A 10.0.0.3 ...",
            ),
        ),
        (
            ETH,
            eth(v6(UDP(sport=53, dport=4000) / six)),
            S(
                C6,
                S6,
                53,
                4000,
                "DNS",
                "Standard query response 0x0008 AAAA v6.example AAAA 2001:db8::53",
            ),
        ),
        (
            ETH,
            tcp4(struct.pack("!H", len(query)) + query, sport=50000, dport=53),
            S(C4, S4, 50000, 53, "DNS", "Standard query 0x1234 AAAA example.com"),
        ),
        (
            ETH,
            udp4(5353, 5353, DNS(qd=DNSQR(qname="_services._dns-sd._udp.local", qtype="PTR"))),
            S(C4, S4, 5353, 5353, "MDNS", "Standard query 0x0000 PTR _services._dns-sd._udp.local"),
        ),
        (
            ETH,
            udp4(50000, 5355, DNS(id=3, qd=DNSQR(qname="printer", qtype="A"))),
            S(C4, S4, 50000, 5355, "LLMNR", "Standard query 0x0003 A printer"),
        ),
        (
            ETH,
            udp4(50000, 53, DNS(id=4, opcode=5, qd=DNSQR(qname="zone.example", qtype="SOA"))),
            S(C4, S4, 50000, 53, "DNS", "Dynamic update 0x0004 SOA zone.example"),
        ),
        (
            ETH,
            udp4(50000, 53, b"\x00\x01"),
            S(C4, S4, 50000, 53, "DNS", "Malformed DNS (short header)"),
        ),
        (
            ETH,
            udp4(50000, 53, loop),
            S(C4, S4, 50000, 53, "DNS", "Malformed DNS (compression loop)"),
        ),
        (
            ETH,
            udp4(50000, 53, root),
            S(C4, S4, 50000, 53, "DNS", "Standard query 0x0001 NS <Root>"),
        ),
        (
            ETH,
            udp4(50000, 53, odd),
            S(C4, S4, 50000, 53, "DNS", "Standard query 0x0002 A a\\x0ab.c d"),
        ),
        (
            ETH,
            udp4(50000, 53, dns_header(5, 0x0100, 1, 0) + b"\x07example\x00\x00"),
            S(C4, S4, 50000, 53, "DNS", "Malformed DNS (truncated question)"),
        ),
        (
            ETH,
            udp4(50000, 53, dns_header(5, 0x0100, 1, 0) + b"\x07exa"),
            S(C4, S4, 50000, 53, "DNS", "Malformed DNS (name runs past the end)"),
        ),
        (
            ETH,
            udp4(
                53,
                50000,
                dns_header(6, 0x8180, 1, 1) + b"\x01a\x00\x00\x01\x00\x01\xc0\x0c\x00\x01",
            ),
            S(C4, S4, 53, 50000, "DNS", "Malformed DNS (truncated answer)"),
        ),
    ]


@pytest.mark.parametrize(
    ("qtype", "name"),
    [
        (1, "A"),
        (2, "NS"),
        (5, "CNAME"),
        (6, "SOA"),
        (12, "PTR"),
        (15, "MX"),
        (16, "TXT"),
        (28, "AAAA"),
        (33, "SRV"),
        (64, "SVCB"),
        (65, "HTTPS"),
        (255, "ANY"),
        (99, "TYPE99"),
    ],
)
def test_dns_query_types_are_named(qtype: int, name: str) -> None:
    frame = udp4(50000, 53, DNS(id=0xABCD, qd=DNSQR(qname="example.org", qtype=qtype)))
    assert decode(ETH, frame).info == f"Standard query 0xabcd {name} example.org"


@pytest.mark.parametrize(
    ("rcode", "name"),
    [
        (1, "FORMERR"),
        (2, "SERVFAIL"),
        (3, "NXDOMAIN"),
        (4, "NOTIMP"),
        (5, "REFUSED"),
        (9, "rcode 9"),
    ],
)
def test_dns_response_codes_are_named(rcode: int, name: str) -> None:
    frame = udp4(53, 50000, DNS(id=1, qr=1, rcode=rcode, qd=DNSQR(qname="a.example")))
    assert decode(ETH, frame).info == f"Standard query response 0x0001 A a.example {name}"


def http_cases() -> list[Case]:
    """Request and status lines on any port; long and odd lines made safe."""
    long_target = "/" + "a" * 300
    return [
        (
            ETH,
            tcp4(b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n", dport=80),
            tcp_summary("HTTP", "GET /index.html HTTP/1.1", dport=80),
        ),
        (
            ETH,
            tcp4(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", sport=80, dport=40000),
            tcp_summary("HTTP", "HTTP/1.1 404 Not Found", 80, 40000),
        ),
        (
            ETH,
            tcp4(b"POST /api/v1/items?x=1 HTTP/1.0\r\n\r\n{}", dport=8080),
            tcp_summary("HTTP", "POST /api/v1/items?x=1 HTTP/1.0", dport=8080),
        ),
        (
            ETH,
            tcp4(b"HTTP/1.0 204\r\n\r\n", dport=5000),
            tcp_summary("HTTP", "HTTP/1.0 204", dport=5000),
        ),
        (
            ETH,
            tcp4(f"GET {long_target} HTTP/1.1\r\n\r\n".encode(), dport=80),
            tcp_summary("HTTP", f"GET {long_target}"[:200], dport=80),
        ),
        (
            ETH,
            tcp4(b"OPTIONS /a\x1b[31mb\x85 HTTP/1.1\r\n\r\n", dport=80),
            tcp_summary("HTTP", "OPTIONS /a\\x1b[31mb\\x85 HTTP/1.1", dport=80),
        ),
        (
            ETH,
            tcp4(b"GETTING STARTED\r\n", dport=80, flags="PA", seq=1, ack=2, window=3),
            tcp_summary("TCP", "40000 → 80 [PSH, ACK] Seq=1 Ack=2 Win=3 Len=17", dport=80),
        ),
        (
            ETH,
            tcp4(b"GET /\r\n", dport=80, flags="PA", seq=1, ack=2, window=3),
            tcp_summary("TCP", "40000 → 80 [PSH, ACK] Seq=1 Ack=2 Win=3 Len=7", dport=80),
        ),
    ]


def tls_cases() -> list[Case]:
    """Handshake messages by name, SNI, several records per segment, encrypted ones."""
    hello = tls_record(22, handshake(1, client_hello(b"example.org")), b"\x03\x01")
    server_flight = tls_record(
        22, handshake(2, bytes(70)) + handshake(11, bytes(300)) + handshake(14, b"")
    )
    return [
        (ETH, tcp4(hello), tcp_summary("TLS", "Client Hello (SNI=example.org)")),
        (
            ETH,
            tcp4(tls_record(22, handshake(1, client_hello(b"late.example", before=bytes(40))))),
            tcp_summary("TLS", "Client Hello (SNI=late.example)"),
        ),
        (
            ETH,
            tcp4(tls_record(22, handshake(1, client_hello(None)))),
            tcp_summary("TLS", "Client Hello"),
        ),
        (
            ETH,
            tcp4(tls_record(22, handshake(1, client_hello(b"bad\r\nname")))),
            tcp_summary("TLS", "Client Hello (SNI=bad\\x0d\\x0aname)"),
        ),
        (
            ETH,
            tcp4(server_flight, sport=443, dport=40000),
            tcp_summary("TLS", "Server Hello, Certificate, Server Hello Done", 443, 40000),
        ),
        (
            ETH,
            tcp4(
                tls_record(22, handshake(16, bytes(66)))
                + tls_record(20, b"\x01")
                + tls_record(22, bytes.fromhex("9a3c771b") + bytes(36))
            ),
            tcp_summary(
                "TLS", "Client Key Exchange, Change Cipher Spec, Encrypted Handshake Message"
            ),
        ),
        (
            ETH,
            tcp4(tls_record(22, handshake(12, bytes(100)) + handshake(14, b""))),
            tcp_summary("TLS", "Server Key Exchange, Server Hello Done"),
        ),
        (
            ETH,
            tcp4(tls_record(22, handshake(4, bytes(50)))),
            tcp_summary("TLS", "New Session Ticket"),
        ),
        (ETH, tcp4(tls_record(22, handshake(20, bytes(12)))), tcp_summary("TLS", "Finished")),
        (
            ETH,
            tcp4(tls_record(22, bytes.fromhex("e7ffffff") + bytes(36))),
            tcp_summary("TLS", "Encrypted Handshake Message"),
        ),
        (  # a known type, but a length no record sequence would carry: encrypted
            ETH,
            tcp4(tls_record(22, bytes.fromhex("0bfffff0") + bytes(36))),
            tcp_summary("TLS", "Encrypted Handshake Message"),
        ),
        (  # a certificate chain continued in the next records
            ETH,
            tcp4(tls_record(22, handshake(11, bytes(5000))[:1000])),
            tcp_summary("TLS", "Certificate"),
        ),
        (ETH, tcp4(tls_record(20, b"\x01")), tcp_summary("TLS", "Change Cipher Spec")),
        (ETH, tcp4(tls_record(21, b"\x02\x28")), tcp_summary("TLS", "Alert")),
        (
            ETH,
            tcp4(tls_record(23, bytes(100)) + tls_record(23, bytes(50))),
            tcp_summary("TLS", "Application Data"),
        ),
        (
            ETH,
            tcp4(tls_record(23, bytes(100)) + tls_record(21, bytes(2))),
            tcp_summary("TLS", "Application Data, Alert"),
        ),
        (  # a record that continues in the next segment
            ETH,
            tcp4(tls_record(23, bytes(2000))[:600]),
            tcp_summary("TLS", "Application Data"),
        ),
    ]


def icmp_cases() -> list[Case]:
    """Echo, the named errors and everything else by number, for v4 and v6."""
    unreachable = {
        0: "Network unreachable",
        1: "Host unreachable",
        2: "Protocol unreachable",
        3: "Port unreachable",
        4: "Fragmentation needed",
        13: "Communication administratively filtered",
        7: "code 7",
    }
    cases: list[Case] = [
        (
            ETH,
            eth(v4(ICMP(type=8, id=0x4C54, seq=7) / b"ping")),
            S(C4, S4, None, None, "ICMP", "Echo (ping) request id=0x4c54, seq=7"),
        ),
        (
            ETH,
            eth(v4(ICMP(type=0, id=0x4C54, seq=7) / b"ping")),
            S(C4, S4, None, None, "ICMP", "Echo (ping) reply id=0x4c54, seq=7"),
        ),
        (
            ETH,
            eth(v4(ICMP(type=11, code=0))),
            S(C4, S4, None, None, "ICMP", "Time-to-live exceeded"),
        ),
        (ETH, eth(v4(ICMP(type=5, code=1))), S(C4, S4, None, None, "ICMP", "Redirect")),
        (ETH, eth(v4(ICMP(type=13, code=0))), S(C4, S4, None, None, "ICMP", "Type 13 code 0")),
    ]
    cases += [
        (
            ETH,
            eth(v4(ICMP(type=3, code=code) / IP(src=S4, dst=C4) / UDP(sport=1, dport=2))),
            S(C4, S4, None, None, "ICMP", f"Destination unreachable ({name})"),
        )
        for code, name in unreachable.items()
    ]
    six: list[tuple[Packet, str]] = [
        (ICMPv6EchoRequest(id=0x10, seq=3), "Echo (ping) request id=0x0010, seq=3"),
        (ICMPv6EchoReply(id=0x10, seq=3), "Echo (ping) reply id=0x0010, seq=3"),
        (ICMPv6ND_NS(tgt="fe80::2"), "Neighbor Solicitation for fe80::2"),
        (ICMPv6ND_NA(tgt="2001:db8::99"), "Neighbor Advertisement 2001:db8::99"),
        (ICMPv6ND_RS(), "Router Solicitation"),
        (ICMPv6ND_RA(), "Router Advertisement"),
        (ICMPv6DestUnreach(code=4), "Destination unreachable"),
        (ICMPv6TimeExceeded(), "Time exceeded"),
        (ICMPv6MLReport2(), "Multicast Listener Report Message v2"),
        (ICMPv6ND_Redirect(), "Type 137 code 0"),
    ]
    cases += [
        (ETH, eth(v6(message)), S(C6, S6, None, None, "ICMPv6", info)) for message, info in six
    ]
    return cases


def arp_cases() -> list[Case]:
    """Requests, replies, gratuitous ones, and non-Ethernet/IPv4 ARP."""
    return [
        (
            ETH,
            eth(ARP(op=1, hwsrc=A_MAC, psrc="10.0.0.5", pdst="10.0.0.1"), dst=BROADCAST),
            S(A_MAC, BROADCAST, None, None, "ARP", "Who has 10.0.0.1? Tell 10.0.0.5"),
        ),
        (
            ETH,
            eth(
                ARP(op=2, hwsrc=B_MAC, psrc="10.0.0.1", hwdst=A_MAC, pdst="10.0.0.5"), B_MAC, A_MAC
            ),
            S(B_MAC, A_MAC, None, None, "ARP", f"10.0.0.1 is at {B_MAC}"),
        ),
        (
            ETH,
            eth(ARP(op=1, hwsrc=A_MAC, psrc="10.0.0.5", pdst="10.0.0.5"), dst=BROADCAST),
            S(A_MAC, BROADCAST, None, None, "ARP", "Gratuitous ARP for 10.0.0.5 (Request)"),
        ),
        (
            ETH,
            eth(ARP(op=2, hwsrc=A_MAC, psrc="10.0.0.5", pdst="10.0.0.5"), dst=BROADCAST),
            S(A_MAC, BROADCAST, None, None, "ARP", "Gratuitous ARP for 10.0.0.5 (Reply)"),
        ),
        (
            ETH,
            eth(ARP(hwtype=6, op=1, hwsrc=A_MAC, psrc="10.0.0.5", pdst="10.0.0.1")),
            S(A_MAC, B_MAC, None, None, "ARP", "hw=6 proto=0x0800"),
        ),
    ]


def zero_total_length(frame: bytes) -> bytes:
    """An Ethernet/IPv4 frame with its IP total length set to 0."""
    return frame[:16] + b"\x00\x00" + frame[18:]


def ip_cases() -> list[Case]:
    """Other IP protocols, fragments, options, IPv6 extension headers, odd ethertypes."""
    named = {2: "IGMP", 47: "GRE", 50: "ESP", 51: "AH", 89: "OSPF", 132: "SCTP"}
    cases: list[Case] = [
        (
            ETH,
            eth(IP(src=C4, dst=S4, proto=n) / bytes(24)),
            S(C4, S4, None, None, name, f"IP protocol {n}"),
        )
        for n, name in named.items()
    ]
    cases += [
        (
            ETH,
            eth(IP(src=C4, dst=S4, proto=253) / bytes(8)),
            S(C4, S4, None, None, "IPv4", "IP protocol 253"),
        ),
        (
            ETH,
            eth(IPv6(src=C6, dst=S6, nh=253) / bytes(8)),
            S(C6, S6, None, None, "IPv6", "IP protocol 253"),
        ),
        (
            ETH,
            eth(IPv6(src=C6, dst=S6, nh=132) / bytes(8)),
            S(C6, S6, None, None, "SCTP", "IP protocol 132"),
        ),
        (ETH, eth(IPv6(src=C6, dst=S6, nh=59)), S(C6, S6, None, None, "IPv6", "IP protocol 59")),
        (
            ETH,
            eth(IP(src=C4, dst=S4, flags="MF", frag=0) / UDP(sport=7, dport=8) / bytes(100)),
            S(C4, S4, 7, 8, "UDP", "7 → 8 Len=100"),
        ),
        (
            ETH,
            eth(IP(src=C4, dst=S4, flags="MF", frag=185, proto=17) / bytes(100)),
            S(C4, S4, None, None, "IPv4", "Fragmented IP protocol (proto=17, off=1480)"),
        ),
        (
            ETH,
            eth(IP(src=C4, dst=S4, frag=370, proto=6) / bytes(100)),
            S(C4, S4, None, None, "IPv4", "Fragmented IP protocol (proto=6, off=2960)"),
        ),
        (
            ETH,
            eth(IP(src=C4, dst=S4, options=[b"\x94\x04\x00\x00"]) / UDP(sport=7, dport=8) / b"x"),
            S(C4, S4, 7, 8, "UDP", "7 → 8 Len=1"),
        ),
        (  # options and Ethernet padding: the payload still ends where the total length says
            ETH,
            eth(
                IP(src=C4, dst=S4, options=[b"\x94\x04\x00\x00"])
                / TCP(sport=7, dport=8, flags="A", seq=1, ack=2, window=3)
            )
            + bytes(8),
            S(C4, S4, 7, 8, "TCP", "7 → 8 [ACK] Seq=1 Ack=2 Win=3 Len=0"),
        ),
        (  # a total length of 0, as TSO captures have: the captured bytes are the packet
            ETH,
            zero_total_length(
                eth(v4(TCP(sport=7, dport=8, flags="A", seq=1, ack=2, window=3) / bytes(3000)))
            ),
            S(C4, S4, 7, 8, "TCP", "7 → 8 [ACK] Seq=1 Ack=2 Win=3 Len=3000"),
        ),
        (
            ETH,
            eth(
                v6(
                    IPv6ExtHdrHopByHop()
                    / IPv6ExtHdrDestOpt()
                    / IPv6ExtHdrRouting()
                    / TCP(sport=1, dport=2, flags="S", seq=3, window=4)
                )
            ),
            S(C6, S6, 1, 2, "TCP", "1 → 2 [SYN] Seq=3 Win=4 Len=0"),
        ),
        (
            ETH,
            eth(v6(IPv6ExtHdrFragment(offset=0, m=1) / UDP(sport=5, dport=6) / b"abc")),
            S(C6, S6, 5, 6, "UDP", "5 → 6 Len=3"),
        ),
        (
            ETH,
            eth(v6(IPv6ExtHdrFragment(offset=181, nh=17) / bytes(40))),
            S(C6, S6, None, None, "IPv6", "Fragmented IP protocol (proto=17, off=1448)"),
        ),
        (
            ETH,
            eth(IPv6(src="fe80::1", dst="ff02::1:ff00:2") / ICMPv6ND_NS(tgt="fe80::2")),
            S(
                "fe80::1",
                "ff02::1:ff00:2",
                None,
                None,
                "ICMPv6",
                "Neighbor Solicitation for fe80::2",
            ),
        ),
        (
            ETH,
            bytes(Ether(src=A_MAC, dst=B_MAC, type=0x88CC) / bytes(20)),
            S(A_MAC, B_MAC, None, None, "Ethernet", "Ethertype 0x88cc"),
        ),
        (
            ETH,
            bytes(Ether(src=A_MAC, dst=B_MAC, type=38) / bytes(38)),
            S(A_MAC, B_MAC, None, None, "LLC", "Ethertype 0x0026"),
        ),
        (  # an IPv4 ethertype with an IPv6 header: read as IPv6, as tshark does
            ETH,
            bytes(Ether(src=A_MAC, dst=B_MAC, type=0x0800)) + bytes(v6(b"")),
            S(C6, S6, None, None, "IPv6", "IP protocol 59"),
        ),
        (  # an IPv4 ethertype with neither version: the MACs stand in
            ETH,
            bytes(Ether(src=A_MAC, dst=B_MAC, type=0x0800)) + b"\x55" + bytes(30),
            S(A_MAC, B_MAC, None, None, "IPv4", "[malformed IPv4: version 5]"),
        ),
    ]
    return cases


def vlan_cases() -> list[Case]:
    """802.1Q, QinQ (0x88a8 and 0x9100) tags, stacked."""
    inner = v4(UDP(sport=5, dport=6) / b"ab")
    expected = S(C4, S4, 5, 6, "UDP", "5 → 6 Len=2")
    return [
        (ETH, bytes(Ether(src=A_MAC, dst=B_MAC) / Dot1Q(vlan=7) / inner), expected),
        (
            ETH,
            bytes(Ether(src=A_MAC, dst=B_MAC) / Dot1AD(vlan=5) / Dot1Q(vlan=7) / inner),
            expected,
        ),
        (
            ETH,
            bytes(Ether(src=A_MAC, dst=B_MAC, type=0x9100) / Dot1Q(vlan=3) / Dot1Q(vlan=4) / inner),
            expected,
        ),
        (
            ETH,
            bytes(
                Ether(src=A_MAC, dst=B_MAC)
                / Dot1Q(vlan=7)
                / ARP(op=1, psrc="10.0.0.5", pdst="10.0.0.1")
            ),
            S(A_MAC, B_MAC, None, None, "ARP", "Who has 10.0.0.1? Tell 10.0.0.5"),
        ),
    ]


def link_cases() -> list[Case]:
    """Every link type the decoder knows, and one it does not."""
    packet4 = bytes(v4(UDP(sport=5, dport=6) / b"abc"))
    packet6 = bytes(v6(UDP(sport=5, dport=6) / b"abc"))
    udp_4 = S(C4, S4, 5, 6, "UDP", "5 → 6 Len=3")
    udp_6 = S(C6, S6, 5, 6, "UDP", "5 → 6 Len=3")
    mac = bytes.fromhex("02000000000a")
    sll = CookedLinux(pkttype=0, lladdrtype=1, lladdrlen=6, src=mac + b"\x00\x00", proto=0x0800)
    sll_arp = CookedLinux(pkttype=1, lladdrtype=1, lladdrlen=6, src=mac + b"\x00\x00", proto=0x0806)
    sll2 = CookedLinuxV2(proto=0x86DD, ifindex=2, lladdrtype=1, lladdrlen=6, src=mac + b"\x00\x00")
    arp = ARP(op=1, hwsrc=A_MAC, psrc="10.0.0.5", hwdst=B_MAC, pdst="10.0.0.1")
    cases: list[Case] = [
        (linktypes.LINUX_SLL, bytes(sll) + packet4, udp_4),
        (linktypes.LINUX_SLL2, bytes(sll2) + packet6, udp_6),
        (
            linktypes.LINUX_SLL,
            bytes(sll_arp / arp),
            S(A_MAC, B_MAC, None, None, "ARP", "Who has 10.0.0.1? Tell 10.0.0.5"),
        ),
        (
            linktypes.LINUX_SLL,
            bytes(CookedLinux(lladdrtype=1, lladdrlen=6, src=mac + b"\x00\x00", proto=0x0004))
            + bytes(10),
            S(A_MAC, "", None, None, "LLC", "Ethertype 0x0004"),
        ),
        (linktypes.NULL, bytes(Loopback(type=2)) + packet4, udp_4),
        (linktypes.NULL, struct.pack("!I", 2) + packet4, udp_4),
        (linktypes.LOOP, struct.pack("!I", 2) + packet4, udp_4),
        (linktypes.RAW, packet4, udp_4),
        (linktypes.RAW, packet6, udp_6),
        (12, packet4, udp_4),
        (14, packet6, udp_6),
        (linktypes.IPV4, packet4, udp_4),
        (linktypes.IPV6, packet6, udp_6),
        (
            linktypes.NULL,
            struct.pack("<I", 7) + bytes(20),
            S("", "", None, None, "Null", "Address family 7"),
        ),
        (
            linktypes.LOOP,
            struct.pack("!I", 7) + bytes(20),
            S("", "", None, None, "Loopback", "Address family 7"),
        ),
        (
            linktypes.RAW,
            b"\x50" + bytes(30),
            S("", "", None, None, "Raw IP", "[malformed: IP version 5]"),
        ),
        (147, packet4, S("", "", None, None, "Unknown", "linktype 147")),
    ]
    for family in (24, 28, 30):
        cases.append((linktypes.NULL, struct.pack("<I", family) + packet6, udp_6))
        cases.append((linktypes.NULL, struct.pack("!I", family) + packet6, udp_6))
        cases.append((linktypes.LOOP, struct.pack("!I", family) + packet6, udp_6))
    return cases


ALL_CASES: list[Case] = (
    tcp_cases()
    + udp_cases()
    + dns_cases()
    + http_cases()
    + tls_cases()
    + icmp_cases()
    + arp_cases()
    + ip_cases()
    + vlan_cases()
    + link_cases()
)


@pytest.mark.parametrize(
    ("linktype", "frame", "expected"),
    ALL_CASES,
    ids=[
        f"{n}-{linktype}-{expected.protocol}" for n, (linktype, _, expected) in enumerate(ALL_CASES)
    ],
)
def test_exact_summary(linktype: int, frame: bytes, expected: S) -> None:
    assert decode(linktype, frame) == expected


def test_the_sample_traffic_reads_like_wireshark() -> None:
    """The fixed sample the UI tests use, end to end."""
    from tests.sample_traffic import sample_records

    infos = [decode(r.linktype, r.data)[4:] for r in sample_records()]
    assert infos[:4] == [
        ("ARP", "Who has 10.0.0.53? Tell 10.0.0.5"),
        ("ARP", "10.0.0.53 is at 02:00:00:00:00:02"),
        ("DNS", "Standard query 0x1a2b A example.com"),
        ("DNS", "Standard query response 0x1a2b A example.com A 93.184.216.34"),
    ]
    assert ("HTTP", "GET /index.html HTTP/1.1") in infos
    assert ("HTTP", "HTTP/1.1 200 OK") in infos
    assert ("TLS", "Client Hello (SNI=example.com)") in infos


def test_ipv6_addresses_are_compressed() -> None:
    frame = eth(IPv6(src="2001:0db8:0000:0000:0001:0000:0000:0001", dst="fe80:0:0:0:0:0:0:1") / b"")
    assert decode(ETH, frame)[:2] == ("2001:db8::1:0:0:1", "fe80::1")


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
@settings(max_examples=200, deadline=timedelta(milliseconds=200))
def test_ipv6_addresses_match_ipaddress(src: bytes, dst: bytes) -> None:
    """As ipaddress writes them, except IPv4-mapped/compatible ones (dotted, as Wireshark)."""
    header = struct.pack("!IHBB", 0x60000000, 0, 59, 64) + src + dst
    summary = decode(linktypes.IPV6, header)
    for raw, text in ((src, summary.src), (dst, summary.dst)):
        assert text == socket.inet_ntop(socket.AF_INET6, raw)
        if raw[:10] != bytes(10) or raw[10:12] not in (b"\x00\x00", b"\xff\xff"):
            assert text == ipaddress.IPv6Address(raw).compressed


def test_ipv4_mapped_addresses_are_dotted() -> None:
    header = struct.pack("!IHBB", 0x60000000, 0, 59, 64)
    mapped = socket.inet_pton(socket.AF_INET6, "::ffff:192.0.2.1")
    assert decode(linktypes.IPV6, header + mapped + mapped).src == "::ffff:192.0.2.1"


def test_long_dns_names_and_label_floods_end_quickly() -> None:
    flood = dns_header(9, 0x0100, 1, 0) + b"\x01a" * 30_000 + b"\xc0\x0c"
    started = time.perf_counter()
    summary = decode(ETH, udp4(50000, 53, flood))
    assert time.perf_counter() - started < 0.05
    assert summary.info == "Malformed DNS (name too long)"
    longest = b"".join(b"\x3f" + b"x" * 63 for _ in range(3)) + b"\x3d" + b"y" * 61 + b"\x00"
    ok = decode(ETH, udp4(50000, 53, dns_header(9, 0x0100, 1, 0) + longest + b"\x00\x01\x00\x01"))
    assert ok.info.endswith("." + "y" * 61) and len(ok.info.split()[-1]) == 253
    pointed = dns_header(9, 0x0100, 1, 0) + b"\x3f" + b"x" * 63 + b"\xc0\x0c"
    assert decode(ETH, udp4(50000, 53, pointed)).info == "Malformed DNS (name too long)"


def test_compression_pointers_are_followed_at_most_64_times() -> None:
    def chain(jumps: int) -> bytes:
        """A question name that is ``jumps`` pointers, each to the next, then "a"."""
        first = 12 + 4 + 2  # after the question's pointer and its type and class
        pointers = b"".join(
            struct.pack("!H", 0xC000 | (first + 2 * (i + 1))) for i in range(jumps - 1)
        )
        return struct.pack("!H", 0xC000 | first) + b"\x00\x01\x00\x01" + pointers + b"\x01a\x00"

    header = dns_header(9, 0x0100, 1, 0)
    assert decode(ETH, udp4(50000, 53, header + chain(64))).info == "Standard query 0x0009 A a"
    assert (
        decode(ETH, udp4(50000, 53, header + chain(65))).info == "Malformed DNS (compression loop)"
    )


def test_the_guard_counts_and_summarises_a_decoder_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: bytes) -> S:
        raise KeyError(data[:1])

    monkeypatch.setattr(decoder, "decoder_errors", 0)
    monkeypatch.setattr(decoder, "walk_ethernet_raw", broken)
    assert decode(ETH, b"\x00" * 20) == S(
        "", "", None, None, "Malformed", "decoder error: KeyError"
    )
    assert decoder.decoder_errors == 1


# -- truncation ---------------------------------------------------------------------


def check_summary(summary: S) -> None:
    """The invariants every summary keeps: types, and one safe line per string."""
    assert type(summary) is S
    for text in (summary.src, summary.dst, summary.protocol, summary.info):
        assert isinstance(text, str)
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text), text
    for port in (summary.sport, summary.dport):
        assert port is None or (isinstance(port, int) and 0 <= port <= 0xFFFF)
    assert summary.protocol


def test_truncation_at_every_offset_of_every_case() -> None:
    decoded = 0
    for linktype, frame, _ in ALL_CASES:
        for cut in range(len(frame) + 1):
            check_summary(decode(linktype, frame[:cut]))
            decoded += 1
    assert decoded > 10_000
    assert decoder.decoder_errors == 0


def test_truncated_headers_say_so() -> None:
    frame = tcp4(
        b"GET / HTTP/1.1\r\n\r\n", sport=1234, dport=80, flags="PA", seq=5, ack=6, window=7
    )
    assert decode(ETH, frame[:10]) == S("", "", None, None, "Ethernet", "[truncated]")
    assert decode(ETH, frame[:13]) == S(A_MAC, B_MAC, None, None, "Ethernet", "[truncated]")
    assert decode(ETH, frame[:20]) == S(A_MAC, B_MAC, None, None, "IPv4", "[truncated]")
    assert decode(ETH, frame[:36]) == S(C4, S4, None, None, "TCP", "[truncated]")
    assert decode(ETH, frame[:40]) == S(C4, S4, 1234, 80, "TCP", "1234 → 80 [truncated]")
    # cut inside the payload: the length still comes from the IP header
    assert decode(ETH, frame[:60]) == S(
        C4, S4, 1234, 80, "TCP", "1234 → 80 [PSH, ACK] Seq=5 Ack=6 Win=7 Len=18"
    )
    dns = udp4(53, 50000, dns_response())
    assert decode(ETH, dns[:60]).info == "Malformed DNS (name runs past the end)"
    ns = eth(v6(ICMPv6ND_NS(tgt="fe80::2")))
    assert decode(ETH, ns[:70]).info == "Neighbor Solicitation for [truncated]"
    hello = tcp4(tls_record(22, handshake(1, client_hello(b"example.org"))))
    assert decode(ETH, hello[:120]) == tcp_summary("TLS", "Client Hello")


# -- fuzzing ------------------------------------------------------------------------

LINKTYPES = [ETH, 0, 12, 14, 101, 108, 113, 228, 229, 276, 147]
FUZZ = settings(
    max_examples=1000,
    deadline=timedelta(milliseconds=250),
    suppress_health_check=[HealthCheck.too_slow],
)


@given(st.sampled_from(LINKTYPES), st.binary(max_size=300))
@FUZZ
def test_random_bytes_on_every_link_type(linktype: int, data: bytes) -> None:
    check_summary(decode(linktype, data))
    assert decoder.decoder_errors == 0


def ipv4_header(
    protocol: int, payload_length: int, *, ihl: int = 5, total: int | None = None, fragment: int = 0
) -> bytes:
    """An IPv4 header with chosen (possibly wrong) length fields and zero options."""
    length = 4 * ihl + payload_length if total is None else total
    fixed = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | ihl,
        0,
        length & 0xFFFF,
        1,
        fragment,
        64,
        protocol,
        0,
        socket.inet_aton(C4),
        socket.inet_aton(S4),
    )
    return fixed + bytes(max(0, 4 * ihl - 20))


ETH_IPV4 = bytes.fromhex("02000000000b02000000000a0800")
ETH_IPV6 = bytes.fromhex("02000000000b02000000000a86dd")

tcp_payloads = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=200).map(lambda b: b"\x16\x03\x01" + b),
    st.tuples(st.sampled_from([20, 21, 22, 23]), st.binary(max_size=120)).map(
        lambda t: tls_record(t[0], t[1][:60])[:5] + t[1]
    ),
    st.binary(max_size=150).map(lambda b: tls_record(22, b"\x01" + b)),
    st.binary(max_size=100).map(lambda b: b"GET /" + b),
    st.binary(max_size=100).map(lambda b: b"HTTP/1.1 " + b),
)


@st.composite
def tcp_frames(draw: st.DrawFn) -> tuple[bytes, int, int]:
    """IPv4/TCP with random ports, flags, data offset and payload."""
    sport = draw(st.sampled_from([53, 80, 443, 5353, 40000]))
    dport = draw(st.integers(0, 0xFFFF))
    offset = draw(st.integers(0, 15))
    header = struct.pack(
        "!HHIIBBHHH",
        sport,
        dport,
        draw(st.integers(0, 2**32 - 1)),
        0,
        offset << 4,
        draw(st.integers(0, 255)),
        100,
        0,
        0,
    )
    options = draw(st.binary(max_size=40))
    payload = draw(tcp_payloads)
    body = header + options + payload
    total = draw(st.one_of(st.none(), st.integers(0, 0xFFFF)))
    return ETH_IPV4 + ipv4_header(6, len(body), total=total) + body, sport, dport


@given(tcp_frames())
@FUZZ
def test_structured_tcp(frame_ports: tuple[bytes, int, int]) -> None:
    frame, sport, dport = frame_ports
    summary = decode(ETH, frame)
    check_summary(summary)
    assert summary.src == C4 and summary.dst == S4
    (total,) = struct.unpack_from("!H", frame, 16)
    if total == 0 or total >= 24:  # the IP packet holds at least the ports
        assert (summary.sport, summary.dport) == (sport, dport)
        assert summary.protocol in ("TCP", "TLS", "HTTP", "DNS", "MDNS")
    elif total >= 20:
        assert summary == S(C4, S4, None, None, "TCP", "[truncated]")
    else:
        assert summary.protocol == "IPv4" and summary.info.startswith("[malformed IPv4")
    assert decoder.decoder_errors == 0


dns_tokens = st.one_of(
    st.binary(min_size=0, max_size=63).map(lambda b: bytes([len(b)]) + b),
    st.integers(0, 0x3FFF).map(lambda n: struct.pack("!H", 0xC000 | n)),
    st.integers(12, 80).map(lambda n: struct.pack("!H", 0xC000 | n)),
    st.just(b"\x00"),
    st.integers(0x40, 0xBF).map(lambda n: bytes([n])),
    st.binary(min_size=1, max_size=10),
)


@st.composite
def dns_messages(draw: st.DrawFn) -> bytes:
    """A header with random counts, then labels, pointers (loops included) and junk."""
    header = struct.pack(
        "!HHHHHH",
        *(draw(st.integers(0, 0xFFFF)) for _ in range(2)),
        draw(st.integers(0, 5)),
        draw(st.integers(0, 70)),
        0,
        0,
    )
    return header + b"".join(draw(st.lists(dns_tokens, max_size=40)))


@given(dns_messages(), st.sampled_from([53, 5353, 5355]), st.booleans())
@FUZZ
def test_structured_dns(message: bytes, port: int, over_tcp: bool) -> None:
    if over_tcp:
        length = struct.pack("!H", len(message))
        frame = tcp4(length + message, sport=50000, dport=port)
    else:
        frame = udp4(port, 50000, message)
    summary = decode(ETH, frame)
    check_summary(summary)
    assert summary.protocol == {53: "DNS", 5353: "MDNS", 5355: "LLMNR"}[port]
    assert decoder.decoder_errors == 0


@st.composite
def ip_frames(draw: st.DrawFn) -> bytes:
    """IPv4 or IPv6 with random length fields, IHL, fragments, extension chains, transports."""
    protocol = draw(st.sampled_from([1, 6, 17, 58, 2, 47, 0, 43, 44, 60, 59, 255]))
    body = draw(st.binary(max_size=120))
    if draw(st.booleans()):
        header = ipv4_header(
            protocol,
            len(body),
            ihl=draw(st.integers(0, 15)),
            total=draw(st.one_of(st.none(), st.integers(0, 0xFFFF))),
            fragment=draw(st.integers(0, 0xFFFF)),
        )
        return ETH_IPV4 + header + body
    length = draw(st.one_of(st.just(len(body)), st.integers(0, 0xFFFF)))
    header = (
        struct.pack("!IHBB", 0x60000000, length, protocol, 64)
        + bytes(15)
        + b"\x01"
        + bytes(15)
        + b"\x02"
    )
    return ETH_IPV6 + header + body


@given(ip_frames())
@FUZZ
def test_structured_ip(frame: bytes) -> None:
    summary = decode(ETH, frame)
    check_summary(summary)
    assert (summary.src, summary.dst) == (
        (C4, S4) if frame[12:14] == b"\x08\x00" else ("::1", "::2")
    )
    assert decoder.decoder_errors == 0


@given(
    st.binary(max_size=200),
    st.integers(0, 0xFFFF),
    st.sampled_from([0x0800, 0x86DD, 0x0806, 0x8100, 0x88A8, 0x9100, 4]),
)
@FUZZ
def test_structured_cooked_and_tagged(body: bytes, hatype: int, protocol: int) -> None:
    sll = struct.pack("!HHH8sH", 0, hatype, 6, bytes(8), protocol) + body
    sll2 = struct.pack("!HHIHBB8s", protocol, 0, 1, hatype, 0, 6, bytes(8)) + body
    tagged = ETH_IPV4[:12] + struct.pack("!HHH", 0x8100, 7, protocol) + body
    for linktype, frame in ((113, sll), (276, sll2), (ETH, tagged)):
        check_summary(decode(linktype, frame))
    assert decoder.decoder_errors == 0


# -- agreement with scapy -----------------------------------------------------------


def random_packet(rng: random.Random) -> bytes:
    """A random valid Ethernet frame with TCP or UDP over IPv4 or IPv6, maybe tagged."""
    if rng.random() < 0.5:
        network: Packet = IP(
            src=str(ipaddress.IPv4Address(rng.getrandbits(32))),
            dst=str(ipaddress.IPv4Address(rng.getrandbits(32))),
        )
    else:
        network = IPv6(
            src=str(ipaddress.IPv6Address(rng.getrandbits(128))),
            dst=str(ipaddress.IPv6Address(rng.getrandbits(128))),
        )
    ports = [p for p in rng.sample(range(1, 65536), 4) if p not in (53, 5353, 5355)]
    payload = rng.randbytes(rng.randrange(0, 60))
    if rng.random() < 0.5:
        flags = rng.choice(["S", "SA", "A", "PA", "FA", "R", "RA", ""])
        transport: Packet = TCP(
            sport=ports[0], dport=ports[1], flags=flags, seq=rng.getrandbits(32)
        )
    else:
        transport = UDP(sport=ports[0], dport=ports[1])
    ether = Ether(src=A_MAC, dst=B_MAC)
    if rng.random() < 0.2:
        ether = ether / Dot1Q(vlan=rng.randrange(1, 4095))
    return bytes(ether / network / transport / Raw(payload))


def test_addresses_and_ports_agree_with_scapy() -> None:
    rng = random.Random(20240611)
    for _ in range(300):
        frame = random_packet(rng)
        dissected = Ether(frame)
        network = dissected[IP] if IP in dissected else dissected[IPv6]
        transport = dissected[TCP] if TCP in dissected else dissected[UDP]
        summary = decode(ETH, frame)
        assert (summary.src, summary.dst) == (network.src, network.dst)
        assert (summary.sport, summary.dport) == (transport.sport, transport.dport)
        if UDP in dissected:
            assert summary.protocol == "UDP"
            assert summary.info == f"{transport.sport} → {transport.dport} Len={transport.len - 8}"
        else:
            assert summary.protocol in ("TCP", "TLS", "HTTP")
            if summary.protocol == "TCP":
                assert f" Seq={transport.seq} " in summary.info
