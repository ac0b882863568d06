"""``livetap interfaces`` against ``tcpdump -D`` on this machine: the same flags, and "any"."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from engine.interfaces import IFF_RUNNING, IFF_UP, _sysfs_flags, list_interfaces
from tests.test_cli import livetap

TCPDUMP_LINE = re.compile(r"^\d+\.(?P<name>\S+)(?: \((?P<description>.*)\))? \[(?P<flags>.*)\]$")


def tcpdump_interfaces() -> dict[str, tuple[str, set[str]]]:
    """tcpdump -D's interfaces: name -> (description, flag words)."""
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        pytest.skip("tcpdump is not installed")
    output = subprocess.run(
        [tcpdump, "-D"], capture_output=True, text=True, timeout=30, check=True
    ).stdout
    result = {}
    for line in output.splitlines():
        match = TCPDUMP_LINE.match(line)
        assert match, f"unexpected tcpdump -D line: {line!r}"
        words = {w.strip() for w in match["flags"].split(",")} - {"none"}
        result[match["name"]] = (match["description"] or "", words)
    return result


def test_flags_are_tcpdumps() -> None:
    expected = tcpdump_interfaces()
    ours = {i.name: i for i in list_interfaces()}
    shared = set(ours) & set(expected)
    assert {"lo", "any"} <= shared
    for name in shared:
        description, words = expected[name]
        assert set(ours[name].flags()) == words, name
        assert ours[name].description == description, name
    assert ours["lo"].running and ours["any"].running


def test_the_command_lists_any_and_running_loopback() -> None:
    expected = tcpdump_interfaces()
    result = livetap("interfaces")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    any_line = next(line for line in lines if ".any " in line)
    assert f"({expected['any'][0]})" in any_line and "[Up, Running]" in any_line
    lo_line = next(line for line in lines if ".lo [" in line)
    assert "[Up, Running, Loopback]" in lo_line
    rows = {row["name"]: row for row in json.loads(livetap("interfaces", "--json").stdout)["data"]}
    for name in set(rows) & set(expected):
        assert rows[name]["running"] == ("Running" in expected[name][1]), name
        assert rows[name]["up"] == ("Up" in expected[name][1]), name
    assert rows["any"]["index"] == 0 and rows["any"]["description"] == expected["any"][0]


def test_sysfs_fallback_works_out_running_as_the_kernel_does() -> None:
    # /sys/class/net/lo/flags never has IFF_RUNNING; operstate "unknown" means running.
    assert _sysfs_flags("lo") & (IFF_UP | IFF_RUNNING) == IFF_UP | IFF_RUNNING
