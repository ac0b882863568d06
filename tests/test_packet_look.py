"""The packet list's look (issue 19): time formats and references, custom columns and
colouring rules, each compared with tshark on the same capture."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.config import Settings, load_settings, write_config_key
from engine.errors import BadInputError, UsageError
from engine.list_config import DEFAULT_RULES, ColumnSpec, parse_columns, parse_rules
from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.tcp_scenarios import trouble_frames as frames
from tests.tcp_scenarios import write_timed
from tests.test_app import main_screen, until
from tui.app import LivetapApp
from tui.formatting import Columns, columns, header_text, row_text
from tui.time_formats import REFERENCE, TIME_FORMATS
from tui.widgets.packet_list import PacketList

SIZE = (160, 45)
BAD_TCP = DEFAULT_RULES[0].filter


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_timed(tmp_path / "look.pcap", frames())


def tshark(path: Path, *args: str) -> list[str]:
    """tshark's lines for the capture."""
    done = subprocess.run(
        ["tshark", "-r", str(path), *args], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.splitlines()


def cell(text: str, layout: Columns, name: str) -> str:
    """One column's text from a row (or the header)."""
    start = 0
    for column in layout.cells:
        if column.name == name:
            return text[start : start + column.width].strip()
        start += column.width + 1
    raise KeyError(name)


def rows(packet_list: PacketList) -> list[tuple[str, str | None]]:
    """Every row's text and background colour, oldest first (not only those on screen)."""
    found = []
    width = packet_list.scrollable_content_region.width
    for row in range(packet_list.row_count):
        index = packet_list.rows.index_at(row)
        assert index is not None
        strip = packet_list._render_row(index, width, False)
        segment = next(iter(strip))
        colour = segment.style.bgcolor if segment.style is not None else None
        found.append((segment.text, colour.name if colour is not None else None))
    return found


def look_app(path: Path, settings: Settings | None = None) -> LivetapApp:
    app = LivetapApp(CaptureSession(open_file_source(path)))
    app.list_settings = settings
    return app


async def test_k_goes_through_wiresharks_time_formats_as_tshark_writes_them(capture: Path) -> None:
    app = look_app(capture)
    total = len(frames())
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == total)
        for number, fmt in enumerate(TIME_FORMATS):
            if number:
                await pilot.press("k")
            assert packet_list.look.time.format == fmt
            layout = packet_list.look.layout(
                packet_list.scrollable_content_region.width, False, False
            )
            shown = [cell(text, layout, "time") for text, _ in rows(packet_list)]
            expected = tshark(capture, "-t", fmt.tshark, "-T", "fields", "-e", "_ws.col.Time")
            assert shown == expected, fmt.name
        # since the previous *displayed* packet: under a display filter, as tshark -Y
        await pilot.press("k", "k", "k")
        assert packet_list.look.time.format.name == "delta_displayed"
        expected = tshark(capture, "-Y", "udp", "-t", "dd", "-T", "fields", "-e", "_ws.col.Time")
        main_screen(app).apply_display_filter("udp")
        await until(pilot, lambda: packet_list.row_count == len(expected))
        layout = packet_list.look.layout(packet_list.scrollable_content_region.width, False, False)
        shown = [cell(text, layout, "time") for text, _ in rows(packet_list)]
        assert shown == expected and len(set(shown)) > 2


async def test_ctrl_t_makes_a_time_reference_that_later_times_count_from(capture: Path) -> None:
    app = look_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == len(frames()))
        await pilot.press("home", *["down"] * 9)  # packet 10
        assert packet_list.cursor == 10
        await pilot.press("ctrl+t")
        layout = packet_list.look.layout(packet_list.scrollable_content_region.width, False, False)
        times = [cell(text, layout, "time") for text, _ in rows(packet_list)]
        stamps = [offset for offset, _ in frames()]
        assert times[9] == REFERENCE
        assert times[:9] == [f"{t - stamps[0]:.6f}" for t in stamps[:9]]  # before: unchanged
        assert times[10:] == [f"{t - stamps[9]:.6f}" for t in stamps[10:]]
        assert times[10] == "0.010000"
        await pilot.press("ctrl+t")  # unset: from the first packet again
        times = [cell(text, layout, "time") for text, _ in rows(packet_list)]
        assert times[9:11] == [f"{stamps[9]:.6f}", f"{stamps[10]:.6f}"]


