"""Apply / Prepare as Filter from the layer tree, and the field's bytes in the hex dump."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

from textual.widgets import Input
from textual.widgets.tree import TreeNode

from engine.dissect import FieldNode
from engine.packet.model import Packet
from engine.pcapio import open_pcap
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.tcp_scenarios import analysis_frames, write_timed
from tests.test_app import SIZE, main_screen, until
from tui.app import LivetapApp
from tui.screens.apply_filter import ApplyFilterMenu, choices
from tui.screens.prompts import Prompt
from tui.widgets.packet_detail import HexView, LayerTree, hex_column


def find(tree: LayerTree, field: str, layer: str) -> TreeNode[FieldNode | None]:
    """The node of ``field`` under the first top-level layer labelled ``layer``."""
    for top in tree.root.children:
        if str(top.label) == layer:
            for node in top.children:
                if node.data is not None and node.data.field == field:
                    return node
    raise AssertionError(f"no {field} under {layer}")


def sources(path: Path, address: str) -> list[int]:
    """The numbers of the frames with this IPv4 source in any IP header."""
    wanted = int(IPv4Address(address))
    with open_pcap(path) as reader:
        return [
            number
            for number, record in enumerate(reader, 1)
            if wanted in Packet(record.linktype, record.data).addresses(4, "src")
        ]


def tcp_ports(path: Path, number: int) -> set[int]:
    """Frame ``number``'s TCP destination ports."""
    with open_pcap(path) as reader:
        record = list(reader)[number - 1]
    return {ports[1] for ports in Packet(record.linktype, record.data).all_ports(6)}


def shown(session: CaptureSession) -> list[int]:
    view = session.view
    assert view is not None and not view.scanning
    return [index for row in range(len(view)) if (index := view.index_at(row)) is not None]


async def test_apply_and_prepare_as_filter(tmp_path: Path) -> None:
    """Enter on ip.src applies it; A on tcp.dstport joins 'and not'; Prepare fills the prompt."""
    path = write_timed(tmp_path / "tcp.pcap", analysis_frames())
    session = CaptureSession(open_file_source(path))
    app = LivetapApp(session)
    async with app.run_test(size=SIZE) as pilot:
        main = main_screen(app)
        packet_list = main.packet_list
        await until(pilot, lambda: packet_list.row_count == len(analysis_frames()))
        await pilot.press("home", "down", "down", "down", "down")  # packet 5: 10.0.0.1 → :80
        assert packet_list.cursor == 5
        tree = main.query_one(LayerTree)
        await until(pilot, lambda: any(str(n.label) == "TCP" for n in tree.root.children), 15)
        await pilot.press("enter")
        assert app.focused is tree

        source = find(tree, "ip.src", "IP")
        tree.move_cursor(source)
        await pilot.pause()
        hex_view = main.query_one(HexView)
        assert hex_view.field_span == (26, 4)  # Ethernet 14 + 12
        line = hex_view.render_line(1 - hex_view.scroll_offset.y)  # bytes 16..31
        styled = {s.style for s in line if s.text.strip() and s.style is not None}
        assert len(styled) >= 2, "the field's bytes look like the rest"
        text = "".join(s.text for s in line)
        field = hex_view.get_component_rich_style("hex-view--field")
        marked = "".join(s.text for s in line if s.style and s.style.bgcolor == field.bgcolor)
        assert marked == "0a 00 00 01" + "....", (text, marked)  # its hex, then its characters
        assert text[hex_column(10) : hex_column(10) + 2] == "0a"

        await pilot.press("enter")
        menu = app.screen
        assert isinstance(menu, ApplyFilterMenu)
        assert [text for _mode, _label, text in menu.entries[:2]] == [
            "ip.src == 10.0.0.1",
            "!(ip.src == 10.0.0.1)",
        ]
        await pilot.press("enter")  # Apply: Selected
        await until(pilot, lambda: session.view is not None and not session.view.scanning)
        assert main.display_scope.text == "ip.src == 10.0.0.1"
        first = shown(session)
        assert 5 in first
        assert first == sources(path, "10.0.0.1")

        await until(pilot, lambda: str(tree.root.children[0].label).startswith("Frame"), 15)
        tree.focus()
        await until(pilot, lambda: any(str(n.label) == "TCP" for n in tree.root.children), 15)
        tree.move_cursor(find(tree, "tcp.dstport", "TCP"))
        await pilot.pause()
        await pilot.press("A")
        menu = app.screen
        assert isinstance(menu, ApplyFilterMenu)
        wanted = "(ip.src == 10.0.0.1) && !(tcp.dstport == 80)"
        number = [text for _m, _l, text in menu.entries].index(wanted)
        assert menu.entries[number][0] == "apply"
        for _ in range(number):
            await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: session.view is not None and not session.view.scanning)
        assert main.display_scope.text == wanted
        second = shown(session)
        assert second and set(second) < set(first)
        assert all(80 not in tcp_ports(path, i) for i in second)

        tree.focus()
        await until(pilot, lambda: any(str(n.label) == "IP" for n in tree.root.children), 15)
        tree.move_cursor(find(tree, "ip.dst", "IP"))
        await pilot.press("A")
        menu = app.screen
        assert isinstance(menu, ApplyFilterMenu)
        prepare = [mode for mode, _l, _t in menu.entries].index("prepare")
        menu.query_one("#apply-filter-choices").highlighted = prepare  # type: ignore[attr-defined]
        await pilot.press("enter")
        prompt = app.screen
        assert isinstance(prompt, Prompt)
        assert prompt.query_one(Input).value.startswith("ip.dst == ")
        await pilot.press("escape")
        assert main.display_scope.text == wanted  # prepared, not applied


async def test_a_on_a_field_without_filter_says_so(tmp_path: Path) -> None:
    path = write_timed(tmp_path / "tcp.pcap", analysis_frames()[:3])
    session = CaptureSession(open_file_source(path))
    app = LivetapApp(session)
    async with app.run_test(size=SIZE) as pilot:
        main = main_screen(app)
        await until(pilot, lambda: main.packet_list.row_count == 3)
        await pilot.press("home")
        tree = main.query_one(LayerTree)
        await until(pilot, lambda: any(str(n.label) == "IP" for n in tree.root.children), 15)
        await pilot.press("enter")
        version = next(
            node
            for top in tree.root.children
            if str(top.label) == "IP"
            for node in top.children
            if str(node.label).startswith("version")
        )
        tree.move_cursor(version)
        await pilot.press("A")
        assert not isinstance(app.screen, ApplyFilterMenu)
        assert "display filter knows" in " ".join(n.message for n in app._notifications)


def test_menu_entries_without_a_current_filter() -> None:
    """No filter applied: the and/or entries would repeat the first two, so they are left out."""
    entries = choices("tcp.port == 80", "")
    assert [(mode, text) for mode, _l, text in entries] == [
        ("apply", "tcp.port == 80"),
        ("apply", "!(tcp.port == 80)"),
        ("prepare", "tcp.port == 80"),
        ("prepare", "!(tcp.port == 80)"),
    ]
    assert len(choices("tcp.port == 80", "dns")) == 12
