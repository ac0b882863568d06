"""How fast ``livetap analyze`` is next to tshark, whole process against whole process.

Builds (once, cached in /tmp) two 200k-packet mixes:

- ``today``: HTTP and TLS connections with their handshakes and teardowns, DNS lookups,
  NTP and other UDP, ICMP echoes and ARP, a quarter of it over IPv6;
- ``heavy``: HTTP- and DNS-heavy: keep-alive HTTP connections and DNS lookups, so that
  about 20% of the packets are HTTP requests and responses and 30% DNS.

A few hundred flows are crafted with scapy (explicit Ethernet addresses: a bare
``Ether()`` would send ARP on the real network; nothing is sent anywhere), then repeated
with other client ports and start times up to the packet count. Then, for each mix, it
runs in turn (livetap, tshark, livetap, tshark, ...) ``--runs`` times each:

- ``livetap analyze FILE --report all --json`` against ``tshark -n -q`` with the
  equivalent taps (``-z conv,ip -z conv,ipv6 -z conv,tcp -z conv,udp -z io,phs
  -z http,tree -z dns,tree -z endpoints,ip``),
- ``livetap analyze FILE --report conversations --json`` against ``tshark -n -q -z conv,ip
  -z conv,ipv6 -z conv,tcp -z conv,udp``,

each as a subprocess (start-up included, output thrown away), and prints the median
wall-clock times, the median of the pairwise ratios (of the wall clock, and of the CPU
time, which a loaded machine disturbs less), and the load average beside them,
with whether livetap could split the file over two processes when the row started
(only when a core is spare: see :mod:`engine.analysis.shards`).

    .venv/bin/python benchmarks/analyze.py [--count N] [--runs N] [--mix today|heavy|both]
        [--rebuild]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
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
from engine.analysis import shards
from engine.pcapio import PcapRecord, write_pcap_file

CLIENT_MAC, ROUTER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:fe"
TEMPLATES = 300
WINDOW = 120.0
"""Seconds the flows are spread over."""

Frame = tuple[bytes, bool, int, str]
"""(frame bytes, sent by the client, offset of the TCP/UDP header or -1, kind).

