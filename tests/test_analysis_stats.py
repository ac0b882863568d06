"""The live stats screen with Pilot, and the analyzer fed from one thread while another reads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App
from textual.widgets import DataTable, Sparkline, Static

from engine.analysis import AnalysisSnapshot, Analyzer, follow_stream
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
            analyzer.add(*record)
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
    app = FollowApp(FollowScreen(result))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        body = _text(app, "#follow-text")
        assert "GET /page HTTP/1.1" in body and "line one" in body
        await pilot.press("h")
        await pilot.pause()
        assert "00000000  47 45 54 20" in _text(app, "#follow-text")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, FollowScreen)


def test_snapshots_while_another_thread_adds(records: list[PcapRecord]) -> None:
    analyzer = Analyzer()
    stop = threading.Event()
    errors: list[BaseException] = []

    def capture() -> None:
        try:
            for round_ in range(40):
                for timestamp, length, linktype, data in records:
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
