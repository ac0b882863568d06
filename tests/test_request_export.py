"""Copy as curl / fetch / raw HTTP / HAR entry: the curl command, run against a local
server, repeats the request a real headless Chromium made."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from engine.browser.records import BrowserEvent, RequestRecord
from engine.browser.request_export import (
    FORMATS,
    HttpRequest,
    export_request,
    from_record,
    to_curl,
    to_fetch,
    to_raw,
)
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from engine.errors import UnavailableError
from engine.ndjson.lines import browser_line
from tests.conftest import wait_for
from tests.control_site import ControlSite, Seen, control_site
from tests.har_schema import HAR_SCHEMA
from tui.cli import main

ECHO_BODY = '{"name":"it\'s livetap","answer":42,"list":[1,2]}'


@pytest.fixture
def site() -> Iterator[ControlSite]:
    with control_site() as running:
        yield running


def _run(command: str) -> None:
    """Run a generated command in a POSIX shell, quietly, as a user pasting it would."""
    result = subprocess.run(
        ["sh", "-c", command],
        capture_output=True,
        timeout=30,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr


def _headers(seen: Seen) -> dict[str, str]:
    return {name.lower(): value for name, value in seen.headers}


def _done(browser: BrowserSession) -> bool:
    try:
        return bool(browser.evaluate("document.body && document.body.dataset.done === 'yes'"))
    except UnavailableError:
        return False


@pytest.fixture
def made(site: ControlSite) -> Iterator[tuple[BrowserSession, RequestRecord, str | None]]:
    """The page's fetch POST as Chromium made it: the browser, its record, its body."""
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    try:
        assert wait_for(lambda: _done(browser), timeout=20)
        url = f"{site.url}/echo?from=page"

        def posted() -> RequestRecord | None:
            found = [r for r in browser.tracker.records() if r.url == url and r.finished]
            return found[0] if found else None

        assert wait_for(lambda: posted() is not None, timeout=5)
        record = posted()
        assert record is not None
        yield browser, record, browser.fetch_post_data(record.id)
    finally:
        browser.stop()


def test_copy_as_curl_repeats_the_browsers_request(
    site: ControlSite, made: tuple[BrowserSession, RequestRecord, str | None]
) -> None:
    _browser, record, body = made
    assert body == ECHO_BODY
    original = next(s for s in site.seen if s.path == "/echo?from=page")
    command = export_request(record, "curl", body, show_secrets=True)
    assert "--data-raw" in command and "--compressed" in command
    _run(command.rstrip() + " -s -o /dev/null")
    again = site.seen[-1]
    assert (again.method, again.path, again.body) == (original.method, original.path, original.body)
    assert _headers(again) == _headers(original)
    assert _headers(original)["x-livetap-test"] == "yes 'quoted'"
    assert _headers(original)["cookie"] == "session=s3cret"


def test_secrets_are_hidden_unless_asked(
    made: tuple[BrowserSession, RequestRecord, str | None],
) -> None:
    _browser, record, body = made
    for name in FORMATS:
        hidden = export_request(record, name, body)
        assert "s3cret" not in hidden and "[redacted]" in hidden, name
        assert "s3cret" in export_request(record, name, body, show_secrets=True), name


def test_the_other_formats(made: tuple[BrowserSession, RequestRecord, str | None]) -> None:
    _browser, record, body = made
    fetch = export_request(record, "fetch", body, show_secrets=True)
    assert fetch.startswith(f'fetch("{record.url}", {{')
    options = json.loads(fetch.removeprefix(f'fetch("{record.url}", ').removesuffix(");\n"))
    assert options["method"] == "POST" and options["body"] == ECHO_BODY
    assert options["headers"]["X-Livetap-Test"] == "yes 'quoted'"
    raw = export_request(record, "raw", body)
    head, _, sent = raw.partition("\r\n\r\n")
    assert head.startswith("POST /echo?from=page HTTP/1.1\r\nHost: 127.0.0.1:")
    assert f"Content-Length: {len(ECHO_BODY)}" in head and sent == ECHO_BODY
    entry = json.loads(export_request(record, "har", body))
    har = {"log": {"version": "1.2", "creator": {"name": "t", "version": "1"}, "entries": [entry]}}
    jsonschema.validate(har, HAR_SCHEMA)
    assert entry["request"]["postData"]["text"] == ECHO_BODY
    assert entry["response"]["status"] == 200


def test_har_curl_prints_a_command_for_each_captured_request(
    site: ControlSite,
    made: tuple[BrowserSession, RequestRecord, str | None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _browser, record, body = made
    capture = tmp_path / "capture.ndjson"
    event = BrowserEvent("request", replace(record, post_data=body), 1.0)
    line = browser_line(event, include_sensitive=True, include_bodies=True)
    capture.write_text(json.dumps(line) + "\n")
    assert main(["har", str(capture), "--curl", "--show-secrets"]) == 0
    command = capsys.readouterr().out.strip()
    before = len(site.seen)
    _run(command.rstrip() + " -s -o /dev/null")
    assert len(site.seen) == before + 1 and site.seen[-1].body.decode() == ECHO_BODY
    assert main(["har", str(capture), "--curl"]) == 0
    assert "s3cret" not in capsys.readouterr().out
    assert main(["har", str(capture)]) == 2  # neither -o nor --curl: a usage error


def test_odd_bodies_and_urls_survive_the_shell(site: ControlSite) -> None:
    body = "\x00\x01 é ' \\ % $HOME `id` \n\x7f"
    request = HttpRequest(
        "PUT",
        f"{site.url}/echo/[1]?q={{a}}&x=%20",
        (("X-Empty", ""), ("X-Dollar", "$HOME"), (":authority", "x"), ("Host", "x")),
        body,
    )
    command = to_curl(request)
    assert command.startswith("printf '%b'") and "--globoff" in command
    _run(command.rstrip() + " -s -o /dev/null")
    seen = site.seen[-1]
    assert (seen.method, seen.path) == ("PUT", "/echo/[1]?q={a}&x=%20")
    assert seen.body == body.encode()
    assert _headers(seen)["x-empty"] == "" and _headers(seen)["x-dollar"] == "$HOME"
    assert _headers(seen)["host"] == f"127.0.0.1:{site.port}"


def test_fetch_and_raw_of_a_plain_get() -> None:
    request = HttpRequest("GET", "https://example.test/a\u2028b", (("Accept", "*/*"),))
    assert 'test/a\\u2028b"' in to_fetch(request) and '"body"' not in to_fetch(request)
    assert to_raw(request) == "GET /a\u2028b HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n"
    record = RequestRecord(id="1", seq=1, url="https://example.test/?token=abc", method="GET")
    assert "abc" not in to_curl(from_record(record, None, show_secrets=False))
    assert "-X" not in to_curl(from_record(record, None, show_secrets=False))
