"""Capturing without root: an interpreter with CAP_NET_RAW and CAP_NET_ADMIN, run as nobody.

SECURITY.md tells users to ``setcap cap_net_raw,cap_net_admin+eip`` their venv's
real python binary instead of running livetap as root. This does it for real on a
copy of the interpreter in a folder of its own (the system's binary keeps its
capabilities unchanged), then runs a capture as user nobody. The copy is the
venv's interpreter when nobody can run it, else the system's python of the same
version (here the venv's lives under /root, which nobody cannot enter).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import ExitCode
from engine.pcapio import open_pcap
from tests.conftest import free_udp_port
from tests.reliability.support import Sender, document

pytestmark = pytest.mark.root("setpriv and setcap")

ROOT = Path(__file__).resolve().parents[2]
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"


def runs_as_nobody(binary: str) -> bool:
    probe = subprocess.run([*NOBODY, binary, "-c", "pass"], capture_output=True, check=False)
    return probe.returncode == 0


def interpreter() -> str:
    """A python binary nobody can run, of the venv's version."""
    real = os.path.realpath(sys.executable)
    if runs_as_nobody(real):
        return real
    system = shutil.which(VERSION, path="/usr/bin:/bin")
    if system and runs_as_nobody(system):
        return system
    pytest.skip(f"no {VERSION} that user nobody can run")


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder nobody can enter (pytest's tmp_path is 0700), with a writable output folder."""
    path = Path(tempfile.mkdtemp(prefix="livetap-caps-"))
    path.chmod(0o755)
    (path / "out").mkdir()
    shutil.chown(path / "out", "nobody", "nogroup")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def environment(home: Path) -> dict[str, str]:
    site = sysconfig.get_paths()["purelib"]
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "PYTHONPATH": f"{ROOT}:{site}",
    }


def capture_as_nobody(python: Path, out: Path) -> subprocess.CompletedProcess[str]:
    port = free_udp_port()
    command = [*NOBODY, str(python), "-m", "tui.cli", "capture", "pcap", "-i", "lo"]
    command += ["-f", f"udp port {port}", "-c", "5", "--duration", "20s"]
    command += ["-w", str(out / "caps.pcap"), "--json"]
    with Sender(port):
        return subprocess.run(
            command, capture_output=True, text=True, timeout=60, env=environment(out), check=False
        )


@pytest.mark.parametrize(
    ("caps", "shown"),
    [("cap_net_raw,cap_net_admin+eip", "cap_net_admin,cap_net_raw=eip"), ("cap_net_raw+eip", "")],
)
def test_a_capture_as_nobody_with_capabilities_on_the_interpreter(
    folder: Path, caps: str, shown: str
) -> None:
    """The documented pair works, and so does CAP_NET_RAW alone (the least privilege)."""
    python = folder / "python"
    shutil.copy2(interpreter(), python)
    subprocess.run(["setcap", caps, str(python)], check=True)
    listed = subprocess.run(["getcap", str(python)], capture_output=True, text=True, check=True)
    assert (shown or "cap_net_raw=eip") in listed.stdout
    result = capture_as_nobody(python, folder / "out")
    assert result.returncode == ExitCode.SUCCESS, result.stderr
    report = document(result.stdout)["data"]
    assert report["packets"] == 5 and report["stop_reason"] == "count"
    written = folder / "out" / "caps.pcap"
    assert written.stat().st_uid == pwd_uid("nobody") and (written.stat().st_mode & 0o777) == 0o600
    with open_pcap(written) as reader:
        assert sum(1 for _ in reader) == 5


def test_without_the_capabilities_nobody_is_told_what_to_do(folder: Path) -> None:
    python = folder / "python"
    shutil.copy2(interpreter(), python)
    result = capture_as_nobody(python, folder / "out")
    assert result.returncode == ExitCode.PERMISSION_DENIED
    error = document(result.stdout)["error"]
    assert error["code"] == "PERMISSION_DENIED" and "CAP_NET_RAW" in error["message"]
    assert "Traceback" not in result.stderr


def pwd_uid(name: str) -> int:
    import pwd

    return pwd.getpwnam(name).pw_uid
