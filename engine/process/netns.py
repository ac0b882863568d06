"""Sockets of other network namespaces: found only to say so, never to name a program.

A packet whose socket this namespace's kernel tables do not hold may belong to a
container or a ``ip netns`` namespace. Its addresses there are that namespace's own (a
bridge or NAT may stand between), so livetap says "other network namespace" instead of
guessing. Each namespace's tables are read through one of its processes'
``/proc/PID/net/{tcp,udp}{,6}``; only on a miss, and at most once a second.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from engine.process.procfs import PROC, net_namespace
from engine.process.sockdiag import Endpoint

REFRESH_SECONDS = 1.0
TABLE_SECONDS = 0.1


def _hex(endpoint: Endpoint) -> str:
    """An address and port as ``/proc/net/tcp`` prints them (host-order 32-bit words)."""
    address, port = endpoint
    words = [
        f"{int.from_bytes(address[i : i + 4], 'little'):08X}" for i in range(0, len(address), 4)
    ]
    return f"{''.join(words)}:{port:04X}"


class Namespaces:
    """The network namespaces of this host's processes, other than livetap's own."""

    def __init__(self) -> None:
        self.own = net_namespace("self")
        self._others: dict[str, int] = {}
        """namespace → one pid in it."""
        self._read_at = -REFRESH_SECONDS
        self._tables: dict[tuple[str, str], tuple[float, str]] = {}
        """(namespace, table) → when it was read and its text: many misses in a burst
        (sockets closed before they were looked up) read each table once."""

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._read_at < REFRESH_SECONDS:
            return
        self._read_at = now
        others: dict[str, int] = {}
        for entry in Path(PROC).iterdir():
            if entry.name.isdigit():
                found = net_namespace(entry.name)
                if found is not None and found != self.own and found not in others:
                    others[found] = int(entry.name)
        self._others = others
        self._tables = {key: value for key, value in self._tables.items() if key[0] in others}

    def holding(self, protocol: int, local: Endpoint, remote: Endpoint) -> str | None:
        """The other namespace (``net:[4026532…]``) whose tables hold this socket, if any."""
        self._refresh()
        name = "tcp" if protocol == socket.IPPROTO_TCP else "udp"
        table = name if len(local[0]) == 4 else f"{name}6"
        nowhere = _hex((bytes(len(local[0])), 0))
        wanted = [f" {_hex(local)} {_hex(remote)} "]
        if protocol == socket.IPPROTO_UDP:  # unconnected, maybe bound to any address
            wanted += [
                f" {_hex(local)} {nowhere} ",
                f" {_hex((bytes(len(local[0])), local[1]))} {nowhere} ",
            ]
        now = time.monotonic()
        for namespace, pid in self._others.items():
            cached = self._tables.get((namespace, table))
            if cached is not None and now - cached[0] < TABLE_SECONDS:
                text = cached[1]
            else:
                try:
                    text = Path(f"{PROC}/{pid}/net/{table}").read_text("ascii")
                except OSError:
                    continue
                self._tables[(namespace, table)] = (now, text)
            if any(line in text for line in wanted):
                return namespace
        return None
