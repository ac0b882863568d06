"""A browser session replayed from recorded CDP events: the same API, no browser.

For screenshots, demos and tests that must look the same every time: the
events go through the real :class:`NetworkTracker`, so the records are what a
live session would have made of them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.browser.network import NetworkTracker
from engine.browser.records import (
    BrowserBatch,
    BrowserStatus,
    ConnectionState,
    RequestRecord,
    ResponseBody,
)
from engine.errors import BadInputError, NotFoundError, UnavailableError


@dataclass
class Recording:
    """CDP Network events in order, with the response bodies that were fetched."""

    events: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    bodies: dict[str, tuple[str, bool]] = field(default_factory=dict)
    """requestId → (body, base64Encoded), as Network.getResponseBody answered."""

    def save(self, path: Path) -> None:
        """Write the recording as JSON."""
        document = {"events": [list(event) for event in self.events], "bodies": self.bodies}
        path.write_text(json.dumps(document))

    @classmethod
    def load(cls, path: Path) -> Recording:
        """Read a recording written by :meth:`save`."""
        try:
            document = json.loads(path.read_text())
            events = [(str(m), dict(p), str(s)) for m, p, s in document["events"]]
            bodies = {
                str(k): (str(v[0]), bool(v[1])) for k, v in document.get("bodies", {}).items()
            }
        except FileNotFoundError:
            raise NotFoundError(f"{path} does not exist") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BadInputError(f"{path} is not a livetap browser recording: {error}") from None
        return cls(events, bodies)


class RecordedBrowser:
    """Plays a recording into a tracker at once; answers like a connected BrowserSession."""

    def __init__(self, recording: Recording, name: str = "recorded browser") -> None:
        self.tracker = NetworkTracker()
        self._recording = recording
        self._name = name
        self._targets = len({session for _m, _p, session in recording.events})
        """Counted once: a recording of 100,000 events took 7 ms a poll to count them."""
        self.browser_process = None

    def start(self) -> None:
        """Feed every recorded event."""
        for method, params, session in self._recording.events:
            self.tracker.handle(method, params, session)

    def stop(self) -> None:
        """Nothing runs."""

    def status(self) -> BrowserStatus:
        return BrowserStatus(
            state=ConnectionState.CONNECTED,
            endpoint=self._name,
            requests=self.tracker.total,
            targets=self._targets,
        )

    def poll(self) -> BrowserBatch:
        return self.tracker.drain(self.status())

    def get(self, request_id: str) -> RequestRecord | None:
        return self.tracker.get(request_id)

    def fetch_body(self, request_id: str, timeout: float = 10.0) -> ResponseBody:
        """The recorded body, or NotFoundError as a live browser would say."""
        record = self.get(request_id)
        if record is None or request_id not in self._recording.bodies:
            raise NotFoundError("the recording holds no body for this request")
        body, encoded = self._recording.bodies[request_id]
        data = base64.b64decode(body) if encoded else body.encode("utf-8")
        return ResponseBody(request_id, data, record.mime_type)

    def fetch_post_data(self, request_id: str, timeout: float = 10.0) -> str | None:
        record = self.get(request_id)
        return record.post_data if record is not None else None

    def relaunch(self) -> bool:
        return False

    def navigate(self, url: str, timeout: float = 10.0) -> None:
        raise UnavailableError("a recorded browser cannot load pages")
