"""Pcap builders for the analysis tests, and readers of tshark's statistics output.

Every frame is built with explicit Ethernet addresses (a bare scapy ``Ether()`` would
send ARP on the real network); nothing is sent anywhere. Timestamps are fixed, so
the files are the same every time.
"""

from __future__ import annotations

import base64
import re
import struct
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet, Raw

from engine import linktypes
from engine.pcapio import PcapRecord, write_pcap_file

CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
START = 1_700_000_000.0
STEP = 0.01


def eth(packet: Packet, reverse: bool = False) -> Packet:
    """Ethernet with explicit addresses around an IP packet."""
    src, dst = (SERVER_MAC, CLIENT_MAC) if reverse else (CLIENT_MAC, SERVER_MAC)
    return Ether(src=src, dst=dst) / packet


def write_frames(
    path: Path, frames: Iterable[Packet | bytes], step: float = STEP, start: float = START
) -> Path:
    """Frames (scapy packets or bytes) as Ethernet pcap records ``step`` seconds apart."""
    records = []
    for i, frame in enumerate(frames):
        raw = frame if isinstance(frame, bytes) else bytes(frame)
        records.append(PcapRecord(start + i * step, len(raw), linktypes.ETHERNET, raw))
    write_pcap_file(path, records)
    return path


def write_timed(path: Path, frames: Iterable[tuple[float, Packet]]) -> Path:
    """Frames with their own times (seconds after START)."""
    records = []
    for offset, frame in frames:
        raw = bytes(frame)
        records.append(PcapRecord(START + offset, len(raw), linktypes.ETHERNET, raw))
    write_pcap_file(path, records)
    return path


@dataclass
class Tcp:
    """One TCP connection between two endpoints, segment by segment, sequence numbers kept."""

    client: str
    cport: int
    server: str
    sport: int
    cseq: int = 1000
    sseq: int = 5000
    v6: bool = False
    frames: list[Packet] = field(default_factory=list)

    def _ip(self, from_client: bool) -> Packet:
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        return IPv6(src=src, dst=dst) if self.v6 else IP(src=src, dst=dst)

    def send(
        self,
        from_client: bool,
        flags: str = "PA",
        load: bytes = b"",
        seq: int | None = None,
        advance: bool = True,
    ) -> Packet:
        """A segment; sequence numbers move on unless ``advance`` is false (retransmission)."""
        ports = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        mine, theirs = (self.cseq, self.sseq) if from_client else (self.sseq, self.cseq)
        segment = TCP(
            sport=ports[0],
            dport=ports[1],
            flags=flags,
            seq=(mine if seq is None else seq) & 0xFFFFFFFF,
            ack=theirs & 0xFFFFFFFF if "A" in flags else 0,
            window=64240,
        )
        packet = self._ip(from_client) / segment
        if load:
            packet = packet / Raw(load)
        frame = eth(packet, reverse=not from_client)
        self.frames.append(frame)
        if advance and seq is None:
            used = len(load) + (1 if "S" in flags else 0) + (1 if "F" in flags else 0)
            if from_client:
                self.cseq += used
            else:
                self.sseq += used
        return frame

    def open(self) -> Tcp:
        """The three-way handshake."""
        self.send(True, "S")
        self.send(False, "SA")
        self.send(True, "A")
        return self

    def close(self) -> Tcp:
        """FIN both ways and the last ACK."""
        self.send(True, "FA")
        self.send(False, "FA")
        self.send(True, "A")
        return self

    def exchange(self, request: bytes, response: bytes) -> Tcp:
        """Client data, server data, each acknowledged."""
        self.send(True, "PA", request)
        self.send(False, "PA", response)
        self.send(True, "A")
        return self


