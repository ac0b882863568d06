"""What ``--browser`` names: launch one, or attach to a running one, and where it listens.

The debugging port gives full control of the browser (it can read every page and
cookie), so livetap only attaches to a loopback endpoint unless told otherwise.
"""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from engine.errors import BadInputError, PermissionDeniedError, UnavailableError, UsageError

DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class BrowserTarget:
    """A browser to launch, or the endpoint of one to attach to."""

    launch: bool
    endpoint: str = ""
    """For attach: http://host:port (discovered) or a ws:// URL (used as is)."""
    headed: bool = False
    chromium: str | None = None
    sandbox: bool = True
    """For launch: Chromium's own sandbox; off only when the user asks (``--no-sandbox``)."""
    extra_flags: tuple[str, ...] = ()
    """For launch: more Chromium switches (tests trust their own certificate this way)."""

    @property
    def description(self) -> str:
        """How the pane names the browser."""
        return "launched Chromium" if self.launch else self.endpoint


def _is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (no name lookups)."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_browser_spec(
    spec: str,
    *,
    headed: bool = False,
    chromium: str | None = None,
    allow_remote: bool = False,
    no_sandbox: bool = False,
) -> BrowserTarget:
    """``launch``, a port (``9222``), ``host:port``, ``http://host:port`` or ``ws://...``."""
    text = spec.strip()
    if text == "launch":
        return BrowserTarget(launch=True, headed=headed, chromium=chromium, sandbox=not no_sandbox)
    if headed:
        raise UsageError("--headed only applies to --browser launch")
    if no_sandbox:
        raise UsageError("--no-sandbox only applies to --browser launch")
    if text.isdigit():
        text = f"127.0.0.1:{text}"
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https", "ws", "wss"} or not parts.hostname:
        raise UsageError(f"--browser {spec!r} is not 'launch', a port, host:port or a ws:// URL")
    try:
        port = parts.port
    except ValueError:
        raise UsageError(f"--browser {spec!r} has an invalid port") from None
    if port is None and parts.scheme in {"http", "ws"}:
        raise UsageError(f"--browser {spec!r} needs a port, e.g. 127.0.0.1:9222")
    if not allow_remote and not _is_loopback(parts.hostname):
        raise PermissionDeniedError(
            f"{parts.hostname} is not a loopback address: a browser's debugging port gives "
            "full control of it, so livetap attaches only to 127.0.0.1/::1/localhost unless "
            "you add --allow-remote-browser"
        )
    return BrowserTarget(launch=False, endpoint=urlunsplit(parts))


def websocket_url(target: BrowserTarget, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The browser-level DevTools websocket URL of an attach target."""
    if target.endpoint.startswith(("ws://", "wss://")):
        return target.endpoint
    base = urlsplit(target.endpoint)
    url = urlunsplit((base.scheme, base.netloc, "/json/version", "", ""))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            document = json.loads(reply.read(1 << 20))
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise UnavailableError(
            f"no browser answers at {base.netloc} ({reason}): start Chrome or Chromium with "
            "--remote-debugging-port=PORT --user-data-dir=DIR, or use --browser launch"
        ) from None
    except ValueError:
        raise BadInputError(f"{url} did not answer with DevTools JSON") from None
    ws = document.get("webSocketDebuggerUrl") if isinstance(document, dict) else None
    if not isinstance(ws, str) or not ws.startswith(("ws://", "wss://")):
        raise BadInputError(f"{url} names no webSocketDebuggerUrl: is this a DevTools port?")
    # The browser names itself as it sees itself; reach it the way the user named it.
    ws_parts = urlsplit(ws)
    return urlunsplit((ws_parts.scheme, base.netloc, ws_parts.path, ws_parts.query, ""))
