"""The browser's network while it runs (n): throttle, cache, block requests like this one.

For a live demo: what a slow or failing API does to a page, switched on and off
without restarting. The engine applies the change to every target
(:meth:`engine.browser.session.BrowserSession.set_controls`); only a browser
livetap launched, or an attached one with ``--allow-control``, may be changed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from engine.browser.network_conditions import PRESETS, NetworkControls
from engine.errors import LivetapError
from engine.ndjson.url_filter import UrlFilter

THROTTLES: tuple[tuple[str, str], ...] = (
    ("none", "No throttling"),
    ("offline", "Offline"),
    ("slow-3g", "Slow 3G (2 s, 400 kbit/s)"),
    ("fast-3g", "Fast 3G (562 ms, 1.4 Mbit/s)"),
)


def like(url: str) -> str:
    """A --block pattern for requests like this one: its URL without the query, then ``*``."""
    return url.split("?", 1)[0].split("#", 1)[0] + "*"


def changed(current: NetworkControls, choice: str, url: str | None) -> NetworkControls:
    """The settings after one menu choice."""
    if choice == "none":
        return replace(current, throttle=None)
    if choice in PRESETS:
        return replace(current, throttle=PRESETS[choice])
    if choice == "cache":
        return replace(current, cache_disabled=not current.cache_disabled)
    if choice == "unblock":
        return replace(current, block=UrlFilter())
    if choice == "block" and url:
        return replace(current, block=UrlFilter.parse([*current.block.patterns, like(url)]))
    return current


class NetworkMenu(ModalScreen[str | None]):
    """The choices, the current ones marked."""

    DEFAULT_CSS = """
    NetworkMenu { align: center middle; }
    NetworkMenu > Vertical {
        width: 64; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    NetworkMenu OptionList { height: auto; }
    """
    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, current: NetworkControls, url: str | None) -> None:
        super().__init__()
        self.current = current
        self.url = url

    def compose(self) -> ComposeResult:
        now = self.current.throttle.name if self.current.throttle else "none"
        options = [
            Option(("● " if key == now else "  ") + label, id=key) for key, label in THROTTLES
        ]
        cache = "Enable the cache again" if self.current.cache_disabled else "Disable the cache"
        options.append(Option(f"  {cache}", id="cache"))
        if self.url:
            options.append(Option(f"  Block requests like {like(self.url)[:40]}", id="block"))
        if self.current.block.patterns:
            count = len(self.current.block.patterns)
            options.append(
                Option(f"  Stop blocking ({count} pattern{'s' * (count > 1)})", id="unblock")
            )
        with Vertical():
            yield Static("[b]The browser's network[/b]")
            yield OptionList(*options, id="network-choices")

    def on_option_list_option_selected(self, message: OptionList.OptionSelected) -> None:
        """The chosen change."""
        self.dismiss(message.option.id)

    async def action_dismiss(self, result: str | None = None) -> None:
        """Close without a change."""
        self.dismiss(result)


def change_network(screen: Screen[Any], browser: Any, url: str | None) -> None:
    """Ask what to change, then change it on every target (in a worker thread)."""
    app = screen.app
    set_controls = getattr(browser, "set_controls", None)
    if set_controls is None:
        app.notify("a recorded browser's network cannot be changed", severity="warning")
        return
    current: NetworkControls = browser.controls

    def apply(wanted: NetworkControls) -> None:  # a worker thread
        try:
            set_controls(wanted)
        except LivetapError as error:
            app.call_from_thread(
                app.notify, error.message, title="Not changed", severity="error", markup=False
            )
            return
        note = wanted.describe() or "the browser's own network again"
        app.call_from_thread(app.notify, note, title="Browser network", markup=False)

    def chosen(choice: str | None) -> None:
        if choice:
            wanted = changed(current, choice, url)
            screen.run_worker(lambda: apply(wanted), thread=True, group="network")

    app.push_screen(NetworkMenu(current, url), chosen)
