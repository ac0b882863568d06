"""One source factory, one declared source protocol: every kind behaves the same way."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from engine.errors import UsageError
from engine.live import LiveSource
from engine.replay import CommandSource, IndexedFileSource, StreamSource
from engine.session import CaptureSession
from engine.source import PacketSource, SourceSpec, open_source
from tests.conftest import free_udp_port, send_udp, wait_for
from tests.sample_traffic import write_sample_pcap

ROOT = Path(__file__).resolve().parent.parent


def _declared(source: PacketSource) -> None:
    """Every member of the protocol is there, with a value of the right kind."""
    assert isinstance(source.description, str) and source.description
    assert isinstance(source.linktype, int)
    assert isinstance(source.can_wait, bool)
    assert isinstance(source.finished, bool)
    assert isinstance(source.warnings, list)
    assert source.filter.expression is not None


def test_a_file_is_indexed_or_replayed_as_asked(tmp_path: Path) -> None:
    path = str(write_sample_pcap(tmp_path / "s.pcap"))
    indexed = open_source(SourceSpec(files=(path,), filter="udp"))
    replayed = open_source(SourceSpec(files=(path,), realtime=True))
    try:
        assert isinstance(indexed, IndexedFileSource) and indexed.ring is not None
        assert isinstance(replayed, StreamSource) and replayed.ring is None
        assert indexed.filter.expression == "udp"
        for source in (indexed, replayed):
            _declared(source)
            assert source.can_wait
        again = indexed.reread("tcp")
        assert again is not None and again.filter.expression == "tcp"
        again.close()
    finally:
        indexed.close()
        replayed.close()


def test_a_command_is_a_stream_that_cannot_be_read_again(tmp_path: Path) -> None:
    path = write_sample_pcap(tmp_path / "s.pcap")
    source = open_source(SourceSpec(commands=(f"cat {path}",)))
    try:
        assert isinstance(source, CommandSource)
        _declared(source)
        assert source.reread("udp") is None
    finally:
        source.close()


def test_a_file_and_a_command_at_once_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="-r cannot be mixed with --source-cmd"):
        open_source(SourceSpec(files=("a.pcap",), commands=("cat a.pcap",)))
    with pytest.raises(UsageError, match="-r cannot be mixed with -i"):
        open_source(SourceSpec(("lo",), files=("a.pcap",)))
    with pytest.raises(UsageError, match="-i lo is named twice"):
        open_source(SourceSpec(("lo", "lo")))


@pytest.mark.root
def test_an_interface_honours_the_snap_length_and_its_filter() -> None:
    port = free_udp_port()
    source = open_source(SourceSpec(("lo",), filter=f"udp port {port}", snaplen=96))
    assert isinstance(source, LiveSource)
    _declared(source)
    assert source.ring is None and not source.can_wait and source.reread("udp") is None
    session = CaptureSession(source)
    with session:
        send_udp(port, [b"x" * 600] * 3)
        assert wait_for(lambda: session.stats().packets >= 3, timeout=5)
    packets = [session.packet(i) for i in range(1, 4)]
    assert all(p is not None and p.captured_length <= 96 < p.length for p in packets)


@pytest.mark.root
def test_the_ndjson_background_capture_reads_the_configured_snap_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It used to open its interface with the defaults, whatever the configuration said."""
    from engine.ndjson.daemon import _open_sources

    monkeypatch.setenv("CAPTURE_SNAPLEN", "128")
    monkeypatch.setenv("CAPTURE_BUFFER", "2M")
    browser, packets = _open_sources({"packets": True, "interface": "lo"})
    try:
        assert browser is None and packets is not None
        assert isinstance(packets.source, LiveSource)
        assert packets.source.snaplen == 128
    finally:
        packets.stop()


def test_nothing_outside_the_factory_builds_a_source() -> None:
    """Front ends describe what to read (SourceSpec); only engine/source.py opens it."""
    makers = {"LiveSource", "open_file_source", "open_command_source"}
    offenders = []
    for path in [*(ROOT / "engine").rglob("*.py"), *(ROOT / "tui").rglob("*.py")]:
        if path.name in ("source.py", "source_merge.py", "live.py", "replay.py"):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in makers:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert offenders == []


def test_the_capture_loop_probes_no_source_attribute() -> None:
    """The protocol is declared: the loop and its users read sources without getattr."""
    for name in ("session.py", "capture_loop.py", "source_merge.py", "pcap_capture/loop.py"):
        text = (ROOT / "engine" / name).read_text()
        assert "getattr(" not in text, f"{name}: declare the member in PacketSource"
    assert sys.modules["engine.source"].PacketSource.__doc__


def test_a_capture_on_lo_or_any_leaves_the_served_page_port_out() -> None:
    """Issue 18 #13: under livetap serve, the page's websocket is not in the packet list."""
    from engine.config import served_port
    from engine.source import SourceSpec, excluding_tcp_port

    assert excluding_tcp_port(SourceSpec(("lo",)), 8000).filter == "not tcp port 8000"
    assert excluding_tcp_port(SourceSpec(("any",), filter="udp"), 8000).filter == (
        "(udp) and not tcp port 8000"
    )
    for untouched in (
        SourceSpec(("eth0",)),
        SourceSpec(files=("x.pcap",)),
        SourceSpec(commands=("cat",)),
    ):
        assert excluding_tcp_port(untouched, 8000) == untouched
    assert excluding_tcp_port(SourceSpec(("lo",)), None) == SourceSpec(("lo",))
    assert served_port({"LIVETAP_SERVE_PORT": "8123"}) == 8123
    for bad in ({}, {"LIVETAP_SERVE_PORT": "x"}, {"LIVETAP_SERVE_PORT": "70000"}):
        assert served_port(bad) is None
