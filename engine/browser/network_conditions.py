"""Changing the browser's network for a demo or a test: block URLs, throttle, disable the cache.

What is asked (``--block``, ``--throttle``, ``--no-cache``) is held in one
:class:`NetworkControls` and turned into the DevTools commands each target gets
right after its ``Network.enable`` (pages, popups, iframes, workers), before it
runs, so its first request is already affected.

Blocking uses the Fetch domain, not ``Network.setBlockedURLs``: in Chromium 156
that command is experimental, its ``urls`` (``*`` wildcards, matched anywhere in
the URL, not anchored) is deprecated, and its ``urlPatterns`` take the WHATWG
URLPattern syntax, neither of which is the NDJSON filters' whole-URL wildcard.
``Fetch.enable`` pauses only the requests its patterns name (a superset of
ours), livetap checks each with :class:`engine.ndjson.url_filter.UrlFilter` and
fails it with ``BlockedByClient`` (the request list shows
``net::ERR_BLOCKED_BY_CLIENT``; the server never sees it) or lets it continue.

Throttling uses ``Network.emulateNetworkConditions`` (deprecated for the
experimental ``emulateNetworkConditionsByRule``, still working in 156) with
DevTools' own presets. Changing a browser is allowed only on one livetap
launched, or on an attached one when the user passed ``--allow-control``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import PermissionDeniedError, UsageError
from engine.ndjson.url_filter import UrlFilter

if TYPE_CHECKING:  # a type only: the parser reads THROTTLE_HELP at every start
    from engine.browser.target import BrowserTarget

BLOCK_REASON = "BlockedByClient"
"""Fetch.failRequest's errorReason: the list shows net::ERR_BLOCKED_BY_CLIENT."""
NO_LIMIT = -1
"""emulateNetworkConditions' value for "no throughput limit"."""


@dataclass(frozen=True, slots=True)
class Throttle:
    """Emulated network conditions: latency in ms, throughput in bytes per second."""

    name: str
    latency: float = 0.0
    download: float = NO_LIMIT
    upload: float = NO_LIMIT
    offline: bool = False

    def params(self) -> dict[str, Any]:
        """Network.emulateNetworkConditions' parameters."""
        return {
            "offline": self.offline,
            "latency": self.latency,
            "downloadThroughput": self.download,
            "uploadThroughput": self.upload,
        }


# DevTools' presets (front_end/core/sdk/NetworkManager.ts, also Puppeteer's
# PredefinedNetworkConditions): Slow 3G is 400 kbit/s both ways with 2 s latency
# (400 ms RTT × 5), Fast 3G 1.44 Mbit/s down, 675 kbit/s up, 562.5 ms (150 ms × 3.75).
PRESETS = {
    "offline": Throttle("offline", offline=True, download=0, upload=0),
    "slow-3g": Throttle("slow-3g", 400 * 5, 500 * 1000 / 8 * 0.8, 500 * 1000 / 8 * 0.8),
    "fast-3g": Throttle("fast-3g", 150 * 3.75, 1.6e6 / 8 * 0.9, 750 * 1000 / 8 * 0.9),
}
NO_THROTTLE = Throttle("none")
"""What an attached browser is given back on exit."""
THROTTLE_HELP = "offline, slow-3g, fast-3g, or LATENCY_MS:DOWN_KBPS:UP_KBPS (0: no limit)"


def parse_throttle(text: str) -> Throttle:
    """A preset name or ``LATENCY_MS:DOWN_KBPS:UP_KBPS`` (kilobits per second; 0 = no limit)."""
    preset = PRESETS.get(text.strip().lower())
    if preset is not None:
        return preset
    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        latency, down, up = (float(part) for part in parts)
    except ValueError:
        raise UsageError(f"--throttle {text!r}: use {THROTTLE_HELP}") from None
    if not all(0 <= value < 1e9 for value in (latency, down, up)):
        raise UsageError(f"--throttle {text!r}: each number must be 0 or more, and finite")

    def rate(kbps: float) -> float:
        return kbps * 1000 / 8 if kbps else NO_LIMIT

    return Throttle(text, latency, rate(down), rate(up))


