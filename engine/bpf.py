"""BPF capture filters: compiled by libpcap (through scapy's bindings), checked
before use, attached to a live socket in the kernel or run on file records.

A filter is compiled for one link type and snap length. An expression libpcap
refuses raises :class:`~engine.errors.FilterError` carrying libpcap's own
message, so the UI can show it inline while the old filter keeps running.
"""

from __future__ import annotations

import ctypes
import socket
import struct
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from engine import linktypes
from engine.errors import FilterError, NotFoundError

SO_ATTACH_FILTER = 26
MAX_EXPRESSION_LENGTH = 4096
"""libpcap handles longer input, but no useful filter is this long."""

_DLT_FOR_LINKTYPE = {linktypes.RAW: 12}
"""pcap_open_dead takes a DLT_ value; on Linux DLT_RAW is 12, not LINKTYPE_RAW."""


class _BpfInsn(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    )


@dataclass(frozen=True)
class CompiledFilter:
    """A BPF program libpcap accepted, with what it was compiled for."""

    expression: str
    linktype: int
    snaplen: int
    instructions: tuple[tuple[int, int, int, int], ...]
    _program: Any = field(repr=False, compare=False)
    """A ctypes array of the instructions, kept alive for the kernel and bpf_filter."""

    @property
    def accepts_everything(self) -> bool:
        """True for the empty expression, which needs no filtering at all."""
        return not self.expression.strip()

    def matches(self, data: bytes, wire_length: int) -> bool:
        """Run the program on one frame in user space (for files and pipes)."""
        if self.accepts_everything:
            return True
        return bool(_libpcap()._lib.bpf_filter(self._program, data, wire_length, len(data)))

    def socket_program(self) -> bytes:
        """The ``struct sock_fprog`` for SO_ATTACH_FILTER, pointing at our instructions."""
        return struct.pack("HL", len(self.instructions), ctypes.addressof(self._program))


@cache
def _libpcap() -> Any:
    """libpcap as scapy loads it, with the few extra prototypes livetap needs."""
    try:
        from scapy.libs import winpcapy
    except (ImportError, OSError) as error:
        raise NotFoundError(
            "libpcap is not installed, so filters cannot be compiled: "
            "install it (Debian: apt-get install libpcap0.8)"
        ) from error
    lib = winpcapy._lib
    lib.bpf_filter.restype = ctypes.c_uint
    lib.bpf_filter.argtypes = [
        ctypes.POINTER(_BpfInsn),
        ctypes.c_char_p,
        ctypes.c_uint,
        ctypes.c_uint,
    ]
    lib.bpf_image.restype = ctypes.c_char_p
    lib.bpf_image.argtypes = [ctypes.POINTER(_BpfInsn), ctypes.c_int]
    return winpcapy


def _check_expression(expression: str) -> None:
    """Refuse text libpcap would misread (NUL truncates a C string) or that is absurd."""
    if "\x00" in expression:
        raise FilterError(expression, "the expression contains a NUL character")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise FilterError(
            expression[:40] + "...",
            f"the expression is {len(expression)} characters long "
            f"(at most {MAX_EXPRESSION_LENGTH})",
        )


def compile_filter(expression: str, linktype: int, snaplen: int = 262144) -> CompiledFilter:
    """Compile ``expression`` for frames of ``linktype``; raise FilterError if libpcap refuses."""
    _check_expression(expression)
    wp = _libpcap()
    linktype = linktypes.normalise(linktype)
    handle = wp.pcap_open_dead(_DLT_FOR_LINKTYPE.get(linktype, linktype), snaplen)
    if not handle:
        raise FilterError(expression, f"libpcap does not know link type {linktype}")
    program = wp.bpf_program()
    try:
        text = ctypes.create_string_buffer(expression.encode("utf-8", "replace"))
        if wp.pcap_compile(handle, ctypes.byref(program), text, 1, 0xFFFFFFFF) == -1:
            reason = bytes(wp.pcap_geterr(handle) or b"").decode("utf-8", "replace")
            raise FilterError(expression, reason or "libpcap could not compile it")
        count = program.bf_len
        raw = ctypes.cast(program.bf_insns, ctypes.POINTER(_BpfInsn))
        instructions = tuple((raw[i].code, raw[i].jt, raw[i].jf, raw[i].k) for i in range(count))
        wp.pcap_freecode(ctypes.byref(program))
    finally:
        wp.pcap_close(handle)
    array = (_BpfInsn * len(instructions))(*(_BpfInsn(*insn) for insn in instructions))
    return CompiledFilter(expression.strip(), linktype, snaplen, instructions, array)


def attach(sock: socket.socket, compiled: CompiledFilter) -> None:
    """Replace the socket's kernel filter; packets already queued are kept as they are."""
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, compiled.socket_program())


def explain(compiled: CompiledFilter) -> list[str]:
    """The program as ``tcpdump -d`` prints it, one instruction per line."""
    lib = _libpcap()._lib
    return [
        lib.bpf_image(ctypes.byref(compiled._program[i]), i).decode()
        for i in range(len(compiled.instructions))
    ]
