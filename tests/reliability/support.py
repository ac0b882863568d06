"""Helpers for the reliability suite: the CLI as a process, capture files, real file systems."""

from __future__ import annotations

import contextlib
import json
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.conftest import LOOPBACK

LIVETAP = str(Path(sys.executable).parent / "livetap")
STARTED = "livetap: capturing on "
ETH_HEADER = bytes.fromhex("0200000000fe020000000001") + b"\x08\x00"
"""Explicit Ethernet addresses: nothing here ever asks ARP for a real one."""


def livetap(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the console script to its end, without a terminal."""
    return subprocess.run(
        [LIVETAP, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        env=env,
    )


def document(stdout: str) -> dict[str, Any]:
    """The JSON document a command printed."""
    data: dict[str, Any] = json.loads(stdout)
    return data


def udp_frame(payload: bytes, sport: int = 40000, dport: int = 9) -> bytes:
    """An Ethernet/IPv4/UDP frame between two private addresses (for files, never sent)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, b"\x0a\0\0\x01", b"\x0a\0\0\x02"
    )
    return ETH_HEADER + ip + udp


def pcap_bytes(frames: list[bytes], *, snaplen: int = 65535, linktype: int = 1) -> bytes:
    """A little-endian microsecond pcap file holding ``frames``."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)
    for number, frame in enumerate(frames):
        out += struct.pack("<IIII", 1_700_000_000 + number, 0, len(frame), len(frame)) + frame
    return out


def pcapng_block(kind: int, body: bytes) -> bytes:
    """A little-endian pcapng block."""
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def pcapng_bytes(packets: list[tuple[int, bytes]], linktypes: list[int]) -> bytes:
    """A pcapng file: one interface per link type, EPBs naming them, unknown blocks between."""
    out = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    for linktype in linktypes:
        out += pcapng_block(1, struct.pack("<HHI", linktype, 0, 0))
    out += pcapng_block(0x0BADC0DE, b"a block type nobody defined")
    for number, (interface, frame) in enumerate(packets):
        head = struct.pack("<IIIII", interface, 0, number, len(frame), len(frame))
        out += pcapng_block(6, head + frame)
        out += pcapng_block(0x40000BAD, b"custom")  # a custom block (copyable bit set)
    out += pcapng_block(5, b"\0" * 16)  # interface statistics
    return out


class Sender:
    """Sends UDP datagrams to 127.0.0.1:port from a thread until stopped (bounded in count)."""

    def __init__(self, port: int, payload: bytes = b"x" * 200, limit: int = 200_000) -> None:
        self.port = port
        self.payload = payload
        self.limit = limit
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sender:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            while not self._stop.is_set() and self.sent < self.limit:
                sock.sendto(self.payload, (LOOPBACK, self.port))
                self.sent += 1
                if self.sent % 50 == 0:
                    time.sleep(0.001)


@contextlib.contextmanager
def tmpfs(directory: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` at ``directory``: writes fail with ENOSPC once it is full."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(directory)],
        check=True,
    )
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


class Ext4:
    """An ext4 image on a loop device, mounted with errors=remount-ro.

    ``fail()`` raises a file-system error through ext4's own sysfs trigger, and the
    kernel makes the file system read-only under the writer's open descriptors: the
    next write gets EROFS, as when a real disk fails. (``mount -o remount,ro`` on a
    tmpfs is refused while a file is open for writing, so it cannot do this.)
    """

    def __init__(self, root: Path, size_mb: int = 8) -> None:
        self.image = root / "disk.img"
        self.mount = root / "disk"
        self.mount.mkdir(parents=True, exist_ok=True)
        with self.image.open("wb") as image:
            image.truncate(size_mb << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", str(self.image)], check=True)
        subprocess.run(
            ["mount", "-o", "loop,errors=remount-ro", str(self.image), str(self.mount)], check=True
        )
        source = subprocess.run(
            ["findmnt", "-n", "-o", "SOURCE", str(self.mount)],
            capture_output=True,
            text=True,
            check=True,
        )
        self.device = Path(source.stdout.strip()).name

    def fail(self) -> None:
        """Make the file system read-only now, under open files."""
        Path(f"/sys/fs/ext4/{self.device}/trigger_fs_error").write_text("livetap test\n")

    def close(self) -> None:
        """Unmount (the loop device goes with it)."""
        subprocess.run(["umount", str(self.mount)], check=False)
        self.image.unlink(missing_ok=True)


def wait_for_line(stream: Any, prefix: str, timeout: float = 20) -> str:
    """Read lines from a process's pipe until one starts with ``prefix``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line: str = stream.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line
    raise AssertionError(f"no line starting with {prefix!r}")


def ndjson_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of an NDJSON file, parsed strictly: whole lines, real JSON (no NaN)."""
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "the file ends inside a line"

    def refuse(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    return [json.loads(line, parse_constant=refuse) for line in data.decode().splitlines()]


def private(path: Path) -> bool:
    """Whether a file is readable and writable by its owner only."""
    return (path.stat(follow_symlinks=False).st_mode & 0o777) == 0o600
