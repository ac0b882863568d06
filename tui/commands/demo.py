"""``livetap demo``: the live view on traffic it makes itself, on this machine only.

A local site on 127.0.0.1, a headless Chromium browsing it in a loop, UDP/DNS/ICMP
chatter and the example sensor protocol to 127.0.0.1; then the app on ``lo`` and
the browser. Without root (no live capture) it says so and shows the browser pane
beside a generated pcap replayed at its original pace. Everything it started stops
on exit.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ExitCode, LivetapError, PermissionDeniedError
from tui.demo.site import demo_site
from tui.demo.traffic import DemoTraffic

NAME = "demo"
HELP = "show livetap on traffic it makes itself (a local site, a headless browser, chatter on lo)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """A few switches; the demo needs none."""
    parser.add_argument("--no-browser", action="store_true", help="no Chromium: packets only")
    parser.add_argument("--theme", help="start with this theme")
    parser.add_argument("--chromium", metavar="PATH", help="the browser executable")


def _packet_session(directory: Path) -> tuple[Any, str]:
    """Live capture on lo when allowed, else the generated recording replayed in real time.

    The launched browser speaks DevTools over pipes, so no DevTools traffic crosses lo;
    under ``livetap serve`` the page's own websocket does, and is left out.
    """
    from engine.config import served_port
    from engine.live import check_capture_privilege
    from engine.session import CaptureSession
    from engine.source import SourceSpec, excluding_tcp_port, open_source

    try:
        check_capture_privilege()
        spec = excluding_tcp_port(SourceSpec(("lo",)), served_port())
        return CaptureSession(open_source(spec)), ""
    except PermissionDeniedError:
        from tui.demo.recording import write_recording

        path = write_recording(directory / "livetap-demo.pcap")
        note = (
            "livetap demo: live capture needs root (or CAP_NET_RAW); showing a generated "
            "recording at its original pace instead"
        )
        return CaptureSession(open_source(SourceSpec(files=(str(path),), realtime=True))), note


@dataclass
class DemoSources:
    """What the demo started: the packet session, the browser (or None), and a note."""

    session: Any
    browser: Any
    note: str
    site: str


@contextmanager
def demo_sources(with_browser: bool = True, chromium: str | None = None) -> Iterator[DemoSources]:
    """Start the site, the chatter, the browser and the packet source; stop them all after."""
    browser: Any = None
    session: Any = None
    traffic = DemoTraffic()
    with demo_site() as url, tempfile.TemporaryDirectory(prefix="livetap-demo-") as folder:
        try:
            traffic.start()
            if with_browser:
                from engine.browser.session import BrowserSession
                from engine.browser.target import BrowserTarget

                target = BrowserTarget(launch=True, chromium=chromium)
                browser = BrowserSession(target, open_url=f"{url}/")
                browser.start()
            session, note = _packet_session(Path(folder))
            yield DemoSources(session, browser, note, url)
        finally:
            traffic.stop()
            for source in (session, browser):
                if source is not None:
                    with contextlib.suppress(LivetapError):
                        source.stop()


def run(args: argparse.Namespace) -> int:
    """Start the traffic, the browser and the app; stop everything on the way out."""
    from engine.config import load_settings
    from tui.app import LivetapApp
    from tui.signals import install_exit_signals

    config = getattr(args, "config", None)
    settings = load_settings({}, config_path=config if isinstance(config, Path) else None)
    with demo_sources(not args.no_browser, args.chromium) as demo:
        if demo.note:
            print(demo.note, file=sys.stderr)
        app = LivetapApp(
            demo.session,
            theme=args.theme,
            save_directory=settings.capture_directory,  # where `x` and `w` write
            browser=demo.browser,
        )
        install_exit_signals(app, demo.session, demo.browser)
        app.run()
        return ExitCode.INTERRUPTED if app.return_code == ExitCode.INTERRUPTED else ExitCode.SUCCESS
