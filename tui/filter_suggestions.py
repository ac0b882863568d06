"""Capture filters for the selected packet: its conversation, its host, its port."""

from __future__ import annotations

from engine.correlate import tcp_segment
from engine.events import PacketSummary


def _is_ip(address: str) -> bool:
    return address.count(".") == 3 or (":" in address and address.count(":") != 5)


def packet_filters(packet: PacketSummary | None) -> list[tuple[str, str]]:
    """(label, BPF expression) for this conversation, host and port, when they apply."""
    if packet is None or not _is_ip(packet.src):
        if packet is not None and packet.src.count(":") == 5:
            return [("this host  ", f"ether host {packet.src}")]
        return []
    host = f"host {packet.src}"
    if packet.sport is None or packet.dport is None:
        pair = f"host {packet.src} and host {packet.dst}"
        return [("this pair  ", pair), ("this host  ", host)]
    transport = "tcp" if tcp_segment(packet) is not None else "udp"
    conversation = (
        f"host {packet.src} and host {packet.dst} and {transport} port {packet.sport} "
        f"and {transport} port {packet.dport}"
    )
    service = min(packet.sport, packet.dport)
    return [
        ("this conversation  ", conversation),
        ("this host  ", host),
        ("this port  ", f"{transport} port {service}"),
    ]
