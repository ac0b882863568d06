"""Who opened each TCP connection, as the kernel saw it: for connections closed before
livetap looked (the short-connection gap).

A raw-tracepoint BPF program on ``sock:inet_sock_set_state`` (loaded through the
``bpf()`` system call with ctypes: no compiler, no tracefs, no kprobes, no new package)
keeps, when a socket enters SYN_SENT, the connecting process (tgid, uid, ``comm``, the
time) in a map by socket; when it leaves SYN_SENT (established or refused), its local
port has been chosen, so it publishes four-tuple → that record into a second map, which
:meth:`KernelConnects.owner` reads with one ``bpf()`` lookup. State changes at SYN_SENT
happen in the connecting process's own ``connect()`` (where "current" is the owner); the
later one runs in softirq, so the owner is taken from the first.

IPv4 (the four-tuple at sock_common's stable offsets 0–15, the family at 16) and IPv6
(its addresses where the kernel's BTF says); needs root or ``CAP_BPF`` + ``CAP_PERFMON``.
Whatever fails, :func:`open_kernel_connects` returns None and attribution goes on
without it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from engine.process.sockdiag import Endpoint

_SYS_BPF = {"x86_64": 321, "aarch64": 280}
MAP_CREATE, MAP_LOOKUP, PROG_LOAD, RAW_TRACEPOINT_OPEN = 0, 1, 5, 17
LRU_HASH, RAW_TRACEPOINT = 9, 17
ENTRIES = 65_536
TRACEPOINT = b"inet_sock_set_state"
SYN_SENT, AF_INET = 2, 2
VALUE = struct.Struct("<QQQ16sQ")
"""tgid << 32 | tid, gid << 32 | uid, boot-time ns of the connect, comm, and the socket's
network namespace (the address of its ``struct net``, compared with livetap's own)."""
BTF = Path("/sys/kernel/btf/vmlinux")
_BTF_EXTRA = {1: 4, 3: 12, 14: 4, 17: 4}
"""BTF kinds with a fixed tail after their 12-byte header (int, array, var, decl tag)."""
_BTF_PER_MEMBER = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}
"""BTF kinds followed by one record per member (struct, union, enum, func proto …)."""
_MEMBERS = (b"skc_net", b"skc_v6_daddr", b"skc_v6_rcv_saddr")
AF_INET6 = 10
_FP = 10
_LOOKUP, _UPDATE, _DELETE, _PROBE_READ_KERNEL = 1, 2, 3, 113
_PID_TGID, _UID_GID, _COMM, _BOOT_NS = 14, 15, 16, 125


@dataclass(frozen=True, slots=True)
class KernelOwner:
    """The process that connected a socket, as the kernel recorded it."""

    pid: int
    uid: int
    name: str
    connected: float
    """Wall-clock time of the connect (seconds)."""
    since_boot: float
    """The same, in seconds since boot (as a process's start time is counted)."""
    foreign: bool = False
    """The socket was another network namespace's (a container's, an ``ip netns``)."""


