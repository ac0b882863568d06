"""The kernel's socket tables through netlink ``sock_diag``, without ``/proc/net/*``.

One request names a socket by its four-tuple and gets its inode (the key to the owning
process's ``/proc/PID/fd``), its owner's uid and its TCP state; one dump lists every
socket of a protocol. This is what ``ss`` reads: faster than parsing ``/proc/net/tcp``
and exact (the kernel does the lookup, wildcard-bound UDP sockets included). It needs no
privilege: the inode and uid of every user's sockets are visible to everyone.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
ALL_STATES = 0xFFFFFFFF
NO_COOKIE = b"\xff" * 8
"""INET_DIAG_NOCOOKIE: an exact lookup that does not check the socket's cookie."""

TCP_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "NEW_SYN_RECV",
}
TIME_WAIT = 6
LISTEN = 10
NEW_SYN_RECV = 12

_NLMSGHDR = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_REQUEST = struct.Struct("=BBBBI")  # family, protocol, extensions, pad, states
_SOCKID = struct.Struct("!HH16s16s")  # ports and addresses are in network order
_SOCKID_TAIL = struct.Struct("=I8s")  # interface index, cookie (host order)
_MESSAGE = struct.Struct("=BBBB")  # family, state, timer, retransmits
_MESSAGE_TAIL = struct.Struct("=IIIII")  # expires, receive queue, send queue, uid, inode
_MESSAGE_SIZE = _MESSAGE.size + _SOCKID.size + _SOCKID_TAIL.size + _MESSAGE_TAIL.size

Endpoint = tuple[bytes, int]
"""A packed address (4 or 16 bytes) and a port."""


@dataclass(frozen=True, slots=True)
class SocketEntry:
    """One kernel socket as sock_diag reports it."""

    protocol: int
    """6 TCP, 17 UDP."""
    local: Endpoint
    remote: Endpoint
    state: int
    uid: int
    inode: int
    """0 for a socket no file holds: TIME_WAIT, a connection not yet accept()ed."""
    cookie: bytes
    """The kernel's unique id of the socket (two 32-bit words)."""

    @property
    def state_name(self) -> str:
        """``ESTABLISHED``, ``TIME_WAIT`` ... (UDP sockets report 7, CLOSE, or 1)."""
        return TCP_STATES.get(self.state, str(self.state))


def _pad(address: bytes) -> bytes:
    return address.ljust(16, b"\0")


def _request(
    family: int, protocol: int, ends: tuple[Endpoint, Endpoint], *, dump: bool, sequence: int
) -> bytes:
    local, remote = ends
    if protocol == socket.IPPROTO_UDP:
        # udp_diag looks the socket up as a packet *from* the remote end: src and dst
        # are swapped there "for historical reasons" (net/ipv4/udp_diag.c).
        first, second = remote, local
    else:
        first, second = local, remote
    body = (
        _REQUEST.pack(family, protocol, 0, 0, ALL_STATES)
        + _SOCKID.pack(first[1], second[1], _pad(first[0]), _pad(second[0]))
        + _SOCKID_TAIL.pack(0, NO_COOKIE)
    )
    flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else 0)
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, flags, sequence, 0)
    return header + body


def _parse(message: bytes, protocol: int) -> SocketEntry:
    family, state, _timer, _retrans = _MESSAGE.unpack_from(message, 0)
    sport, dport, src, dst = _SOCKID.unpack_from(message, _MESSAGE.size)
    _if, cookie = _SOCKID_TAIL.unpack_from(message, _MESSAGE.size + _SOCKID.size)
    tail = _MESSAGE.size + _SOCKID.size + _SOCKID_TAIL.size
    _expires, _rq, _wq, uid, inode = _MESSAGE_TAIL.unpack_from(message, tail)
    size = 4 if family == socket.AF_INET else 16
    local, remote = (src[:size], sport), (dst[:size], dport)
    return SocketEntry(protocol, local, remote, state, uid, inode, cookie)


class SockDiag:
    """A netlink socket for sock_diag requests; one per thread that asks."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
        self._sock.bind((0, 0))
        self._sequence = 0
        self.requests = 0
        """How many requests were sent (lookups and dumps), for the benchmark."""

    def close(self) -> None:
        """Release the netlink socket."""
        self._sock.close()

    def lookup(self, protocol: int, local: Endpoint, remote: Endpoint) -> SocketEntry | None:
        """The socket the kernel would deliver remote → local to, or None.

        For TCP that is the connection's socket (also in TIME_WAIT, inode 0) or else a
        listener on the local port; for UDP the connected or the wildcard-bound socket.
        """
        family = socket.AF_INET if len(local[0]) == 4 else socket.AF_INET6
        request = _request(family, protocol, (local, remote), dump=False, sequence=self._next())
        found = self._ask(request, protocol)
        return found[0] if found else None

    def dump(self, protocol: int, family: int) -> list[SocketEntry]:
        """Every socket of this protocol and family in this network namespace."""
        empty = (b"\0" * (4 if family == socket.AF_INET else 16), 0)
        request = _request(family, protocol, (empty, empty), dump=True, sequence=self._next())
        return self._ask(request, protocol)

    def _next(self) -> int:
        self._sequence = (self._sequence + 1) & 0xFFFFFFFF
        self.requests += 1
        return self._sequence

    def _ask(self, request: bytes, protocol: int) -> list[SocketEntry]:
        self._sock.send(request)
        (sequence,) = struct.unpack_from("=I", request, 8)
        found: list[SocketEntry] = []
        while True:
            data = self._sock.recv(1 << 16)
            position = 0
            while position + _NLMSGHDR.size <= len(data):
                length, kind, _flags, seq, _port = _NLMSGHDR.unpack_from(data, position)
                if length < _NLMSGHDR.size:
                    return found
                body = data[position + _NLMSGHDR.size : position + length]
                position += (length + 3) & ~3
                if seq != sequence:
                    continue  # an answer to an earlier request that timed out
                if kind == NLMSG_DONE:
                    return found
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", body, 0)
                    if code == 0 or -code == errno.ENOENT:
                        return found
                    raise OSError(-code, os.strerror(-code))
                if kind == SOCK_DIAG_BY_FAMILY and len(body) >= _MESSAGE_SIZE:
                    found.append(_parse(body, protocol))
                    if not _flags_dump(request):
                        return found


def _flags_dump(request: bytes) -> bool:
    (flags,) = struct.unpack_from("=H", request, 6)
    return bool(flags & NLM_F_DUMP)
