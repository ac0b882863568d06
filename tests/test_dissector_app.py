"""``x`` in the TUI: export a dissector from a spec, see the packet decoded by it; draft a spec."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static, TabbedContent

from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.dissector_support import EVENT, READINGS, sensor_message, udp_frame, write_frames
from tui.app import LivetapApp
from tui.screens.dissector_export import DissectorExport
from tui.screens.main import MainScreen
from tui.widgets.packet_detail import LayerTree, PacketDetailPane

EXAMPLE = Path(__file__).parent.parent / "examples" / "sensor.json"


async def until(pilot: Pilot[None], condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the app never reached the expected state")
        await pilot.pause(0.05)


def labels(node: object, depth: int = 0) -> list[str]:
    found = [str(node.label)]  # type: ignore[attr-defined]
    for child in node.children:  # type: ignore[attr-defined]
        found += labels(child, depth + 1)
    return found


async def test_x_exports_the_dissector_and_shows_the_packet_decoded(tmp_dir: Path) -> None:
    frames = [
        udp_frame(sensor_message(1, READINGS, seq=41), 47000),
        udp_frame(sensor_message(3, EVENT), 47000),
    ]
    pcap = write_frames(tmp_dir / "sensor.pcap", frames)
    app = LivetapApp(CaptureSession(open_file_source(pcap)), save_directory=tmp_dir)
    async with app.run_test(size=(200, 50)) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await until(pilot, lambda: main.packet_list.row_count == 2)
        await pilot.press("home")
        await pilot.press("x")
        dialog = app.screen
        assert isinstance(dialog, DissectorExport)
        dialog.query_one("#export-spec", Input).value = str(tmp_dir / "nope.json")
        dialog.export()
        await until(pilot, lambda: "nope.json" in dialog.error_text)
        dialog.query_one("#export-spec", Input).value = str(EXAMPLE)
        dialog.export()
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert (tmp_dir / "sensor.lua").is_file()
        tree = main.query_one(LayerTree)
        await until(
            pilot, lambda: any("decoded by sensor.lua" in str(n.label) for n in tree.root.children)
        )
        decoded = next(n for n in tree.root.children if "decoded by sensor.lua" in str(n.label))
        text = " ".join(labels(decoded))
        assert "Sequence number: 41" in text and "Reading" in text and "kitchen" in text


async def test_x_brings_up_the_layers_tab_when_the_wireshark_tab_was_shown(tmp_dir: Path) -> None:
    pcap = write_frames(tmp_dir / "sensor.pcap", [udp_frame(sensor_message(1, READINGS), 47000)])
    app = LivetapApp(CaptureSession(open_file_source(pcap)), save_directory=tmp_dir)
    async with app.run_test(size=(200, 50)) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await until(pilot, lambda: main.packet_list.row_count == 1)
        await pilot.press("home")
        detail = main.query_one(PacketDetailPane)
        detail.query_one("#detail-tabs", TabbedContent).active = "tab-tshark"
        await pilot.pause()
        assert detail.showing_deep
        await pilot.press("x")
        dialog = app.screen
        assert isinstance(dialog, DissectorExport)
        dialog.query_one("#export-spec", Input).value = str(EXAMPLE)
        dialog.export()
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        tree = main.query_one(LayerTree)
        await until(
            pilot, lambda: any("decoded by sensor.lua" in str(n.label) for n in tree.root.children)
        )
        await pilot.pause()
        assert not detail.showing_deep  # the tab with the new decode is the one shown
        assert tree.display and tree.region.height > 0


async def test_draft_from_the_selected_packet_writes_an_editable_spec(tmp_dir: Path) -> None:
    pcap = write_frames(
        tmp_dir / "custom.pcap", [udp_frame(b"\xca\xfe\x01\x02hello world\x00\x10\x20", 40123)]
    )
    app = LivetapApp(CaptureSession(open_file_source(pcap)), save_directory=tmp_dir)
    async with app.run_test(size=(200, 50)) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await until(pilot, lambda: main.packet_list.row_count == 1)
        await pilot.press("home", "x")
        dialog = app.screen
        assert isinstance(dialog, DissectorExport)
        dialog.draft()
        spec_path = Path(dialog.query_one("#export-spec", Input).value)
        assert spec_path.parent == tmp_dir and spec_path.is_file()
        draft = json.loads(spec_path.read_text())
        assert draft["transport"] == "udp" and 40123 in draft["ports"]
        dialog.export()
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert (tmp_dir / f"{draft['protocol']}.lua").is_file()


async def test_without_a_spec_x_offers_a_draft_and_writes_privately_to_the_capture_directory(
    tmp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    captures, elsewhere = tmp_dir / "captures", tmp_dir / "elsewhere"
    captures.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # outside the repository: no examples/sensor.json here
    pcap = write_frames(
        tmp_dir / "custom.pcap", [udp_frame(b"\xca\xfe\x01\x02hello world\x00\x10\x20", 40123)]
    )
    app = LivetapApp(CaptureSession(open_file_source(pcap)), save_directory=captures)
    async with app.run_test(size=(200, 50)) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await until(pilot, lambda: main.packet_list.row_count == 1)
        await pilot.press("home", "x")
        dialog = app.screen
        assert isinstance(dialog, DissectorExport)
        assert dialog.query_one("#export-spec", Input).value == ""
        assert app.focused is dialog.query_one("#export-draft", Button)
        note = str(dialog.query_one("#export-note", Static).content)
        assert "draft one from packet 1" in note
        dialog.export()  # with no spec, Export drafts one instead of refusing
        await until(pilot, lambda: dialog.query_one("#export-spec", Input).value != "")
        assert dialog.error_text == ""
        spec_path = Path(dialog.query_one("#export-spec", Input).value)
        assert spec_path.parent == captures and spec_path.stat().st_mode & 0o777 == 0o600
        dialog.query_one("#export-output", Input).value = "custom.lua"  # relative
        dialog.export()
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
    lua = captures / "custom.lua"
    assert lua.is_file() and lua.stat().st_mode & 0o777 == 0o600
    assert list(elsewhere.iterdir()) == []
