"""The tshark tab's decode: real tshark through pyshark, the capture's own packet number."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pyshark
import pytest

from engine.deep_decode import decode_with_tshark
from engine.dissector import pdml
from engine.dissector.pyshark_pdml import run_pdml
from engine.dissector.tshark import Tshark, find_tshark, staged
from engine.errors import UnavailableError
from engine.pcapio import PcapRecord, open_pcap
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.sample_traffic import sample_records
from tui.screens.main import MainScreen

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")


def test_layers_carry_the_packet_number_of_the_capture() -> None:
    record = sample_records()[9]
    layers = decode_with_tshark(
        record.linktype, record.data, record.timestamp, record.length, number=10
    )
    assert layers[0].label.startswith("Frame 10:")
    assert any(child.label == "Frame Number: 10" for child in layers[0].children)
    names = [layer.label for layer in layers]
    assert any(name.startswith("Ethernet II") for name in names)
    assert any(name.startswith("Internet Protocol Version 4") for name in names)


def test_tshark_missing_from_path_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    record = sample_records()[0]
    with pytest.raises(UnavailableError, match="apt-get install tshark"):
        decode_with_tshark(record.linktype, record.data, record.timestamp)


# -- through pyshark -------------------------------------------------------------------------

CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"


def write_dns_query(path: Path) -> Path:
    """A pcap of one DNS query on loopback addresses, written by scapy (never sent)."""
    from scapy.layers.dns import DNS, DNSQR
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    frame = (
        Ether(src=CLIENT_MAC, dst=SERVER_MAC)
        / IP(src="127.0.0.1", dst="127.0.0.53")
        / UDP(sport=40000, dport=53)
        / DNS(id=0x1234, rd=1, qd=DNSQR(qname="livetap.example", qtype="AAAA"))
    )
    frame.time = 1_700_000_000.25
    wrpcap(str(path), [frame])
    return path


def first_record(path: Path) -> PcapRecord:
    with open_pcap(path) as reader:
        return reader.read_batch(1)[0]


class PysharkSpy:
    """Every run of pyshark's capture: the thread and loop it ran in."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs: list[tuple[threading.Thread, asyncio.AbstractEventLoop]] = []
        original = pyshark.FileCapture.packets_from_tshark
        spy = self

        async def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
            spy.runs.append((threading.current_thread(), asyncio.get_running_loop()))
            return await original(self, *args, **kwargs)

        monkeypatch.setattr(pyshark.FileCapture, "packets_from_tshark", recorded)

        def no_subprocess(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("tshark was run without pyshark")

        monkeypatch.setattr(subprocess, "run", no_subprocess)


def test_d_decodes_a_scapy_written_packet_through_pyshark(
    tmp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = PysharkSpy(monkeypatch)
    record = first_record(write_dns_query(tmp_dir / "dns.pcap"))
    layers = decode_with_tshark(record.linktype, record.data, record.timestamp, number=3)
    assert len(spy.runs) == 1 and spy.runs[0][0] is not threading.main_thread()
    names = [layer.label for layer in layers]
    assert names[0].startswith("Frame 3:")
    assert names[1].startswith("Ethernet II, Src: 02:00:00:00:00:01")
    assert names[2].startswith("Internet Protocol Version 4, Src: 127.0.0.1, Dst: 127.0.0.53")
    assert names[3].startswith("User Datagram Protocol, Src Port: 40000, Dst Port: 53")
    dns = layers[4]
    assert dns.label == "Domain Name System (query)"
    labels = [child.label for child in dns.children]
    assert "Transaction ID: 0x1234" in labels
    flags = next(child for child in dns.children if child.label.startswith("Flags: 0x0100"))
    assert any("Recursion desired: Do query recursively" in bit.label for bit in flags.children)
    queries = next(child for child in dns.children if child.label == "Queries")
    query = queries.children[0]
    assert query.label.startswith("livetap.example: type AAAA")
    assert "Name: livetap.example" in [item.label for item in query.children]


async def test_decoding_from_inside_a_running_loop_uses_a_loop_of_its_own(
    tmp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Called from a thread whose loop runs (as Textual's does): pyshark gets its own."""
    spy = PysharkSpy(monkeypatch)
    record = first_record(write_dns_query(tmp_dir / "dns.pcap"))
    layers = decode_with_tshark(record.linktype, record.data, record.timestamp)
    assert any(layer.label.startswith("Domain Name System") for layer in layers)
    (thread, loop) = spy.runs[0]
    assert thread is not threading.current_thread() and loop is not asyncio.get_running_loop()
    assert loop.is_closed()


async def test_the_tshark_tab_decodes_a_scapy_written_pcap_through_pyshark(
    tmp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.app import LivetapApp
    from tui.widgets.packet_detail import DeepTree, PacketDetailPane

    spy = PysharkSpy(monkeypatch)
    path = write_dns_query(tmp_dir / "dns.pcap")
    app = LivetapApp(CaptureSession(open_file_source(path)))
    async with app.run_test(size=(160, 45)) as pilot:
        screen = next(s for s in app.screen_stack if isinstance(s, MainScreen))
        deadline = time.monotonic() + 10
        while screen.packet_list.row_count < 1 and time.monotonic() < deadline:
            await pilot.pause(0.05)
        screen.packet_list.select(1)
        await pilot.press("d")
        tree = screen.query_one(PacketDetailPane).query_one(DeepTree)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
            "Domain Name System" in str(node.label) for node in tree.root.children
        ):
            await pilot.pause(0.05)
        labels = [str(node.label) for node in tree.root.children]
        assert labels[0].startswith("Frame 1:") and "Domain Name System (query)" in labels
        app_loop = asyncio.get_running_loop()
    assert spy.runs and all(loop is not app_loop for _, loop in spy.runs)


def test_tshark_as_nobody_gives_the_same_packets_without_pyshark(tmp_dir: Path) -> None:
    """setpriv cannot go through pyshark: the direct run cuts the output the same way."""
    path = find_tshark()
    assert path is not None
    capture = write_dns_query(tmp_dir / "dns.pcap")
    through_pyshark = run_pdml(Tshark(path, as_nobody=False), capture, timeout=30)
    tool = Tshark(path, as_nobody=True)
    with staged(tool, [capture]) as (copy,):
        directly = run_pdml(tool, copy, timeout=30)
    assert through_pyshark.returncode == directly.returncode == 0
    assert len(through_pyshark.packets) == len(directly.packets) == 1

    def shown(text: bytes) -> list[str]:
        packet = pdml.parse_packet(text)
        return [proto.get("showname", "") for proto in packet.iter("proto")][2:]

    assert shown(through_pyshark.packets[0]) == shown(directly.packets[0])


def test_a_failing_tshark_keeps_its_exit_status_and_every_line_of_stderr(tmp_dir: Path) -> None:
    path = find_tshark()
    assert path is not None
    cut_short = tmp_dir / "cut.pcap"
    cut_short.write_bytes(bytes.fromhex("d4c3b2a102000400"))  # a pcap header's first half
    result = run_pdml(Tshark(path, as_nobody=False), cut_short, timeout=30)
    assert result.returncode not in (0, -1) and result.packets == ()
    first, *_, last = result.stderr.splitlines()  # pyshark alone keeps only the last line
    assert first.startswith('Running as user "root"')  # the tests run as root
    assert "appears to have been cut short" in last


def test_a_tshark_that_hangs_is_stopped_at_the_timeout(tmp_dir: Path) -> None:
    """A stuck tshark (here a script that never answers) is killed, not left behind."""
    fake = tmp_dir / "tshark"
    fake.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    fake.chmod(0o755)
    capture = write_dns_query(tmp_dir / "dns.pcap")
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="did not finish within 1 s"):
        run_pdml(Tshark(str(fake), as_nobody=False), capture, timeout=1)
    assert time.monotonic() - started < 5
    left = subprocess.run(["pgrep", "-f", str(fake)], capture_output=True, text=True, check=False)
    assert left.stdout.strip() == ""
