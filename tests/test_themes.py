"""Theme files: the built-in ones load and define every livetap colour; bad ones are named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from themes import VARIABLE_DEFAULTS, ThemeError, builtin_themes, parse_theme, user_themes


def test_builtin_themes_define_every_protocol_and_status_colour() -> None:
    themes = {theme.name: theme for theme in builtin_themes()}
    assert set(themes) == {"livetap-dark", "livetap-light", "livetap-high-contrast"}
    for theme in themes.values():
        assert set(theme.variables) == set(VARIABLE_DEFAULTS), theme.name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\nprimary = "#fff"\nshiny = 1\n', "unknown key 'shiny'"),
        ('name = "x"\nprimary = "not-a-colour"\n', "primary = 'not-a-colour' is not a colour"),
        ('name = "x"\n', "primary colour is missing"),
        ('name = "bad name!"\nprimary = "#fff"\n', "name must be"),
        (
            'name = "x"\nprimary = "#fff"\n[variables]\nproto-foo = "#fff"\n',
            "unknown variable 'proto-foo'",
        ),
        (
            'name = "x"\nprimary = "#fff"\n[variables]\nproto-tcp = 3\n',
            "variables.proto-tcp must be a colour",
        ),
        ("name = [", "not valid TOML"),
    ],
)
def test_bad_theme_files_name_the_key_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(ThemeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_theme(text, Path("t.toml"))


@pytest.mark.root("setpriv to another user")
def test_an_unreadable_theme_folder_is_reported_not_fatal(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    (folder / "themes").mkdir(parents=True)
    folder.chmod(0o000)
    try:
        script = (
            "from pathlib import Path; from themes import user_themes; "
            f"print(user_themes(Path({str(folder / 'themes')!r})))"
        )
        result = subprocess.run(
            [
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                sys.executable,
                "-c",
                script,
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).parent.parent,
        )
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert "cannot read it" in result.stdout


def test_user_themes_load_and_bad_files_are_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text(
        'name = "mine"\nprimary = "#123456"\n[variables]\nproto-tcp = "red"\n'
    )
    (tmp_path / "bad.toml").write_text('name = "broken"\n')
    themes, problems = user_themes(tmp_path)
    assert [t.name for t in themes] == ["mine"]
    assert len(problems) == 1 and "bad.toml" in problems[0]


async def test_t_opens_the_theme_picker_and_a_theme_recolours_the_list(tmp_path: Path) -> None:
    from textual.command import CommandPalette

    from engine.replay import open_file_source
    from engine.session import CaptureSession
    from tests.sample_traffic import write_sample_pcap
    from tui.app import LivetapApp
    from tui.widgets.packet_list import PacketList

    app = LivetapApp(CaptureSession(open_file_source(write_sample_pcap(tmp_path / "s.pcap"))))
    async with app.run_test(size=(160, 45)) as pilot:
        assert app.theme == "livetap-dark"
        await pilot.press("t")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press("escape")
        packet_list = app.screen.query_one(PacketList)
        dark = packet_list._styles["dns"].color
        app.theme = "livetap-light"
        await pilot.pause()
        assert packet_list._styles["dns"].color != dark
        assert {"livetap-dark", "livetap-light", "livetap-high-contrast"} <= set(
            app.available_themes
        )
