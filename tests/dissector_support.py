"""Shared by the dissector tests: the test specs, frames built with scapy, tshark runs.

Frames are only written to files, never sent. Every Ethernet header has explicit
addresses (a bare scapy ``Ether()`` would send ARP on the real network).
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from engine import linktypes
from engine.dissector import ProtocolSpec, generate_lua, load_spec
from engine.dissector.tshark import open_tshark, staged
from engine.pcapio import PcapRecord, write_pcap_file

GOLDEN = Path(__file__).parent / "dissector_golden"
EXAMPLES = Path(__file__).parent.parent / "examples"
CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
CLIENT, SERVER = "10.0.0.5", "10.0.0.9"
START = 1_700_000_000.0
AGGREGATOR = "\x1f"


def spec_file(name: str) -> Path:
    """A test spec (tests/dissector_golden/NAME.json) or the example (sensor)."""
    if name == "sensor":
        return EXAMPLES / "sensor.json"
    return GOLDEN / f"{name}.json"


def script_for(name: str, directory: Path) -> tuple[ProtocolSpec, Path]:
    """Load a test spec and write its generated Lua script into ``directory``."""
    spec = load_spec(spec_file(name))
    path = directory / f"{spec.name}.lua"
    path.write_text(generate_lua(spec))
    return spec, path


def sensor_message(
    kind: int,
    body: bytes,
    *,
    seq: int = 7,
    name: bytes = b"kitchen",
    flags: int = 0xA5,
    magic: int = 0x534E,
    body_len: int | None = None,
) -> bytes:
    header = struct.pack("!HBBBI", magic, 1, kind, flags, seq)
    header += bytes.fromhex("020000000099") + bytes([len(name)]) + name
    size = len(body) if body_len is None else body_len
    return header + struct.pack("!H", size) + body + b"\xbe\xef"


READINGS = bytes([2]) + struct.pack("!Bfh", 1, 21.5, -5) + struct.pack("!Bfh", 9, 40.0, 100)
CONFIG = (
    struct.pack("!Hd", 60, 12.25)
    + bytes([10, 0, 0, 9])
    + bytes.fromhex("20010db8000000000000000000000001")
    + b"roof\0"
)
EVENT = struct.pack("!Hb", 0x0200, -3) + b"front door"


def udp_frame(payload: bytes, dport: int, sport: int = 51000) -> bytes:
    """An Ethernet/IPv4/UDP frame from the client to the server."""
    packet = (
        Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / IP(src=CLIENT, dst=SERVER)
        / UDP(sport=sport, dport=dport)
        / Raw(payload)
    )
    return bytes(packet)


def tcp_frames(segments: Sequence[bytes], dport: int, sport: int = 51001) -> list[bytes]:
    """Client-to-server TCP segments of one stream, with consecutive sequence numbers."""
    frames = []
    seq = 1000
    for payload in segments:
        packet = (
            Ether(src=CLIENT_MAC, dst=SERVER_MAC)
            / IP(src=CLIENT, dst=SERVER)
            / TCP(sport=sport, dport=dport, flags="PA", seq=seq, ack=1)
            / Raw(payload)
        )
        frames.append(bytes(packet))
        seq += len(payload)
    return frames


def write_frames(path: Path, frames: Sequence[bytes]) -> Path:
    """A pcap of Ethernet frames, one millisecond apart."""
    records = [
        PcapRecord(START + index / 1000, len(frame), linktypes.ETHERNET, frame)
        for index, frame in enumerate(frames)
    ]
    write_pcap_file(path, records, fmt="pcap")
    return path


def tshark_fields(
    scripts: Sequence[Path], pcap: Path, fields: Sequence[str]
) -> list[dict[str, list[str]]]:
    """Per frame, every occurrence of each field as tshark prints it (``-T fields``).

    ``_ws.lua.error`` and ``_ws.expert.message`` are always asked for too.
    """
    tool = open_tshark()
    assert tool is not None, "tshark is needed (setup.sh installs it)"
    asked = [*fields, "_ws.lua.error", "_ws.expert.message"]
    with staged(tool, [*scripts, pcap]) as copies:
        args = ["-n"]
        for script in copies[:-1]:
            args += ["-X", f"lua_script:{script}"]
        args += ["-r", str(copies[-1]), "-T", "fields", "-E", "occurrence=a"]
        args += ["-E", f"aggregator={AGGREGATOR}", "-E", "separator=/t"]
        for name in asked:
            args += ["-e", name]
        result = subprocess.run(
            tool.command(args), capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode == 0, result.stderr
    assert "tshark: Lua" not in result.stderr, result.stderr
    rows = []
    for line in result.stdout.splitlines():
        cells = line.split("\t")
        assert len(cells) == len(asked), line
        rows.append(
            {
                name: (cell.split(AGGREGATOR) if cell else [])
                for name, cell in zip(asked, cells, strict=True)
            }
        )
    return rows


def tshark_verbose(scripts: Sequence[Path], pcap: Path, protocol: str) -> str:
    """tshark's text tree of one protocol (``-V -O protocol``), and its stderr."""
    tool = open_tshark()
    assert tool is not None
    with staged(tool, [*scripts, pcap]) as copies:
        args = ["-n"]
        for script in copies[:-1]:
            args += ["-X", f"lua_script:{script}"]
        args += ["-r", str(copies[-1]), "-V", "-O", protocol]
        result = subprocess.run(
            tool.command(args), capture_output=True, text=True, timeout=60, check=False
        )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr
