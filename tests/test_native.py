"""The analysis modules compiled with mypyc: the same answers as pure Python, and never stale.

``engine.native`` serves the compiled modules only while every source still has the
hash it was compiled from; these tests compare the two builds' reports on captures
built here, and check that an edited source, a missing build or ``LIVETAP_PURE=1``
falls back to pure Python, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import analyze as bench
from engine import native
from tests.analysis_data import (
    credentials_frames,
    patterns_frames,
    write_frames,
    write_mixed,
    write_timed,
)

ROOT = Path(__file__).resolve().parent.parent


def _environment(pure: bool) -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop(native.PURE_VARIABLE, None)
    if pure:
        environment[native.PURE_VARIABLE] = "1"
    return environment


def _python(*args: str, pure: bool) -> subprocess.CompletedProcess[str]:
    """This interpreter in the repository, with the compiled modules or pure Python."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=_environment(pure),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _livetap(*args: str, pure: bool) -> subprocess.CompletedProcess[str]:
    return _python("-m", "tui.cli", *args, pure=pure)


def _report(path: Path, pure: bool) -> dict[str, Any]:
    done = _livetap("analyze", str(path), "--json", "--show-secrets", pure=pure)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)["data"]
    return document


def _status(pure: bool) -> dict[str, Any]:
    code = (
        "import json, engine.analysis.aggregate as a, engine.native as n; "
        "print(json.dumps({'compiled': n.status().compiled, 'reason': n.status().reason, "
        "'file': a.__file__}))"
    )
    done = _python("-c", code, pure=pure)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


compiled_here = pytest.mark.skipif(
    not native.status().compiled, reason=f"analysis not compiled: {native.status().reason}"
)


def test_ci_runs_the_compiled_modules() -> None:
    """setup.sh compiles them wherever it could install gcc and the headers: CI must have them."""
    status = _status(pure=False)
    if os.environ.get("CI"):
        assert status["compiled"], status["reason"]
    if status["compiled"]:
        assert status["file"].endswith(".so") and "_built" in status["file"]
    else:
        assert status["file"].endswith(".py")


def test_pure_python_when_asked() -> None:
    status = _status(pure=True)
    assert not status["compiled"] and "LIVETAP_PURE" in status["reason"]
    assert status["file"] == str(ROOT / "engine" / "analysis" / "aggregate.py")


def _captures(folder: Path) -> list[Path]:
    today = bench.build(folder / "today.pcap", 3000, mix="today")
    heavy = bench.build(folder / "heavy.pcap", 3000, mix="heavy")
    assert today and heavy
    return [
        folder / "today.pcap",
        folder / "heavy.pcap",
        write_mixed(folder / "mixed.pcap"),
        write_frames(folder / "credentials.pcap", credentials_frames()),
        write_timed(folder / "patterns.pcap", patterns_frames()),
    ]


@compiled_here
def test_compiled_and_pure_python_give_the_same_reports(tmp_path: Path) -> None:
    for path in _captures(tmp_path):
        compiled, pure = _report(path, pure=False), _report(path, pure=True)
        assert compiled["reports"]["summary"]["packets"] > 0 and compiled["complete"]
        assert compiled == pure, path.name


@compiled_here
def test_follow_is_the_same_compiled(tmp_path: Path) -> None:
    path = _captures(tmp_path)[1]
    args = ("follow", str(path), "--stream", "0", "--format", "hex")
    compiled, pure = _livetap(*args, pure=False), _livetap(*args, pure=True)
    assert compiled.returncode == pure.returncode == 0, compiled.stderr + pure.stderr
    assert compiled.stdout == pure.stdout and len(compiled.stdout) > 100


@pytest.fixture
def copied_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the manifest in a folder of its own, which the loader then reads."""
    built = tmp_path / "_built"
    built.mkdir()
    monkeypatch.setattr(native, "BUILT", built)
    monkeypatch.setattr(native, "MANIFEST", built / "manifest.json")
    monkeypatch.delenv(native.PURE_VARIABLE, raising=False)
    modules = {}
    for module in native.MODULES:
        relative = module.replace(".", "/") + ".so"
        (built / relative).parent.mkdir(parents=True, exist_ok=True)
        (built / relative).write_bytes(b"")
        modules[module] = {**native.fingerprint(native.source_of(module)), "file": relative}
    manifest = {"interpreter": native.interpreter(), "modules": modules}
    (built / "manifest.json").write_text(json.dumps(manifest))
    return built


def _manifest(built: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((built / "manifest.json").read_text())
    return result


def test_a_build_that_matches_the_sources_is_used(copied_build: Path) -> None:
    files, reason = native._usable_build()
    assert files is not None and set(files) == set(native.MODULES), reason
    assert reason.startswith("compiled")


def test_an_edited_source_makes_everything_pure_python(copied_build: Path) -> None:
    manifest = _manifest(copied_build)
    entry = manifest["modules"]["engine.analysis.dns"]
    entry["mtime_ns"] -= 1  # touched (a checkout): hashed, and the same source
    (copied_build / "manifest.json").write_text(json.dumps(manifest))
    assert native._usable_build()[0] is not None
    entry["sha256"] = "0" * 64  # edited since the build
    (copied_build / "manifest.json").write_text(json.dumps(manifest))
    files, reason = native._usable_build()
    assert files is None and "engine.analysis.dns changed since it was compiled" in reason


def test_a_build_for_another_python_is_not_used(copied_build: Path) -> None:
    manifest = _manifest(copied_build)
    manifest["interpreter"] = "cpython-399--linux"
    (copied_build / "manifest.json").write_text(json.dumps(manifest))
    files, reason = native._usable_build()
    assert files is None and "another Python" in reason


def test_no_build_or_a_missing_file_is_pure_python(copied_build: Path) -> None:
    first = native.MODULES[0].replace(".", "/") + ".so"
    (copied_build / first).unlink()
    files, reason = native._usable_build()
    assert files is None and "missing" in reason
    shutil.rmtree(copied_build)
    files, reason = native._usable_build()
    assert files is None and "not compiled" in reason


def test_a_module_added_to_the_list_needs_a_new_build(copied_build: Path) -> None:
    manifest = _manifest(copied_build)
    del manifest["modules"]["engine.analysis.tls"]
    (copied_build / "manifest.json").write_text(json.dumps(manifest))
    files, reason = native._usable_build()
    assert files is None and "older than the module list" in reason


def test_version_says_how_the_analysis_runs() -> None:
    compiled = _livetap("--version", pure=False)
    pure = _livetap("--version", pure=True)
    assert "analysis: pure Python (LIVETAP_PURE is set)" in pure.stdout
    assert ("compiled with mypyc" in compiled.stdout) == native.status().compiled


def test_named_records_stay_named(tmp_path: Path) -> None:
    """Compiled, a value typed as a plain tuple is stored as one: the readers' named
    records (``record.timestamp``) must survive that, for pcap and pcapng alike."""
    from engine.pcapio import PcapReader, PcapRecord, write_pcap_file

    frames = [PcapRecord(1.5, 60, 1, bytes(60)), PcapRecord(2.5, 42, 1, bytes(42))]
    for name in ("a.pcap", "a.pcapng"):
        path = tmp_path / name
        write_pcap_file(path, frames)
        with path.open("rb") as stream:
            batch = PcapReader(stream).read_batch(10)
        assert [type(record) for record in batch] == [PcapRecord, PcapRecord], name
        assert [record.timestamp for record in batch] == [1.5, 2.5]