def http_response(content_type: str, body: bytes, status: str = "200 OK") -> bytes:
    """A complete HTTP/1.1 response with Content-Length."""
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def http_request(
    method: str,
    host: str,
    path: str,
    *,
    agent: str = "test-agent/1.0",
    extra: str = "",
    body: bytes = b"",
) -> bytes:
    """An HTTP/1.1 request."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {agent}\r\n{extra}"
    if body:
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def tls_client_hello(server_name: str) -> bytes:
    """A TLS 1.2 record holding a ClientHello with a server_name extension."""
    name = server_name.encode()
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    extensions = struct.pack("!HH", 0, len(sni)) + sni
    body = b"\x03\x03" + bytes(32) + b"\x00" + struct.pack("!H", 2) + b"\x13\x01\x01\x00"
    body += struct.pack("!H", len(extensions)) + extensions
    handshake = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def tls_record(size: int, fill: int = 0x41) -> bytes:
    """An application-data record of ``size`` bytes."""
    return b"\x17\x03\x03" + struct.pack("!H", size) + bytes([fill]) * size


def dns_pair(
    client: str, server: str, ident: int, name: str, address: str, *, cport: int = 53001
) -> list[Packet]:
    """A query for ``name`` and its answer with ``address``."""
    query = eth(
        IP(src=client, dst=server)
        / UDP(sport=cport, dport=53)
        / DNS(id=ident, rd=1, qd=DNSQR(qname=name))
    )
    answer = eth(
        IP(src=server, dst=client)
        / UDP(sport=53, dport=cport)
        / DNS(
            id=ident, qr=1, rd=1, ra=1, qd=DNSQR(qname=name), an=DNSRR(rrname=name, rdata=address)
        ),
        reverse=True,
    )
    return [query, answer]


# -- the files ----------------------------------------------------------------------------


def mixed_frames() -> list[Packet]:
    """Traffic of many kinds whose tshark statistics the tests compare with livetap's."""
    frames: list[Packet] = []
    frames += [
        Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=CLIENT_MAC, psrc="10.0.0.5", pdst="10.0.0.1"),
        eth(ARP(op=2, hwsrc=SERVER_MAC, psrc="10.0.0.1", hwdst=CLIENT_MAC, pdst="10.0.0.5"), True),
    ]
    frames += dns_pair("10.0.0.5", "10.0.0.53", 0x1111, "example.com", "93.184.216.34")
    frames += dns_pair(
        "10.0.0.5", "10.0.0.53", 0x2222, "cdn.example.net", "151.101.1.1", cport=53002
    )
    web = Tcp("10.0.0.5", 41000, "93.184.216.34", 80).open()
    web.exchange(
        http_request("GET", "example.com", "/index.html"),
        http_response("text/html", b"<html>hello</html>"),
    )
    web.exchange(
        http_request("GET", "example.com", "/api"), http_response("application/json", b'{"a": 1}')
    )
    # a response whose body spans three segments (tshark reassembles it)
    web.send(True, "PA", http_request("GET", "example.com", "/big"))
    big = http_response("text/plain", b"x" * 3000)
    for start in range(0, len(big), 1200):
        web.send(False, "PA", big[start : start + 1200])
    web.send(True, "A")
    web.close()
    frames += web.frames
    tls = Tcp("10.0.0.5", 41001, "151.101.1.1", 443).open()
    tls.send(True, "PA", tls_client_hello("cdn.example.net"))
    record = tls_record(2500)
    tls.send(False, "PA", record[:1400])  # a record over three segments
    tls.send(False, "PA", record[1400:2000])
    tls.send(False, "PA", record[2000:] + tls_record(100)[:50])
    tls.send(False, "PA", tls_record(100)[50:])
    tls.send(True, "A")
    tls.close()
    frames += tls.frames
    frames += [
        eth(IP(src="10.0.0.5", dst="10.0.0.9") / UDP(sport=40000, dport=9999) / b"custom one"),
        eth(
            IP(src="10.0.0.9", dst="10.0.0.5") / UDP(sport=9999, dport=40000) / b"custom reply",
            True,
        ),
        eth(IP(src="10.0.0.5", dst="10.0.0.9") / UDP(sport=40001, dport=9999)),
        eth(IP(src="10.0.0.5", dst="8.8.8.8") / ICMP(type=8, id=7, seq=1) / b"ping"),
        eth(IP(src="8.8.8.8", dst="10.0.0.5") / ICMP(type=0, id=7, seq=1) / b"ping", True),
        eth(
            IP(src="10.0.0.5", dst="10.0.0.9") / UDP(sport=40002, dport=123) / (b"\x23" + bytes(47))
        ),
    ]
    v6 = Tcp("2001:db8::5", 50000, "2001:db8::80", 8080, v6=True).open()
    v6.exchange(http_request("GET", "v6.example", "/"), http_response("text/html", b"six"))
    v6.close()
    frames += v6.frames
    frames += [
        eth(
            IPv6(src="2001:db8::5", dst="2001:db8::53") / UDP(sport=50001, dport=7777) / b"v6 data"
        ),
        eth(IPv6(src="fe80::1", dst="fe80::2") / ICMPv6EchoRequest(id=5, seq=2)),
        Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / Dot1Q(vlan=7)
        / IP(src="10.7.0.1", dst="10.7.0.2")
        / UDP(sport=5000, dport=5001)
        / b"tagged",
        eth(
            IP(src="10.0.0.1", dst="10.0.0.2", proto=4)
            / IP(src="192.168.9.1", dst="192.168.9.2")
            / UDP(sport=6000, dport=6001)
            / b"tunnelled"
        ),
    ]
    big_datagram = (
        IP(src="10.0.0.5", dst="10.0.0.9", id=4242) / UDP(sport=40003, dport=9998) / (b"F" * 2600)
    )
    pieces: list[Packet] = fragment(big_datagram, fragsize=1200)  # type: ignore[no-untyped-call]
    frames += [eth(piece) for piece in pieces]
    # the same 4-tuple reused: a new SYN with another initial sequence number
    first = Tcp("10.0.0.5", 42000, "10.0.0.80", 80, cseq=100).open()
    first.exchange(http_request("GET", "reuse.example", "/one"), http_response("text/html", b"1"))
    first.close()
    again = Tcp("10.0.0.5", 42000, "10.0.0.80", 80, cseq=90000).open()
    again.exchange(http_request("GET", "reuse.example", "/two"), http_response("text/html", b"2"))
    again.close()
    frames += first.frames + again.frames
    return frames


