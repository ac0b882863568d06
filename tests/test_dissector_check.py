"""check_dissector and decode_frame with real tshark: counts, broken scripts, no tshark."""

from __future__ import annotations

import json
import pwd
import shutil
from pathlib import Path

import pytest

from engine import linktypes
from engine.dissector import (
    check_dissector,
    decode_frame,
    generate_lua,
    load_spec,
    override,
    parse_spec,
    read_spec_data,
)
from engine.dissector.check import _run_check
from engine.dissector.tshark import Tshark, lua_messages, staged
from engine.errors import BadInputError, NotFoundError, UnavailableError
from tests.dissector_support import (
    EVENT,
    READINGS,
    script_for,
    sensor_message,
    spec_file,
    udp_frame,
    write_frames,
)

FRAMES = [
    udp_frame(sensor_message(1, READINGS), 47000),
    udp_frame(sensor_message(3, EVENT), 47000),
    udp_frame(sensor_message(1, READINGS)[:20], 47000),
    udp_frame(b"not sensor traffic", 5353),
]


@pytest.fixture
def sensor_files(tmp_dir: Path) -> tuple[Path, Path]:
    _, script = script_for("sensor", tmp_dir)
    pcap = write_frames(tmp_dir / "sensor.pcap", FRAMES)
    return script, pcap


def test_a_good_dissector_is_counted_field_by_field(sensor_files: tuple[Path, Path]) -> None:
    script, pcap = sensor_files
    spec = load_spec(spec_file("sensor"))
    report = check_dissector(script, pcap, spec)
    assert report.ok and report.skipped is None
    assert report.packets == 4 and report.decoded == 3
    assert report.count("sensor.magic") == 3
    assert report.count("sensor.name") == 2
    assert report.count("sensor.readings.reading") == 1
    assert report.count("sensor.event.detail") == 1
    assert report.count("sensor.config.interval") == 0
    assert [item.abbrev for item in report.fields] == list(spec.abbreviations())
    messages = [(item.frame, item.severity, item.message) for item in report.expert]
    assert messages == [
        (1, "Warning", "Kind: unknown value 9"),
        (3, "Error", "Sensor name: needs 7 bytes, 4 left"),
    ]
    assert report.expert_total == 2
    assert dict(report.expert_by_severity) == {"Error": 1, "Warning": 1}
    document = json.loads(json.dumps(report.to_dict()))
    assert document["ok"] is True and document["decoded"] == 3
    assert {"field": "sensor.seq", "label": "Sequence number", "packets": 3} in document["fields"]


def test_a_syntax_error_is_a_broken_dissector(sensor_files: tuple[Path, Path]) -> None:
    script, pcap = sensor_files
    script.write_text(script.read_text().replace("local dissect = {}", "local dissect = = {}"))
    report = check_dissector(script, pcap, load_spec(spec_file("sensor")))
    assert not report.ok
    assert report.lua_errors[0].frame is None
    assert "syntax error" in report.lua_errors[0].message
    assert report.decoded == 0


def test_a_runtime_error_is_found_per_frame(sensor_files: tuple[Path, Path]) -> None:
    script, pcap = sensor_files
    broken = script.read_text().replace(
        "local value = range:ether()", "local value = range:no_such_method()"
    )
    script.write_text(broken)
    report = check_dissector(script, pcap, load_spec(spec_file("sensor")))
    assert not report.ok
    assert [error.frame for error in report.lua_errors] == [1, 2, 3]
    assert "no_such_method" in report.lua_errors[0].message


def test_a_script_for_another_protocol_is_reported(tmp_dir: Path) -> None:
    _, kitchen_script = script_for("kitchen", tmp_dir)
    pcap = write_frames(tmp_dir / "sensor.pcap", FRAMES)
    report = check_dissector(kitchen_script, pcap, load_spec(spec_file("sensor")))
    assert not report.ok
    assert "does not register the protocol 'sensor'" in report.lua_errors[0].message


def test_a_name_wireshark_already_has_gets_a_hint(tmp_dir: Path) -> None:
    spec = parse_spec(override(read_spec_data(spec_file("sensor")), protocol_name="dns"))
    script = tmp_dir / "dns.lua"
    script.write_text(generate_lua(spec))
    pcap = write_frames(tmp_dir / "sensor.pcap", FRAMES)
    report = check_dissector(script, pcap, spec)
    assert not report.ok
    assert "two protocols with the same name" in report.lua_errors[0].message
    assert any("--protocol-name" in warning for warning in report.warnings)


