"""BPF instructions written by hand, and where the kernel keeps a struct's members.

The kernel hooks (:mod:`engine.process.kernel_connects`) are a few dozen instructions,
so they are spelt here as bytes (no compiler, no new package); jumps name a label and
:func:`assemble` counts the distance. Member offsets come from the kernel's own BTF
(``/sys/kernel/btf/vmlinux``), so nothing depends on one kernel build's layout.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

BTF = Path("/sys/kernel/btf/vmlinux")
FP = 10
"""The frame pointer register."""
_BTF_EXTRA = {1: 4, 3: 12, 14: 4, 17: 4}
"""BTF kinds with a fixed tail after their 12-byte header (int, array, var, decl tag)."""
_BTF_PER_MEMBER = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}
"""BTF kinds followed by one record per member (struct, union, enum, func proto …)."""


def ins(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One 8-byte instruction."""
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def load_map(dst: int, fd: int) -> bytes:
    """``dst = map fd`` (a 16-byte ld_imm64 the kernel turns into the map's address)."""
    return struct.pack("<BBhi", 0x18, (1 << 4) | dst, 0, fd) + bytes(8)


def mov(dst: int, src: int) -> bytes:
    """``dst = src``."""
    return ins(0xBF, dst, src)


def movi(dst: int, imm: int) -> bytes:
    """``dst = imm``."""
    return ins(0xB7, dst, 0, 0, imm)


def addi(dst: int, imm: int) -> bytes:
    """``dst += imm``."""
    return ins(0x07, dst, 0, 0, imm)


def call(helper: int) -> bytes:
    """Call a BPF helper by number."""
    return ins(0x85, 0, 0, 0, helper)


def ld64(dst: int, src: int, off: int) -> bytes:
    """``dst = *(u64 *)(src + off)``."""
    return ins(0x79, dst, src, off)


def st64(dst: int, off: int, src: int) -> bytes:
    """``*(u64 *)(dst + off) = src``."""
    return ins(0x7B, dst, src, off)


def ld16(dst: int, src: int, off: int) -> bytes:
    """``dst = *(u16 *)(src + off)``."""
    return ins(0x69, dst, src, off)


def ld32(dst: int, src: int, off: int) -> bytes:
    """``dst = *(u32 *)(src + off)``."""
    return ins(0x61, dst, src, off)


def st32(dst: int, off: int, src: int) -> bytes:
    """``*(u32 *)(dst + off) = src``."""
    return ins(0x63, dst, src, off)


@dataclass(frozen=True, slots=True)
class Jump:
    """A conditional (or, with op 0x05, plain) jump to a label, resolved by :func:`assemble`."""

    op: int
    label: str
    dst: int = 0
    src: int = 0
    imm: int = 0


@dataclass(frozen=True, slots=True)
class Label:
    """Where a :class:`Jump` lands."""

    name: str


def assemble(parts: list[bytes | Jump | Label]) -> bytes:
    """The program's bytes, each jump's offset counted in instructions to its label."""
    at: dict[str, int] = {}
    position = 0
    for part in parts:
        if isinstance(part, Label):
            at[part.name] = position
        else:
            position += len(part) // 8 if isinstance(part, bytes) else 1
    code: list[bytes] = []
    position = 0
    for part in parts:
        if isinstance(part, bytes):
            code.append(part)
            position += len(part) // 8
        elif isinstance(part, Jump):
            position += 1
            code.append(ins(part.op, part.dst, part.src, at[part.label] - position, part.imm))
    return b"".join(code)


def member_offsets(wanted: dict[str, tuple[str, ...]], path: Path | None = None) -> dict[str, int]:
    """``"struct.member"`` → byte offset, for each member of each struct in ``wanted``.

    Raises OSError when the kernel has no BTF, it does not parse, or a member is not
    found: a hook that cannot read what it needs is not loaded.
    """
    path = BTF if path is None else path
    try:
        data = path.read_bytes()
    except OSError as error:
        raise OSError(f"the kernel has no BTF to read ({path}: {error.strerror})") from None
    try:
        return _offsets(data, wanted)
    except (struct.error, ValueError, IndexError, UnicodeDecodeError) as error:
        raise OSError(f"the kernel's BTF ({path}) could not be read: {error}") from None


def _offsets(data: bytes, wanted: dict[str, tuple[str, ...]]) -> dict[str, int]:
    magic, _v, _f, header, type_off, type_len, str_off, _str_len = struct.unpack_from(
        "<HBBIIIII", data
    )
    if magic != 0xEB9F:
        raise OSError("the kernel's BTF is not BTF")
    types = data[header + type_off : header + type_off + type_len]
    strings = data[header + str_off :]

    def name(offset: int) -> str:
        return strings[offset : strings.index(b"\0", offset)].decode()

    found: dict[str, int] = {}
    pending = {key: set(members) for key, members in wanted.items()}
    position = 0
    while position + 12 <= len(types) and any(pending.values()):
        name_at, info, _size = struct.unpack_from("<III", types, position)
        kind, members = (info >> 24) & 0x1F, info & 0xFFFF
        body = position + 12
        if kind == 4 and pending.get(name(name_at)):
            struct_name = name(name_at)
            for number in range(members):
                member, _type, offset = struct.unpack_from("<III", types, body + 12 * number)
                member_name = name(member)
                if member_name in pending[struct_name]:
                    bits: int = (offset & 0xFFFFFF) if info >> 31 else offset
                    found[f"{struct_name}.{member_name}"] = bits // 8
                    pending[struct_name].discard(member_name)
        position = body + _BTF_EXTRA.get(kind, 0) + _BTF_PER_MEMBER.get(kind, 0) * members
    missing = sorted(f"{key}.{member}" for key, members in pending.items() for member in members)
    if missing:
        raise OSError(f"the kernel's BTF does not describe {', '.join(missing)}")
    return found