async def test_a_custom_column_shows_the_fields_value_as_tshark_does(capture: Path) -> None:
    specs = parse_columns(
        ["number", "tcp.stream", {"field": "ip.src", "title": "From", "width": 24}, "protocol"]
    )
    settings = Settings(interface=None, packet_columns=specs)
    app = look_app(capture, settings)
    async with app.run_test(size=SIZE) as pilot:
        screen = main_screen(app)
        packet_list = screen.packet_list
        await until(pilot, lambda: packet_list.row_count == len(frames()))
        ring = app.session.ring if app.session else None
        assert ring is not None
        await until(pilot, lambda: ring.analysis.observed >= len(frames()), timeout=15)
        packet_list.look_changed()
        layout = packet_list.look.layout(packet_list.scrollable_content_region.width, False, False)
        assert layout.shown == ("number", "tcp.stream", "ip.src", "protocol", "info")
        header = str(screen.query_one("#packet-header").render())
        assert (
            cell(header, layout, "ip.src") == "From"
            and cell(header, layout, "tcp.stream") == "tcp.stream"
        )
        shown = [
            (cell(t, layout, "tcp.stream"), cell(t, layout, "ip.src")) for t, _ in rows(packet_list)
        ]
        expected = [
            tuple(line.split("\t"))
            for line in tshark(capture, "-T", "fields", "-e", "tcp.stream", "-e", "ip.src")
        ]
        assert shown == expected
        assert {stream for stream, _ in shown} >= {"0", "1", "2"}
        # a time field as a column, under a display filter: since the previous displayed
        time_field = ColumnSpec("frame.time_delta_displayed", 12, "dd")
        assert screen.packets is not None
        screen.packets.set_columns((ColumnSpec("number"), time_field, ColumnSpec("info")))
        wanted = tshark(capture, "-Y", "tcp", "-T", "fields", "-e", "frame.time_delta_displayed")
        screen.apply_display_filter("tcp")
        await until(pilot, lambda: packet_list.row_count == len(wanted))
        layout = packet_list.look.layout(packet_list.scrollable_content_region.width, False, False)
        shown_times = [cell(t, layout, time_field.name) for t, _ in rows(packet_list)]
        assert shown_times == wanted and len(set(wanted)) > 3


async def test_colouring_rules_paint_exactly_the_matching_rows_and_ctrl_r_turns_them_off(
    capture: Path,
) -> None:
    app = look_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == len(frames()))
        ring = app.session.ring if app.session else None
        assert ring is not None
        await until(pilot, lambda: ring.analysis.observed >= len(frames()), timeout=15)
        packet_list.look_changed()
        variables = app.theme_variables
        colour = {
            name: variables[name].lower() for name in ("rule-bad", "rule-reset", "rule-error")
        }
        painted = [bg for _, bg in rows(packet_list)]

        def numbers(display_filter: str) -> set[int]:
            return {
                int(n)
                for n in tshark(capture, "-Y", display_filter, "-T", "fields", "-e", "frame.number")
            }

        bad = numbers(BAD_TCP)
        reset = numbers(DEFAULT_RULES[2].filter) - bad
        error = numbers(DEFAULT_RULES[1].filter) - bad - reset
        assert len(bad) >= 8 and reset and error
        for number, bg in enumerate(painted, 1):
            want = (
                colour["rule-bad"]
                if number in bad
                else colour["rule-reset"]
                if number in reset
                else colour["rule-error"]
                if number in error
                else None
            )
            assert (bg.lower() if bg and bg.lower() in colour.values() else None) == want, number
        await pilot.press("ctrl+r")
        assert not any(bg and bg.lower() in colour.values() for _, bg in rows(packet_list))


