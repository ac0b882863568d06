"""``livetap capture ndjson start|stop|status`` and ``livetap har`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from engine.errors import ExitCode
from engine.ndjson.control import read_state
from tests.conftest import wait_for
from tests.har_schema import HAR_SCHEMA
from tests.local_site import LocalSite, local_site
from tests.own_processes import own_processes

LIVETAP = str(Path(sys.executable).parent / "livetap")


def livetap(*args: str, timeout: float = 90) -> tuple[int, dict[str, Any], str]:
    """Run the command; return its exit code, its JSON document and its stderr."""
    result = subprocess.run(
        [LIVETAP, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    try:
        document = json.loads(result.stdout) if result.stdout.strip() else {}
    except ValueError:
        document = {"unparsed": result.stdout}
    return result.returncode, document, result.stderr


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with local_site() as running:
        yield running


@pytest.fixture(autouse=True)
def _no_capture_left() -> Iterator[None]:
    yield
    if read_state() is not None:
        livetap("capture", "ndjson", "stop")


def test_start_returns_at_once_and_stop_collects_the_figures(
    site: LocalSite, tmp_path: Path
) -> None:
    out = tmp_path / "out.ndjson"
    code, started, err = livetap(
        "capture",
        "ndjson",
        "start",
        "--file",
        str(out),
        "--filter",
        "*/api/*",
        "--max-size",
        "100",
        "--open",
        f"{site.url}/",
    )
    assert code == 0, err
    assert started["success"] is True
    data = started["data"]
    assert (data["file"], data["filter"], data["maxSizeMB"]) == (str(out), "*/api/*", 100.0)
    assert data["started"].endswith("Z")
    state = read_state()
    assert state is not None and state["file"] == str(out)
    assert wait_for(lambda: out.exists() and "api/submit" in out.read_text(), timeout=20)
    code, again, _ = livetap("capture", "ndjson", "start", "--file", str(tmp_path / "other.ndjson"))
    assert code == ExitCode.CONFLICT and again["success"] is False
    assert again["error"]["code"] == "CONFLICT" and "already running" in again["error"]["message"]
    code, status, _ = livetap("capture", "ndjson", "status")
    assert code == 0 and status["data"]["running"] is True and status["data"]["eventsWritten"] > 0
    code, stopped, err = livetap("capture", "ndjson", "stop")
    assert code == 0, err
    figures = stopped["data"]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert figures["file"] == str(out) and figures["stopped"].endswith("Z")
    assert figures["eventsWritten"] == len(lines) and figures["filesCreated"] == 1
    assert figures["totalSizeMB"] == round(out.stat().st_size / 2**20, 3)
    assert all("/api/" in line["url"] for line in lines if line["type"] == "request")
    assert read_state() is None and wait_for(lambda: not browser_left(), timeout=5)
    code, none, _ = livetap("capture", "ndjson", "stop")
    assert code == ExitCode.NOT_FOUND and none["error"]["code"] == "NOT_FOUND"


def browser_left() -> str:
    """This run's Chromiums still running (other runs on the machine aside)."""
    return own_processes()


@pytest.mark.parametrize(
    ("make_path", "code", "name"),
    [
        (lambda tmp: tmp / "missing" / "x.ndjson", ExitCode.NOT_FOUND, "NOT_FOUND"),
        (lambda tmp: tmp, ExitCode.USAGE_ERROR, "USAGE_ERROR"),
    ],
)
def test_start_refuses_what_it_cannot_write(
    tmp_path: Path, make_path: Any, code: ExitCode, name: str
) -> None:
    result, document, _ = livetap("capture", "ndjson", "start", "--file", str(make_path(tmp_path)))
    assert result == code and document["error"]["code"] == name
    assert read_state() is None


@pytest.mark.root("mounts a file system")
def test_start_in_a_read_only_place_is_permission_denied(tmp_path: Path) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)], check=True)
    try:
        code, document, _ = livetap("capture", "ndjson", "start", "--file", str(mount / "x.ndjson"))
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
    assert code == ExitCode.PERMISSION_DENIED and document["error"]["code"] == "PERMISSION_DENIED"


