"""The live stats screen with Pilot, and the analyzer fed from one thread while another reads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable, Sparkline, Static

from engine.analysis import AnalysisSnapshot, Analyzer, FollowResult, follow_stream
from engine.errors import NotFoundError
from engine.pcapio import PcapRecord, open_pcap
from tests.analysis_data import write_follow, write_mixed
from themes import VARIABLE_DEFAULTS
from tui.screens.follow import FollowScreen
from tui.screens.stats import StatsScreen


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[PcapRecord]:
    return list(open_pcap(write_mixed(tmp_path_factory.mktemp("stats") / "mixed.pcap")))


class StatsApp(App[None]):
    """A tiny app that opens the stats screen on an analyzer."""

    def __init__(self, source: Callable[[], AnalysisSnapshot]) -> None:
        super().__init__()
        self.source = source

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        self.push_screen(StatsScreen(self.source, refresh_interval=0.05))


def _text(app: App[None], selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


async def test_stats_screen_shows_the_reports_and_follows_new_packets(
    records: list[PcapRecord],
) -> None:
    analyzer = Analyzer(top_n=5)
    analyzer.add_records(records[:40])
    app = StatsApp(analyzer.snapshot)
    async with app.run_test(size=(140, 48)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, StatsScreen)
        assert "40 packets" in _text(app, "#stats-summary")
        protocols = _text(app, "#stats-protocols")
        assert "eth" in protocols and "tcp" in protocols and "http" in protocols
        talkers = _text(app, "#stats-talkers")
        assert "10.0.0.5" in talkers and "█" in talkers
        assert "93.184.216.34 (example.com)" in talkers  # named by the capture's DNS
        table = app.screen.query_one("#stats-flows", DataTable)
        assert 0 < table.row_count <= 5
        assert app.screen.query_one("#stats-rate", Sparkline).data
        for record in records[40:]:  # the capture goes on
            analyzer.add(*record[:4])
        for _ in range(100):
            await pilot.pause(0.05)
            if "75 packets" in _text(app, "#stats-summary"):
                break
        assert "75 packets" in _text(app, "#stats-summary")
        assert "ipv6" in _text(app, "#stats-protocols")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, StatsScreen)


async def test_a_closes_the_stats_screen_and_an_empty_analyzer_renders() -> None:
    app = StatsApp(Analyzer().snapshot)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "No packets yet" in _text(app, "#stats-protocols")
        assert "0 packets" in _text(app, "#stats-summary")
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, StatsScreen)


class FollowApp(App[None]):
    def __init__(self, screen: FollowScreen) -> None:
        super().__init__()
        self.follow = screen

    def on_mount(self) -> None:
        self.push_screen(self.follow)


async def test_follow_screen_shows_both_sides(tmp_path: Path) -> None:
    result = follow_stream(write_follow(tmp_path / "streams.pcap"), stream=0)
    screen = FollowScreen(lambda: result, "10.1.0.1:33000 10.1.0.2:80")
    app = FollowApp(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):
            await pilot.pause(0.02)
            if screen.loaded:
                break
        body = screen.view.plain_text()
        assert "GET /page HTTP/1.1" in body and "line one" in body
        await pilot.press("h")
        for _ in range(100):
            await pilot.pause(0.02)
            if screen.loaded:
                break
        hex_dump = screen.view.plain_text()
        assert "00000000  47 45 54 20" in hex_dump
        assert "\n    00000000  " in hex_dump  # node 1's rows are indented, as tshark's
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FollowScreen)


async def test_follow_screen_says_why_when_there_is_nothing_to_follow() -> None:
    def gone() -> FollowResult:
        raise NotFoundError("no TCP packet of 10.0.0.1:1 10.0.0.2:2 is in the buffer")

    screen = FollowScreen(gone, "10.0.0.1:1 10.0.0.2:2")
    app = FollowApp(screen)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):
            await pilot.pause(0.02)
            if "no TCP packet" in screen.view.plain_text():
                break
        assert screen.view.plain_text() == "no TCP packet of 10.0.0.1:1 10.0.0.2:2 is in the buffer"
        assert not screen.loaded
        await pilot.press("h")  # nothing to switch: no crash, the reason stays
        assert "no TCP packet" in screen.view.plain_text()


def test_snapshots_while_another_thread_adds(records: list[PcapRecord]) -> None:
    analyzer = Analyzer()
    stop = threading.Event()
    errors: list[BaseException] = []

    def capture() -> None:
        try:
            for round_ in range(40):
                for timestamp, length, linktype, data, _source in records:
                    analyzer.add(timestamp + round_, length, linktype, data)
        except BaseException as error:  # pragma: no cover - the test reports it
            errors.append(error)
        finally:
            stop.set()

    thread = threading.Thread(target=capture)
    thread.start()
    seen: list[int] = []
    while not stop.is_set():
        snapshot = analyzer.snapshot()
        assert snapshot.packets >= (seen[-1] if seen else 0)
        seen.append(snapshot.packets)
    thread.join()
    assert not errors
    final = analyzer.snapshot()
    assert final.packets == 40 * len(records)
    assert len(final.rate) == 40  # one second per round
    assert analyzer.report(["summary"])["summary"]["packets"] == final.packets


def test_snapshot_rate_covers_quiet_seconds(records: list[PcapRecord]) -> None:
    analyzer = Analyzer()
    analyzer.add_records(records)
    start = int(records[0].timestamp)
    snapshot = analyzer.snapshot(now=start + 10)
    assert snapshot.rate[0] == 75 and snapshot.rate[1:] == (0,) * 10
    assert snapshot.rate_end == start + 10


def _steady(
    records: list[PcapRecord], start: int, seconds: int, per_second: int
) -> list[PcapRecord]:
    """``per_second`` packets in each of ``seconds`` seconds from ``start``, evenly spaced."""
    frame = records[0]
    return [
        frame._replace(timestamp=start + second + n / per_second)
        for second in range(seconds)
        for n in range(per_second)
    ]


def test_rate_now_is_the_last_whole_second_not_the_one_just_begun(
    records: list[PcapRecord],
) -> None:
    analyzer = Analyzer()
    start = 1_800_000_000
    analyzer.add_records(_steady(records, start, 5, 15))
    analyzer.add_records([records[0]._replace(timestamp=start + 5.02)])  # a second just begun
    snapshot = analyzer.snapshot(now=start + 5.05)
    assert snapshot.rate[-2:] == (15, 1)
    assert snapshot.rate_now == 15
    quiet = analyzer.snapshot(now=start + 8.5)  # nothing for three seconds
    assert quiet.rate_now == 0


def test_seconds_seen_twice_are_added_up(records: list[PcapRecord]) -> None:
    # Timestamps stepping back across a second boundary (two interfaces merged).
    analyzer = Analyzer()
    start = 1_800_000_000
    times = [0.98, 1.01, 0.99, 1.02, 0.995, 1.03, 2.5]
    analyzer.add_records([records[0]._replace(timestamp=start + t) for t in times])
    assert analyzer.snapshot().rate == (3, 3, 1)


@pytest.mark.root
def test_rate_now_of_a_live_capture_on_lo_matches_the_sending_rate() -> None:
    import socket
    import time

    from engine.live import LiveSource
    from engine.session import CaptureSession
    from tests.conftest import LOOPBACK, free_udp_port

    port = free_udp_port()
    per_second = 15
    session = CaptureSession(LiveSource("lo", expression=f"udp dst port {port}"))
    session.start()
    stop = threading.Event()

    def send() -> None:
        begun = time.monotonic()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sent = 0
            while not stop.is_set():
                sender.sendto(b"rate", (LOOPBACK, port))
                sent += 1
                stop.wait(max(0.0, begun + sent / per_second - time.monotonic()))

    sender = threading.Thread(target=send)
    sender.start()
    analysis = session.analysis
    assert analysis is not None
    readings: list[tuple[float, int]] = []
    try:
        time.sleep(2.2)  # two whole seconds captured
        deadline = time.time() + 3
        while time.time() < deadline:
            now = time.time()
            readings.append((now % 1, analysis.analyzer.snapshot(now).rate_now))
            time.sleep(0.09)
    finally:
        stop.set()
        sender.join()
        session.stop()
    early = [rate for fraction, rate in readings if fraction < 0.3]
    assert early, readings  # readings just after a second began, where it used to read ~0
    assert all(per_second - 5 <= rate <= per_second + 5 for _, rate in readings), readings


async def test_stats_screen_header_shows_the_rate_of_the_last_whole_second(
    records: list[PcapRecord],
) -> None:
    analyzer = Analyzer()
    start = 1_800_000_000
    analyzer.add_records(_steady(records, start, 5, 15))
    analyzer.add_records([records[0]._replace(timestamp=start + 5.02)])
    app = StatsApp(lambda: analyzer.snapshot(now=start + 5.05))
    async with app.run_test(size=(140, 48)) as pilot:
        await pilot.pause()
        assert "15 packets/s now" in _text(app, "#stats-summary")
