"""Each packet's process in a saved pcapng file: a packet comment, which tshark reads.

pcapng has two places for it: the packet comment (``opt_comment`` of the Enhanced Packet
Block, shown by tshark 4.0 as ``frame.comment`` and under "Packet comments") and Apple's
process information blocks, which tshark 4.0 does not read (tested: a file with them
shows no process). So livetap writes a comment per attributed packet::

    process: curl 4121; user root; parent 880; unit ssh.service
    process unknown: the process exited

(not the command line, whose arguments can hold secrets: a saved file is shared more
than a screen is).

and reads it back (``analyze``'s talkers report) with :func:`saved_processes`, a walk
over the file's blocks that looks only at packet blocks' options (never at the frames).
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from engine.process.procfs import ProcessInfo

PREFIX = "process: "
UNKNOWN_PREFIX = "process unknown: "
_KNOWN = re.compile(r"^process: (?P<name>.+?) (?P<pid>\d+); user (?P<user>[^;]*)")
SHB, EPB, OPT_COMMENT = 0x0A0D0D0A, 6, 1
MAX_BLOCK = 64 * 1024 * 1024
"""A longer block is taken as corruption: the walk stops (the reader says the rest)."""


def packet_comment(owner: ProcessInfo | None) -> str:
    """The comment a saved packet carries for its process ("" when it was not attributed)."""
    if owner is None:
        return ""
    if not owner.known:
        return f"{UNKNOWN_PREFIX}{owner.reason}" + (f"; user {owner.user}" if owner.user else "")
    parts = [f"{PREFIX}{owner.name} {owner.pid}", f"user {owner.user or owner.uid}"]
    parts.append(f"parent {owner.ppid}")
    if owner.unit:
        parts.append(f"unit {owner.unit}")
    return "; ".join(parts)  # not the command line: it can hold secrets, and files travel


def parse_packet_comment(text: str) -> tuple[str, int, str] | None:
    """(name, pid, user) from a comment :func:`packet_comment` wrote; None for any other."""
    found = _KNOWN.match(text)
    if found is None:
        return None
    return found.group("name"), int(found.group("pid")), found.group("user")


@dataclass(slots=True)
class SavedProcess:
    """One process's packets in a saved file (sent and received alike: its own packets)."""

    name: str
    pid: int
    user: str
    packets: int = 0
    bytes: int = 0

    def to_json(self) -> dict[str, object]:
        """The report row."""
        return {
            "process": f"{self.name} {self.pid}",
            "name": self.name,
            "pid": self.pid,
            "user": self.user,
            "packets": self.packets,
            "bytes": self.bytes,
        }


def saved_processes(path: str | Path) -> list[SavedProcess]:
    """Per process named in the file's packet comments: packets and bytes, most bytes first.

    Empty for a pcap file or a pcapng file without such comments: a file whose first
    packet has no process comment is not walked further (livetap comments every packet
    of an attributed capture, unknown ones too). A corrupt block ends the walk (what was
    counted stays).
    """
    found: dict[tuple[str, int, str], SavedProcess] = {}
    first = True
    with Path(path).open("rb") as stream:
        head = stream.read(12)
        if len(head) < 12 or struct.unpack_from("<I", head)[0] != SHB:
            return []
        order = "<" if head[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        stream.seek(0)
        header = struct.Struct(f"{order}II")
        while True:
            start = stream.read(8)
            if len(start) < 8:
                break
            block_type, total = header.unpack(start)
            if block_type == SHB and len(start) == 8:
                magic = stream.read(4)
                order = "<" if magic == b"\x4d\x3c\x2b\x1a" else ">"
                header = struct.Struct(f"{order}II")
                total = struct.unpack(f"{order}I", start[4:8])[0]
                if total < 16 or total > MAX_BLOCK:
                    break
                stream.seek(total - 12, 1)
                continue
            if total < 12 or total % 4 or total > MAX_BLOCK:
                break
            body = stream.read(total - 8)
            if len(body) < total - 8:
                break
            if block_type == EPB and total >= 32:
                comment, length = _comment(body, order)
                if first and not comment.startswith(("process: ", "process unknown: ")):
                    break
                first = False
                named = parse_packet_comment(comment) if comment else None
                if named is not None:
                    row = found.get(named)
                    if row is None:
                        row = found[named] = SavedProcess(*named)
                    row.packets += 1
                    row.bytes += length
    return sorted(found.values(), key=lambda row: (-row.bytes, -row.packets, row.pid))


def _comment(body: bytes, order: str) -> tuple[str, int]:
    """An Enhanced Packet Block's first comment and original length (body: after the
    block type and length, trailer included)."""
    caplen, length = struct.unpack_from(f"{order}II", body, 12)
    position, end = 20 + caplen + (-caplen % 4), len(body) - 4
    option = struct.Struct(f"{order}HH")
    while position + 4 <= end:
        code, size = option.unpack_from(body, position)
        if code == 0:
            break
        value = body[position + 4 : position + 4 + size]
        if code == OPT_COMMENT:
            return value.decode("utf-8", "replace"), length
        position += 4 + size + (-size % 4)
    return "", length
