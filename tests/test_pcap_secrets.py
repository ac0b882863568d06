"""The Decryption Secrets Block livetap writes is the one editcap --inject-secrets writes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.errors import BadInputError
from engine.pcapio import PcapRecord, write_pcap_file
from engine.pcapio.read import open_pcap
from engine.pcapio.secrets import BLOCK_DSB, dsb_block

KEYS = b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n"
FRAME = bytes(12) + b"\x08\x00" + bytes(20)


def blocks(path: Path) -> list[tuple[int, bytes]]:
    """(type, whole block) of every block of a little-endian pcapng file."""
    data = path.read_bytes()
    found, position = [], 0
    while position + 8 <= len(data):
        kind = int.from_bytes(data[position : position + 4], "little")
        size = int.from_bytes(data[position + 4 : position + 8], "little")
        found.append((kind, data[position : position + size]))
        position += size
    return found


def test_the_block_is_editcaps_and_comes_before_the_packets(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_bytes(KEYS)
    plain, injected = tmp_path / "plain.pcapng", tmp_path / "injected.pcapng"
    write_pcap_file(plain, [PcapRecord(1.0, len(FRAME), 1, FRAME)], fmt="pcapng")
    subprocess.run(
        ["editcap", "--inject-secrets", f"tls,{keys}", str(plain), str(injected)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    theirs = [block for kind, block in blocks(injected) if kind == BLOCK_DSB]
    assert theirs == [dsb_block(KEYS)]
    ours = tmp_path / "ours.pcapng"
    write_pcap_file(ours, [PcapRecord(1.0, len(FRAME), 1, FRAME)], secrets=KEYS)
    kinds = [kind for kind, _ in blocks(ours)]
    assert kinds.index(BLOCK_DSB) < kinds.index(6)  # before the first packet
    assert [block for kind, block in blocks(ours) if kind == BLOCK_DSB] == theirs
    with open_pcap(ours) as reader:
        assert [record.data for record in reader] == [FRAME]  # still reads as before


def test_no_secrets_no_block_and_never_in_a_pcap_file(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pcapng"
    write_pcap_file(plain, [PcapRecord(1.0, len(FRAME), 1, FRAME)])
    assert BLOCK_DSB not in [kind for kind, _ in blocks(plain)]
    with pytest.raises(BadInputError, match="pcapng"):
        write_pcap_file(tmp_path / "a.pcap", [PcapRecord(1.0, len(FRAME), 1, FRAME)], secrets=KEYS)
    assert not (tmp_path / "a.pcap").exists()