def _ins(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def _map(dst: int, fd: int) -> bytes:
    """``dst = map fd`` (a 16-byte ld_imm64 the kernel turns into the map's address)."""
    return struct.pack("<BBhi", 0x18, (1 << 4) | dst, 0, fd) + bytes(8)


def mov(dst: int, src: int) -> bytes:
    """``dst = src``."""
    return _ins(0xBF, dst, src)


def movi(dst: int, imm: int) -> bytes:
    """``dst = imm``."""
    return _ins(0xB7, dst, 0, 0, imm)


def addi(dst: int, imm: int) -> bytes:
    """``dst += imm``."""
    return _ins(0x07, dst, 0, 0, imm)


def call(helper: int) -> bytes:
    """Call a BPF helper by number."""
    return _ins(0x85, 0, 0, 0, helper)


def ld64(dst: int, src: int, off: int) -> bytes:
    """``dst = *(u64 *)(src + off)``."""
    return _ins(0x79, dst, src, off)


def st64(dst: int, off: int, src: int) -> bytes:
    """``*(u64 *)(dst + off) = src``."""
    return _ins(0x7B, dst, src, off)


def sock_common_offsets(path: Path = BTF) -> dict[str, int]:
    """Where ``struct sock_common`` keeps ``skc_net``, ``skc_v6_daddr`` and
    ``skc_v6_rcv_saddr`` (bytes), read from the kernel's BTF.

    Raises OSError when the kernel has no BTF or a member is not found: without
    ``skc_net`` the hook could not tell namespaces apart, so it is not loaded.
    """
    data = path.read_bytes()
    magic, _v, _f, header, type_off, type_len, str_off, _str_len = struct.unpack_from(
        "<HBBIIIII", data
    )
    if magic != 0xEB9F:
        raise OSError(f"{path} is not BTF")
    types = data[header + type_off : header + type_off + type_len]
    strings = data[header + str_off :]

    def name(offset: int) -> bytes:
        return strings[offset : strings.index(b"\0", offset)]

    position = 0
    while position + 12 <= len(types):
        name_at, info, _size = struct.unpack_from("<III", types, position)
        kind, members = (info >> 24) & 0x1F, info & 0xFFFF
        body = position + 12
        if kind == 4 and name(name_at) == b"sock_common":
            found: dict[str, int] = {}
            for number in range(members):
                member, _type, offset = struct.unpack_from("<III", types, body + 12 * number)
                if name(member) in _MEMBERS:
                    bits: int = (offset & 0xFFFFFF) if info >> 31 else offset
                    found[name(member).decode()] = bits // 8
            if len(found) == len(_MEMBERS):
                return found
            break
        position = body + _BTF_EXTRA.get(kind, 0) + _BTF_PER_MEMBER.get(kind, 0) * members
    raise OSError("the kernel's BTF does not describe sock_common's namespace and addresses")


def _program(pending: int, tuples: int, tuples6: int, offsets: dict[str, int]) -> bytes:
    """The BPF instructions (stack: sk at fp-8, the value at fp-56, the sock's first 24
    bytes at fp-80, an IPv6 key at fp-120)."""
    net_offset, v6_offset = offsets["skc_net"], offsets["skc_v6_daddr"]
    done = [movi(0, 0), _ins(0x95)]
    head = [mov(6, 1), ld64(7, 6, 0), ld64(8, 6, 8), ld64(9, 6, 16), st64(_FP, -8, 7)]
    enter = [
        call(_PID_TGID), st64(_FP, -56, 0), call(_UID_GID), st64(_FP, -48, 0),
        call(_BOOT_NS), st64(_FP, -40, 0),
        mov(1, _FP), addi(1, -32), movi(2, 16), call(_COMM),
        mov(1, _FP), addi(1, -16), movi(2, 8), mov(3, 7), addi(3, net_offset),
        call(_PROBE_READ_KERNEL),
        _map(1, pending), mov(2, _FP), addi(2, -8), mov(3, _FP), addi(3, -56), movi(4, 0),
        call(_UPDATE), *done,
    ]  # fmt: skip
    find = [_map(1, pending), mov(2, _FP), addi(2, -8), call(_LOOKUP)]
    publish = [
        *[part for i in range(6) for part in (ld64(1, 0, 8 * i), st64(_FP, -56 + 8 * i, 1))],
        mov(1, _FP), addi(1, -80), movi(2, 24), mov(3, 7), call(_PROBE_READ_KERNEL),
        _ins(0x62, _FP, 0, -72, 0),  # sock_common's hash → 0: the key is the four-tuple
        _ins(0x69, 1, _FP, -64),  # skc_family
    ]  # fmt: skip
    store = [
        _map(1, tuples), mov(2, _FP), addi(2, -80), mov(3, _FP), addi(3, -56), movi(4, 0),
        call(_UPDATE),
    ]  # fmt: skip
    store6 = [  # daddr and rcv_saddr (adjacent), then the ports as in the IPv4 key
        mov(1, _FP), addi(1, -120), movi(2, 32), mov(3, 7), addi(3, v6_offset),
        call(_PROBE_READ_KERNEL),
        _ins(0x61, 1, _FP, -68), _ins(0x63, _FP, 1, -88),
        _map(1, tuples6), mov(2, _FP), addi(2, -120), mov(3, _FP), addi(3, -56), movi(4, 0),
        call(_UPDATE),
    ]  # fmt: skip
    forget = [_map(1, pending), mov(2, _FP), addi(2, -8), call(_DELETE), *done]

    def size(chunk: list[bytes]) -> int:
        return sum(len(part) // 8 for part in chunk)

    code = [*head, _ins(0x55, 9, 0, size(enter), SYN_SENT), *enter]  # entering SYN_SENT
    after = [
        *publish,
        _ins(0x55, 1, 0, size(store) + 1, AF_INET), *store, _ins(0x05, 0, 0, size(store6) + 1),
        _ins(0x55, 1, 0, size(store6), AF_INET6), *store6,
        *forget,
    ]  # fmt: skip
    code += [_ins(0x55, 8, 0, size(find) + 1 + size(after), SYN_SENT), *find]  # leaving it
    code += [_ins(0x15, 0, 0, size(after), 0), *after, *done]
    return b"".join(code)


class KernelConnects:
    """The loaded program and its maps; :meth:`owner` answers per four-tuple."""

    def __init__(self) -> None:
        number = _SYS_BPF.get(platform.machine())
        if number is None:
            raise OSError(f"no bpf() system call number known for {platform.machine()}")
        self._number = number
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fds: list[int] = []
        boot = time.clock_gettime(time.CLOCK_BOOTTIME)
        self._boot_to_wall = time.time() - boot
        self._own_net = 0
        try:
            offsets = sock_common_offsets()
            if offsets["skc_v6_rcv_saddr"] != offsets["skc_v6_daddr"] + 16:
                raise OSError("sock_common's IPv6 addresses are not side by side")
            pending = self._create(8, VALUE.size)
            self._tuples = self._create(16, VALUE.size)
            self._tuples6 = self._create(36, VALUE.size)
            self._attach(_program(pending, self._tuples, self._tuples6, offsets))
            self._own_net = self._calibrate()
        except OSError:
            self.close()
            raise

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

    def _create(self, key: int, value: int) -> int:
        fd = self._bpf(MAP_CREATE, struct.pack("<IIIII", LRU_HASH, key, value, ENTRIES, 0))
        self._fds.append(fd)
        return fd

    def _attach(self, code: bytes) -> None:
        instructions = ctypes.create_string_buffer(code, len(code))
        licence = ctypes.create_string_buffer(b"GPL")
        attr = struct.pack(
            "<IIQQI",
            RAW_TRACEPOINT,
            len(code) // 8,
            ctypes.addressof(instructions),
            ctypes.addressof(licence),
            0,
        )
        self._fds.append(self._bpf(PROG_LOAD, attr))
        name = ctypes.create_string_buffer(TRACEPOINT)
        self._fds.append(
            self._bpf(
                RAW_TRACEPOINT_OPEN, struct.pack("<QI", ctypes.addressof(name), self._fds[-1])
            )
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
        tgid, ids, boot_ns, comm, net = found
        name = comm.split(b"\0", 1)[0].decode("utf-8", "replace")
        since_boot = boot_ns / 1e9
        return KernelOwner(
            tgid >> 32,
            ids & 0xFFFFFFFF,
            name,
            self._boot_to_wall + since_boot,
            since_boot,
            foreign=net != self._own_net,
        )

    def _record(self, local: Endpoint, remote: Endpoint) -> tuple[int, int, int, bytes, int] | None:
        """The raw map entry of a four-tuple, if any."""
        if len(local[0]) not in (4, 16) or not self._fds:
            return None
        ports = struct.pack("!H", remote[1]) + struct.pack("=H", local[1])
        if len(local[0]) == 4:
            key, table = remote[0] + local[0] + bytes(4) + ports, self._tuples
        else:
            key, table = remote[0] + local[0] + ports, self._tuples6
        found = ctypes.create_string_buffer(key, len(key))
        value = ctypes.create_string_buffer(VALUE.size)
        attr = struct.pack("<IIQQ", table, 0, ctypes.addressof(found), ctypes.addressof(value))
        try:
            self._bpf(MAP_LOOKUP, attr)
        except OSError:
            return None
        tgid, ids, boot_ns, comm, net = VALUE.unpack(value.raw)
        return tgid, ids, boot_ns, comm, net

    def close(self) -> None:
        """Detach the program and free the maps (closing their descriptors does both)."""
        fds, self._fds = self._fds, []
        for fd in reversed(fds):
            with contextlib.suppress(OSError):
                os.close(fd)


def open_kernel_connects() -> KernelConnects | None:
    """The hook, or None where the kernel or the privileges do not allow it."""
    try:
        return KernelConnects()
    except OSError:
        return None
