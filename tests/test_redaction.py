"""Secrets in URLs, forms and JSON bodies: hidden in NDJSON and HAR unless asked otherwise.

The rule (engine/redact.py) on its own, then real NDJSON lines written by the
real capture while a real Chromium logs in to a small site on 127.0.0.1 (a
token in the URL, a form post, a JSON post, a JSON answer with a session, a
redirect carrying an OAuth code), and the HAR made from them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.browser.records import BrowserEvent, RequestRecord, ResponseBody
from engine.browser.session import BrowserSession
from engine.browser.target import BrowserTarget
from engine.har import ndjson_to_har
from engine.ndjson.capture import NdjsonCapture, NdjsonOptions
from engine.ndjson.lines import browser_line
from engine.ndjson.writer import RotatingWriter
from engine.redact import REDACTED, redact_body, redact_headers, redact_url, secret_name
from tests.conftest import wait_for

SECRETS = ("url-t0ken", "hunter2", "k3y-in-json", "r3fresh", "s3ss10n", "0auth-c0de", "pw-in-url")


def test_names_that_hold_secrets() -> None:
    secret = [
        "token",
        "access_token",
        "accessToken",
        "id-token",
        "key",
        "api_key",
        "X-Api-Key",
        "apikey",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "auth",
        "session",
        "sessionId",
        "PHPSESSID",
        "jsessionid",
        "sid",
        "code",
        "signature",
    ]
    plain = ["item", "kind", "author", "keyword", "monkey", "inside", "zipcode", "page", "user"]
    assert [name for name in secret if not secret_name(name)] == []
    assert [name for name in plain if secret_name(name)] == []


def test_urls_forms_and_json_bodies() -> None:
    url = "https://bob:pw-in-url@h.example/cb?item=7&access_token=abc&code=xyz#id_token=t&state=s"
    assert redact_url(url) == (
        f"https://bob:{REDACTED}@h.example/cb?item=7&access_token={REDACTED}&code={REDACTED}"
        f"#id_token={REDACTED}&state=s"
    )
    assert redact_url("http://h.example/a?b=1") == "http://h.example/a?b=1"
    form = "user=bob&password=hunter2&remember=1"
    assert redact_body(form, "application/x-www-form-urlencoded; charset=UTF-8") == (
        f"user=bob&password={REDACTED}&remember=1"
    )
    body = {"user": "bob", "auth": {"refresh_token": "r"}, "list": [{"apiKey": 1}], "n": 2}
    redacted = json.loads(redact_body(json.dumps(body), "application/vnd.api+json"))
    assert redacted == {"user": "bob", "auth": REDACTED, "list": [{"apiKey": REDACTED}], "n": 2}
    untouched = '{"a": 1}'
    assert redact_body(untouched, "application/json") == untouched
    assert redact_body("password=x", "text/plain") == "password=x", "only forms and JSON"
    # a request line whose headers did not say the type: a form is still read as one
    assert redact_body(form, "") == f"user=bob&password={REDACTED}&remember=1"
    assert redact_body("not a form, password=x", "") == "not a form, password=x"
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    assert redact_body(deep, "application/json") == REDACTED, "too deep to walk: hidden whole"
    assert redact_body("{not json", "application/json") == "{not json"


def test_headers() -> None:
    headers = [
        ("Authorization", "Bearer abc"),
        ("X-Api-Key", "k"),
        ("X-Auth-Token", "t"),
        ("Location", "/home?code=c&x=1"),
        ("Referer", "http://127.0.0.1/?session=s"),
        ("Content-Type", "text/html"),
        ("Accept", "*/*"),
    ]
    assert redact_headers(headers, include_sensitive=False) == [
        ("Authorization", REDACTED),
        ("X-Api-Key", REDACTED),
        ("X-Auth-Token", REDACTED),
        ("Location", f"/home?code={REDACTED}&x=1"),
        ("Referer", f"http://127.0.0.1/?session={REDACTED}"),
        ("Content-Type", "text/html"),
        ("Accept", "*/*"),
    ]
    assert redact_headers(headers, include_sensitive=True) == headers


INDEX = b"""<!doctype html>
<!-- each secret is built from two pieces, so the page's own body holds none --><html><body><script>
async function run() {
  await (await fetch('/api/me?item=7&access_token=url-' + 't0ken')).text();
  await (await fetch('/login', {method: 'POST',
      headers: {'Content-Type': 'application/x-www-form-urlencoded'},
      body: 'user=bob&password=hun' + 'ter2&remember=1'})).text();
  await (await fetch('/api/keys', {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({name: 'ci', credentials: {api_key: 'k3y-' + 'in-json'},
                            tokens: [{refresh_token: 'r3f' + 'resh'}]})})).text();
  document.body.dataset.done = 'yes';
}
run();
</script></body></html>"""


def _handler() -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, kind: str, extra: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/":
                self._send(200, INDEX, "text/html", {})
            elif self.path.startswith("/api/me"):
                answer = {"user": "bob", "session": "s3ss10n", "items": [1, 2]}
                self._send(200, json.dumps(answer).encode(), "application/json", {})
            elif self.path.startswith("/home"):
                self._send(200, b'{"home": true}', "application/json", {})
            else:
                self._send(404, b"no", "text/plain", {})

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/login":
                self._send(302, b"", "text/plain", {"Location": "/home?code=0auth-c0de&x=1"})
            else:
                self._send(201, b'{"saved": true}', "application/json", {})

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    return Handler


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _browse(site: str, path: Path, include_sensitive: bool) -> list[dict[str, Any]]:
    """A real capture (bodies included) while a real Chromium logs in; its lines."""
    browser = BrowserSession(BrowserTarget(launch=True))
    browser.start()
    try:
        options = NdjsonOptions(path=path, include_bodies=True, include_sensitive=include_sensitive)
        capture = NdjsonCapture(options, browser, None)
        capture.start()
        browser.navigate(f"{site}/")

        def done() -> bool:
            try:
                return bool(browser.evaluate("document.body.dataset.done === 'yes'"))
            except Exception:
                return False

        assert wait_for(done, timeout=20)

        def settled() -> bool:
            records = [r for r in browser.tracker.records() if r.resource_type != "Document"]
            return all(r.finished or r.error for r in records)

        assert wait_for(settled, timeout=10)
        wait_for(lambda: False, timeout=0.5)
        capture.stop()
    finally:
        browser.stop()
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def captures(site: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same session captured twice: redacted (the default) and with --include-sensitive."""
    directory = tmp_path_factory.mktemp("redaction")
    paths = {"default": directory / "default.ndjson", "sensitive": directory / "sensitive.ndjson"}
    _browse(site, paths["default"], include_sensitive=False)
    _browse(site, paths["sensitive"], include_sensitive=True)
    return paths


