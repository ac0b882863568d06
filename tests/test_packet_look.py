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
from tui.formatting import Columns, columns, header_text
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
def test_header_and_rows_stay_aligned_with_custom_columns(width: int) -> None:
    specs = parse_columns(["number", "time", "tcp.stream", "source", "http.host", "protocol"])
    for time_width in (fmt.width for fmt in TIME_FORMATS):
        layout = columns(width, specs=specs, time_width=time_width)
        assert len(header_text(layout)) == width
        assert layout.shown[-1] == "info" and "protocol" in layout.shown
    assert columns(160, specs=specs).custom == ("tcp.stream", "http.host")
    assert columns(80, specs=specs).custom == ("tcp.stream",)  # the last custom one went first
    assert parse_rules([]) == ()
