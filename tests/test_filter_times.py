"""frame.time_epoch, frame.time_relative and frame.time_delta, as tshark's -Y reads them.

Both ways a filter runs over a capture are checked: the TUI's display view over a file
source (its times come from the buffer) and the headless ``livetap filter`` (its times
come from reading in order).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from engine.display_filter import DisplayFilterError, compile_display_filter
from engine.pcapio import PcapRecord, write_pcap_file
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.analysis_data import tshark
from tests.conftest import wait_for

TIMES = [1000.0, 1000.5, 1002.0, 1002.25, 1006.0, 1006.001]
FILTERS = [
    "frame.time_relative >= 2",
    "frame.time_relative < 1",
    "frame.time_delta > 1",
    "frame.time_delta < 0.3",
    "frame.time_delta == 0",
    "frame.time_epoch > 1002.1",
    "frame.time_relative in {2.0, 6.0}",
]
LIVETAP = Path(sys.executable).parent / "livetap"


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("times") / "times.pcap"
    frame = bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="127.0.0.1", dst="127.0.0.2")
        / UDP(sport=5, dport=6)
    )
    write_pcap_file(path, [PcapRecord(t, len(frame), 1, frame) for t in TIMES])
    return path


def _theirs(path: Path, expression: str) -> list[int]:
    out = tshark(path, "-Y", expression, "-T", "fields", "-e", "frame.number")
    return [int(n) for n in out.split()]


@pytest.mark.parametrize("expression", FILTERS)
def test_the_headless_filter_gives_tsharks_frames(capture: Path, expression: str) -> None:
    result = subprocess.run(
        [str(LIVETAP), "filter", str(capture), "-Y", expression, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ours = [frame["number"] for frame in json.loads(result.stdout)["data"]["frames"]]
    assert ours == _theirs(capture, expression)


@pytest.mark.parametrize("expression", FILTERS)
def test_the_display_view_over_a_file_gives_tsharks_frames(capture: Path, expression: str) -> None:
    session = CaptureSession(open_file_source(str(capture)))
    with session:
        assert session.wait_finished(10)
        view = session.set_display_filter(expression)
        assert view is not None
        view.scan()
        assert wait_for(lambda: not view.scanning, timeout=5)
        ours = [view.index_at(row) for row in range(len(view))]
    assert ours == _theirs(capture, expression)


def test_a_time_is_a_number_of_seconds() -> None:
    with pytest.raises(DisplayFilterError, match="number of seconds"):
        compile_display_filter("frame.time_delta > soon")
    assert compile_display_filter("frame.time_relative <= .5").fields == {"frame.time_relative"}
