"""The launched Chromium: no port, not root, sandboxed, nothing left behind, whole first load.

Real headless Chromium against the local site on 127.0.0.1. The processes are
read from /proc: their uid, seccomp mode, user namespace and listening sockets.
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from engine.browser.launch import LaunchedBrowser
from engine.browser.records import RequestRecord
from engine.browser.session import NO_SANDBOX_WARNING, BrowserSession
from engine.browser.target import BrowserTarget, parse_browser_spec
from engine.errors import ExitCode, UnavailableError, UsageError
from tests.conftest import wait_for
from tests.local_site import LocalSite, local_site
from tests.reliability.support import livetap


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with local_site() as running:
        yield running


@pytest.fixture
def as_plain_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """livetap run as root directly (not through sudo): the browser must run as nobody."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    monkeypatch.delenv("SUDO_UID", raising=False)
    monkeypatch.delenv("SUDO_GID", raising=False)


def processes_of(browser: LaunchedBrowser) -> list[psutil.Process]:
    root = psutil.Process(browser.process.pid)
    return [root, *root.children(recursive=True)]


def status_line(pid: int, field: str) -> list[str]:
    """A field of /proc/PID/status, split (Uid: real, effective, saved, filesystem)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return value.split()
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def listening(processes: list[psutil.Process]) -> list[tuple[str, int]]:
    """TCP and UDP sockets in LISTEN state held by any of the processes."""
    found = []
    for process in processes:
        try:
            connections = process.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        found += [(c.laddr.ip, c.laddr.port) for c in connections if c.status == psutil.CONN_LISTEN]
    return found


def page_done(browser: BrowserSession, element: str = "document.body") -> bool:
    try:
        return bool(browser.evaluate(f"{element} && {element}.dataset.done === 'yes'"))
    except UnavailableError:
        return False


def by_path(browser: BrowserSession, site: LocalSite) -> dict[str, RequestRecord]:
    return {
        r.url.removeprefix(site.url): r for r in browser.tracker.records() if "favicon" not in r.url
    }


def test_no_port_answers_and_the_page_is_still_seen_over_the_pipe(site: LocalSite) -> None:
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    try:
        assert wait_for(lambda: page_done(browser), timeout=20)
        launched = browser.browser_process
        assert launched is not None
        processes = processes_of(launched)
        assert len(processes) >= 3
        assert listening(processes) == []
        for process in processes:
            command = process.cmdline()
            assert not any(part.startswith("--remote-debugging-port") for part in command)
        assert "--remote-debugging-pipe" in processes[0].cmdline()
        data = by_path(browser, site)["/api/data.json?item=7&kind=test"]
        assert (data.method, data.status, data.remote_port) == ("GET", 200, site.port)
        assert b'"items"' in browser.fetch_body(data.id).data
    finally:
        browser.stop()


@pytest.mark.root("the browser drops to nobody")
def test_as_root_the_browser_runs_as_nobody_with_its_sandbox_on(
    site: LocalSite, as_plain_root: None
) -> None:
    nobody = pwd.getpwnam("nobody")
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/")
    browser.start()
    try:
        assert wait_for(lambda: page_done(browser), timeout=20)
        launched = browser.browser_process
        assert launched is not None
        processes = processes_of(launched)
        for process in processes:
            assert status_line(process.pid, "Uid") == [str(nobody.pw_uid)] * 4
            assert status_line(process.pid, "Gid") == [str(nobody.pw_gid)] * 4
            assert status_line(process.pid, "Groups") == []
            assert "--no-sandbox" not in process.cmdline()
        # The sandbox is really on: renderers in their own user namespace, under seccomp.
        renderers = [p for p in processes if "--type=renderer" in p.cmdline()]
        assert renderers
        browser_namespace = Path(f"/proc/{launched.process.pid}/ns/user").readlink()
        for renderer in renderers:
            assert status_line(renderer.pid, "Seccomp") == ["2"]
            assert Path(f"/proc/{renderer.pid}/ns/user").readlink() != browser_namespace
        assert launched.profile.stat().st_uid == nobody.pw_uid
        assert (launched.home.stat().st_mode & 0o777) == 0o700
    finally:
        browser.stop()


@pytest.mark.root("the browser drops to another user")
def test_under_sudo_the_browser_runs_as_the_invoking_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    user = pwd.getpwnam("daemon")  # stands in for the account that ran sudo
    monkeypatch.setenv("SUDO_UID", str(user.pw_uid))
    monkeypatch.setenv("SUDO_GID", str(user.pw_gid))
    browser = LaunchedBrowser()
    try:
        assert wait_for(lambda: len(processes_of(browser)) >= 3, timeout=10)
        for process in processes_of(browser):
            assert status_line(process.pid, "Uid") == [str(user.pw_uid)] * 4
        assert browser.account.name == "daemon"
        assert browser.profile.stat().st_uid == user.pw_uid
    finally:
        browser.stop()
    assert not browser.home.exists()


@pytest.fixture
def unsandboxable_chromium() -> Iterator[str]:
    """The real Chromium with its namespace sandbox disabled: no usable sandbox, as on hosts
    without unprivileged user namespaces and no setuid helper (in a folder nobody can read)."""
    folder = Path(tempfile.mkdtemp(prefix="livetap-test-chromium-"))
    folder.chmod(0o755)
    wrapper = folder / "chromium"
    real = shutil.which("chromium") or shutil.which("google-chrome")
    assert real is not None
    wrapper.write_text(f'#!/bin/sh\nexec {real} --disable-namespace-sandbox "$@"\n')
    wrapper.chmod(0o755)
    try:
        yield str(wrapper)
    finally:
        shutil.rmtree(folder)


def test_a_sandbox_that_cannot_start_fails_and_names_no_sandbox(
    unsandboxable_chromium: str,
) -> None:
    browser = BrowserSession(BrowserTarget(launch=True, chromium=unsandboxable_chromium))
    with pytest.raises(UnavailableError, match="sandbox cannot start") as raised:
        browser.start()
    assert "--no-sandbox" in str(raised.value)


def test_no_sandbox_only_when_asked_and_with_a_warning(unsandboxable_chromium: str) -> None:
    target = parse_browser_spec("launch", chromium=unsandboxable_chromium, no_sandbox=True)
    browser = BrowserSession(target)
    browser.start()
    try:
        launched = browser.browser_process
        assert launched is not None
        assert "--no-sandbox" in psutil.Process(launched.process.pid).cmdline()
        assert browser.status().message == NO_SANDBOX_WARNING
        if os.geteuid() == 0:  # still not root
            assert status_line(launched.process.pid, "Uid")[0] != "0"
    finally:
        browser.stop()
    with pytest.raises(UsageError, match="only applies to --browser launch"):
        parse_browser_spec("9222", no_sandbox=True)


@pytest.mark.root("the browser drops to nobody")
def test_a_browser_the_unprivileged_user_cannot_run_is_refused_plainly(
    as_plain_root: None, tmp_path: Path
) -> None:
    private = tmp_path / "root-only"  # pytest's folders are 0700: nobody cannot enter them
    private.mkdir(mode=0o700)
    chromium = private / "chromium"
    chromium.write_text(f'#!/bin/sh\nexec {shutil.which("chromium")} "$@"\n')
    chromium.chmod(0o755)
    browser = BrowserSession(BrowserTarget(launch=True, chromium=str(chromium)))
    with pytest.raises(UnavailableError, match="as user nobody"):
        browser.start()


def test_the_command_line_warns_when_the_sandbox_is_turned_off() -> None:
    result = livetap(
        "--no-packets", "--browser", "launch", "--no-sandbox", "--chromium", "no-such-browser"
    )
    assert "warning: Chromium's sandbox is off" in result.stderr
    assert result.returncode == ExitCode.NOT_FOUND
    result = livetap("--no-packets", "--browser", "9222", "--no-sandbox")
    assert result.returncode == ExitCode.USAGE_ERROR
    assert "--no-sandbox only applies" in result.stderr


def test_nothing_is_left_in_the_temp_directory() -> None:
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob("org.chromium.Chromium.*"))
    browser = LaunchedBrowser()
    try:
        own = browser.home / "tmp"
        assert wait_for(lambda: any(own.glob("org.chromium.Chromium.*")), timeout=10)
    finally:
        browser.stop()
    assert not browser.home.exists()
    # Other browsers may run on this machine now: ours would belong to the browser's user.
    new = set(temp.glob("org.chromium.Chromium.*")) - before
    ours = []
    for path in new:
        try:
            if path.stat().st_uid == browser.account.uid:
                ours.append(path)
        except FileNotFoundError:
            continue
    assert ours == []


def load_early_page(site: LocalSite) -> None:
    """Launch, open /early, and check what was recorded of its first load."""
    browser = BrowserSession(BrowserTarget(launch=True), open_url=f"{site.url}/early")
    browser.start()
    try:
        assert wait_for(lambda: page_done(browser, "document.documentElement"), timeout=20)

        def finished() -> bool:
            records = by_path(browser, site)
            return "/early" in records and all(r.finished for r in records.values())

        assert wait_for(finished, timeout=5), by_path(browser, site)
        records = by_path(browser, site)
        summary = {path: (r.method, r.status, r.resource_type) for path, r in records.items()}
        assert summary == {
            "/early": ("GET", 200, "Document"),
            "/api/data.json?early=1": ("GET", 200, "Fetch"),
            "/api/submit": ("POST", 201, "Fetch"),
        }
        document = records["/early"]
        assert document.encoded_length and document.duration is not None
        posted = browser.fetch_post_data(records["/api/submit"].id)
        assert posted == '{"items":[1,2,3],"ok":true}'
    finally:
        browser.stop()


def test_the_first_load_is_recorded_whole(site: LocalSite) -> None:
    """Issue 18 #1: the page's first requests were seen in part when the URL was opened
    before the tab's Network domain was on (a race: several launches to catch it)."""
    for _ in range(5):
        load_early_page(site)
