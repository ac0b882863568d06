"""The Expert info screen (e): grouped items with counts; Enter selects the packet."""

from __future__ import annotations

from pathlib import Path

from engine.expert import expert_info
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.tcp_scenarios import analysis_frames, write_timed
from tests.test_app import SIZE, main_screen, until
from tui.app import LivetapApp
from tui.screens.expert import ExpertScreen


async def test_expert_info_groups_and_selects(tmp_path: Path) -> None:
    path = write_timed(tmp_path / "tcp.pcap", analysis_frames())
    session = CaptureSession(open_file_source(path))
    app = LivetapApp(session)
    async with app.run_test(size=SIZE) as pilot:
        main = main_screen(app)
        packet_list = main.packet_list
        await until(pilot, lambda: packet_list.row_count == len(analysis_frames()))
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, ExpertScreen)
        await until(pilot, lambda: screen.info is not None, 15)
        tree = screen.expert_tree
        severities = [str(node.label) for node in tree.root.children]
        assert [label.split(" ")[0] for label in severities] == [
            "Errors",
            "Warnings",
            "Notes",
            "Chats",
        ]
        expected = expert_info(session.ring, session.ring.analysis).counts()
        shown = {}
        for severity in tree.root.children:
            for group in severity.children:
                count, _group, protocol, summary = str(group.label).split(maxsplit=3)
                shown[(str(severity.label).split("s ")[0], protocol, summary)] = int(count)
                assert len(group.children) == int(count)
        assert shown == expected

        dupacks = next(
            group
            for severity in tree.root.children
            for group in severity.children
            if str(group.label).endswith("Duplicate ACK (#2)")
        )
        tree.select_node(dupacks)
        await until(pilot, lambda: not isinstance(app.screen, ExpertScreen))
        assert packet_list.cursor == dupacks.data == 13

        await pilot.press("e")
        again = app.screen
        assert isinstance(again, ExpertScreen)
        await until(pilot, lambda: again.info is not None, 15)
        tree = again.expert_tree
        zero = next(
            group
            for severity in tree.root.children
            for group in severity.children
            if str(group.label).endswith("TCP Zero Window segment")
        )
        await pilot.pause()
        tree.move_cursor(zero)
        await pilot.pause()
        assert tree.cursor_node is zero
        await pilot.press("space")  # open it: its packets
        second = zero.children[1]
        assert str(second.label).startswith(f"Frame {second.data}: ")
        await pilot.pause()
        tree.move_cursor(second)
        await pilot.pause()
        assert tree.cursor_node is second
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ExpertScreen))
        assert packet_list.cursor == second.data == 23

        await pilot.press("e", "escape")
        assert packet_list.cursor == 23