@pytest.mark.root("mounts a file system")
def test_a_full_disk_stops_the_capture_cleanly_and_stop_reports_it(
    site: LocalSite, tmp_path: Path
) -> None:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(mount)], check=True)
    try:
        out = mount / "capture.ndjson"
        code, _, err = livetap(
            "capture",
            "ndjson",
            "start",
            "--file",
            str(out),
            "--include-bodies",
            "--max-size",
            "1",
            "--open",
            f"{site.url}/",
        )
        assert code == 0, err

        def failed() -> bool:
            status = livetap("capture", "ndjson", "status")[1]
            return status.get("success") is False

        assert wait_for(failed, timeout=30)
        code, stopped, _ = livetap("capture", "ndjson", "stop")
        assert code == ExitCode.RESOURCE_ERROR
        assert (
            stopped["error"]["code"] == "RESOURCE_ERROR"
            and "No space left" in stopped["error"]["message"]
        )
        content = out.read_bytes()
        assert content.endswith(b"\n")
        assert (
            len([json.loads(line) for line in content.splitlines()])
            == stopped["data"]["eventsWritten"]
        )
    finally:
        time.sleep(0.2)
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_har_from_the_command_line(site: LocalSite, tmp_path: Path) -> None:
    out = tmp_path / "capture.ndjson"
    code, _, err = livetap(
        "capture",
        "ndjson",
        "start",
        "--file",
        str(out),
        "--include-bodies",
        "--max-size",
        "0.005",
        "--open",
        f"{site.url}/",
    )
    assert code == 0, err
    assert wait_for(
        lambda: "api/submit" in "".join(p.read_text() for p in tmp_path.glob("*.ndjson")),
        timeout=20,
    )
    time.sleep(1)
    code, stopped, _ = livetap("capture", "ndjson", "stop")
    assert code == 0 and stopped["data"]["filesCreated"] > 1
    files = [str(path) for path in tmp_path.glob("capture*.ndjson")]
    har = tmp_path / "out.har"
    code, converted, err = livetap("har", *files, "-o", str(har), "--json")
    assert code == 0, err
    document = json.loads(har.read_text())
    jsonschema.validate(document, HAR_SCHEMA)
    assert converted["data"]["entries"] == len(document["log"]["entries"]) >= 10
    code, missing, _ = livetap("har", str(tmp_path / "nope.ndjson"), "-o", str(har), "--json")
    assert code == ExitCode.NOT_FOUND and missing["error"]["code"] == "NOT_FOUND"


def _browser_arguments(pid: int) -> list[bytes]:
    """The command line of the Chromium a capture process launched (its direct child)."""
    for child in Path("/proc").iterdir():
        if not child.name.isdigit():
            continue
        try:
            status = (child / "status").read_text()
            command = (child / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = next(
            (line.split()[1] for line in status.splitlines() if line.startswith("PPid")), ""
        )
        if parent == str(pid) and any(b"--user-data-dir=" in argument for argument in command):
            return command
    return []


@pytest.mark.root
def test_packets_beside_an_opened_page_keep_its_load_and_no_devtools_port(
    site: LocalSite, tmp_path: Path
) -> None:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}  # apart from other captures

    def run(*args: str) -> dict[str, Any]:
        result = subprocess.run(
            [LIVETAP, "capture", "ndjson", *args],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    out = tmp_path / "page.ndjson"
    run("start", "--file", str(out), "--open", f"{site.url}/", "--packets", "-i", "lo")
    try:
        state = json.loads((runtime / "livetap" / "ndjson-capture.json").read_text())
        # the launched browser speaks DevTools over a pipe: no port, so no such packets
        arguments = _browser_arguments(int(state["pid"]))
        assert b"--remote-debugging-pipe" in arguments
        assert not [a for a in arguments if a.startswith(b"--remote-debugging-port")]
        assert wait_for(lambda: out.exists() and "api/submit" in out.read_text(), timeout=30)
        time.sleep(0.5)
    finally:
        run("stop")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    page = f"{site.url}/"
    requests = [line for line in lines if line["type"] == "request"]
    assert page in [line["url"] for line in requests]
    page_id = next(line["id"] for line in requests if line["url"] == page)
    assert any(line["type"] == "response" and line["id"] == page_id for line in lines)
    packets = [line for line in lines if line["type"] == "packet"]
    assert any(site.port in (line["sport"], line["dport"]) for line in packets)
    # a live capture of lo names the program behind each packet: the browser's requests
    to_site = [line for line in packets if line.get("dport") == site.port]
    assert any(line.get("process", {}).get("pid") for line in to_site)


def test_the_devtools_exclusion_is_added_only_with_a_port() -> None:
    from engine.bpf import compile_filter
    from engine.linktypes import ETHERNET
    from engine.ndjson.daemon import packet_filter

    assert packet_filter("udp port 53", None) == "udp port 53"
    assert packet_filter("", None) == ""
    assert packet_filter("", 9222) == "not tcp port 9222"
    combined = packet_filter("tcp or udp", 9222)
    assert combined == "(tcp or udp) and not tcp port 9222"
    compile_filter(combined, ETHERNET)  # libpcap takes it
