"""Screenshots saved like every other file livetap writes: 0600, never through a link.

Textual's own delivery opens the path with ``open(..., "w")``: the umask's mode
and whatever link sits at the name. A screenshot shows captured traffic, and
livetap often runs as root in a shared directory, so in a terminal the SVG goes
through :func:`engine.textfile.write_text_whole` instead. In a browser (``livetap
serve``) the screenshot is a download, and Textual delivers it as usual.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from platformdirs import user_downloads_path
from textual import events
from textual._files import generate_datetime_filename
from textual.app import App

from engine.errors import LivetapError
from engine.textfile import write_text_whole


class PrivateScreenshots(App[Any]):
    """An App whose screenshots are private files in a terminal."""

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """Save the screen as SVG (0600, a link at the name refused); a download on the web."""
        if self.is_web:
            return super().deliver_screenshot(filename, path, time_format)
        name = filename or generate_datetime_filename(self.title, ".svg", time_format)
        target = (Path(path) if path else user_downloads_path()) / name
        key = uuid.uuid4().hex
        try:
            write_text_whole(target, self.export_screenshot())
        except LivetapError as error:
            self.post_message(events.DeliveryFailed(key, error, name="screenshot"))
        else:
            self.post_message(events.DeliveryComplete(key, path=target, name="screenshot"))
        return key
