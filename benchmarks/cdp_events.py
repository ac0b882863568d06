"""Which DevTools events the chrome-devtools-protocol package (2020) can parse from this Chromium.

A launched headless Chromium (over its pipes, as livetap runs it) loads the
local test site on 127.0.0.1: the index page (stylesheet, script, image, fetches,
a 404, a redirect, a POST, a refused port), its popup, and ``/early``. Every
event the browser session receives goes through ``cdp.util.parse_json_event``;
the figures are events and parse failures per method, with the first error of
each. This is why livetap keeps events as plain JSON (engine/browser/cdp.py).

    .venv/bin/python benchmarks/cdp_events.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cdp

from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from engine.errors import UnavailableError
from tests.local_site import local_site


@dataclass
class EventParsing:
    """Events seen and parse failures, per method."""

    seen: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, set[str]] = field(default_factory=dict)
    """Params (dotted paths) of parsed events that the package never read."""

    def feed(self, method: str, params: Mapping[str, Any]) -> None:
        self.seen[method] += 1
        read: set[str] = set()
        tracked = _Tracked(params, "", read)
        try:
            cdp.util.parse_json_event({"method": method, "params": tracked})
        except Exception as error:
            self.failed[method] += 1
            self.reasons.setdefault(method, f"{type(error).__name__}: {error}"[:120])
            return
        self.dropped.setdefault(method, set()).update(tracked.paths() - read)

    def to_dict(self) -> dict[str, Any]:
        return {
            method: {
                "events": count,
                "failed": self.failed[method],
                "first_error": self.reasons.get(method),
                "dropped_params": sorted(self.dropped.get(method, ())),
            }
            for method, count in sorted(self.seen.items())
        }


class _Tracked(dict[str, Any]):
    """A params dict that notes every key the package's parser reads (nested ones too)."""

    def __init__(self, data: Mapping[str, Any], prefix: str, read: set[str]) -> None:
        super().__init__(
            (key, _tracked(value, f"{prefix}{key}", read)) for key, value in data.items()
        )
        self._prefix, self._read = prefix, read

    def __getitem__(self, key: str) -> Any:
        self._read.add(self._prefix + key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str) and super().__contains__(key):
            self._read.add(self._prefix + key)
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:  # copied whole (headers): every key is read
        keys = list(super().__iter__())
        self._read.update(self._prefix + key for key in keys)
        return iter(keys)

    def paths(self) -> set[str]:
        found = set()
        for key, value in self.items():
            found.add(self._prefix + key)
            if isinstance(value, _Tracked):
                found |= value.paths()
            elif isinstance(value, list):
                found |= {p for item in value if isinstance(item, _Tracked) for p in item.paths()}
        return found


def _tracked(value: Any, path: str, read: set[str]) -> Any:
    if isinstance(value, Mapping):
        return _Tracked(value, path + ".", read)
    if isinstance(value, list):
        return [_tracked(item, path + "[]", read) for item in value]
    return value


class RecordingSession(BrowserSession):
    """A browser session that hands every event it receives to ``listener`` first."""

    def __init__(self, listener: Callable[[str, Mapping[str, Any]], None], **kwargs: Any):
        super().__init__(**kwargs)
        self._listener = listener

    def _on_event(self, method: str, params: Mapping[str, Any], session_id: str) -> None:
        self._listener(method, params)
        super()._on_event(method, params, session_id)


def _until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def measure(timeout: float = 20.0) -> EventParsing:
    """Load the local site in a launched headless Chromium and parse every event it sends."""
    parsing = EventParsing()
    with local_site() as site:
        browser = RecordingSession(
            parsing.feed, target=BrowserTarget(launch=True), open_url=f"{site.url}/"
        )
        browser.start()
        try:

            def done() -> bool:
                try:
                    return bool(browser.evaluate("document.body?.dataset.done === 'yes'"))
                except UnavailableError:
                    return False

            if not _until(done, timeout):
                raise SystemExit("the test site did not finish loading")
            browser.evaluate("document.getElementById('popup').click()")
            _until(lambda: any(r.url.endswith("?popup=1") for r in browser.tracker.records()), 10)
            browser.navigate(f"{site.url}/early")
            _until(
                lambda: any("early=1" in r.url and r.finished for r in browser.tracker.records()),
                10,
            )
            time.sleep(0.5)  # the last loadingFinished and extra-info events
        finally:
            browser.stop()
    return parsing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    parsing = measure()
    if args.json:
        print(json.dumps(parsing.to_dict(), indent=2))
        return
    print(f"{'method':<44} {'events':>6} {'failed':>6}  first error / params dropped")
    for method, row in parsing.to_dict().items():
        note = row["first_error"] or ", ".join(row["dropped_params"])
        print(f"{method:<44} {row['events']:>6} {row['failed']:>6}  {note}")
    total, failed = sum(parsing.seen.values()), sum(parsing.failed.values())
    print(f"{'all':<44} {total:>6} {failed:>6}")


if __name__ == "__main__":
    main()
