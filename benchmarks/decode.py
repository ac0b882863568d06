"""How fast the packet-list header decoder is, next to scapy's full dissection.

Builds a realistic mix of frames (TCP, TLS, HTTP, DNS, UDP, ICMP, ARP over IPv4
and IPv6, weighted as in :meth:`Mix.templates`) from a few hundred scapy
templates repeated to ``--count``, then times :func:`engine.decode.decode` over
all of them (best of 3) and scapy's ``Ether(raw)`` over a subset, extrapolated
to packets per second.

The headline figure drops each summary at once, so it measures the decoder
alone; the second figure keeps them all in a list, as a capture does, and so
includes the garbage collector's work on a growing heap of tuples.

Every frame has explicit Ethernet addresses (a bare scapy ``Ether()`` would send
ARP on the real network); nothing is sent anywhere.

    .venv/bin/python benchmarks/decode.py [--count N]
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
from collections import Counter
from collections.abc import Callable

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NS, IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet

from engine import decode as decoder
from engine import linktypes

CLIENT_MAC, ROUTER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:fe"
SCAPY_SUBSET = 5_000
TEMPLATES = 400


def tls_client_hello(server_name: str) -> bytes:
    """A TLS 1.2 record holding a ClientHello with a server_name extension."""
    name = server_name.encode()
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    extensions = struct.pack("!HH", 0, len(sni)) + sni + struct.pack("!HH", 23, 0)
    body = (
        b"\x03\x03"
        + bytes(32)
        + b"\x20"
        + bytes(32)
        + struct.pack("!H", 6)
        + b"\x13\x01\x13\x02\xc0\x2f"
        + b"\x01\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )
    handshake = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def tls_record(content: int, size: int, rng: random.Random) -> bytes:
    """A TLS 1.2 record of random (encrypted-looking) content."""
    return struct.pack("!BBBH", content, 3, 3, size) + rng.randbytes(size)


class Mix:
    """Builds the templates: one method per kind of traffic, chosen by weight."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)

    def hosts(self) -> tuple[str, str, bool]:
        """A client/server pair, IPv6 about a quarter of the time."""
        rng = self.rng
        if rng.random() < 0.25:
            return (
                f"2001:db8::{rng.randrange(1, 50):x}",
                f"2606:4700::{rng.randrange(1, 9):x}",
                True,
            )
        return (
            f"192.168.1.{rng.randrange(2, 60)}",
            f"104.16.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            False,
        )

    def ip(self, reverse: bool = False) -> Packet:
        """Ethernet and IP headers between a random client and server."""
        client, server, six = self.hosts()
        src, dst = (server, client) if reverse else (client, server)
        ether = (
            Ether(src=ROUTER_MAC, dst=CLIENT_MAC)
            if reverse
            else Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
        )
        return ether / (IPv6(src=src, dst=dst) if six else IP(src=src, dst=dst))

    def tcp(self, dport: int, flags: str, payload: bytes = b"", reverse: bool = False) -> Packet:
        """A TCP segment of a connection to ``dport``."""
        rng = self.rng
        port = rng.randrange(32768, 61000)
        sport, dport = (dport, port) if reverse else (port, dport)
        segment = TCP(
            sport=sport,
            dport=dport,
            flags=flags,
            seq=rng.randrange(2**32),
            ack=rng.randrange(2**32) if "A" in flags else 0,
            window=rng.choice([502, 501, 64240, 65535]),
        )
        return self.ip(reverse) / segment / payload

    def tcp_ack(self) -> Packet:
        """A bare ACK (or SYN, FIN, RST): the most common frame of all."""
        flags = self.rng.choice(["A", "A", "A", "A", "S", "SA", "FA", "RA"])
        return self.tcp(self.rng.choice([443, 443, 80, 22]), flags, reverse=self.rng.random() < 0.5)

    def tls_data(self) -> Packet:
        """Encrypted application data, of a few hundred to 1,400 bytes."""
        size = self.rng.choice([31, 100, 600, 1380])
        return self.tcp(443, "PA", tls_record(23, size, self.rng), self.rng.random() < 0.6)

    def tls_handshake(self) -> Packet:
        """A ClientHello with SNI, or a ServerHello flight, or a CCS + Finished."""
        choice = self.rng.randrange(3)
        if choice == 0:
            name = f"www.example{self.rng.randrange(100)}.com"
            return self.tcp(443, "PA", tls_client_hello(name))
        if choice == 1:
            hello = b"\x02" + struct.pack("!I", 70)[1:] + b"\x03\x03" + bytes(68)
            record = struct.pack("!BBBH", 22, 3, 3, len(hello)) + hello
            return self.tcp(443, "PA", record + tls_record(23, 900, self.rng), reverse=True)
        return self.tcp(443, "PA", tls_record(20, 1, self.rng) + tls_record(22, 40, self.rng))

    def http(self) -> Packet:
        """A plain-HTTP request or response."""
        if self.rng.random() < 0.5:
            path = f"/assets/{self.rng.randrange(1000)}.js"
            request = f"GET {path} HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
            return self.tcp(80, "PA", request.encode())
        reply = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 300\r\n\r\n"
        return self.tcp(80, "PA", reply + bytes(300), reverse=True)

    def dns(self) -> Packet:
        """A DNS query or its response with one to three answers."""
        rng = self.rng
        name = f"host{rng.randrange(500)}.example.org"
        ident = rng.randrange(65536)
        question = DNSQR(qname=name, qtype=rng.choice(["A", "AAAA", "HTTPS"]))
        ether = Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
        if rng.random() < 0.5:
            message = DNS(id=ident, rd=1, qd=question)
            return (
                ether
                / IP(src="192.168.1.5", dst="192.168.1.1")
                / UDP(sport=rng.randrange(32768, 61000), dport=53)
                / message
            )
        answers = [
            DNSRR(rrname=name, type="A", rdata=f"93.184.{rng.randrange(256)}.{i}")
            for i in range(1, rng.randrange(2, 5))
        ]
        message = DNS(id=ident, qr=1, rd=1, ra=1, qd=question, an=answers)
        return (
            ether
            / IP(src="192.168.1.1", dst="192.168.1.5")
            / UDP(sport=53, dport=rng.randrange(32768, 61000))
            / message
        )

    def udp(self) -> Packet:
        """Other UDP: QUIC-sized datagrams of random bytes."""
        rng = self.rng
        payload = rng.randbytes(rng.choice([40, 1200, 1350]))
        return (
            self.ip(rng.random() < 0.5)
            / UDP(sport=rng.randrange(32768, 61000), dport=443)
            / payload
        )

    def icmp(self) -> Packet:
        """Pings (v4 and v6) and an occasional neighbour solicitation."""
        rng = self.rng
        ether = Ether(src=CLIENT_MAC, dst=ROUTER_MAC)
        choice = rng.randrange(4)
        if choice == 0:
            return ether / IP(src="192.168.1.5", dst="1.1.1.1") / ICMP(id=7, seq=rng.randrange(100))
        if choice == 1:
            return ether / IP(src="1.1.1.1", dst="192.168.1.5") / ICMP(type=0, id=7, seq=3)
        if choice == 2:
            echo = ICMPv6EchoRequest if rng.random() < 0.5 else ICMPv6EchoReply
            return ether / IPv6(src="2001:db8::5", dst="2606:4700::1111") / echo(id=9, seq=4)
        return ether / IPv6(src="fe80::1", dst="ff02::1:ff00:2") / ICMPv6ND_NS(tgt="fe80::2")

    def arp(self) -> Packet:
        """An ARP request or reply on the LAN."""
        rng = self.rng
        if rng.random() < 0.5:
            return Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(
                op=1, hwsrc=CLIENT_MAC, psrc="192.168.1.5", pdst=f"192.168.1.{rng.randrange(1, 60)}"
            )
        return Ether(src=ROUTER_MAC, dst=CLIENT_MAC) / ARP(
            op=2, hwsrc=ROUTER_MAC, psrc="192.168.1.1", hwdst=CLIENT_MAC, pdst="192.168.1.5"
        )

    def templates(self, count: int) -> list[tuple[str, bytes]]:
        """``count`` frames, each kind in proportion to its weight."""
        kinds: list[tuple[str, Callable[[], Packet], int]] = [
            ("tcp", self.tcp_ack, 36),
            ("tls-data", self.tls_data, 26),
            ("udp", self.udp, 14),
            ("dns", self.dns, 8),
            ("tls-handshake", self.tls_handshake, 4),
            ("http", self.http, 4),
            ("icmp", self.icmp, 4),
            ("arp", self.arp, 4),
        ]
        names = [name for name, _, _ in kinds]
        builders = {name: build for name, build, _ in kinds}
        weights = [weight for _, _, weight in kinds]
        chosen = self.rng.choices(names, weights, k=count)
        return [(name, bytes(builders[name]())) for name in chosen]


