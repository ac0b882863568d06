"""``livetap capture pcap`` and ``livetap bpf`` as a user runs them: the console script."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.bpf_examples import EXAMPLES
from engine.errors import ExitCode
from engine.pcapio import open_pcap
from tests.conftest import free_udp_port, send_udp
from tests.test_pcap_capture import mounted_tmpfs

LIVETAP = str(Path(sys.executable).parent / "livetap")
STARTED = "livetap: capturing on "


def livetap(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the console script to its end, without a terminal."""
    command = [LIVETAP, *args]
    if user:
        command = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *command]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=False
    )


class Capture:
    """A ``livetap capture pcap`` process, started and waited for until it is capturing."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [LIVETAP, "capture", "pcap", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stderr is not None
        self.first_line = self.process.stderr.readline()
        if not self.first_line.startswith(STARTED):
            self.process.kill()
            self.process.wait()
        assert self.first_line.startswith(STARTED), self.first_line

    def finish(self, send: signal.Signals | None = None) -> tuple[int, str, str]:
        """Optionally signal it, then wait: exit code, stdout, the rest of stderr."""
        if send is not None:
            self.process.send_signal(send)
        stdout, stderr = self.process.communicate(timeout=30)
        return self.process.returncode, stdout, stderr


def document(stdout: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(stdout)
    return data


def packets_in(path: Path) -> int:
    with open_pcap(path) as reader:
        count = sum(1 for _ in reader)
        assert not reader.truncated and not reader.warnings
    return count


@pytest.fixture
def port() -> int:
    return free_udp_port()


@pytest.mark.root
def test_count_ends_the_capture_with_a_json_report(port: int, tmp_dir: Path) -> None:
    capture = Capture(
        "-i", "lo", "-f", f"udp port {port}", "-w", str(tmp_dir / "c.pcap"), "-c", "20", "--json"
    )
    assert str(tmp_dir / "c.pcap") in capture.first_line
    send_udp(port, [b"x" * 10] * 30)
    code, stdout, stderr = capture.finish()
    assert code == ExitCode.SUCCESS, stderr
    report = document(stdout)
    assert report["success"] is True
    data = report["data"]
    assert data["files"] == [str(tmp_dir / "c.pcap")] and data["packets"] == 20
    assert data["stop_reason"] == "count" and data["kernel_drops"] == 0
    assert data["bytes"] == (tmp_dir / "c.pcap").stat().st_size
    assert packets_in(tmp_dir / "c.pcap") == 20
    assert "Traceback" not in stderr


@pytest.mark.root
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_leaves_a_file_tshark_and_tcpdump_read(
    stop: signal.Signals, port: int, tmp_dir: Path
) -> None:
    path = tmp_dir / "stopped.pcapng"
    capture = Capture("-i", "lo", "-f", f"udp port {port}", "-w", str(path), "--json")
    send_udp(port, [b"%03d" % i for i in range(40)])
    code, stdout, stderr = capture.finish(stop)
    assert code == ExitCode.INTERRUPTED, stderr
    data = document(stdout)["data"]
    assert data["stop_reason"] == "stopped" and data["packets"] == 40
    tshark = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "udp.dstport"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert tshark.returncode == 0, tshark.stderr
    assert tshark.stdout.split() == [str(port)] * 40
    tcpdump = subprocess.run(
        ["tcpdump", "-n", "-r", str(path)], capture_output=True, text=True, check=False
    )
    assert tcpdump.returncode == 0 and len(tcpdump.stdout.splitlines()) == 40


@pytest.mark.root
def test_duration_ends_the_capture_with_a_text_report(port: int, tmp_dir: Path) -> None:
    capture = Capture(
        "-i", "lo", "-f", f"udp port {port}", "-w", str(tmp_dir / "d.pcap"), "--duration", "1s"
    )
    send_udp(port, [b"timed"] * 5)
    code, stdout, stderr = capture.finish()
    assert code == ExitCode.SUCCESS, stderr
    assert "ended: the duration was reached" in stdout
    assert "packets captured: 5" in stdout and "packets dropped by the kernel: 0" in stdout
    assert f"  {tmp_dir / 'd.pcap'}" in stdout.splitlines()
    assert packets_in(tmp_dir / "d.pcap") == 5


@pytest.mark.root
@pytest.mark.parametrize("json_output", [True, False])
def test_a_display_filter_writes_only_the_matching_packets(
    port: int, tmp_dir: Path, json_output: bool
) -> None:
    path = tmp_dir / "y.pcap"
    expression = "udp.length > 30 and ip.dst == 127.0.0.1"
    capture = Capture(
        "-i", "lo", "-f", f"udp port {port}", "-Y", expression, "-w", str(path),
        *(["--json"] if json_output else []),
    )  # fmt: skip
    assert f"(display filter {expression!r})" in capture.first_line
    send_udp(port, [b"s" * 10, b"L" * 40] * 10)  # udp.length 18 and 48, in turn
    code, stdout, stderr = capture.finish(signal.SIGINT)
    assert code == ExitCode.INTERRUPTED, stderr
    if json_output:
        data = document(stdout)["data"]
        assert data["display_filter"] == expression
        assert (data["captured"], data["matched"], data["packets"]) == (20, 10, 10)
    else:
        assert f"display filter {expression!r}: 10 of 20 captured packets matched" in stdout
        assert "packets captured: 10" in stdout
    lengths = subprocess.run(
        ["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "udp.length"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert lengths.stdout.split() == ["48"] * 10  # exactly the matching ones, all of them


@pytest.mark.root
def test_rotation_flags_like_tcpdump(port: int, tmp_dir: Path) -> None:
    path = tmp_dir / "r.pcap"
    capture = Capture(
        "-i",
        "lo",
        "-f",
        f"udp port {port}",
        "-w",
        str(path),
        "-C",
        "2k",
        "-W",
        "2",
        "-c",
        "60",
        "--json",
    )
    send_udp(port, [b"y" * 100] * 60)
    code, stdout, stderr = capture.finish()
    assert code == ExitCode.SUCCESS, stderr
    data = document(stdout)["data"]
    files = [Path(name) for name in data["files"]]
    assert len(files) == 2 and data["files_removed"] >= 2
    assert sorted(tmp_dir.iterdir()) == sorted(files)
    assert all(f.stat().st_size <= 2048 for f in files)
    assert files[1].name == f"r.{data['files_removed'] + 1}.pcap"


@pytest.mark.root
def test_config_gives_the_directory_the_default_name_and_the_size_cap(
    port: int, tmp_dir: Path
) -> None:
    out = tmp_dir / "captures"
    out.mkdir()
    config = tmp_dir / "config.yaml"
    config.write_text(f"captureDirectory: {out}\nmaxCaptureSize: 2k\n")
    capture = Capture("-i", "lo", "-f", f"udp port {port}", "--config", str(config), "--json")
    send_udp(port, [b"z" * 200] * 20)
    code, stdout, stderr = capture.finish()
    assert code == ExitCode.PARTIAL, stderr
    data = document(stdout)["data"]
    assert data["stop_reason"] == "size-limit" and data["bytes"] <= 2048
    (written,) = out.iterdir()
    assert written.name.startswith("livetap-") and written.suffix == ".pcap"
    assert data["files"] == [str(written)]
    assert any("maxCaptureSize" in note for note in data["notes"])


@pytest.mark.root
def test_a_relative_name_goes_to_the_capture_directory(port: int, tmp_dir: Path) -> None:
    config = tmp_dir / "config.yaml"
    config.write_text(f"captureDirectory: {tmp_dir}\n")
    capture = Capture(
        "-i", "lo", "-f", f"udp port {port}", "-w", "rel.pcap", "--config", str(config), "-c", "1"
    )
    send_udp(port, [b"r"])
    code, _stdout, stderr = capture.finish()
    assert code == ExitCode.SUCCESS, stderr
    assert packets_in(tmp_dir / "rel.pcap") == 1


@pytest.fixture
def small_disk(tmp_dir: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_dir / "small", "size=256k,mode=0755") as directory:
        yield directory


@pytest.fixture
def read_only_disk(tmp_dir: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_dir / "ro", "ro,size=64k,mode=0755") as directory:
        yield directory


@pytest.mark.root("mounts a file system")
def test_a_full_disk_is_a_resource_error_with_a_valid_file(port: int, small_disk: Path) -> None:
    path = small_disk / "full.pcap"
    capture = Capture("-i", "lo", "-f", f"udp port {port}", "-w", str(path), "--json")
    send_udp(port, [b"f" * 1000] * 400)
    code, stdout, stderr = capture.finish()
    assert code == ExitCode.RESOURCE_ERROR, stderr
    report = document(stdout)
    assert report["success"] is False and report["error"]["code"] == "RESOURCE_ERROR"
    assert "No space left on device" in report["error"]["message"]
    assert report["data"]["packets"] == packets_in(path) > 100
    assert "No space left on device" in stderr and "Traceback" not in stderr


@pytest.mark.root("mounts a file system")
def test_a_read_only_directory_is_permission_denied(port: int, read_only_disk: Path) -> None:
    result = livetap(
        "capture",
        "pcap",
        "-i",
        "lo",
        "-f",
        f"udp port {port}",
        "-w",
        str(read_only_disk / "x.pcap"),
    )
    assert result.returncode == ExitCode.PERMISSION_DENIED, result.stderr
    assert "Read-only file system" in result.stderr and "Traceback" not in result.stderr
    as_json = livetap("capture", "pcap", "-i", "lo", "-w", str(read_only_disk / "x.pcap"), "--json")
    assert document(as_json.stdout)["error"]["code"] == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(
            ("-w", "/nonexistent-dir/x.pcap"),
            ExitCode.NOT_FOUND,
            "does its directory exist",
            marks=pytest.mark.root,
        ),
        (("-i", "nosuch0"), ExitCode.NOT_FOUND, "no network interface named 'nosuch0'"),
        (("-f", "udp portt 1"), ExitCode.BAD_INPUT, "syntax error"),
        (("--duration", "soon"), ExitCode.USAGE_ERROR, "a duration looks like"),
        (("-W", "3"), ExitCode.USAGE_ERROR, "needs a file size"),
        (("-C", "lots"), ExitCode.USAGE_ERROR, "a file size is"),
        (("-c", "0"), ExitCode.USAGE_ERROR, "greater than zero"),
        (("-w", "-"), ExitCode.USAGE_ERROR, "not standard output"),
        (("-Y", "udp.prot == 1"), ExitCode.BAD_INPUT, "at column 1: unknown field 'udp.prot'"),
    ],
)
def test_bad_requests_get_one_line_and_their_exit_code(
    args: tuple[str, ...], code: ExitCode, message: str, tmp_dir: Path
) -> None:
    base = ("capture", "pcap", "-i", "lo", "-w", str(tmp_dir / "x.pcap"))
    result = livetap(*base, *args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.root
def test_a_symbolic_link_is_refused(tmp_dir: Path) -> None:
    (tmp_dir / "link.pcap").symlink_to(tmp_dir / "elsewhere")
    result = livetap("capture", "pcap", "-i", "lo", "-w", str(tmp_dir / "link.pcap"))
    assert result.returncode == ExitCode.BAD_INPUT and "symbolic link" in result.stderr
    assert not (tmp_dir / "elsewhere").exists()


@pytest.mark.root("setpriv to another user")
def test_without_capture_privilege_it_says_how_to_fix_it(tmp_dir: Path) -> None:
    result = livetap("capture", "pcap", "-i", "lo", "-w", str(tmp_dir / "x.pcap"), user="nobody")
    assert result.returncode == ExitCode.PERMISSION_DENIED
    assert "CAP_NET_RAW" in result.stderr and "Traceback" not in result.stderr


def test_capture_needs_a_format() -> None:
    result = livetap("capture")
    assert result.returncode == ExitCode.USAGE_ERROR and "{pcap" in result.stderr


# -- livetap bpf ---------------------------------------------------------------------------------


def test_bpf_prints_the_filter_first() -> None:
    result = livetap("bpf", "HTTP traffic to 10.0.0.5 or 10.0.0.6")
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    assert result.stdout == "tcp dst port 80 and (dst host 10.0.0.5 or dst host 10.0.0.6)\n"
    unquoted = livetap("bpf", "ssh", "from", "10.0.0.7")
    assert unquoted.stdout.splitlines()[0] == "tcp src port 22 and src host 10.0.0.7"


def test_bpf_explain_shows_the_program_like_tcpdump_d() -> None:
    result = livetap("bpf", "tcp syn only", "--explain")
    lines = result.stdout.splitlines()
    assert lines[0] == "tcp[tcpflags] == tcp-syn"
    tcpdump = subprocess.run(
        ["tcpdump", "-d", "-y", "EN10MB", "tcp[tcpflags] == tcp-syn"],
        capture_output=True,
        text=True,
        check=True,
    )
    program = [line.strip() for line in lines if line.strip().startswith("(")]
    assert program == [line.strip() for line in tcpdump.stdout.splitlines()]


def test_bpf_json_and_errors() -> None:
    data = document(livetap("bpf", "dns", "--json", "--explain").stdout)["data"]
    assert data["expression"] == "port 53" and data["program"][0].startswith("(000)")
    result = livetap("bpf", "http to foo")
    assert result.returncode == ExitCode.BAD_INPUT
    assert "don't know 'foo' (position 9)" in result.stderr and "Traceback" not in result.stderr
    as_json = document(livetap("bpf", "http to foo", "--json").stdout)
    assert as_json["success"] is False and as_json["error"]["code"] == "BAD_INPUT"
    assert livetap("bpf").returncode == ExitCode.USAGE_ERROR


def test_bpf_examples_text_and_json() -> None:
    text = livetap("bpf", "--examples").stdout
    assert "tcp[tcpflags] & tcp-syn != 0" in text and "advanced:" in text
    rows = document(livetap("bpf", "--examples", "--json").stdout)["data"]
    assert len(rows) == len(EXAMPLES) and rows[0]["category"] == "basic"
    advanced = document(livetap("bpf", "--examples", "--category", "advanced", "--json").stdout)
    assert {row["category"] for row in advanced["data"]} == {"advanced"}