def _text(lines: object) -> str:
    return json.dumps(lines)


def test_ndjson_lines_hide_tokens_forms_and_json_fields(
    captures: dict[str, Path], site: str
) -> None:
    lines = [json.loads(line) for line in captures["default"].read_text().splitlines()]
    text = _text(lines)
    assert [secret for secret in SECRETS if secret in text] == []
    requests = {line["url"].split("?")[0]: line for line in lines if line["type"] == "request"}
    assert requests[f"{site}/api/me"]["url"] == (f"{site}/api/me?item=7&access_token={REDACTED}")
    assert requests[f"{site}/login"]["postData"] == f"user=bob&password={REDACTED}&remember=1"
    keys = json.loads(requests[f"{site}/api/keys"]["postData"])
    assert keys == {"name": "ci", "credentials": REDACTED, "tokens": REDACTED}
    me = requests[f"{site}/api/me"]["id"]
    [finished] = [line for line in lines if line["type"] == "finished" and line["id"] == me]
    if "body" in finished:  # a loaded machine's Chromium may have dropped it (bodyError)
        answer = json.loads(finished["body"])
        assert answer == {"user": "bob", "session": REDACTED, "items": [1, 2]}
    else:
        assert "bodyError" in finished
    home = requests[f"{site}/home"]
    assert home["url"] == f"{site}/home?code={REDACTED}&x=1"
    assert "bob" in text and "remember=1" in text, "what is not a secret stays"


def _missing(text: str, lines_of: Path) -> list[str]:
    """The secrets not in ``text``; the response body's only when the browser kept it."""
    dropped = "bodyError" in lines_of.read_text() and "s3ss10n" not in text
    return [s for s in SECRETS if s not in text and not (s == "s3ss10n" and dropped)]


def test_include_sensitive_keeps_them(captures: dict[str, Path]) -> None:
    text = captures["sensitive"].read_text()
    assert _missing(text, captures["sensitive"]) == ["pw-in-url"]


def test_har_hides_them_again_unless_asked(captures: dict[str, Path], site: str) -> None:
    for source in ("default", "sensitive"):
        har = ndjson_to_har([captures[source]]).har
        text = _text(har)
        assert [secret for secret in SECRETS if secret in text] == [], source
        entries = {e["request"]["url"].split("?")[0]: e for e in har["log"]["entries"]}
        me = entries[f"{site}/api/me"]["request"]
        assert {"name": "access_token", "value": REDACTED} in me["queryString"]
        login = entries[f"{site}/login"]
        assert login["request"]["postData"]["text"] == f"user=bob&password={REDACTED}&remember=1"
    kept = _text(ndjson_to_har([captures["sensitive"]], include_sensitive=True).har)
    assert _missing(kept, captures["sensitive"]) == ["pw-in-url"]


def test_a_json_response_body_through_the_real_writer(tmp_path: Path) -> None:
    """The response-body path without depending on the browser keeping the body."""
    record = RequestRecord(
        id="1", seq=1, url="http://127.0.0.1/api?sid=abc", mime_type="application/json"
    )
    body = ResponseBody("1", b'{"user": "bob", "session": "s3ss10n"}', "application/json")
    path = tmp_path / "one.ndjson"
    writer = RotatingWriter(path)
    for sensitive in (False, True):
        event = BrowserEvent("finished", record, 1.0)
        writer.write(browser_line(event, sensitive, include_bodies=True, body=body))
    writer.close()
    hidden, kept = [json.loads(line) for line in path.read_text().splitlines()]
    assert json.loads(hidden["body"]) == {"user": "bob", "session": REDACTED}
    assert json.loads(kept["body"]) == {"user": "bob", "session": "s3ss10n"}


@settings(max_examples=300, deadline=1000)
@given(
    text=st.text(max_size=300),
    content_type=st.sampled_from(
        ["application/json", "application/x-www-form-urlencoded", "text/plain", "", "a/b+json"]
    ),
)
def test_any_text_gets_an_answer_and_redacting_twice_changes_nothing(
    text: str, content_type: str
) -> None:
    once = redact_body(text, content_type)
    assert redact_body(once, content_type) == once
    url = redact_url(text)
    assert redact_url(url) == url
    assert isinstance(secret_name(text), bool)


@given(name=st.sampled_from(["token", "password", "api_key", "sid"]), value=st.text(min_size=1))
def test_a_secret_value_never_survives_in_a_query(name: str, value: str) -> None:
    url = f"http://127.0.0.1/x?a=1&{name}={quote_plus(value)}"
    assert redact_url(url) == f"http://127.0.0.1/x?a=1&{name}={REDACTED}"
