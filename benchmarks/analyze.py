"""How fast ``livetap analyze`` reads a 200k-packet mixed pcap, next to tshark.

Builds (once, cached in /tmp) a realistic mix: HTTP and TLS connections with their
handshakes and teardowns, DNS lookups, NTP and other UDP, ICMP echoes and ARP, a
quarter of it over IPv6. A few hundred flows are crafted with scapy (explicit
Ethernet addresses: a bare ``Ether()`` would send ARP on the real network; nothing is
sent anywhere), then repeated with other client ports and start times up to the
packet count. Then it times, best of ``--runs``:

- ``analyze_file`` in-process with every report (what ``livetap analyze FILE
  --report all`` does, without printing),
- ``tshark -q -z conv,ip -r FILE`` and ``tshark -q -z io,phs -r FILE``,

and prints packets per second and the ratios.

    .venv/bin/python benchmarks/analyze.py [--count N] [--runs N] [--rebuild]
"""

from __future__ import annotations

import argparse
import random
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from engine import linktypes
from engine.analysis import analyze_file
from engine.pcapio import PcapRecord, write_pcap_file

CLIENT_MAC, ROUTER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:fe"
TEMPLATES = 300
WINDOW = 120.0
"""Seconds the flows are spread over."""

Frame = tuple[bytes, bool, int]
"""(frame bytes, sent by the client, offset of the TCP/UDP header or -1)."""


class Mix:
    """Flow templates: one method per kind of traffic."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def hosts(self) -> tuple[str, str, bool]:
        rng = self.rng
        if rng.random() < 0.25:
            return (
                f"2001:db8::{rng.randrange(1, 40):x}",
                f"2606:4700::{rng.randrange(1, 30):x}",
                True,
            )
        return f"10.0.{rng.randrange(0, 4)}.{rng.randrange(2, 250)}", self.server(), False

    def server(self) -> str:
        return f"93.184.{self.rng.randrange(0, 8)}.{self.rng.randrange(1, 250)}"

    def frame(self, packet: Packet, client: bool, v6: bool) -> Frame:
        src, dst = (CLIENT_MAC, ROUTER_MAC) if client else (ROUTER_MAC, CLIENT_MAC)
        raw = bytes(Ether(src=src, dst=dst) / packet)
        offset = 54 if v6 else 34
        return raw, client, offset if (TCP in packet or UDP in packet) else -1

    def ip(self, src: str, dst: str, v6: bool) -> Packet:
        return IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)

    def tcp_flow(self, port: int, payloads: list[tuple[bool, bytes]]) -> list[Frame]:
        """Handshake, the payloads (each side's in segments of at most 1400), teardown."""
        client, server, v6 = self.hosts()
        c, s = 1000, 5000
        out = []

        def seg(from_client: bool, flags: str, load: bytes = b"") -> None:
            nonlocal c, s
            src, dst = (client, server) if from_client else (server, client)
            sport, dport = (40000, port) if from_client else (port, 40000)
            seq, ack = (c, s) if from_client else (s, c)
            packet = self.ip(src, dst, v6) / TCP(
                sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=64240
            )
            if load:
                packet = packet / Raw(load)
            out.append(self.frame(packet, from_client, v6))
            used = len(load) + (1 if "S" in flags or "F" in flags else 0)
            if from_client:
                c += used
            else:
                s += used

        seg(True, "S")
        seg(False, "SA")
        seg(True, "A")
        for from_client, data in payloads:
            for start in range(0, len(data), 1400):
                seg(from_client, "PA", data[start : start + 1400])
            seg(not from_client, "A")
        seg(True, "FA")
        seg(False, "FA")
        seg(True, "A")
        return out

    def http(self) -> list[Frame]:
        rng = self.rng
        path = f"/item/{rng.randrange(10**6)}"
        body = b"x" * rng.choice((120, 900, 3000, 9000))
        request = (
            f"GET {path} HTTP/1.1\r\nHost: shop{rng.randrange(20)}.example\r\n"
            "User-Agent: bench/1.0\r\nAccept: */*\r\n\r\n"
        ).encode()
        response = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        return self.tcp_flow(80, [(True, request), (False, response)])

    def tls(self) -> list[Frame]:
        rng = self.rng
        name = f"cdn{rng.randrange(30)}.example".encode()
        sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
        extensions = struct.pack("!HH", 0, len(sni)) + sni
        hello = b"\x03\x03" + bytes(32) + b"\x00\x00\x02\x13\x01\x01\x00"
        hello += struct.pack("!H", len(extensions)) + extensions
        handshake = b"\x01" + struct.pack("!I", len(hello))[1:] + hello
        client_hello = b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake

        def record(size: int) -> bytes:
            return b"\x17\x03\x03" + struct.pack("!H", size) + rng.randbytes(size)

        payloads = [(True, client_hello), (False, b"\x16\x03\x03" + struct.pack("!H", 2500))]
        payloads[1] = (False, payloads[1][1] + rng.randbytes(2500))
        for _ in range(rng.randrange(2, 8)):
            payloads.append((True, record(rng.randrange(100, 600))))
            payloads.append((False, record(rng.randrange(500, 6000))))
        return self.tcp_flow(443, payloads)

    def dns(self) -> list[Frame]:
        rng = self.rng
        client, _server, v6 = self.hosts()
        resolver = "2001:db8::53" if v6 else "10.0.0.53"
        name = f"host{rng.randrange(200)}.example"
        ident = rng.randrange(65536)
        query = (
            self.ip(client, resolver, v6)
            / UDP(sport=40000, dport=53)
            / DNS(id=ident, rd=1, qd=DNSQR(qname=name))
        )
        answer = (
            self.ip(resolver, client, v6)
            / UDP(sport=53, dport=40000)
            / DNS(
                id=ident,
                qr=1,
                rd=1,
                ra=1,
                qd=DNSQR(qname=name),
                an=DNSRR(rrname=name, rdata=self.server()),
            )
        )
        return [self.frame(query, True, v6), self.frame(answer, False, v6)]

    def udp(self) -> list[Frame]:
        client, server, v6 = self.hosts()
        port = self.rng.choice((123, 5000, 9999, 3478))
        out = []
        for _ in range(self.rng.randrange(1, 6)):
            if port == 123:
                load = b"\x23" + self.rng.randbytes(47)  # an NTP v4 client request
            else:
                load = b"custom " + self.rng.randbytes(self.rng.randrange(20, 400))
            out.append(
                self.frame(
                    self.ip(client, server, v6) / UDP(sport=40000, dport=port) / load, True, v6
                )
            )
            out.append(
                self.frame(
                    self.ip(server, client, v6) / UDP(sport=port, dport=40000) / load, False, v6
                )
            )
        return out

    def icmp(self) -> list[Frame]:
        client, server, _v6 = self.hosts()
        client, server = "10.0.0.9", self.server()
        out = []
        for seq in range(3):
            out.append(
                self.frame(
                    IP(src=client, dst=server) / ICMP(type=8, seq=seq) / (b"p" * 56), True, False
                )
            )
            out.append(
                self.frame(
                    IP(src=server, dst=client) / ICMP(type=0, seq=seq) / (b"p" * 56), False, False
                )
            )
        return out

    def arp(self) -> list[Frame]:
        request = Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=CLIENT_MAC, psrc="10.0.0.5", pdst="10.0.0.1"
        )
        reply = Ether(src=ROUTER_MAC, dst=CLIENT_MAC) / ARP(
            op=2, hwsrc=ROUTER_MAC, psrc="10.0.0.1", hwdst=CLIENT_MAC, pdst="10.0.0.5"
        )
        return [(bytes(request), True, -1), (bytes(reply), False, -1)]

    def templates(self) -> list[list[Frame]]:
        kinds = [self.tls] * 40 + [self.http] * 25 + [self.dns] * 20 + [self.udp] * 10
        kinds += [self.icmp] * 3 + [self.arp] * 2
        return [self.rng.choice(kinds)() for _ in range(TEMPLATES)]