def write_mixed(path: Path) -> Path:
    """The mixed traffic as a pcap."""
    return write_frames(path, mixed_frames())


def follow_frames() -> list[Packet]:
    """Several streams for follow: split requests, a retransmission, reordering, a gap, binary."""
    frames: list[Packet] = []
    a = Tcp("10.1.0.1", 33000, "10.1.0.2", 80).open()
    request = http_request("GET", "follow.example", "/page")
    a.send(True, "PA", request[:10])
    a.send(True, "PA", request[10:])
    reply = http_response("text/plain", b"line one\nline two\n")
    a.send(False, "PA", reply)
    a.send(False, "PA", reply, seq=a.sseq - len(reply))  # retransmitted
    a.send(True, "A")
    # reordering: the second part arrives before the first
    first_part, second_part = b"first part\r\n", b"second part\r\n"
    base = a.sseq
    a.send(False, "PA", second_part, seq=base + len(first_part))
    a.send(False, "PA", first_part, seq=base)
    a.sseq = base + len(first_part) + len(second_part)
    a.send(True, "PA", bytes(range(256)))  # binary from the client
    a.close()
    frames += a.frames
    b = Tcp("10.1.0.3", 33001, "10.1.0.4", 21).open()
    b.exchange(b"USER anonymous\r\n", b"331 Password required\r\n")
    gap = b.sseq
    b.sseq += 7  # seven bytes never captured...
    b.send(False, "PA", b"after the gap\r\n")
    b.send(True, "A")  # ...but acknowledged by the client
    b.close()
    frames += b.frames
    v6 = Tcp("2001:db8::1", 5555, "2001:db8::2", 80, v6=True).open()
    v6.exchange(b"hello over six\n", b"and back\n")
    v6.close()
    frames += v6.frames
    del gap
    # a reused 4-tuple: tshark starts stream 3 at the second SYN
    c1 = Tcp("10.1.0.5", 44000, "10.1.0.6", 40404, cseq=10).open()
    c1.exchange(b"first connection\n", b"ok 1\n").close()
    c2 = Tcp("10.1.0.5", 44000, "10.1.0.6", 40404, cseq=777777).open()
    c2.exchange(b"second connection\n", b"ok 2\n").close()
    frames += c1.frames + c2.frames
    return frames


def write_follow(path: Path) -> Path:
    """The follow streams as a pcap."""
    return write_frames(path, follow_frames())


