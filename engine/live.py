"""Live capture from a network interface through a memory-mapped packet ring.

The socket is an AF_PACKET socket with a TPACKET_V3 receive ring: the kernel
fills blocks of frames, each with its timestamp and lengths, and this thread
walks a whole block per wake-up without a system call per packet. No scapy
packet is built here; the BPF filter runs in the kernel. Measured in
``../shared/notes/capture.md``: scapy's own sniffing loses most packets beyond a
few thousand per second, a raw socket read keeps up with 100,000+.
"""

from __future__ import annotations

import errno
import mmap
import os
import select
import socket
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from engine import bpf, linktypes
from engine.config import DEFAULT_BUFFER
from engine.errors import (
    LivetapError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
    from_os_error,
)
from engine.file_ring import FileRing
from engine.pcapio import PcapRecord

if TYPE_CHECKING:
    from engine.source import PacketSource

SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_RX_RING = 5
PACKET_STATISTICS = 6
PACKET_VERSION = 10
PACKET_IGNORE_OUTGOING = 23
TPACKET_V3 = 2
TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
PACKET_OUTGOING = 4
ETH_P_ALL = 0x0003

ARPHRD_ETHERNET_LIKE = frozenset({1, 6, 772})
"""Ethernet, IEEE 802 and loopback: frames carry an Ethernet header."""
ARPHRD_RAW_IP = frozenset({0xFFFE, 768, 769, 776, 778, 519, 823})
"""No link header (tun, WireGuard, IP-in-IP, SIT, GRE, raw IP): frames start at IP."""

BLOCK_SIZE = 1 << 18
FRAME_SIZE = 1 << 11
RETIRE_TIMEOUT_MS = 20
"""A block with any packet in it is handed over after at most this long."""

_BLOCK_HEADER = struct.Struct("=III")  # block_status, num_pkts, offset_to_first_pkt
_PACKET_HEADER = struct.Struct("=IIIIIIHH")  # next, sec, nsec, snaplen, len, status, mac, net
_VLAN = struct.Struct("=IIH")  # rxhash, vlan_tci, vlan_tpid
_SOCKADDR_LL = struct.Struct("=HHiHBB8s")  # family, protocol, ifindex, hatype, pkttype, halen, addr
_SOCKADDR_OFFSET = 48  # TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
_STATS = struct.Struct("=III")  # packets, drops, freeze_q_cnt
_STATUS_OFFSET = 8


def interface_hardware_type(interface: str) -> int:
    """The ARPHRD_* type of an interface, from sysfs (1, Ethernet, when unknown)."""
    try:
        return int(Path(f"/sys/class/net/{interface}/type").read_text().strip())
    except (OSError, ValueError):
        return 1


def _interface_index(interface: str) -> int:
    """The kernel's index for a name; "any" is 0, which captures on every interface."""
    if interface == "any":
        return 0
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        raise NotFoundError(
            f"there is no network interface named {interface!r}: "
            "`livetap interfaces` lists the ones this machine has"
        ) from None


