"""The livetap Textual app: themes, the main screen and the command palette."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen

from engine.browser.source import BrowserSource
from engine.config import Settings, config_dir
from engine.errors import LivetapError, UsageError
from engine.session import CaptureSession
from engine.textfile import write_text_whole
from engine.tls_decode import Http2Frames
from engine.tls_keylog import KeyLog
from themes import DEFAULT_THEME, VARIABLE_DEFAULTS, builtin_themes, user_themes
from tui.keys import KEYS
from tui.screens.main import MainScreen

SWITCH_INTERVAL = 0.001
"""Seconds a thread may hold the GIL before another gets it (Python's default: 0.005)."""
GC_THRESHOLDS = (50_000, 20, 100)
"""Collect young objects every 50,000 allocations instead of 700, and the oldest rarely.

Textual's strips hold themselves in their own caches, so every repaint leaves
cycles (thousands a second under a live feed). With Python's default thresholds
that meant a full collection more than once a second, each holding the GIL for
50–150 ms, long enough for the kernel ring to overflow at 20,000 packets/s
(benchmarks/soak.py). The cycles die young, so young collections still free them.
"""


def theme_names() -> list[str]:
    """Every theme the picker (t) offers: livetap's, the user's folder, Textual's own.

    ``--theme`` accepts exactly these, so a name seen in the picker works on the command line.
    """
    from textual.theme import BUILTIN_THEMES

    names = [theme.name for theme in builtin_themes()]
    names += [theme.name for theme in user_themes(config_dir() / "themes")[0]]
    return names + [
        name for name, theme in BUILTIN_THEMES.items() if name not in names and not theme.ansi
    ]


class LivetapApp(App[None]):
    """Live packets in the terminal; the engine does the work, this app shows it."""

    TITLE = "livetap"
    ENABLE_COMMAND_PALETTE = True

    def __init__(
        self,
        session: CaptureSession | None,
        theme: str | None = None,
        save_directory: Path | None = None,
        browser: BrowserSource | None = None,
    ) -> None:
        super().__init__()
        # Capture, analysis and UI threads share the GIL: hand it over every millisecond
        # rather than every five, so a key press is answered while packets pour in.
        sys.setswitchinterval(SWITCH_INTERVAL)
        gc.set_threshold(*GC_THRESHOLDS)
        self.session = session
        self.browser = browser
        self.save_directory = save_directory or Path.cwd()
        self.show_secrets = False
        """Copies of requests (y) keep their secrets (``--show-secrets``)."""
        self.preserve_log = True
        self.list_settings: Settings | None = None
        """The packet list's columns, time format and colouring rules (the config file's)."""
        self.config_path: Path | None = None
        """The config file the column editor saves to (``--config``, else the default)."""
        """The request list keeps requests across navigations (``preserveLog`` in the config)."""
        self.key_log: KeyLog | None = None
        """TLS keys to decrypt with (``--keylog``, or the launched browser's own)."""
        self.embed_secrets = False
        """w writes the TLS keys into the pcapng (``--embed-secrets``)."""
        self.http2_frames = Http2Frames()
        """The browser's decrypted HTTP/2 frames: Info labels, g on a request, its wire tab."""
        self.theme_problems: list[str] = []
        for name, textual_theme in list(self.available_themes.items()):
            if textual_theme.ansi:  # the terminal's own 16 colours: no colour livetap can mix
                self.unregister_theme(name)
        for builtin in builtin_themes():
            self.register_theme(builtin)
        extra, self.theme_problems = user_themes(config_dir() / "themes")
        for user_theme in extra:
            self.register_theme(user_theme)
        chosen = theme or DEFAULT_THEME
        if chosen not in self.available_themes:
            names = ", ".join(sorted(self.available_themes))
            raise UsageError(f"there is no theme named {chosen!r}; choose one of: {names}")
        self.theme = chosen

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """livetap's own colour variables, so every theme defines them."""
        return dict(VARIABLE_DEFAULTS)

    def on_mount(self) -> None:
        """Show the main screen, then start the capture.

        The capture thread starts once the first frame is drawn: on a big file it
        would otherwise compete with the first paint (a live socket is already
        open and queues packets meanwhile).
        """
        gc.freeze()  # what start-up made (modules, themes, the app) is never scanned again
        self.push_screen(MainScreen(self.session, self.save_directory, self.browser))
        if self.session is not None:
            self.call_after_refresh(self.session.start)
        for problem in self.theme_problems:
            self.notify(
                problem, title="Theme file ignored", severity="warning", timeout=12, markup=False
            )

    def on_unmount(self) -> None:
        """Quitting stops the capture thread, closes the source and stops a launched browser."""
        if self.session is not None:
            self.session.stop()
        if self.browser is not None:
            self.browser.stop()

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """Save an SVG of the screen in the capture directory, and say where.

        Textual's own delivery writes to ~/Downloads (which a server often lacks) with the
        umask's mode, through whatever link sits at the name. A screenshot shows captured
        traffic, so it is written like every file livetap writes: 0600, a link refused. On
        the web page (``livetap serve``) it is a download, as Textual delivers it.
        """
        if self.is_web:
            return super().deliver_screenshot(filename, path, time_format)
        directory = Path(path).expanduser() if path else self.save_directory
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = directory / (filename or f"livetap-{stamp}.svg")
        try:
            write_text_whole(target, self.export_screenshot())
        except LivetapError as error:
            self.notify(
                str(error),
                title="Screenshot not saved",
                severity="error",
                timeout=12,
                markup=False,
            )
            return None
        self.notify(f"saved to {target}", title="Screenshot", timeout=8, markup=False)
        return str(target)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Every key's action by name in the command palette, then Textual's own."""
        if isinstance(screen, MainScreen):
            for key in KEYS:
                if key.action != "quit" and not key.action.startswith("app."):

                    async def run(action: str = key.action) -> None:
                        await screen.run_action(action)

                    yield SystemCommand(key.description, key.help, run)
        yield from super().get_system_commands(screen)
