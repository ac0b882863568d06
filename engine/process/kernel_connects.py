"""Who opened each TCP connection and who first sent from each UDP port, as the kernel saw
it: for sockets closed before livetap looked (the short-connection gap).

A raw-tracepoint BPF program on ``sock:inet_sock_set_state`` (loaded through the
``bpf()`` system call with ctypes: no compiler, no tracefs, no kprobes, no new package)
keeps, when a socket enters SYN_SENT, the connecting process (tgid, uid, ``comm``, the
time) in a map by socket; when it leaves SYN_SENT (established or refused), its local
port has been chosen, so it publishes four-tuple → that record into a second map, which
:meth:`KernelConnects.owner` reads with one ``bpf()`` lookup. State changes at SYN_SENT
happen in the connecting process's own ``connect()`` (where "current" is the owner); the
later one runs in softirq, so the owner is taken from the first.

A second program, on ``sock:sock_send_length`` (after each ``sendmsg()``, in the sender's
process), keeps a UDP socket's local address and port → the process of its first send,
which :meth:`KernelConnects.sender` reads.

IPv4 (the four-tuple at sock_common's stable offsets 0–15, the family at 16) and IPv6
(its addresses where the kernel's BTF says); needs root or ``CAP_BPF`` + ``CAP_PERFMON``.
Whatever fails, :func:`open_kernel_connects` returns None and why, and attribution goes
on without it; without the UDP program alone, TCP is still recorded.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import socket
import struct
import threading
import time
import weakref
from dataclasses import dataclass

from engine.process.bpf_code import (
    FP,
    Jump,
    Label,
    addi,
    assemble,
    call,
    ins,
    ld16,
    ld32,
    ld64,
    load_map,
    member_offsets,
    mov,
    movi,
    st32,
    st64,
)
from engine.process.procfs import printable
from engine.process.sockdiag import Endpoint

EPERM = 1
_SYS_BPF = {"x86_64": 321, "aarch64": 280}
MAP_CREATE, MAP_LOOKUP, PROG_LOAD, RAW_TRACEPOINT_OPEN = 0, 1, 5, 17
LRU_HASH, RAW_TRACEPOINT = 9, 17
ENTRIES = 65_536
"""Entries per map (LRU: the oldest go first): the five maps take 44 MB of kernel memory."""
TRACEPOINT = b"inet_sock_set_state"
SEND_TRACEPOINT = b"sock_send_length"
SYN_SENT, AF_INET, AF_INET6, UDP = 2, 2, 10, 17
VALUE = struct.Struct("<QQQ16sQ")
"""tgid << 32 | tid, gid << 32 | uid, boot-time ns of the connect, comm, and the socket's
network namespace (the address of its ``struct net``, compared with livetap's own)."""
SEND_VALUE = struct.Struct("<QQQ16sQQ")
""":data:`VALUE` of a UDP socket's first send, and the socket's address (a later send
of the same socket keeps the first record)."""
_MEMBERS = {
    "sock_common": ("skc_net", "skc_v6_daddr", "skc_v6_rcv_saddr"),
    "sock": ("sk_protocol",),
}
_LOOKUP, _UPDATE, _DELETE, _PROBE_READ_KERNEL = 1, 2, 3, 113
_PID_TGID, _UID_GID, _COMM, _BOOT_NS = 14, 15, 16, 125
LOG_SIZE = 1 << 16
"""Bytes of the verifier's log asked for when it refuses a program (for the reason)."""


@dataclass(frozen=True, slots=True)
class KernelOwner:
    """The process that connected a socket (or first sent from it), as the kernel recorded it."""

    pid: int
    uid: int
    name: str
    connected: float
    """Wall-clock time of the connect, or of a UDP socket's first send (seconds)."""
    since_boot: float
    """The same, in seconds since boot (as a process's start time is counted)."""
    foreign: bool = False
    """The socket was another network namespace's (a container's, an ``ip netns``)."""


def sock_common_offsets() -> dict[str, int]:
    """Where ``struct sock_common`` keeps ``skc_net``, ``skc_v6_daddr`` and
    ``skc_v6_rcv_saddr`` (bytes), read from the kernel's BTF (OSError without BTF)."""
    found = member_offsets({"sock_common": _MEMBERS["sock_common"]})
    return {key.split(".", 1)[1]: offset for key, offset in found.items()}


def _program(pending: int, tuples: int, tuples6: int, offsets: dict[str, int]) -> bytes:
    """The BPF instructions (stack: sk at fp-8, the value at fp-56, the sock's first 24
    bytes at fp-80, an IPv6 key at fp-120)."""
    net_offset, v6_offset = offsets["skc_net"], offsets["skc_v6_daddr"]
    done = [movi(0, 0), ins(0x95)]
    head = [mov(6, 1), ld64(7, 6, 0), ld64(8, 6, 8), ld64(9, 6, 16), st64(FP, -8, 7)]
    enter = [
        call(_PID_TGID), st64(FP, -56, 0), call(_UID_GID), st64(FP, -48, 0),
        call(_BOOT_NS), st64(FP, -40, 0),
        mov(1, FP), addi(1, -32), movi(2, 16), call(_COMM),
        mov(1, FP), addi(1, -16), movi(2, 8), mov(3, 7), addi(3, net_offset),
        call(_PROBE_READ_KERNEL),
        load_map(1, pending), mov(2, FP), addi(2, -8), mov(3, FP), addi(3, -56), movi(4, 0),
        call(_UPDATE), *done,
    ]  # fmt: skip
    find = [load_map(1, pending), mov(2, FP), addi(2, -8), call(_LOOKUP)]
    publish = [
        *[part for i in range(6) for part in (ld64(1, 0, 8 * i), st64(FP, -56 + 8 * i, 1))],
        mov(1, FP), addi(1, -80), movi(2, 24), mov(3, 7), call(_PROBE_READ_KERNEL),
        ins(0x62, FP, 0, -72, 0),  # sock_common's hash → 0: the key is the four-tuple
        ins(0x69, 1, FP, -64),  # skc_family
    ]  # fmt: skip
    store = [
        load_map(1, tuples), mov(2, FP), addi(2, -80), mov(3, FP), addi(3, -56), movi(4, 0),
        call(_UPDATE),
    ]  # fmt: skip
    store6 = [  # daddr and rcv_saddr (adjacent), then the ports as in the IPv4 key
        mov(1, FP), addi(1, -120), movi(2, 32), mov(3, 7), addi(3, v6_offset),
        call(_PROBE_READ_KERNEL),
        ins(0x61, 1, FP, -68), ins(0x63, FP, 1, -88),
        load_map(1, tuples6), mov(2, FP), addi(2, -120), mov(3, FP), addi(3, -56), movi(4, 0),
        call(_UPDATE),
    ]  # fmt: skip
    forget = [load_map(1, pending), mov(2, FP), addi(2, -8), call(_DELETE), *done]

    def size(chunk: list[bytes]) -> int:
        return sum(len(part) // 8 for part in chunk)

    code = [*head, ins(0x55, 9, 0, size(enter), SYN_SENT), *enter]  # entering SYN_SENT
    after = [
        *publish,
        ins(0x55, 1, 0, size(store) + 1, AF_INET), *store, ins(0x05, 0, 0, size(store6) + 1),
        ins(0x55, 1, 0, size(store6), AF_INET6), *store6,
        *forget,
    ]  # fmt: skip
    code += [ins(0x55, 8, 0, size(find) + 1 + size(after), SYN_SENT), *find]  # leaving it
    code += [ins(0x15, 0, 0, size(after), 0), *after, *done]
    return b"".join(code)


def _send_program(sends: int, sends6: int, offsets: dict[str, int]) -> bytes:
    """The UDP program on ``sock:sock_send_length`` (args: sk, the send's result, flags),
    run by the sender's own ``sendmsg()``: local address and port → the first send of
    the socket that holds them now. Stack: the sock's first 24 bytes at fp-80, its
    protocol at fp-88, an IPv4 key at fp-96, an IPv6 key at fp-120, the value at fp-176."""
    proto_off, net_off = offsets["sock.sk_protocol"], offsets["sock_common.skc_net"]
    v6_local = offsets["sock_common.skc_v6_rcv_saddr"]
    return assemble([
        mov(6, 1), ld64(7, 6, 0), Jump(0x15, "done", 7, 0, 0),  # no sock
        ld64(1, 6, 8), Jump(0xC6, "done", 1, 0, 0),  # (s32) result < 0: nothing sent
        mov(1, FP), addi(1, -88), movi(2, 2), mov(3, 7), addi(3, proto_off),
        call(_PROBE_READ_KERNEL), ld16(1, FP, -88), Jump(0x55, "done", 1, 0, UDP),
        mov(1, FP), addi(1, -80), movi(2, 24), mov(3, 7), call(_PROBE_READ_KERNEL),
        ld16(8, FP, -64),  # skc_family
        ld16(9, FP, -66), Jump(0x15, "done", 9, 0, 0),  # skc_num: the local port (unbound: 0)
        call(_PID_TGID), st64(FP, -176, 0), call(_UID_GID), st64(FP, -168, 0),
        call(_BOOT_NS), st64(FP, -160, 0),
        mov(1, FP), addi(1, -152), movi(2, 16), call(_COMM),
        mov(1, FP), addi(1, -136), movi(2, 8), mov(3, 7), addi(3, net_off),
        call(_PROBE_READ_KERNEL),
        st64(FP, -128, 7),
        Jump(0x55, "six", 8, 0, AF_INET),
        ld32(1, FP, -76), st32(FP, -96, 1), st32(FP, -92, 9),  # rcv_saddr, port
        load_map(8, sends), mov(2, FP), addi(2, -96), Jump(0x05, "record"),
        Label("six"),
        Jump(0x55, "done", 8, 0, AF_INET6),
        mov(1, FP), addi(1, -120), movi(2, 16), mov(3, 7), addi(3, v6_local),
        call(_PROBE_READ_KERNEL), st32(FP, -104, 9),
        load_map(8, sends6), mov(2, FP), addi(2, -120),
        Label("record"),
        mov(9, 2), mov(1, 8), call(_LOOKUP), Jump(0x15, "update", 0, 0, 0),
        ld64(1, 0, 48), Jump(0x5D, "update", 1, 7),  # another socket (or one at a freed
        ld64(1, 0, 0), ins(0x77, 1, 0, 0, 32),  # one's address, of another process):
        ld64(2, FP, -176), ins(0x77, 2, 0, 0, 32),  # its record replaces the old one;
        Jump(0x1D, "done", 1, 2),  # this socket's first send by this process is kept
        Label("update"),
        mov(1, 8), mov(2, 9), mov(3, FP), addi(3, -176), movi(4, 0), call(_UPDATE),
        Label("done"),
        movi(0, 0), ins(0x95),
    ])  # fmt: skip


def _close_all(fds: list[int]) -> None:
    """Close the descriptors (detaching the programs, freeing the maps); runs once."""
    while fds:
        with contextlib.suppress(OSError):
            os.close(fds.pop())


class KernelConnects:
    """The loaded programs and their maps; :meth:`owner` answers per TCP four-tuple,
    :meth:`sender` per UDP local end.

    Every descriptor is closed by :meth:`close`, on any failure while loading (an
    interrupt too), when the object is collected, and at interpreter exit; two
    livetaps each load their own programs and maps, which do not meet.
    """

    def __init__(self, udp: bool = True) -> None:
        number = _SYS_BPF.get(platform.machine())
        if number is None:
            raise OSError(f"no bpf() system call number known for {platform.machine()}")
        self._number = number
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fds: list[int] = []
        self._lock = threading.Lock()
        self._closer = weakref.finalize(self, _close_all, self._fds)
        self._own_net = 0
        self._sends = self._sends6 = -1
        self.udp_missing = ""
        """Why UDP senders are not recorded ("" when they are)."""
        try:
            offsets = member_offsets(_MEMBERS)
            common = {key.split(".", 1)[1]: value for key, value in offsets.items()}
            if common["skc_v6_rcv_saddr"] != common["skc_v6_daddr"] + 16:
                raise OSError("sock_common's IPv6 addresses are not side by side")
            pending = self._create(8, VALUE.size, b"lt_pending")
            self._tuples = self._create(16, VALUE.size, b"lt_connects")
            self._tuples6 = self._create(36, VALUE.size, b"lt_connects6")
            self._attach(_program(pending, self._tuples, self._tuples6, common), TRACEPOINT)
            self._own_net = self._calibrate()
            if udp:
                self._load_udp(offsets)
            else:
                self.udp_missing = "not asked for"
        except BaseException:
            self.close()
            raise

    def _load_udp(self, offsets: dict[str, int]) -> None:
        """The UDP program; without it (an older kernel) TCP is still recorded."""
        before = len(self._fds)
        try:
            self._sends = self._create(8, SEND_VALUE.size, b"lt_udp_sends")
            self._sends6 = self._create(20, SEND_VALUE.size, b"lt_udp_sends6")
            self._attach(_send_program(self._sends, self._sends6, offsets), SEND_TRACEPOINT)
        except OSError as error:
            self.udp_missing = f"the UDP hook did not load: {error}"
            _close_all(self._fds[before:])
            del self._fds[before:]
            self._sends = self._sends6 = -1

    def _calibrate(self) -> int:
        """livetap's own namespace, as the hook records it: from a connection of its own."""
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            with socket.create_connection(server.getsockname(), timeout=2) as client:
                local, remote = client.getsockname(), server.getsockname()
        found = self._record(
            (socket.inet_aton(local[0]), local[1]), (socket.inet_aton(remote[0]), remote[1])
        )
        if found is None or not found[4]:
            raise OSError("the hook did not record livetap's own connection")
        return found[4]

    def _bpf(self, command: int, attr: bytes) -> int:
        buffer = ctypes.create_string_buffer(attr, 144)
        result: int = self._libc.syscall(self._number, command, buffer, 144)
        if result < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, os.strerror(errno))
        return result

    def _create(self, key: int, value: int, name: bytes) -> int:
        """A bounded LRU map, named (``bpftool map`` shows whose it is)."""
        attr = struct.pack("<IIIIIII16s", LRU_HASH, key, value, ENTRIES, 0, 0, 0, name)
        fd = self._bpf(MAP_CREATE, attr)
        self._fds.append(fd)
        return fd

    def _attach(self, code: bytes, tracepoint: bytes) -> None:
        """Load a program and attach it to a raw tracepoint; a program the verifier
        refuses raises OSError with the verifier's last words."""
        instructions = ctypes.create_string_buffer(code, len(code))
        licence = ctypes.create_string_buffer(b"GPL")

        def attr(log_level: int, log: ctypes.Array[ctypes.c_char] | None) -> bytes:
            return struct.pack(
                "<IIQQIIQII16s",
                RAW_TRACEPOINT,
                len(code) // 8,
                ctypes.addressof(instructions),
                ctypes.addressof(licence),
                log_level,
                LOG_SIZE if log is not None else 0,
                ctypes.addressof(log) if log is not None else 0,
                0,
                0,
                b"livetap_" + tracepoint[:7],
            )

        try:
            program = self._bpf(PROG_LOAD, attr(0, None))
        except OSError as refused:
            if refused.errno == EPERM:
                raise
            log = ctypes.create_string_buffer(LOG_SIZE)
            try:  # again with the verifier's log, for the reason
                program = self._bpf(PROG_LOAD, attr(1, log))
            except OSError:
                said = [
                    line
                    for line in log.value.decode("utf-8", "replace").splitlines()
                    if line and not line.startswith(("processed ", "verification time"))
                ]  # its last words before the statistics
                last = printable(said[-1]) if said else str(refused)
                raise OSError(f"the kernel's verifier refused it ({last})") from refused
        self._fds.append(program)
        name = ctypes.create_string_buffer(tracepoint)
        self._fds.append(
            self._bpf(RAW_TRACEPOINT_OPEN, struct.pack("<QI", ctypes.addressof(name), program))
        )

    def _lookup(self, table: int, key: bytes, size: int) -> bytes | None:
        """One map entry (None: no such key, or the hook is closed)."""
        found = ctypes.create_string_buffer(key, len(key))
        value = ctypes.create_string_buffer(size)
        attr = struct.pack("<IIQQ", table, 0, ctypes.addressof(found), ctypes.addressof(value))
        with self._lock:  # close() on another thread: never a closed (or reused) fd
            if not self._fds or table < 0:
                return None
            try:
                self._bpf(MAP_LOOKUP, attr)
            except OSError:
                return None
        return value.raw

    def _owner(self, tgid: int, ids: int, boot_ns: int, comm: bytes, net: int) -> KernelOwner:
        name = printable(comm.split(b"\0", 1)[0].decode("utf-8", "replace"))
        since_boot = boot_ns / 1e9
        boot_to_wall = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)  # now: no drift
        return KernelOwner(
            tgid >> 32,
            ids & 0xFFFFFFFF,
            name,
            boot_to_wall + since_boot,
            since_boot,
            foreign=net != self._own_net,
        )

    def owner(self, local: Endpoint, remote: Endpoint) -> KernelOwner | None:
        """Who connected from ``local`` to ``remote`` (TCP, the latest such connect); an
        IPv4 four-tuple is also looked for as an IPv6 socket's v4-mapped one."""
        found = self._record(local, remote)
        if found is None and len(local[0]) == 4:
            mapped = b"\0" * 10 + b"\xff\xff"
            found = self._record((mapped + local[0], local[1]), (mapped + remote[0], remote[1]))
        if found is None:
            return None
        return self._owner(*found)

    def _record(self, local: Endpoint, remote: Endpoint) -> tuple[int, int, int, bytes, int] | None:
        """The raw map entry of a four-tuple, if any."""
        if len(local[0]) not in (4, 16):
            return None
        ports = struct.pack("!H", remote[1]) + struct.pack("=H", local[1])
        if len(local[0]) == 4:
            key, table = remote[0] + local[0] + bytes(4) + ports, self._tuples
        else:
            key, table = remote[0] + local[0] + ports, self._tuples6
        raw = self._lookup(table, key, VALUE.size)
        if raw is None:
            return None
        tgid, ids, boot_ns, comm, net = VALUE.unpack(raw)
        return tgid, ids, boot_ns, comm, net

    def sender(self, local: Endpoint) -> KernelOwner | None:
        """Whose UDP socket last held ``local`` (address and port), as of its first send:
        the socket bound to that address or to any, IPv4 or IPv6 (v4-mapped); the latest
        record of those. None when none (or the UDP hook is not loaded)."""
        address, port = local
        if len(address) == 4:
            mapped = b"\0" * 10 + b"\xff\xff" + address
            keys = [
                (self._sends, address),
                (self._sends, bytes(4)),
                (self._sends6, mapped),
                (self._sends6, bytes(16)),
            ]
        elif len(address) == 16:
            keys = [(self._sends6, address), (self._sends6, bytes(16))]
        else:
            return None
        latest: tuple[int, int, int, bytes, int, int] | None = None
        for table, bound in keys:
            raw = self._lookup(table, bound + struct.pack("=I", port), SEND_VALUE.size)
            if raw is not None:
                found = SEND_VALUE.unpack(raw)
                if latest is None or found[2] > latest[2]:
                    latest = found
        if latest is None:
            return None
        tgid, ids, boot_ns, comm, net, _sock = latest
        return self._owner(tgid, ids, boot_ns, comm, net)

    @property
    def records_udp(self) -> bool:
        """The UDP program is loaded."""
        return self._sends >= 0 and bool(self._fds)

    def close(self) -> None:
        """Detach the programs and free the maps (closing their descriptors does both)."""
        with self._lock:
            self._closer()


def open_kernel_connects() -> tuple[KernelConnects | None, str]:
    """The hook and "", or None and why not (no privilege, no BTF, the verifier refused
    it, an unknown architecture): attribution then goes on without it."""
    try:
        return KernelConnects(), ""
    except OSError as error:
        reason = error.strerror if error.strerror and error.errno else str(error)
        if error.errno == EPERM:  # bpf() needs privilege
            reason = "needs root or CAP_BPF + CAP_PERFMON"
        return None, reason