The kind is ``http`` for a frame that carries an HTTP request or response line,
``dns`` for a DNS message, else empty (it only feeds the printed shares)."""
CONVERSATION_TAPS = ("conv,ip", "conv,ipv6", "conv,tcp", "conv,udp")
ALL_TAPS = (*CONVERSATION_TAPS, "io,phs", "http,tree", "dns,tree", "endpoints,ip")
LAST_MEASURED = (
    "last measured 2026-12-05 at load 1.0, two cores, compiled: today 2.78x all, "
    "3.24x conversations; heavy 2.45x all, 3.74x conversations (wall clock)"
)
"""What this script measured last on the development machine (the README's Performance row)."""


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

    def frame(self, packet: Packet, client: bool, v6: bool, kind: str = "") -> Frame:
        src, dst = (CLIENT_MAC, ROUTER_MAC) if client else (ROUTER_MAC, CLIENT_MAC)
        raw = bytes(Ether(src=src, dst=dst) / packet)
        offset = 54 if v6 else 34
        return raw, client, offset if (TCP in packet or UDP in packet) else -1, kind

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
            kind = "http" if load.startswith((b"GET ", b"POST ", b"HTTP/1.1 ")) else ""
            out.append(self.frame(packet, from_client, v6, kind))
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
        return [self.frame(query, True, v6, "dns"), self.frame(answer, False, v6, "dns")]

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
        return [(bytes(request), True, -1, ""), (bytes(reply), False, -1, "")]

    def keepalive(self) -> list[Frame]:
        """One HTTP/1.1 connection with several small requests and responses."""
        rng = self.rng
        host = f"shop{rng.randrange(20)}.example"
        payloads: list[tuple[bool, bytes]] = []
        for _ in range(rng.randrange(3, 8)):
            method = rng.choice(("GET", "GET", "GET", "POST"))
            body = b"q=1&page=2" if method == "POST" else b""
            request = (
                f"{method} /api/{rng.randrange(10**6)} HTTP/1.1\r\nHost: {host}\r\n"
                "User-Agent: bench/1.0\r\nAccept: */*\r\n"
            ).encode()
            if body:
                request += b"Content-Type: application/x-www-form-urlencoded\r\n"
            request += f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            content = b"{}" + b" " * rng.randrange(20, 900)
            response = (
                f"HTTP/1.1 {rng.choice((200, 200, 200, 304, 404))} OK\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(content)}\r\n\r\n"
            ).encode() + content
            payloads += [(True, request), (False, response)]
        return self.tcp_flow(80, payloads)

    def templates(self, mix: str = "today") -> list[list[Frame]]:
        if mix == "heavy":
            kinds = [self.keepalive] * 14 + [self.dns] * 110 + [self.tls] * 3 + [self.udp] * 4
            kinds += [self.icmp] * 1 + [self.arp] * 1
        else:
            kinds = [self.tls] * 40 + [self.http] * 25 + [self.dns] * 20 + [self.udp] * 10
            kinds += [self.icmp] * 3 + [self.arp] * 2
        return [self.rng.choice(kinds)() for _ in range(TEMPLATES)]


def build(path: Path, count: int, seed: int = 1, mix: str = "today") -> dict[str, float]:
    """Write ``count`` packets: templates repeated with new client ports and start times.

    Returns the share of the packets of each kind (``http``, ``dns``).
    """
    templates = Mix(seed).templates(mix)
    rng = random.Random(seed)
    records: list[tuple[float, bytes, str]] = []
    flow = 0
    while len(records) < count:
        template = templates[flow % len(templates)]
        port = 1024 + (flow * 7919) % 60000
        start = rng.uniform(0, WINDOW)
        moment = start
        for raw, from_client, offset, kind in template:
            frame = bytearray(raw)
            if offset >= 0:
                struct.pack_into("!H", frame, offset + (0 if from_client else 2), port)
            moment += rng.uniform(0.0005, 0.02)
            records.append((1_700_000_000.0 + moment, bytes(frame), kind))
        flow += 1
    records.sort(key=lambda item: item[0])
    kept = records[:count]
    write_pcap_file(
        path,
        (PcapRecord(t, len(raw), linktypes.ETHERNET, raw) for t, raw, _kind in kept),
    )
    return {
        kind: sum(1 for record in kept if record[2] == kind) / len(kept) for kind in ("http", "dns")
    }


def mix_file(mix: str, count: int, rebuild: bool) -> Path:
    """The cached pcap of a mix (built when missing), its shares printed."""
    path = Path(f"/tmp/livetap-bench-analyze-{mix}-{count}.pcap")
    shares_file = path.with_suffix(".shares")
    if rebuild or not path.exists() or not shares_file.exists():
        print(f"building {path} ({count:,} packets)...", flush=True)
        started = time.perf_counter()
        shares = build(path, count, mix=mix)
        print(f"  built in {time.perf_counter() - started:.1f} s")
        shares_file.write_text(f"{shares['http']} {shares['dns']}")
    http, dns = (float(x) for x in shares_file.read_text().split())
    print(
        f"mix {mix}: {path} ({count:,} packets, {path.stat().st_size / 1e6:.1f} MB; "
        f"HTTP requests and responses {http:.0%}, DNS {dns:.0%})"
    )
    return path


def timed(command: list[str]) -> tuple[float, float]:
    """The wall-clock and CPU (user + system) seconds of one whole process, its output
    thrown away. On a loaded machine the CPU time says more: the wall clock then also
    counts the time the process waited for a core."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def interleaved(ours: list[str], theirs: list[str], runs: int) -> tuple[float, float, float, float]:
    """Median wall seconds of each command, then the median ratios theirs/ours of the wall
    and of the CPU times, run in turn (1 warm-up)."""
    timed(ours)
    timed(theirs)
    mine, other, ratios, cpu_ratios = [], [], [], []
    for _ in range(runs):
        a, a_cpu = timed(ours)
        b, b_cpu = timed(theirs)
        mine.append(a)
        other.append(b)
        ratios.append(b / a)
        cpu_ratios.append(b_cpu / a_cpu)
    return (
        statistics.median(mine),
        statistics.median(other),
        statistics.median(ratios),
        statistics.median(cpu_ratios),
    )


def load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mix", choices=("today", "heavy", "both"), default="both")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    tshark = shutil.which("tshark")
    if tshark is None:
        print("tshark not found: no comparison")
        return 1
    livetap = str(Path(sys.executable).with_name("livetap"))
    mixes = ("today", "heavy") if args.mix == "both" else (args.mix,)
    paths = {mix: mix_file(mix, args.count, args.rebuild) for mix in mixes}
    version = subprocess.run([livetap, "--version"], capture_output=True, text=True, check=True)
    print(version.stdout.strip())  # whether the compiled analysis (engine.native) runs
    print(f"median of {args.runs} runs each, livetap and tshark in turn, whole processes")
    rows = []
    for mix, path in paths.items():
        for report, taps in (("all", ALL_TAPS), ("conversations", CONVERSATION_TAPS)):
            ours = [livetap, "analyze", str(path), "--report", report, "--json"]
            theirs = [tshark, "-n", "-q", "-r", str(path)]
            for tap in taps:
                theirs += ["-z", tap]
            before = load()
            split = "two cores" if shards.usable(path) else "one core"
            mine, other, ratio, cpu_ratio = interleaved(ours, theirs, args.runs)
            rows.append((mix, report, mine, other, ratio))
            print(
                f"  {mix:5} --report {report:13} livetap {mine:5.2f} s  tshark {other:5.2f} s  "
                f"livetap is {ratio:.2f}x as fast ({cpu_ratio:.2f}x in CPU time)  [{before}, "
                f"livetap on {split}; after: {load()}]",
                flush=True,
            )
    worst = min(row[4] for row in rows)
    verdict = "met" if worst >= 2 else "not met"
    print(f"slowest ratio: {worst:.2f}x (target 2x: {verdict}; {LAST_MEASURED}); {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
