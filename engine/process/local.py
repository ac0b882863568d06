"""Which end of a packet is this host: its interfaces' addresses, and all of loopback."""

from __future__ import annotations

import socket
import time

REFRESH_SECONDS = 2.0
"""Addresses come and go (DHCP, VPNs): a miss re-reads them at most this often."""
_LOOPBACK_V6 = socket.inet_pton(socket.AF_INET6, "::1")


class LocalAddresses:
    """The packed IPv4 and IPv6 addresses of this host's interfaces (lo included)."""

    def __init__(self) -> None:
        self._addresses: frozenset[bytes] = frozenset()
        self._read_at = -REFRESH_SECONDS
        self._refresh(force=True)

    def _refresh(self, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self._read_at < REFRESH_SECONDS:
            return False
        self._read_at = now
        import psutil

        found = {_LOOPBACK_V6}
        for entries in psutil.net_if_addrs().values():
            for entry in entries:
                if entry.family in (socket.AF_INET, socket.AF_INET6):
                    address = entry.address.split("%")[0]
                    found.add(socket.inet_pton(entry.family, address))
        changed = frozenset(found) != self._addresses
        self._addresses = frozenset(found)
        return changed

    def is_local(self, address: bytes) -> bool:
        """Whether a packed address is this host's (any 127.0.0.0/8 address is)."""
        if address in self._addresses or (len(address) == 4 and address[0] == 127):
            return True
        return self._refresh() and address in self._addresses