def test_columns_and_rules_round_trip_through_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("theme: livetap-light\n")
    specs = (ColumnSpec("number"), ColumnSpec("http.host", 20, "Host"), ColumnSpec("info"))
    write_config_key(config, "packetColumns", [spec.to_value() for spec in specs])
    write_config_key(config, "colouringRules", [rule.to_value() for rule in DEFAULT_RULES[:2]])
    write_config_key(config, "timeFormat", "utc")
    settings = load_settings({}, {}, config)
    assert settings.packet_columns == specs
    assert settings.colour_rules == DEFAULT_RULES[:2]
    assert settings.time_format == "utc" and settings.theme == "livetap-light"
    assert settings.colouring


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("packetColumns: [nosuch.field]", "neither a column"),
        ("packetColumns: [time, time]", "listed twice"),
        ("packetColumns: [{field: tcp.stream, width: -1}]", "width"),
        ("colouringRules: [{name: x, filter: 'tcp.port ==', colour: rule-bad}]", "'x'"),
        ("colouringRules: [{name: x, filter: tcp}]", "theme colour"),
    ],
)
def test_bad_columns_and_rules_in_the_config_file_say_which_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text + "\n")
    with pytest.raises(BadInputError, match=message):
        load_settings({}, {}, config)
    config.write_text("timeFormat: fortnightly\n")
    with pytest.raises(UsageError, match="relative, delta"):
        load_settings({}, {}, config)


@pytest.mark.parametrize("width", [80, 160])
def test_header_and_rows_stay_aligned_with_custom_columns(width: int, capture: Path) -> None:
    from engine.filter_file import summarize
    from engine.pcapio import open_pcap

    record = next(iter(open_pcap(capture)))
    packet = summarize(1, record)

    def custom(name: str) -> str:
        return "x" * 300  # longer than any column: cut, never pushing the others

    specs = parse_columns(["number", "time", "tcp.stream", "source", "http.host", "protocol"])
    for time_width in (fmt.width for fmt in TIME_FORMATS):
        layout = columns(width, specs=specs, time_width=time_width)
        header = header_text(layout)
        assert len(header) == width
        row = row_text(packet, layout, "2026-12-04 20:06:52.123456"[:time_width], "", custom)
        assert len(row) == width
        gaps, at = [], 0
        for column in layout.cells[:-1]:
            at += column.width
            gaps.append(at)
            at += 1
        assert all(header[gap] == " " == row[gap] for gap in gaps)  # the same column edges
        assert [cell(header, layout, c.name) for c in layout.cells] == [
            c.title[: c.width] if len(c.title) <= c.width else c.title[: c.width - 1] + "…"
            for c in layout.cells
        ]
        assert layout.shown[-1] == "info" and "protocol" in layout.shown
    assert columns(160, specs=specs).custom == ("tcp.stream", "http.host")
    assert columns(80, specs=specs).custom == ("tcp.stream",)  # the last custom one went first
    assert parse_rules([]) == ()


