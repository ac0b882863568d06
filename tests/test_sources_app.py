"""The TUI with several inputs: an Input column (frame.source) only then, the detail says it."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from engine.session import CaptureSession
from engine.source import SourceSpec, open_source
from tests.test_app import SIZE, main_screen, row_strings, until
from tests.test_sources_merged import A_MAC, B_MAC, write_file
from tui.app import LivetapApp
from tui.widgets.packet_detail import LayerTree


def two_file_session(tmp_path: Path) -> CaptureSession:
    a = write_file(tmp_path / "a.pcap", A_MAC, [10.0, 10.2, 10.4], 5001)
    b = write_file(tmp_path / "b.pcap", B_MAC, [10.1, 10.3], 5002)
    return CaptureSession(open_source(SourceSpec(files=(str(a), str(b)))))


def header(app: LivetapApp) -> str:
    return str(main_screen(app).query_one("#packet-header", Static).content)


async def test_two_inputs_show_the_input_column(tmp_path: Path) -> None:
    app = LivetapApp(two_file_session(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == 5)
        assert "Input" in header(app)
        rows = row_strings(packet_list)
        assert [row.split()[1] for row in rows] == [
            "a.pcap",
            "b.pcap",
            "a.pcap",
            "b.pcap",
            "a.pcap",
        ]
        await pilot.press("home", "down")
        tree = main_screen(app).query_one(LayerTree)
        await until(pilot, lambda: len(tree.root.children) > 1, timeout=15)
        frame = tree.root.children[0]
        assert str(frame.label).startswith("Frame 2:")
        assert str(frame.children[0].label) == "Input: b.pcap (frame.source)"


async def test_a_display_filter_on_frame_source(tmp_path: Path) -> None:
    session = two_file_session(tmp_path)
    app = LivetapApp(session)
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == 5)
        view = session.set_display_filter('frame.source == "b.pcap"')
        assert view is not None
        view.scan()
        shown = [view.index_at(row) for row in range(len(view))]
        assert shown == [2, 4]


async def test_one_input_has_no_input_column(tmp_path: Path) -> None:
    a = write_file(tmp_path / "a.pcap", A_MAC, [10.0, 10.2], 5001)
    app = LivetapApp(CaptureSession(open_source(SourceSpec(files=(str(a),)))))
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == 2)
        assert "Input" not in header(app)
        assert all("a.pcap" not in row for row in row_strings(packet_list))
        await pilot.press("home")
        tree = main_screen(app).query_one(LayerTree)
        await until(pilot, lambda: len(tree.root.children) > 1, timeout=15)
        assert not any("Input" in str(n.label) for n in tree.root.children[0].children)