def credentials_frames() -> list[Packet]:
    """Cleartext logins of every kind livetap finds, with hand-known values."""
    frames: list[Packet] = []
    basic = base64.b64encode(b"alice:wonderland").decode()
    web = Tcp("10.2.0.1", 45000, "10.2.0.80", 80).open()
    web.exchange(
        http_request(
            "GET", "intranet.example", "/private", extra=f"Authorization: Basic {basic}\r\n"
        ),
        http_response("text/html", b"welcome", status="200 OK"),
    )
    form = b"username=bob&password=hunter2&remember=1"
    web.exchange(
        http_request(
            "POST",
            "intranet.example",
            "/login",
            extra="Content-Type: application/x-www-form-urlencoded\r\n",
            body=form,
        ),
        http_response("text/html", b"ok", status="302 Found"),
    )
    web.close()
    frames += web.frames
    ftp = Tcp("10.2.0.2", 45001, "10.2.0.21", 21).open()
    ftp.send(False, "PA", b"220 FTP ready\r\n")
    ftp.exchange(b"USER carol\r\n", b"331 Password required\r\n")
    ftp.exchange(b"PASS s3cret\r\n", b"230 Logged in\r\n")
    ftp.close()
    frames += ftp.frames
    pop = Tcp("10.2.0.3", 45002, "10.2.0.110", 110).open()
    pop.send(False, "PA", b"+OK POP3 ready\r\n")
    pop.exchange(b"USER dave\r\n", b"+OK\r\n")
    pop.exchange(b"PASS wrongpass\r\n", b"-ERR authentication failed\r\n")
    pop.close()
    frames += pop.frames
    imap = Tcp("10.2.0.4", 45003, "10.2.0.143", 143).open()
    imap.send(False, "PA", b"* OK IMAP ready\r\n")
    imap.exchange(b'a1 LOGIN erin "pass word"\r\n', b"a1 OK LOGIN completed\r\n")
    imap.close()
    frames += imap.frames
    telnet = Tcp("10.2.0.5", 45004, "10.2.0.23", 23).open()
    telnet.send(False, "PA", b"\xff\xfd\x18\xff\xfb\x01Debian login: ")
    for char in b"frank":
        telnet.send(True, "PA", bytes([char]))
        telnet.send(False, "PA", bytes([char]))  # the echo
    telnet.send(True, "PA", b"\r\n")
    telnet.send(False, "PA", b"\r\nPassword: ")
    for char in b"letmein":
        telnet.send(True, "PA", bytes([char]))
    telnet.send(True, "PA", b"\r\n")
    telnet.send(False, "PA", b"\r\nLast login: yesterday\r\n$ ")
    telnet.close()
    frames += telnet.frames
    smtp = Tcp("10.2.0.6", 45005, "10.2.0.25", 587).open()
    smtp.send(False, "PA", b"220 mail ready\r\n")
    plain = base64.b64encode(b"\x00grace\x00mailpass").decode()
    smtp.exchange(f"AUTH PLAIN {plain}\r\n".encode(), b"235 Authentication successful\r\n")
    smtp.close()
    frames += smtp.frames
    return frames