async def test_sorting_a_file_view_by_columns_and_back_to_arrival_order(capture: Path) -> None:
    specs = parse_columns(["number", "time", "tcp.stream", "source", "protocol", "length"])
    app = look_app(capture, Settings(interface=None, packet_columns=specs))
    total = len(frames())
    async with app.run_test(size=SIZE) as pilot:
        screen = main_screen(app)
        packet_list = screen.packet_list
        await until(pilot, lambda: packet_list.row_count == total)
        ring = app.session.ring if app.session else None
        assert ring is not None
        await until(pilot, lambda: ring.analysis.observed >= total, timeout=15)
        layout = packet_list.look.layout(packet_list.scrollable_content_region.width, False, False)
        lengths = [int(n) for n in tshark(capture, "-T", "fields", "-e", "frame.len")]
        streams = tshark(capture, "-T", "fields", "-e", "tcp.stream")
        seen = []
        for _ in range(6):
            await pilot.press("greater_than_sign")
            assert packet_list.look.sort is not None
            seen.append(packet_list.look.sort[0])
            if packet_list.look.sort[0] == "length":
                break
        assert seen == ["time", "tcp.stream", "source", "protocol", "length"]
        texts = [text for text, _ in rows(packet_list)]
        numbers = [int(cell(text, layout, "number")) for text in texts]
        shown = [int(cell(text, layout, "length")) for text in texts]
        assert shown == sorted(lengths)
        assert numbers == sorted(range(1, total + 1), key=lambda n: (lengths[n - 1], n))
        header = str(screen.query_one("#packet-header").render())
        assert "▲Lengt " in header  # the mark stays, the title gives way
        await pilot.press("less_than_sign")
        shown = [int(cell(text, layout, "length")) for text, _ in rows(packet_list)]
        assert shown == sorted(lengths, reverse=True)
        # by a custom column: numbers as numbers, packets without the field first
        packet_list.look.sort = ("source", False)
        await pilot.press("greater_than_sign")
        assert packet_list.look.sort == ("protocol", False)
        packet_list.look.sort = ("time", False)
        await pilot.press("greater_than_sign")
        assert packet_list.look.sort == ("tcp.stream", False)
        shown_streams = [cell(text, layout, "tcp.stream") for text, _ in rows(packet_list)]
        assert shown_streams == sorted(streams, key=lambda s: (s != "", int(s or 0)))
        packet_list.look.sort = ("info", False)
        await pilot.press("greater_than_sign")  # past the last column: arrival order
        assert packet_list.look.sort is None
        numbers = [int(cell(text, layout, "number")) for text, _ in rows(packet_list)]
        assert numbers == list(range(1, total + 1))
        await pilot.press("less_than_sign")
        assert packet_list.look.sort == ("number", True)
        screen.apply_display_filter("udp")  # other rows: in arrival order, the mark gone
        await until(pilot, lambda: packet_list.row_count < total)
        assert packet_list.look.sort is None
        assert "▼" not in str(screen.query_one("#packet-header").render())
        numbers = [int(cell(text, layout, "number")) for text, _ in rows(packet_list)]
        assert numbers == sorted(numbers)


@pytest.mark.root
async def test_a_live_list_sorts_only_while_paused() -> None:
    from engine.live import LiveSource
    from tests.conftest import free_udp_port, send_udp
    from tests.test_app import notifications

    port = free_udp_port()
    session = CaptureSession(LiveSource("lo", expression=f"udp port {port}"))
    app = LivetapApp(session)
    try:
        async with app.run_test(size=SIZE) as pilot:
            send_udp(port, [b"x" * (30 - n) for n in range(20)])
            packet_list = main_screen(app).packet_list
            await until(pilot, lambda: packet_list.row_count == 20)
            await pilot.press("greater_than_sign")
            assert packet_list.look.sort is None
            assert "pause (space) to sort" in notifications(app)
            await pilot.press(
                "space", "greater_than_sign", "greater_than_sign", "greater_than_sign"
            )
            assert packet_list.look.sort is not None and packet_list.look.sort[0] == "destination"
            await pilot.press("greater_than_sign", "greater_than_sign")
            assert packet_list.look.sort == ("length", False)
            send_udp(port, [b"late"])  # arrives while sorted: not in the snapshot
            await pilot.pause(0.5)
            texts = [text for text, _ in rows(packet_list)]
            assert len(texts) == 20
            assert [int(text.split()[0]) for text in texts] == list(range(20, 0, -1))
            await pilot.press("space")  # moving again: arrival order, the late one too
            await until(pilot, lambda: packet_list.row_count == 21)
            assert packet_list.look.sort is None
            texts = [text for text, _ in rows(packet_list)]
            assert [int(text.split()[0]) for text in texts] == list(range(1, 22))
    finally:
        session.stop()


