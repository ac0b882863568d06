"""``eth.type`` and ``vlan.etype`` on tagged frames are Wireshark's: the Ethernet header's own
type (0x8100, 0x88a8), and the type after each 802.1Q tag."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Dot1AD, Dot1Q, Ether
from scapy.utils import wrpcap

SRC, DST = "02:00:00:00:00:01", "02:00:00:00:00:02"
EXPRESSIONS = (
    "eth.type == 0x8100",
    "eth.type == 0x88a8",
    "eth.type == 0x0800",
    "vlan.etype == 0x0800",
    "vlan.etype == 0x8100",
    "vlan.etype",
)


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inner = IP(src="127.0.0.1", dst="127.0.0.2") / UDP(sport=1000, dport=2000) / b"x"
    frames = [
        Ether(src=SRC, dst=DST) / inner,  # untagged
        Ether(src=SRC, dst=DST) / Dot1Q(vlan=5) / inner,
        Ether(src=SRC, dst=DST) / Dot1AD(vlan=7) / Dot1Q(vlan=5) / inner,  # 802.1ad service tag
        Ether(src=SRC, dst=DST, type=0x8100) / Dot1Q(vlan=7, type=0x8100) / Dot1Q(vlan=5) / inner,
    ]
    path = tmp_path_factory.mktemp("vlan") / "tagged.pcap"
    wrpcap(str(path), frames)
    return path


def _livetap(path: Path, expression: str) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-m", "tui.cli", "filter", str(path), "-Y", expression, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [row["number"] for row in json.loads(done.stdout)["data"]["frames"]]


def _tshark(path: Path, expression: str) -> list[int]:
    done = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-Y", expression, "-T", "fields", "-e", "frame.number"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [int(line) for line in done.stdout.split()]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_tagged_frames_match_as_in_tshark(tagged: Path, expression: str) -> None:
    assert _livetap(tagged, expression) == _tshark(tagged, expression)


def test_the_values(tagged: Path) -> None:
    assert _livetap(tagged, "eth.type == 0x8100") == [2, 4]
    assert _livetap(tagged, "eth.type == 0x88a8") == [3]
    assert _livetap(tagged, "eth.type == 0x0800") == [1]
    assert _livetap(tagged, "vlan.etype == 0x8100") == [4]  # the outer of two 802.1Q tags
    assert _livetap(tagged, "vlan.etype == 0x0800") == [2, 3, 4]
