"""Captures holding each situation Wireshark's TCP analysis names, for tests against tshark.

Every frame has explicit Ethernet addresses and private addresses; the frames only go
into files (nothing is sent). Each entry is (seconds after the start, frame), so the
timing rules (a fast retransmission within 20 ms of the duplicate ACKs, an out-of-order
segment within 3 ms) are what the test says they are.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet, Raw

from engine import linktypes
from engine.pcapio import PcapRecord, write_pcap_file

CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
START = 1_700_000_000.0


class Conversation:
    """One TCP connection's frames, with both sides' sequence numbers kept by hand."""

    def __init__(self, client: str, server: str, sport: int, dport: int, v6: bool = False) -> None:
        self.client, self.server, self.sport, self.dport, self.v6 = client, server, sport, dport, v6

    def frame(
        self,
        from_client: bool,
        flags: str,
        seq: int,
        ack: int,
        payload: bytes = b"",
        *,
        window: int = 8192,
        options: list[tuple[str, object]] | None = None,
    ) -> Packet:
        """One segment, client to server or back."""
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        sport, dport = (self.sport, self.dport) if from_client else (self.dport, self.sport)
        macs = (CLIENT_MAC, SERVER_MAC) if from_client else (SERVER_MAC, CLIENT_MAC)
        ip = IPv6(src=src, dst=dst) if self.v6 else IP(src=src, dst=dst)
        tcp = TCP(
            sport=sport,
            dport=dport,
            flags=flags,
            seq=seq & 0xFFFFFFFF,
            ack=ack & 0xFFFFFFFF,
            window=window,
            options=options or [],
        )
        packet = Ether(src=macs[0], dst=macs[1]) / ip / tcp
        return packet / Raw(payload) if payload else packet


def data(size: int, fill: bytes = b"d") -> bytes:
    return fill * size


def analysis_frames() -> list[tuple[float, Packet]]:
    """One connection going through every analysis flag, another beside it, UDP streams."""
    a = Conversation("10.0.0.1", "10.0.0.2", 40000, 80)
    b = Conversation("10.0.0.3", "10.0.0.2", 40001, 8080)
    c, s = 1000, 5000  # the client's and the server's initial sequence numbers
    u1 = Ether(src=CLIENT_MAC, dst=SERVER_MAC) / IP(src="10.0.0.1", dst="10.0.0.9")
    u2 = Ether(src=SERVER_MAC, dst=CLIENT_MAC) / IP(src="10.0.0.9", dst="10.0.0.1")
    v6 = Conversation("fd00::1", "fd00::2", 40002, 443, v6=True)
    vxlan = (
        Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / IP(src="10.0.0.1", dst="10.0.0.5")
        / UDP(sport=49152, dport=4789)
        / VXLAN(vni=42)
        / Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / IP(src="10.9.0.1", dst="10.9.0.2")
    )
    frames: list[tuple[float, Packet]] = [
        (0.000, a.frame(True, "S", c, 0)),
        (0.010, a.frame(False, "SA", s, c + 1)),
        (0.020, a.frame(True, "A", c + 1, s + 1)),
        (0.021, u1 / UDP(sport=5000, dport=53) / Raw(b"q" * 20)),
        (0.030, a.frame(True, "PA", c + 1, s + 1, data(100))),
        (0.031, b.frame(True, "S", 7000, 0, options=[("WScale", 7), ("MSS", 1460)])),
        (0.040, a.frame(True, "PA", c + 101, s + 1, data(100))),
        (0.041, u2 / UDP(sport=53, dport=5000) / Raw(b"r" * 30)),
        (0.050, a.frame(True, "PA", c + 1, s + 1, data(100))),  # retransmission
        (0.060, a.frame(False, "A", s + 1, c + 201)),
        (0.070, a.frame(True, "PA", c + 301, s + 1, data(100))),  # previous not captured
        (0.080, a.frame(False, "A", s + 1, c + 201)),  # dup ack 1
        (0.081, a.frame(False, "A", s + 1, c + 201)),  # dup ack 2
        (0.082, a.frame(False, "A", s + 1, c + 201)),  # dup ack 3
        (0.085, a.frame(True, "PA", c + 201, s + 1, data(100))),  # fast retransmission
        (0.090, a.frame(False, "A", s + 1, c + 401)),
        (0.095, a.frame(True, "PA", c + 301, s + 1, data(100))),  # spurious: already acked
        (0.100, u1 / UDP(sport=5001, dport=53) / Raw(b"q" * 20)),
        (1.100, a.frame(True, "A", c + 400, s + 1)),  # keep-alive
        (1.110, a.frame(False, "A", s + 1, c + 401)),  # keep-alive ack
        (1.120, a.frame(False, "A", s + 1, c + 401, window=0)),  # zero window
        (1.130, a.frame(True, "PA", c + 401, s + 1, data(1))),  # zero window probe
        (1.140, a.frame(False, "A", s + 1, c + 401, window=0)),  # zero window probe ack
        (1.150, a.frame(False, "A", s + 1, c + 401, window=8192)),  # window update
        (1.200, a.frame(True, "PA", c + 501, s + 1, data(100))),  # previous not captured
        (1.201, a.frame(True, "PA", c + 401, s + 1, data(100))),  # out of order
        (1.210, a.frame(False, "A", s + 1, c + 601, window=300)),
        (1.220, a.frame(True, "PA", c + 601, s + 1, data(300))),  # window full
        (1.230, a.frame(False, "A", s + 1, c + 9999)),  # acks unseen data
        (1.240, b.frame(True, "S", 7000, 0, options=[("WScale", 7), ("MSS", 1460)])),
        (1.250, a.frame(True, "FA", c + 901, s + 1)),
        (1.260, a.frame(False, "FA", s + 1, c + 902)),
        (1.270, a.frame(True, "A", c + 902, s + 2)),
        (1.280, a.frame(True, "S", 90000, 0)),  # the ports again: a new stream
        (1.290, u2 / UDP(sport=53, dport=5001) / Raw(b"r" * 30)),
        (1.300, v6.frame(True, "S", 1, 0)),
        (1.310, v6.frame(False, "SA", 0xFFFFFFF0, 2)),  # the server's numbers wrap around
        (1.320, v6.frame(True, "A", 2, 0xFFFFFFF1)),
        (1.330, v6.frame(False, "PA", 0xFFFFFFF1, 2, data(40))),
        (1.340, vxlan / UDP(sport=6000, dport=7000) / Raw(b"inner")),
        (1.350, u1 / UDP(sport=5000, dport=53) / Raw(b"q" * 20)),
    ]
    return frames


def write_timed(path: Path, frames: list[tuple[float, Packet]]) -> Path:
    """The frames as an Ethernet pcap, each at its time."""
    records = []
    for offset, frame in frames:
        raw = bytes(frame)
        records.append(PcapRecord(START + offset, len(raw), linktypes.ETHERNET, raw))
    write_pcap_file(path, records)
    return path


def unseen_frames() -> list[tuple[float, Packet]]:
    """ACKs past data the capture missed: once per gap, again only when the ACK moves."""
    a = Conversation("10.0.2.1", "10.0.2.2", 40100, 8080)
    c, s = 100, 900
    return [
        (0.00, a.frame(True, "S", c, 0)),
        (0.01, a.frame(False, "SA", s, c + 1)),
        (0.02, a.frame(True, "A", c + 1, s + 1)),
        (0.03, a.frame(False, "PA", s + 1, c + 1, data(100))),
        (0.04, a.frame(True, "A", c + 1, s + 201)),  # acks 100 bytes never seen
        (0.05, a.frame(True, "PA", c + 1, s + 201, data(10))),  # the same ACK again
        (0.06, a.frame(False, "PA", s + 301, c + 11, data(50))),  # its gap: not captured
        (0.07, a.frame(True, "A", c + 11, s + 351)),
        (0.08, a.frame(True, "A", c + 11, s + 451)),  # moves past what was seen again
        (0.09, a.frame(False, "PA", s + 451, c + 11, data(5))),
    ]


def trouble_frames() -> list[tuple[float, Packet]]:
    """The analysis scenarios, then a reset and an ICMP error: every default colouring rule."""
    a = Conversation("10.0.0.1", "10.0.0.2", 41000, 80)
    icmp = (
        Ether(src=SERVER_MAC, dst=CLIENT_MAC)
        / IP(src="10.0.0.2", dst="10.0.0.1")
        / ICMP(type=3, code=3)
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / UDP(sport=5000, dport=9)
    )
    return [
        *analysis_frames(),
        (1.36, a.frame(True, "S", 1, 0)),
        (1.37, a.frame(False, "R", 0, 2)),
        (1.38, icmp),
    ]