async def test_the_column_editor_applies_and_saves_the_columns(
    capture: Path, tmp_path: Path
) -> None:
    from textual.widgets import Input

    config = tmp_path / "config.yaml"
    config.write_text("theme: livetap-dark\n")
    app = look_app(capture)
    app.config_path = config
    async with app.run_test(size=SIZE) as pilot:
        screen = main_screen(app)
        packet_list = screen.packet_list
        await until(pilot, lambda: packet_list.row_count == len(frames()))
        await pilot.press("L")
        field = app.screen.query_one(Input)
        assert field.value.startswith("number, input, time, source")
        field.value = "number, tcp.stream:6:Stream, nosuch.field"
        await pilot.press("enter")
        assert app.screen.query_one(Input)  # refused: still open
        assert "nosuch.field" in str(app.screen.query_one("#prompt-error").render())
        field.value = "protocol, number:5, ip.src:20:From, info"
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.screen is screen
        layout = packet_list.look.layout(packet_list.scrollable_content_region.width, False, False)
        assert layout.shown == ("protocol", "number", "ip.src", "info")
        header = str(screen.query_one("#packet-header").render())
        assert header.split()[:3] == ["Protocol", "No.", "From"]
        saved = load_settings({}, {}, config)
        assert saved.packet_columns == packet_list.look.specs
        assert saved.theme == "livetap-dark"


async def test_a_long_list_is_sorted_off_the_ui_thread(
    capture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_app import notifications
    from tui.widgets import packet_pane

    monkeypatch.setattr(packet_pane, "SORT_IN_THREAD", 10)
    app = look_app(capture)
    total = len(frames())
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == total)
        await pilot.press("less_than_sign")  # No. descending: the newest first
        await until(pilot, lambda: packet_list.look.sort == ("number", True))
        numbers = [int(text.split()[0]) for text, _ in rows(packet_list)]
        assert numbers == list(range(total, 0, -1))
        monkeypatch.setattr(packet_pane, "MAX_SORT", 10)  # too many rows: said, not sorted
        await pilot.press("greater_than_sign")
        await pilot.pause(0.2)
        assert packet_list.look.sort == ("number", True)
        assert "sorting takes at most 10" in notifications(app)


async def test_a_capture_filter_reading_the_file_again_drops_references_and_old_colours(
    capture: Path,
) -> None:
    app = look_app(capture)
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        session = app.session
        assert session is not None
        await until(pilot, lambda: packet_list.row_count == len(frames()))
        await until(pilot, lambda: session.ring.analysis.observed >= len(frames()), timeout=15)
        await pilot.press("home", *["down"] * 2, "ctrl+t")
        assert rows(packet_list)[2][0].split()[1] == REFERENCE
        before = app.theme_variables["rule-bad"].lower()
        assert any(bg and bg.lower() == before for _, bg in rows(packet_list))
        session.set_filter("udp or icmp")  # numbers 1.. are other packets now
        expected = tshark(capture, "-Y", "udp or icmp", "-T", "fields", "-e", "frame.number")
        await until(pilot, lambda: packet_list.row_count == len(expected))
        await until(pilot, lambda: session.ring.analysis.observed >= len(expected), timeout=15)
        packet_list.look_changed()
        shown = rows(packet_list)
        assert all(REFERENCE not in text for text, _ in shown)
        assert all("UDP" in text or "DNS" in text or "ICMP" in text for text, _ in shown)
        variables = app.theme_variables
        rule_colours = {
            variables[name].lower(): name for name in ("rule-bad", "rule-error", "rule-reset")
        }
        painted = [
            (text, rule_colours[bg.lower()])
            for text, bg in shown
            if bg and bg.lower() in rule_colours
        ]
        assert len(painted) == 1  # only the ICMP error; no TCP left to be bad
        assert "ICMP" in painted[0][0] and painted[0][1] == "rule-error"


