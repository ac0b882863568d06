"""Screenshots from the app are private files (0600) and never written through a link."""

from __future__ import annotations

import os
from pathlib import Path

from engine.replay import open_file_source
from engine.session import CaptureSession
from tests.sample_traffic import write_sample_pcap
from tui.app import LivetapApp


async def test_a_screenshot_is_0600_and_a_planted_link_is_refused(tmp_path: Path) -> None:
    session = CaptureSession(open_file_source(str(write_sample_pcap(tmp_path / "s.pcap"))))
    app = LivetapApp(session)
    victim = tmp_path / "victim"
    victim.write_text("precious")
    victim.chmod(0o644)
    (tmp_path / "planted.svg").symlink_to(victim)
    old_umask = os.umask(0)
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            app.deliver_screenshot("shot.svg", str(tmp_path))
            app.deliver_screenshot("planted.svg", str(tmp_path))
            await pilot.pause()
            messages = [str(note.message) for note in app._notifications]
    finally:
        os.umask(old_umask)
        session.stop()
    shot = tmp_path / "shot.svg"
    assert shot.read_text().startswith("<svg") and (shot.stat().st_mode & 0o777) == 0o600
    assert victim.read_text() == "precious" and (tmp_path / "planted.svg").is_symlink()
    assert any(f"saved to {shot}" in message for message in messages), messages
    assert any("symbolic link" in message for message in messages), messages