def patterns_frames() -> list[tuple[float, Packet]]:
    """A SYN scan, a lossy connection, resets, a beacon and an odd service port, timed."""
    timed: list[tuple[float, Packet]] = []
    scanner, target = "10.3.0.66", "10.3.0.10"
    # 20 ports: 15 refused (RST), 2 open (SYN-ACK, the scanner resets), 3 silent
    for i, port in enumerate(range(1000, 1020)):
        moment = i * 0.01
        timed.append(
            (
                moment,
                eth(IP(src=scanner, dst=target) / TCP(sport=60000, dport=port, flags="S", seq=1)),
            )
        )
        if i < 15:
            timed.append(
                (
                    moment + 0.001,
                    eth(
                        IP(src=target, dst=scanner)
                        / TCP(sport=port, dport=60000, flags="RA", seq=0, ack=2),
                        True,
                    ),
                )
            )
        elif i < 17:
            timed.append(
                (
                    moment + 0.001,
                    eth(
                        IP(src=target, dst=scanner)
                        / TCP(sport=port, dport=60000, flags="SA", seq=9, ack=2),
                        True,
                    ),
                )
            )
            timed.append(
                (
                    moment + 0.002,
                    eth(
                        IP(src=scanner, dst=target) / TCP(sport=60000, dport=port, flags="R", seq=2)
                    ),
                )
            )
    # a connection with 10 data segments, 2 of them retransmitted, then reset by the server
    lossy = Tcp("10.3.0.1", 46000, "10.3.0.2", 8443).open()
    for i in range(10):
        payload = f"chunk {i:02d}\n".encode()
        lossy.send(True, "PA", payload)
        if i in (3, 7):
            lossy.send(True, "PA", payload, seq=lossy.cseq - len(payload))
    lossy.send(False, "RA")
    timed += [(1.0 + i * 0.01, frame) for i, frame in enumerate(lossy.frames)]
    # a beacon: a connection to the same host and port every 30 s, 8 times
    for i in range(8):
        beacon = Tcp("10.3.0.7", 47000 + i, "203.0.113.50", 4444, cseq=i * 1000).open()
        beacon.exchange(b"ping\n", b"pong\n").close()
        timed += [(10.0 + i * 30.0 + j * 0.01, frame) for j, frame in enumerate(beacon.frames)]
    # the biggest flow, on an unusual port
    bulk = Tcp("10.3.0.8", 48000, "10.3.0.9", 31337).open()
    for _ in range(5):
        bulk.send(True, "PA", b"B" * 1000)
    bulk.close()
    timed += [(2.0 + i * 0.01, frame) for i, frame in enumerate(bulk.frames)]
    # a UDP beacon every 20 s, and a talker at irregular times that is no beacon
    for i in range(6):
        timed.append(
            (
                5.0 + i * 20.0,
                eth(
                    IP(src="10.3.0.7", dst="198.51.100.9") / UDP(sport=52000, dport=41000) / b"beat"
                ),
            )
        )
    moment = 5.0
    for gap in (5, 17, 3, 40, 11, 29):
        moment += gap
        timed.append(
            (
                moment,
                eth(
                    IP(src="10.3.0.7", dst="198.51.100.10")
                    / UDP(sport=52001, dport=41001)
                    / b"irregular"
                ),
            )
        )
    timed.sort(key=lambda item: item[0])
    return timed


# -- tshark's own numbers -----------------------------------------------------------------

_CONV_LINE = re.compile(
    r"^(?P<a>\S+)\s+<-> (?P<b>\S+)\s+(?P<rf>\d+) (?P<rb>\d+ (?:bytes|kB|MB))\s+"
    r"(?P<tf>\d+) (?P<tb>\d+ (?:bytes|kB|MB))\s+(?P<f>\d+) (?P<by>\d+ (?:bytes|kB|MB))\s+"
    r"(?P<start>[\d.]+)\s+(?P<duration>[\d.]+)\s*$"
)
_PHS_LINE = re.compile(r"^( *)(\S+)\s+frames:(\d+) bytes:(\d+)\s*$")


def tshark(path: Path, *args: str) -> str:
    """tshark's output for a file (no name resolution)."""
    result = subprocess.run(
        ["tshark", "-n", "-r", str(path), *args], capture_output=True, timeout=60, check=True
    )
    return result.stdout.decode("utf-8", "replace")  # bytes: a text pipe would eat the \r


def tshark_size(bytes_count: int) -> str:
    """A byte count as tshark 4.0's conversation tables print it (kB below 10 MB, truncated)."""
    if bytes_count < 10_000:
        return f"{bytes_count} bytes"
    if bytes_count < 10_000_000:
        return f"{bytes_count // 1000} kB"
    return f"{bytes_count // 1_000_000} MB"


def tshark_conversations(path: Path, kind: str) -> list[dict[str, str]]:
    """The rows of ``tshark -q -z conv,KIND`` (sides, frames and bytes each way, times)."""
    rows = []
    for line in tshark(path, "-q", "-z", f"conv,{kind}").splitlines():
        match = _CONV_LINE.match(line)
        if match:
            rows.append(match.groupdict())
    return rows


def tshark_phs(path: Path) -> list[tuple[int, str, int, int]]:
    """``tshark -q -z io,phs`` as (depth, protocol, frames, bytes) rows."""
    rows = []
    for line in tshark(path, "-q", "-z", "io,phs").splitlines():
        match = _PHS_LINE.match(line)
        if match:
            rows.append(
                (len(match.group(1)) // 2, match.group(2), int(match.group(3)), int(match.group(4)))
            )
    return rows
