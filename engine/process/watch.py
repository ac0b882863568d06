"""New TCP connections resolved the moment their SYN is sent, before a program exits.

The capture ring hands packets over in blocks, up to 20 ms late; a ``curl`` to a local
server has connected, fetched and exited by then, and its socket is gone. This thread
reads only SYNs (a kernel filter; a plain socket, no ring, so each arrives at once),
and resolves both ends of each new connection while they still exist: the sender's
socket, and the listener that will accept it. The capture loop then finds the answer in
the :class:`~engine.process.attribution.Attributor`'s flow cache.
"""

from __future__ import annotations

import socket
import threading

from engine import bpf, linktypes
from engine.errors import PermissionDeniedError, from_os_error
from engine.live import ARPHRD_ETHERNET_LIKE, ETH_P_ALL, interface_hardware_type
from engine.packet.model import Packet
from engine.process.attribution import Attributor

SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
ARPHRD_LOOPBACK = 772
FIRST_SYN = (
    "(tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn)"
    " or (ip6 and ip6[6] == 6 and ip6[53] & 0x12 == 0x02)"
)
"""A connection's first packet (SYN without ACK), IPv4 and IPv6 (no extension headers)."""


class SynWatcher:
    """A thread resolving every new TCP connection on an interface as its SYN goes by."""

    def __init__(self, attributor: Attributor, interface: str) -> None:
        self._attributor = attributor
        hatype = interface_hardware_type(interface) if interface != "any" else -1
        ethernet = hatype in ARPHRD_ETHERNET_LIKE
        self._linktype = linktypes.ETHERNET if ethernet else linktypes.RAW
        compiled = bpf.compile_filter(FIRST_SYN, self._linktype, 128)
        kind = socket.SOCK_RAW if ethernet else socket.SOCK_DGRAM
        try:
            self._sock = socket.socket(socket.AF_PACKET, kind, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise PermissionDeniedError(
                "telling which program opened a connection needs CAP_NET_RAW (see SECURITY.md)"
            ) from None
        try:
            bpf.attach(self._sock, compiled)
            if hatype == ARPHRD_LOOPBACK:  # lo shows each frame twice: keep one
                self._sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            if interface != "any":
                self._sock.bind((interface, ETH_P_ALL))
        except OSError as error:
            self._sock.close()
            raise from_os_error(error, f"watch new connections on {interface}") from None
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self.seen = 0
        """SYNs read, for the benchmark."""
        self._thread = threading.Thread(target=self._run, name="syn-watcher", daemon=True)

    def start(self) -> SynWatcher:
        """Start watching; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the socket."""
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._sock.recv(256)
            except TimeoutError:
                continue
            except OSError:
                return
            self.seen += 1
            self._attributor.learn_connection(Packet(self._linktype, data))
