"""The rotating NDJSON writer and the URL filter, on real files (and a real full disk)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import (
    BadInputError,
    NotFoundError,
    PermissionDeniedError,
    ResourceError,
    UsageError,
)
from engine.ndjson.url_filter import UrlFilter
from engine.ndjson.writer import RotatingWriter, rotated_name


def lines_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_rotation_keeps_whole_lines_in_order_and_counts_files(tmp_path: Path) -> None:
    path = tmp_path / "capture.ndjson"
    writer = RotatingWriter(path, max_bytes=1000)
    for number in range(100):
        writer.write({"type": "packet", "n": number, "pad": "x" * (number % 40)})
    writer.close()
    files = sorted(
        tmp_path.glob("capture*.ndjson"),
        key=lambda p: -int(p.name.split(".")[1]) if p.name.count(".") == 2 else 0,
    )
    assert files[-1] == path and files[0] == rotated_name(path, len(files) - 1)
    assert writer.files_created == len(files) > 5
    numbers = [line["n"] for file in files for line in lines_of(file)]
    assert numbers == list(range(100))
    assert all(file.stat().st_size <= 1000 for file in files)
    assert writer.events_written == 100
    assert writer.bytes_written == sum(file.stat().st_size for file in files)
    assert all((file.stat().st_mode & 0o777) == 0o600 for file in files)


def test_append_continues_the_file_and_its_numbering(tmp_path: Path) -> None:
    path = tmp_path / "capture.ndjson"
    first = RotatingWriter(path, max_bytes=200)
    for number in range(10):
        first.write({"n": number})
    first.close()
    rotated_before = sorted(p.name for p in tmp_path.iterdir())
    second = RotatingWriter(path, max_bytes=200, append=True)
    for number in range(10, 30):
        second.write({"n": number})
    second.close()
    highest = max(int(p.name.split(".")[1]) for p in tmp_path.iterdir() if p.name.count(".") == 2)
    ordered = [rotated_name(path, n) for n in range(highest, 0, -1)] + [path]
    assert [line["n"] for file in ordered for line in lines_of(file)] == list(range(30))
    assert len(list(tmp_path.iterdir())) > len(rotated_before)
    overwrite = RotatingWriter(path)
    overwrite.write({"n": "fresh"})
    overwrite.close()
    assert lines_of(path) == [{"n": "fresh"}]


def test_refusals_are_typed(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        RotatingWriter(tmp_path / "missing" / "x.ndjson")
    (tmp_path / "target").write_text("")
    (tmp_path / "link.ndjson").symlink_to(tmp_path / "target")
    with pytest.raises(BadInputError, match="symbolic link"):
        RotatingWriter(tmp_path / "link.ndjson")
    with pytest.raises(BadInputError, match="directory"):
        RotatingWriter(tmp_path)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.root("mounts a file system")
def test_a_full_disk_stops_with_only_whole_lines(small_disk: Path) -> None:
    path = small_disk / "capture.ndjson"
    writer = RotatingWriter(path)
    with pytest.raises(ResourceError, match="No space left"):
        for number in range(10_000):
            writer.write({"n": number, "pad": "y" * 300})
    writer.close()
    content = path.read_bytes()
    assert content.endswith(b"\n")
    numbers = [json.loads(line)["n"] for line in content.splitlines()]
    assert numbers == list(range(len(numbers))) and writer.events_written == len(numbers) > 50


@pytest.mark.root("mounts a file system")
def test_a_read_only_place_is_permission_denied(tmp_path: Path) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)], check=True)
    try:
        with pytest.raises(PermissionDeniedError, match="Read-only"):
            RotatingWriter(mount / "x.ndjson")
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
    assert os.geteuid() == 0


@pytest.mark.parametrize(
    ("patterns", "url", "kept"),
    [
        ((), "http://a/b", True),
        (("*/api/*",), "http://x.test/api/v1", True),
        (("*/api/*",), "http://x.test/static/app.js", False),
        (("*.example.com/*",), "https://www.example.com/", True),
        (("*.example.com/*",), "https://example.org/", False),
        (("*/api/*", "*.png"), "http://x/logo.png", True),
        (("*/api/*", "!*/api/health*"), "http://x/api/health?x", False),
        (("!*.png",), "http://x/logo.png", False),
        (("!*.png",), "http://x/index.html", True),
        (("http://x/a?b=[1]",), "http://x/a?b=[1]", True),
        (("http://x/a",), "http://x/a/b", False),
    ],
)
def test_url_filters_match_the_whole_url(patterns: tuple[str, ...], url: str, kept: bool) -> None:
    assert UrlFilter.parse(list(patterns)).allows(url) is kept


def test_url_filter_refusals_and_description() -> None:
    with pytest.raises(UsageError):
        UrlFilter.parse(["!"])
    with pytest.raises(UsageError):
        UrlFilter.parse(["a\nb"])
    assert UrlFilter.parse([]).describe() is None
    assert UrlFilter.parse(["*/api/*"]).describe() == "*/api/*"
    assert UrlFilter.parse(["a*", "!b*"]).describe() == ["a*", "!b*"]
