"""Endpoints and top talkers, derived from the IP conversations (no work per packet).

An endpoint's totals are the sums over its conversations, which is how
``tshark -z endpoints,ip`` counts them: transmitted from its side, received from the
other.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from engine.analysis.addresses import PassiveNames, format_address
from engine.analysis.conversations import ADDR_A, ADDR_B, BYTES_AB, BYTES_BA, FRAMES_AB, FRAMES_BA


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One address's traffic."""

    address: str
    raw: bytes
    tx_packets: int
    tx_bytes: int
    rx_packets: int
    rx_bytes: int
    name: str | None = None
    """The name the capture's DNS gave it."""

    @property
    def packets(self) -> int:
        """Packets sent and received."""
        return self.tx_packets + self.rx_packets

    @property
    def bytes(self) -> int:
        """Bytes sent and received."""
        return self.tx_bytes + self.rx_bytes

    def to_json(self) -> dict[str, Any]:
        """The report row."""
        return {
            "address": self.address,
            "name": self.name,
            "packets": self.packets,
            "bytes": self.bytes,
            "tx_packets": self.tx_packets,
            "tx_bytes": self.tx_bytes,
            "rx_packets": self.rx_packets,
            "rx_bytes": self.rx_bytes,
        }


def endpoints(records: Iterable[list[Any]], names: PassiveNames) -> list[Endpoint]:
    """Every address of the IP conversations, in order of first appearance."""
    totals: dict[bytes, list[int]] = {}
    for record in records:
        a = totals.get(record[ADDR_A])
        if a is None:
            a = totals[record[ADDR_A]] = [0, 0, 0, 0]
        b = totals.get(record[ADDR_B])
        if b is None:
            b = totals[record[ADDR_B]] = [0, 0, 0, 0]
        frames_ab, bytes_ab = record[FRAMES_AB], record[BYTES_AB]
        frames_ba, bytes_ba = record[FRAMES_BA], record[BYTES_BA]
        a[0] += frames_ab
        a[1] += bytes_ab
        a[2] += frames_ba
        a[3] += bytes_ba
        b[0] += frames_ba
        b[1] += bytes_ba
        b[2] += frames_ab
        b[3] += bytes_ab
    return [
        Endpoint(format_address(raw), raw, t[0], t[1], t[2], t[3], names.name(raw))
        for raw, t in totals.items()
    ]


def top(found: list[Endpoint], count: int, by: str) -> list[Endpoint]:
    """The ``count`` endpoints with the most bytes (``by="bytes"``) or packets."""
    if by == "bytes":
        return heapq.nlargest(count, found, key=lambda e: (e.bytes, e.packets))
    return heapq.nlargest(count, found, key=lambda e: (e.packets, e.bytes))