def best_of(runs: int, work: Callable[[], object]) -> float:
    """The shortest of ``runs`` timings of ``work``, in seconds."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv: list[str] | None = None) -> int:
    """Build the mix, time both decoders, print packets/s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=100_000, help="frames to decode")
    parser.add_argument("--seed", type=int, default=1, help="seed of the traffic mix")
    args = parser.parse_args(argv)
    count = max(1, args.count)

    templates = Mix(args.seed).templates(min(TEMPLATES, count))
    frames = [templates[i % len(templates)][1] for i in range(count)]
    kinds = Counter(name for name, _ in templates)
    average = sum(len(frame) for frame in frames) / count
    print(f"{count:,} frames from {len(templates)} templates, {average:.0f} bytes on average")
    print(
        "mix: "
        + ", ".join(f"{name} {n * 100 / len(templates):.0f}%" for name, n in kinds.most_common())
    )

    decode = decoder.decode
    ethernet = linktypes.ETHERNET
    errors_before = decoder.decoder_errors

    def decode_all() -> None:
        for frame in frames:
            decode(ethernet, frame)

    ours = count / best_of(3, decode_all)
    kept = count / best_of(3, lambda: [decode(ethernet, frame) for frame in frames])
    if decoder.decoder_errors != errors_before:
        print(f"warning: {decoder.decoder_errors - errors_before} decoder errors", file=sys.stderr)

    subset = frames[: min(SCAPY_SUBSET, count)]
    scapy_seconds = best_of(1, lambda: [Ether(frame) for frame in subset])
    theirs = len(subset) / scapy_seconds

    print(f"summary decoder: {ours:,.0f} packets/s")
    print(f"  (keeping every summary in a list, garbage collector on: {kept:,.0f} packets/s)")
    print(f"scapy Ether(): {theirs:,.0f} packets/s")
    print(f"ratio: {ours / theirs:,.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