class LiveSource:
    """Packets from one interface (or "any"), with a kernel filter and drop counts."""

    ring: FileRing | None = None
    """A live capture is kept in memory, not indexed in a file."""
    can_wait = False
    """The kernel ring overflows if reading pauses."""
    finished = False
    """An interface never ends by itself."""

    def __init__(
        self,
        interface: str,
        snaplen: int = 65535,
        buffer_size: int = DEFAULT_BUFFER,
        expression: str = "",
        promiscuous: bool = True,
    ) -> None:
        self.interface = interface
        self.snaplen = snaplen
        self.description = f"interface {interface}"
        self.source_names: tuple[str, ...] = (interface,)
        self._index = _interface_index(interface)
        hatype = interface_hardware_type(interface) if self._index else -1
        self._cooked = hatype not in ARPHRD_ETHERNET_LIKE and hatype not in ARPHRD_RAW_IP
        self.linktype = (
            linktypes.ETHERNET
            if hatype in ARPHRD_ETHERNET_LIKE
            else linktypes.RAW
            if hatype in ARPHRD_RAW_IP
            else linktypes.LINUX_SLL
        )
        self.source_linktypes: tuple[int, ...] = (self.linktype,)
        self.filter_linktype = (
            linktypes.ETHERNET if self.linktype == linktypes.ETHERNET else linktypes.RAW
        )
        """Frames the kernel filter sees: cooked sockets hand it the network layer."""
        self.filter = bpf.compile_filter(expression, self.filter_linktype, snaplen)
        self._loopback_index = socket.if_nametoindex("lo") if self._index == 0 else -1
        self._drops = 0
        self._sock = self._open_socket(hatype == 772, promiscuous and hatype != 772, buffer_size)
        self._poll = select.poll()
        self._poll.register(self._sock.fileno(), select.POLLIN | select.POLLERR)
        self._block = 0

    def _open_socket(self, loopback: bool, promiscuous: bool, buffer_size: int) -> socket.socket:
        """Open the packet socket, attach the filter, then map the ring."""
        kind = socket.SOCK_DGRAM if self.linktype != linktypes.ETHERNET else socket.SOCK_RAW
        try:
            sock = socket.socket(socket.AF_PACKET, kind, socket.htons(ETH_P_ALL))
        except PermissionError:
            raise PermissionDeniedError(
                f"capturing on {self.interface} needs root or the CAP_NET_RAW capability: "
                "run livetap with sudo, give its python CAP_NET_RAW (see SECURITY.md), "
                "or read a file with -r"
            ) from None
        except OSError as error:
            raise from_os_error(error, f"open a packet socket on {self.interface}") from None
        try:
            # Filter before binding, so no unfiltered packet is ever queued.
            bpf.attach(sock, self.filter)
            if loopback:
                # Every frame on lo reaches a packet socket twice; keep the incoming copy.
                sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            self._blocks = max(4, buffer_size // BLOCK_SIZE)
            frames = BLOCK_SIZE // FRAME_SIZE * self._blocks
            request = struct.pack(
                "=7I", BLOCK_SIZE, self._blocks, FRAME_SIZE, frames, RETIRE_TIMEOUT_MS, 0, 0
            )
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, request)
            self._map = mmap.mmap(
                sock.fileno(),
                BLOCK_SIZE * self._blocks,
                mmap.MAP_SHARED,
                mmap.PROT_READ | mmap.PROT_WRITE,
            )
            if self._index:  # an unbound packet socket hears every interface ("any")
                sock.bind((self.interface, ETH_P_ALL))
            if promiscuous and self._index:
                membership = struct.pack("=iHH8s", self._index, PACKET_MR_PROMISC, 0, b"")
                sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, membership)
        except OSError as error:
            sock.close()
            if error.errno in {errno.ENODEV, errno.ENXIO}:
                raise NotFoundError(f"interface {self.interface} disappeared") from None
            raise from_os_error(error, f"start capturing on {self.interface}") from None
        return sock

    def set_filter(self, expression: str) -> bpf.CompiledFilter:
        """Compile and attach a new filter; on error the old one keeps running."""
        compiled = bpf.compile_filter(expression, self.filter_linktype, self.snaplen)
        try:
            bpf.attach(self._sock, compiled)
        except OSError as error:
            raise from_os_error(error, "attach the filter") from None
        self.filter = compiled
        return compiled

    @property
    def warnings(self) -> list[str]:
        """An interface has nothing to warn about; errors stop the capture instead."""
        return []

    def reread(self, expression: str) -> PacketSource | None:
        """What went by cannot be captured again: the filter applies from now on."""
        return None

    def kernel_drops(self) -> int:
        """Packets the kernel dropped because the ring was full, since the start."""
        try:
            raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size)
        except OSError:
            return self._drops
        _packets, drops, _frozen = _STATS.unpack(raw)
        self._drops += drops  # the kernel resets its counters on every read
        return self._drops

    def read_batch(self, timeout: float, max_records: int = 8192) -> list[PcapRecord]:
        """Whole blocks of packets, waiting at most ``timeout`` seconds for the first."""
        records: list[PcapRecord] = []
        while len(records) < max_records:
            offset = self._block * BLOCK_SIZE
            status, count, first = _BLOCK_HEADER.unpack_from(self._map, offset + _STATUS_OFFSET)
            if not status & TP_STATUS_USER:
                if records or not self._wait(timeout):
                    break
                continue
            self._read_block(offset + first, count, records)
            struct.pack_into("=I", self._map, offset + _STATUS_OFFSET, TP_STATUS_KERNEL)
            self._block = (self._block + 1) % self._blocks
        return records

    def _wait(self, timeout: float) -> bool:
        """Sleep until the kernel hands over a block; raise if the interface failed."""
        try:
            events = self._poll.poll(timeout * 1000)
        except InterruptedError:
            return False
        for _fd, event in events:
            if event & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                code = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                reason = os.strerror(code) if code else "the socket reported an error"
                if code == errno.ENETDOWN:
                    raise UnavailableError(f"interface {self.interface} went down")
                raise UnavailableError(f"capture on {self.interface} failed: {reason}")
        return bool(events)

    def _read_block(self, position: int, count: int, out: list[PcapRecord]) -> None:
        """Copy every packet of one block out of the ring."""
        ring = self._map
        unpack_header = _PACKET_HEADER.unpack_from
        plain = not self._cooked and self._loopback_index < 0
        linktype = self.linktype
        append = out.append
        for _ in range(count):
            header = unpack_header(ring, position)
            nxt, sec, nsec, snaplen, length, status, mac, _net = header
            if plain and not status & TP_STATUS_VLAN_VALID:
                start = position + mac
                append(
                    PcapRecord(sec + nsec * 1e-9, length, linktype, ring[start : start + snaplen])
                )
            else:
                record = self._unusual_frame(position, header)
                if record is not None:
                    append(record)
            position += nxt

    def _unusual_frame(self, position: int, header: tuple[int, ...]) -> PcapRecord | None:
        """Frames that need more than a copy: cooked headers, VLAN tags, "any" on lo."""
        _next, sec, nsec, snaplen, length, status, mac, _net = header
        ring = self._map
        start = position + mac
        data = ring[start : start + snaplen]
        _family, protocol, ifindex, hatype, pkttype, halen, address = _SOCKADDR_LL.unpack_from(
            ring, position + _SOCKADDR_OFFSET
        )
        if pkttype == PACKET_OUTGOING and ifindex == self._loopback_index:
            return None  # the second copy of a loopback frame
        if status & TP_STATUS_VLAN_VALID and self.linktype == linktypes.ETHERNET:
            _hash, tci, tpid = _VLAN.unpack_from(ring, position + 28)
            if not status & TP_STATUS_VLAN_TPID_VALID:
                tpid = 0x8100
            data = data[:12] + struct.pack("!HH", tpid, tci & 0xFFFF) + data[12:]
            length += 4
        timestamp = sec + nsec * 1e-9
        if self._cooked:
            header_bytes = struct.pack("!HHH", pkttype, hatype, halen) + address
            header_bytes += struct.pack("=H", protocol)
            return PcapRecord(timestamp, length + 16, linktypes.LINUX_SLL, header_bytes + data)
        return PcapRecord(timestamp, length, self.linktype, data)

    def close(self) -> None:
        """Unmap the ring and close the socket; safe to call twice."""
        if getattr(self, "_map", None) is not None and not self._map.closed:
            self._map.close()
        self._sock.close()


def check_capture_privilege() -> None:
    """Raise a PermissionDeniedError with the fix when packet sockets are not allowed."""
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0).close()
    except PermissionError:
        raise PermissionDeniedError(
            "live capture needs root or the CAP_NET_RAW capability: run livetap with sudo, "
            "or give its python CAP_NET_RAW (see SECURITY.md)"
        ) from None
    except OSError as error:
        raise LivetapError(f"packet sockets are not available here: {error.strerror}") from None