def fetch_pattern(glob: str) -> str:
    """A Fetch RequestPattern that pauses at least every URL ``glob`` matches.

    Fetch's patterns also treat ``?`` as a wildcard and ``\\`` as an escape; both become
    ``*``, which can only widen the match (each paused URL is checked exactly after).
    """
    return glob.replace("\\", "*").replace("?", "*")


@dataclass(frozen=True)
class NetworkControls:
    """What livetap changes in the browser's network: blocked URLs, throttling, cache."""

    block: UrlFilter = field(default_factory=UrlFilter)
    throttle: Throttle | None = None
    cache_disabled: bool = False

    @classmethod
    def parse(
        cls, block: list[str] | None = None, throttle: str | None = None, no_cache: bool = False
    ) -> NetworkControls:
        """Check the flags as given; a bad one is a UsageError."""
        patterns = list(block or [])
        if any(pattern.startswith("!") for pattern in patterns):
            raise UsageError("--block takes patterns to block; a '!' pattern means nothing there")
        return cls(
            block=UrlFilter.parse(patterns),
            throttle=parse_throttle(throttle) if throttle else None,
            cache_disabled=no_cache,
        )

    @property
    def active(self) -> bool:
        """Whether anything is changed at all."""
        return bool(self.block.patterns) or self.throttle is not None or self.cache_disabled

    def blocks(self, url: str) -> bool:
        """Whether a request to ``url`` is to fail (exact NDJSON-filter matching)."""
        return bool(self.block.patterns) and self.block.allows(url)

    def commands(self) -> list[tuple[str, dict[str, Any]]]:
        """What each new target is sent after Network.enable, before it runs."""
        commands: list[tuple[str, dict[str, Any]]] = []
        if self.cache_disabled:
            commands.append(("Network.setCacheDisabled", {"cacheDisabled": True}))
        if self.throttle is not None:
            commands.append(("Network.emulateNetworkConditions", self.throttle.params()))
        if self.block.patterns:
            patterns = [{"urlPattern": fetch_pattern(p)} for p in self.block.patterns]
            commands.append(("Fetch.enable", {"patterns": patterns}))
        return commands

    def reset_commands(self) -> list[tuple[str, dict[str, Any]]]:
        """What gives an attached browser's targets their own network back."""
        commands: list[tuple[str, dict[str, Any]]] = []
        if self.cache_disabled:
            commands.append(("Network.setCacheDisabled", {"cacheDisabled": False}))
        if self.throttle is not None:
            commands.append(("Network.emulateNetworkConditions", NO_THROTTLE.params()))
        if self.block.patterns:
            commands.append(("Fetch.disable", {}))
        return commands

    def describe(self) -> str:
        """What the status bar shows while active ("" when nothing is)."""
        parts = []
        if self.block.patterns:
            count = len(self.block.patterns)
            parts.append(f"blocking {count} pattern{'s' if count > 1 else ''}")
        if self.throttle is not None:
            parts.append(self.throttle.name)
        if self.cache_disabled:
            parts.append("no cache")
        return ", ".join(parts)


def check_control_allowed(
    target: BrowserTarget, controls: NetworkControls | None, allow_control: bool
) -> None:
    """Refuse to change an attached browser unless the user said so (``--allow-control``).

    The browser is someone's own: blocking, throttling or its cache would change every tab.
    """
    if controls is None or not controls.active or target.launch or allow_control:
        return
    raise PermissionDeniedError(
        f"--block, --throttle and --no-cache change the browser at {target.endpoint} for "
        "every tab it has; add --allow-control to do that to a browser livetap did not "
        "launch (or use --browser launch)"
    )


def check_replay_allowed(target: BrowserTarget, allow_control: bool) -> None:
    """Refuse to send requests from an attached browser's pages unless the user said so.

    The same rule as blocking and throttling: a replay acts in someone's own browser,
    with their cookies, so it takes a browser livetap launched or ``--allow-control``.
    """
    if target.launch or allow_control:
        return
    raise PermissionDeniedError(
        f"replaying a request sends it from a page of the browser at {target.endpoint}, "
        "with its cookies; add --allow-control to do that in a browser livetap did not "
        "launch (or use --browser launch)"
    )
