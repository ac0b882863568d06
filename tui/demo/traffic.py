"""Bounded background chatter to 127.0.0.1: DNS, UDP, ICMP and the example sensor protocol.

A fixed, low rate (a few packets a second) and only ever to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import struct
import threading

LOOPBACK = "127.0.0.1"
SENSOR_PORT = 47000
INTERVAL = 0.25


def sensor_message(kind: int, seq: int) -> bytes:
    """A message of the example protocol (examples/sensor.json): reading, config or event."""
    if kind == 1:
        body = (
            bytes([2])
            + struct.pack("!Bfh", 1, 20.0 + seq % 5, -5)
            + struct.pack("!Bfh", 2, 40.0, 100)
        )
    elif kind == 2:
        body = (
            struct.pack("!Hd", 60, 12.25) + bytes([10, 0, 0, 9]) + bytes(15) + b"\x01" + b"roof\0"
        )
    else:
        body = struct.pack("!Hb", 0x0200, -3) + b"front door"
    name = b"kitchen"
    header = struct.pack("!HBBBI", 0x534E, 1, kind, 0x15, seq)
    header += bytes.fromhex("020000000099") + bytes([len(name)]) + name
    return header + struct.pack("!H", len(body)) + body + b"\xbe\xef"


def dns_query(ident: int, name: str) -> bytes:
    """A standard DNS query for ``name`` (A record)."""
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\x00"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)


def dns_answer(query: bytes, address: bytes = b"\x7f\x00\x00\x01") -> bytes | None:
    """A response to an A query, pointing at 127.0.0.1 (None if it is not one)."""
    if len(query) < 12:
        return None
    ident, _flags, questions = struct.unpack_from("!HHH", query)
    if questions != 1:
        return None
    header = struct.pack("!HHHHHH", ident, 0x8180, 1, 1, 0, 0)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + address
    return header + query[12:] + answer


def icmp_echo(ident: int, seq: int) -> bytes:
    """An ICMP echo request with a correct checksum."""
    payload = b"livetap demo"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    data = header + payload
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    checksum = ~(total + (total >> 16)) & 0xFFFF
    return struct.pack("!BBHHH", 8, 0, checksum, ident, seq) + payload


class DemoTraffic:
    """Sends the chatter from a thread until stopped."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="livetap-demo-traffic", daemon=True)
        self.sent = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)

    def _listeners(self) -> list[socket.socket]:
        """Sockets that take the chatter (so the kernel sends no port unreachable errors)."""
        opened = []
        for port in (SENSOR_PORT, 9999, 53):
            listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                listener.bind((LOOPBACK, port))
            except OSError:
                listener.close()  # taken, or port 53 without root: the chatter still flows
                continue
            listener.setblocking(False)
            opened.append(listener)
        return opened

    def _answer(self, listeners: list[socket.socket]) -> None:
        """Read what arrived; the one on port 53 answers DNS queries."""
        for listener in listeners:
            with contextlib.suppress(OSError):
                while True:
                    data, peer = listener.recvfrom(2048)
                    if listener.getsockname()[1] == 53:
                        reply = dns_answer(data)
                        if reply is not None:
                            listener.sendto(reply, peer)

    def _run(self) -> None:
        listeners = self._listeners()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        icmp: socket.socket | None = None
        with contextlib.suppress(OSError):
            icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        names = itertools.cycle(["api.demo.internal", "sensor.demo.internal", "cdn.demo.internal"])
        try:
            for tick in itertools.count():
                if self._stop.wait(self.interval):
                    return
                self._answer(listeners)
                with contextlib.suppress(OSError):
                    udp.sendto(sensor_message(tick % 3 + 1, tick), (LOOPBACK, SENSOR_PORT))
                    if tick % 4 == 0:
                        udp.sendto(dns_query(tick & 0xFFFF, next(names)), (LOOPBACK, 53))
                    if tick % 6 == 0:
                        udp.sendto(b"heartbeat %d" % tick, (LOOPBACK, 9999))
                    if icmp is not None and tick % 8 == 0:
                        icmp.sendto(icmp_echo(0x4C54, tick // 8), (LOOPBACK, 0))
                    self.sent += 1
        finally:
            for listener in listeners:
                listener.close()
            udp.close()
            if icmp is not None:
                icmp.close()