def build(path: Path, count: int, seed: int = 1) -> None:
    """Write ``count`` packets: templates repeated with new client ports and start times."""
    mix = Mix(seed)
    templates = mix.templates()
    rng = random.Random(seed)
    records: list[tuple[float, bytes]] = []
    flow = 0
    while len(records) < count:
        template = templates[flow % len(templates)]
        port = 1024 + (flow * 7919) % 60000
        start = rng.uniform(0, WINDOW)
        moment = start
        for raw, from_client, offset in template:
            frame = bytearray(raw)
            if offset >= 0:
                struct.pack_into("!H", frame, offset + (0 if from_client else 2), port)
            moment += rng.uniform(0.0005, 0.02)
            records.append((1_700_000_000.0 + moment, bytes(frame)))
        flow += 1
    records.sort(key=lambda item: item[0])
    write_pcap_file(
        path,
        (PcapRecord(t, len(raw), linktypes.ETHERNET, raw) for t, raw in records[:count]),
    )


def best_of(runs: int, work: object) -> float:
    """The shortest wall time of ``runs`` calls."""
    assert callable(work)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    path = Path(f"/tmp/livetap-bench-analyze-{args.count}.pcap")
    if args.rebuild or not path.exists():
        print(f"building {path} ({args.count:,} packets)...", flush=True)
        started = time.perf_counter()
        build(path, args.count)
        print(f"  built in {time.perf_counter() - started:.1f} s")
    size = path.stat().st_size
    print(f"file: {path} ({args.count:,} packets, {size / 1e6:.1f} MB)")

    def analyze() -> None:
        result = analyze_file(path, ["all"])
        assert result.packets == args.count, result.packets

    ours = best_of(args.runs, analyze)
    print(
        f"livetap analyze (all reports, in-process): {ours:.2f} s, "
        f"{args.count / ours:,.0f} packets/s"
    )
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark not found: no comparison")
        return 0
    for stat in ("conv,ip", "io,phs"):
        command = [tshark, "-n", "-q", "-z", stat, "-r", str(path)]

        def run(command: list[str] = command) -> None:
            subprocess.run(command, capture_output=True, check=True)

        theirs = best_of(args.runs, run)
        print(
            f"tshark -q -z {stat}: {theirs:.2f} s, {args.count / theirs:,.0f} packets/s; "
            f"livetap is {theirs / ours:.1f}x as fast"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