def test_without_tshark_the_check_is_skipped(
    sensor_files: tuple[Path, Path], tmp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script, pcap = sensor_files
    empty = tmp_dir / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    report = check_dissector(script, pcap, load_spec(spec_file("sensor")))
    assert report.ok and report.skipped is not None
    assert "tshark is not installed" in report.skipped
    with pytest.raises(UnavailableError, match="needs tshark"):
        decode_frame(script, linktypes.ETHERNET, FRAMES[0], 0.0, "sensor")


def test_missing_files_and_unreadable_captures(sensor_files: tuple[Path, Path]) -> None:
    script, pcap = sensor_files
    spec = load_spec(spec_file("sensor"))
    with pytest.raises(NotFoundError):
        check_dissector(script.with_name("nope.lua"), pcap, spec)
    with pytest.raises(NotFoundError):
        check_dissector(script, pcap.with_name("nope.pcap"), spec)
    with pytest.raises(NotFoundError, match="check --tshark"):
        check_dissector(script, pcap, spec, tshark="/nonexistent/tshark")
    not_a_capture = pcap.with_name("notes.pcap")
    not_a_capture.write_text("hello\n")
    with pytest.raises(BadInputError):
        check_dissector(script, not_a_capture, spec)


@pytest.mark.root("setpriv to another user")
def test_tshark_as_nobody_reads_private_copies(sensor_files: tuple[Path, Path]) -> None:
    """The fallback for builds that ignore Lua for root: run as nobody on private copies."""
    script, pcap = sensor_files
    pcap.chmod(0o600)
    tshark = shutil.which("tshark")
    assert tshark is not None
    tool = Tshark(tshark, as_nobody=True)
    nobody = pwd.getpwnam("nobody").pw_uid
    with staged(tool, [script, pcap]) as copies:
        assert all(
            copy.stat().st_uid == nobody and copy.stat().st_mode & 0o077 == 0 for copy in copies
        )
        directory = copies[0].parent
        assert directory.stat().st_uid == nobody and directory.stat().st_mode & 0o077 == 0
    assert not directory.exists()
    report = _run_check(tool, script, pcap, load_spec(spec_file("sensor")), packets=4, timeout=60)
    assert report.ok and report.decoded == 3 and report.count("sensor.seq") == 3


def test_lua_messages_are_read_from_tshark_stderr() -> None:
    stderr = (
        'Running as user "root" and group "root". This could be dangerous.\n'
        "tshark: Lua: Error during loading:\n"
        " x.lua:1: boom\n"
        "stack traceback:\n"
        "tshark: Some fields aren't valid:\n"
        "\tx.a\n"
    )
    assert lua_messages(stderr) == ["Lua: Error during loading:\n x.lua:1: boom\nstack traceback:"]


def test_decode_frame_gives_the_detail_tree(sensor_files: tuple[Path, Path]) -> None:
    script, _ = sensor_files
    nodes = decode_frame(script, linktypes.ETHERNET, FRAMES[0], 1_700_000_000.0, "sensor")
    assert len(nodes) == 1
    root = nodes[0]
    assert root.label == "Sensor telemetry protocol, Reading seq=7 from kitchen"
    labels = [child.label for child in root.children]
    assert labels[:3] == ["Magic: 0x534e", "Version: 1", "Message type: Reading (1)"]
    assert "Sequence number: 7" in labels and "Checksum: 0xbeef" in labels
    flags = next(child for child in root.children if child.label.startswith("Flags"))
    assert [bit.label for bit in flags.children][2] == "..10 .... = Priority: High (2)"
    body = next(child for child in root.children if child.label.startswith("Body ("))
    assert body.label == "Body (readings)"
    second = body.children[2]
    assert second.children[0].label == "Kind: Unknown (9)"
    assert second.children[0].children[0].label.startswith("Expert Info (Warning/Undecoded)")
    assert decode_frame(script, linktypes.ETHERNET, FRAMES[3], 0.0, "sensor") == ()


def test_decode_frame_shows_lua_errors_and_refuses_scripts_that_do_not_load(
    sensor_files: tuple[Path, Path],
) -> None:
    script, _ = sensor_files
    text = script.read_text()
    script.write_text(text.replace("local value = range:ether()", "local value = range:nope()"))
    nodes = decode_frame(script, linktypes.ETHERNET, FRAMES[0], 0.0, "sensor")
    assert any(node.label.startswith("Lua Error:") and "nope" in node.label for node in nodes)
    script.write_text(text + "\nthis is not lua\n")
    with pytest.raises(BadInputError, match="does not load in tshark"):
        decode_frame(script, linktypes.ETHERNET, FRAMES[0], 0.0, "sensor")
    with pytest.raises(NotFoundError):
        decode_frame(script.with_name("nope.lua"), linktypes.ETHERNET, FRAMES[0], 0.0, "sensor")


def test_the_export_re_decode_runs_through_pyshark_and_as_nobody_the_same(
    sensor_files: tuple[Path, Path], tmp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """decode_frame hands the Lua script to tshark through pyshark's custom parameters."""
    import asyncio
    import threading
    from typing import Any

    import pyshark

    from engine.dissector import pdml
    from engine.dissector.pyshark_pdml import run_pdml

    script, pcap = sensor_files
    runs: list[list[str]] = []
    original = pyshark.FileCapture.packets_from_tshark

    async def recorded(self: Any, *args: Any, **kwargs: Any) -> Any:
        assert threading.current_thread() is not threading.main_thread()
        runs.append(self.get_parameters())
        assert asyncio.get_running_loop() is self.eventloop
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(pyshark.FileCapture, "packets_from_tshark", recorded)
    nodes = decode_frame(script, linktypes.ETHERNET, FRAMES[1], 1_700_000_000.0, "sensor")
    assert len(runs) == 1 and f"lua_script:{script}" in runs[0]
    assert nodes[0].label.startswith("Sensor telemetry protocol")

    tshark = shutil.which("tshark")
    assert tshark is not None
    direct = Tshark(tshark, as_nobody=False)
    nobody = Tshark(tshark, as_nobody=True)
    by_pyshark = run_pdml(direct, pcap, ["-X", f"lua_script:{script}"], timeout=60)
    with staged(nobody, [script, pcap]) as (copy, capture):
        by_setpriv = run_pdml(nobody, capture, ["-X", f"lua_script:{copy}"], timeout=60)
    assert len(runs) == 2 and by_pyshark.returncode == by_setpriv.returncode == 0

    def sensor_labels(texts: tuple[bytes, ...]) -> list[list[str]]:
        return [
            [pdml.label(item) for tree in pdml.protocol_trees(packet, "sensor") for item in tree]
            for packet in map(pdml.parse_packet, texts)
        ]

    assert len(by_pyshark.packets) == 4
    assert sensor_labels(by_pyshark.packets) == sensor_labels(by_setpriv.packets)
    assert sum(1 for labels in sensor_labels(by_pyshark.packets) if labels) == 3
