"""A generated minute of demo traffic as a pcap, for ``livetap demo`` without root.

Deterministic: the same frames every time (sensor messages, DNS, HTTP, pings),
built with explicit Ethernet addresses; nothing is sent anywhere.
"""

from __future__ import annotations

from pathlib import Path

from engine import linktypes
from engine.pcapio import PcapRecord, write_pcap_file
from tui.demo.traffic import dns_query, icmp_echo, sensor_message

CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
DURATION = 60.0
STEP = 0.25


def _frames() -> list[tuple[float, bytes]]:
    """(offset in seconds, frame) for a minute of chatter."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    def eth(layer: object, back: bool = False) -> bytes:
        src, dst = (SERVER_MAC, CLIENT_MAC) if back else (CLIENT_MAC, SERVER_MAC)
        return bytes(Ether(src=src, dst=dst) / layer)

    frames: list[tuple[float, bytes]] = []
    for tick in range(int(DURATION / STEP)):
        at = tick * STEP
        message = sensor_message(tick % 3 + 1, tick)
        frames.append(
            (
                at,
                eth(
                    IP(src="10.0.0.5", dst="10.0.0.9")
                    / UDP(sport=51000, dport=47000)
                    / Raw(message)
                ),
            )
        )
        if tick % 4 == 0:
            query = dns_query(tick, "sensor.demo.internal")
            frames.append(
                (
                    at + 0.01,
                    eth(
                        IP(src="10.0.0.5", dst="10.0.0.53")
                        / UDP(sport=53000, dport=53)
                        / Raw(query)
                    ),
                )
            )
        if tick % 8 == 0:
            ping = icmp_echo(0x4C54, tick // 8)
            frames.append((at + 0.02, eth(IP(src="10.0.0.5", dst="10.0.0.9", proto=1) / Raw(ping))))
        if tick % 10 == 0:
            port = 40000 + tick
            request = b"GET /api/stats?round=%d HTTP/1.1\r\nHost: demo\r\n\r\n" % tick
            reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            reply += b'Content-Length: 11\r\n\r\n{"ok":true}'
            frames += [
                (
                    at + 0.03,
                    eth(
                        IP(src="10.0.0.5", dst="10.0.0.80")
                        / TCP(sport=port, dport=80, flags="S", seq=1)
                    ),
                ),
                (
                    at + 0.04,
                    eth(
                        IP(src="10.0.0.80", dst="10.0.0.5")
                        / TCP(sport=80, dport=port, flags="SA", seq=9, ack=2),
                        back=True,
                    ),
                ),
                (
                    at + 0.05,
                    eth(
                        IP(src="10.0.0.5", dst="10.0.0.80")
                        / TCP(sport=port, dport=80, flags="PA", seq=2, ack=10)
                        / Raw(request)
                    ),
                ),
                (
                    at + 0.07,
                    eth(
                        IP(src="10.0.0.80", dst="10.0.0.5")
                        / TCP(sport=80, dport=port, flags="PA", seq=10, ack=2 + len(request))
                        / Raw(reply),
                        back=True,
                    ),
                ),
            ]
    return sorted(frames, key=lambda item: item[0])


def write_recording(path: Path, start: float = 1_700_000_000.0) -> Path:
    """Write the generated minute to ``path``."""
    records = [
        PcapRecord(start + at, len(frame), linktypes.ETHERNET, frame) for at, frame in _frames()
    ]
    write_pcap_file(path, records, fmt="pcap")
    return path