async def test_times_since_the_previous_displayed_packet_keep_arrival_order_when_sorted(
    capture: Path,
) -> None:
    app = look_app(capture, Settings(interface=None, time_format="delta_displayed"))
    total = len(frames())
    async with app.run_test(size=SIZE) as pilot:
        packet_list = main_screen(app).packet_list
        await until(pilot, lambda: packet_list.row_count == total)
        layout = packet_list.look.layout(packet_list.scrollable_content_region.width, False, False)

        def times() -> dict[int, str]:
            return {
                int(cell(text, layout, "number")): cell(text, layout, "time")
                for text, _ in rows(packet_list)
            }

        before = times()
        expected = tshark(capture, "-t", "dd", "-T", "fields", "-e", "_ws.col.Time")
        assert [before[n] for n in range(1, total + 1)] == expected
        await pilot.press("less_than_sign")  # No. descending
        assert packet_list.look.sort == ("number", True)
        assert times() == before


@pytest.mark.root
async def test_a_proc_custom_column_names_the_program_of_live_packets() -> None:
    import os
    import socket

    from engine.live import LiveSource
    from engine.process.packet_owners import PacketOwners

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    port = receiver.getsockname()[1]
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    session = CaptureSession(
        LiveSource("lo", expression=f"udp port {port}"), owners=PacketOwners("lo")
    )
    name = {"field": "proc.name", "width": 16}
    specs = parse_columns(["number", "proc.pid", name, "protocol", "info"])
    app = LivetapApp(session)
    app.list_settings = Settings(interface=None, packet_columns=specs)
    try:
        async with app.run_test(size=SIZE) as pilot:
            packet_list = main_screen(app).packet_list
            await pilot.pause(0.5)
            for n in range(10):
                sender.sendto(b"x%d" % n, ("127.0.0.1", port))
                await pilot.pause(0.05)
            await until(pilot, lambda: packet_list.row_count == 10, timeout=10)
            await pilot.pause(0.3)
            packet_list.look_changed()
            layout = packet_list.look.layout(
                packet_list.scrollable_content_region.width, False, True
            )
            pids = [cell(text, layout, "proc.pid") for text, _ in rows(packet_list)]
            names = {cell(text, layout, "proc.name") for text, _ in rows(packet_list)}
            assert set(pids) <= {str(os.getpid()), ""} and pids.count(str(os.getpid())) >= 8
            comm = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
            assert names - {""} == {comm}
    finally:
        session.stop()
        sender.close()
        receiver.close()


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_the_header_sits_over_the_rows_in_the_app(
    capture: Path, size: tuple[int, int]
) -> None:
    specs = parse_columns(["number", "time", "tcp.stream", "source", "destination", "protocol"])
    app = look_app(capture, Settings(interface=None, packet_columns=specs, time_format="utc"))
    async with app.run_test(size=size) as pilot:
        screen = main_screen(app)
        packet_list = screen.packet_list
        await until(pilot, lambda: packet_list.row_count == len(frames()))
        await pilot.pause(0.1)
        width = packet_list.scrollable_content_region.width
        layout = packet_list.look.layout(width, False, False)
        header = str(screen.query_one("#packet-header").render())
        assert header.rstrip() == header_text(layout).rstrip()
        gaps, at = [], 0
        for column in layout.cells[:-1]:
            at += column.width
            gaps.append(at)
            at += 1
        for text, _ in rows(packet_list):
            assert len(text) == width
            assert all(text[gap] == " " == header[gap] for gap in gaps)
        assert "protocol" in layout.shown and "info" in layout.shown
