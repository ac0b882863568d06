"""Export HAR of the displayed requests from a key (issue 19): recorded CDP events through
the real tracker, the file checked against HAR 1.2 and the conversion ``livetap har`` uses."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import jsonschema
import pytest

from engine.browser.har_export import export_har, records_to_har
from tests.har_schema import HAR_SCHEMA
from tests.request_demo import browser_app, loaded, recorded_browser, select, until


@pytest.fixture(autouse=True)
def _private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def notes(app: object) -> str:
    return " | ".join(note.message for note in app._notifications)  # type: ignore[attr-defined]


def test_records_make_a_valid_har_in_start_order_with_secrets_hidden() -> None:
    records = recorded_browser().tracker.records()
    result = records_to_har(reversed(records))
    jsonschema.validate(result.har, HAR_SCHEMA)
    entries = result.har["log"]["entries"]
    assert result.entries == len(records) == 14
    assert [entry["request"]["url"] for entry in entries] == [r.url for r in records]
    assert entries[0]["response"]["status"] == 200


def test_a_second_export_in_the_same_second_keeps_the_first(tmp_path: Path) -> None:
    records = recorded_browser().tracker.records()
    first, _count = export_har(tmp_path, records[:2])
    second, count = export_har(tmp_path, records[:3])
    assert first != second and count == 3
    assert len(json.loads(first.read_text())["log"]["entries"]) == 2


async def test_h_writes_the_listed_requests_to_a_private_har_file(tmp_path: Path) -> None:
    app = browser_app(save_directory=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        _main, requests = await loaded(pilot, app)
        requests.focus()
        select(requests, "/api/stats?round=1")
        await pilot.press("b")  # a body fetched: it goes into the HAR too
        await pilot.pause(0.3)
        await pilot.press("T")  # Fetch/XHR: 10 of the 14
        await until(pilot, lambda: requests.row_count == 10)
        await pilot.press("H")
        await until(pilot, lambda: "HAR: 10 requests written to" in notes(app))
        (path,) = tmp_path.glob("livetap-requests-*.har")
        assert str(path) in notes(app)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        har = json.loads(path.read_text())
        jsonschema.validate(har, HAR_SCHEMA)
        entries = har["log"]["entries"]
        assert len(entries) == 10
        assert all("/api/" in entry["request"]["url"] for entry in entries)
        round_1 = next(e for e in entries if e["request"]["url"].endswith("round=1"))
        assert '"sensors"' in round_1["response"]["content"].get("text", "")
