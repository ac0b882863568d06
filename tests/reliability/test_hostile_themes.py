"""Theme files cannot break the app: every bad one is a ThemeError, and livetap still starts.

A theme is TOML from the user's config folder (under sudo, possibly from another
user's). Bad TOML, bad colours, values of the wrong type that Textual would
divide by, deep nesting, huge and binary files, a FIFO, a directory: each is
refused with a message, and the app runs in Pilot with all of them in its
folder and every theme it accepted selectable.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.reliability.support import pcap_bytes, udp_frame
from themes import ThemeError, load_theme_file, parse_theme

GOOD = 'name = "{name}"\nprimary = "#5e81ac"\n'
HOSTILE: dict[str, bytes] = {
    "bad-toml": b"name = 'x\nprimary = ",
    "deep": b'name = "deep"\nprimary = "#fff"\nx = ' + b"[" * 4000 + b"]" * 4000,
    "bad-colour": b'name = "c"\nprimary = "not-a-colour"',
    "huge-colour": b'name = "c"\nprimary = "hsl(1e308,1e308%,1e308%)"',
    "colour-type": b'name = "c"\nprimary = 12',
    "spread-text": b'name = "livetap-dark"\nprimary = "#fff"\nluminosity_spread = "abc"',
    "spread-nan": b'name = "s"\nprimary = "#fff"\nluminosity_spread = nan',
    "alpha-list": b'name = "a"\nprimary = "#fff"\ntext_alpha = [1]',
    "alpha-huge": b'name = "a"\nprimary = "#fff"\ntext_alpha = 1e308',
    "ansi": b'name = "livetap-light"\nprimary = "#fff"\nansi = true',
    "dark-text": b'name = "d"\nprimary = "#fff"\ndark = "yes"',
    "unknown-key": b'name = "u"\nprimary = "#fff"\nexec = "rm -rf /"',
    "unknown-var": b'name = "v"\nprimary = "#fff"\n[variables]\nproto-evil = "#fff"',
    "vars-list": b'name = "v"\nprimary = "#fff"\nvariables = [1]',
    "name-markup": b'name = "[bold red]x[/]"\nprimary = "#fff"',
    "name-long": b'name = "' + b"a" * 70_000 + b'"\nprimary = "#fff"',
    "name-unicode": 'name = "ｔｈｅｍｅ"\nprimary = "#fff"'.encode(),
    "no-primary": b'name = "p"',
    "binary": bytes(range(256)) * 64,
    "huge": b'name = "h"\nprimary = "#fff"\n' + b"# padding\n" * 200_000,
    "latin1": 'name = "é"\nprimary = "#fff"'.encode("latin-1"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_file_is_a_theme_error_naming_it(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.toml"
    path.write_bytes(HOSTILE[name])
    with pytest.raises(ThemeError, match=str(path)):
        load_theme_file(path)


def test_a_fifo_or_a_directory_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ThemeError, match="not a regular file"):
        load_theme_file(fifo)
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ThemeError):
        load_theme_file(tmp_path / "dir.toml")


def test_a_good_theme_still_loads(tmp_path: Path) -> None:
    theme = parse_theme(GOOD.format(name="mine") + "luminosity_spread = 0.2\n", tmp_path / "m")
    assert theme.name == "mine" and theme.luminosity_spread == 0.2


@pytest.fixture
def hostile_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """XDG_CONFIG_HOME whose livetap/themes folder holds every hostile file and two good ones."""
    folder = tmp_path / "config" / "livetap" / "themes"
    folder.mkdir(parents=True)
    for name, content in HOSTILE.items():
        (folder / f"{name}.toml").write_bytes(content)
    os.mkfifo(folder / "fifo.toml")
    (folder / "dir.toml").mkdir()
    (folder / "good.toml").write_text(GOOD.format(name="good-one"))
    (folder / "light.toml").write_text(GOOD.format(name="good-two") + "dark = false\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return folder


async def test_the_app_starts_and_every_theme_it_kept_works(
    hostile_config: Path, tmp_path: Path
) -> None:
    from tui.app import LivetapApp

    capture = tmp_path / "c.pcap"
    capture.write_bytes(pcap_bytes([udp_frame(b"hello")] * 3))
    app = LivetapApp(CaptureSession(open_file_source(capture)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "livetap-dark"  # a broken file named livetap-dark did not replace it
        assert len(app.theme_problems) == len(HOSTILE) + 2  # the FIFO and the directory too
        assert {"good-one", "good-two"} <= set(app.available_themes)
        for theme in ("good-one", "good-two", "livetap-light", "livetap-high-contrast"):
            app.theme = theme
            await pilot.pause()
            assert app.screen.query("PacketList")
        await pilot.press("t")
        await pilot.press("escape")
        await pilot.press("q")
