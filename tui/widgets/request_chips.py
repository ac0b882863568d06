"""The request list's chips, as DevTools has them: one resource type (All, Fetch/XHR, Doc,
CSS, JS, Img, Media, Font, WS, Other) and one status class (All, 2xx … 5xx, failed).

They narrow the list together with the display filter; a key cycles each (tui/keys.py).
The chip bar above the list shows every chip with the active one lit, or, when the pane
is too narrow for all of them, just the active ones and the keys that change them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from engine.browser.records import RequestRecord

TYPE_CHIPS: tuple[tuple[str, frozenset[str]], ...] = (
    ("All", frozenset()),
    ("Fetch/XHR", frozenset({"Fetch", "XHR"})),
    ("Doc", frozenset({"Document"})),
    ("CSS", frozenset({"Stylesheet"})),
    ("JS", frozenset({"Script"})),
    ("Img", frozenset({"Image"})),
    ("Media", frozenset({"Media"})),
    ("Font", frozenset({"Font"})),
    ("WS", frozenset({"WebSocket"})),
    ("Other", frozenset()),
)
"""Chip name and the CDP ``Network.ResourceType`` values it takes; Other takes the rest
(Manifest, Ping, Preflight, EventSource, TextTrack, …) and requests with no type yet."""
NAMED_TYPES = frozenset().union(*(types for _name, types in TYPE_CHIPS))
STATUS_CHIPS = ("All", "2xx", "3xx", "4xx", "5xx", "failed")
"""Status classes; 1xx counts as 2xx (the list colours it so too); requests still waiting
for their status show under All only."""


def type_chip_of(resource_type: str) -> str:
    """The type chip a CDP resource type belongs to."""
    for name, types in TYPE_CHIPS[1:-1]:
        if resource_type in types:
            return name
    return "Other"


def status_chip_of(record: RequestRecord) -> str:
    """The status chip a request belongs to ("" while it has neither status nor failure)."""
    if record.error:
        return "failed"
    if record.status is None:
        return ""
    return f"{min(max(record.status // 100, 2), 5)}xx"


@dataclass(frozen=True, slots=True)
class Chips:
    """The active chips (All and All: every request)."""

    type: str = "All"
    status: str = "All"

    @property
    def everything(self) -> bool:
        """Whether the chips let every request through."""
        return self.type == "All" and self.status == "All"

    def matches(self, record: RequestRecord) -> bool:
        """Whether a request is under both active chips."""
        if self.type != "All" and type_chip_of(record.resource_type) != self.type:
            return False
        return self.status == "All" or status_chip_of(record) == self.status

    def next_type(self, step: int = 1) -> Chips:
        """The next type chip (after Other: All again)."""
        names = [name for name, _types in TYPE_CHIPS]
        following = names[(names.index(self.type) + step) % len(names)]
        return Chips(following, self.status)

    def next_status(self, step: int = 1) -> Chips:
        """The next status chip (after failed: All again)."""
        following = STATUS_CHIPS[(STATUS_CHIPS.index(self.status) + step) % len(STATUS_CHIPS)]
        return Chips(self.type, following)

    def words(self) -> str:
        """What the chips narrow to, for the pane's title ("" when they do not)."""
        active = [name for name in (self.type, self.status) if name != "All"]
        return " · ".join(active)


def log_mode(preserve_log: bool) -> Text:
    """Whether a navigation clears the list, as the chip bar ends."""
    if preserve_log:
        return Text(" │ preserve log", style="dim")
    return Text(" │ clear on navigate", style="bold")


def chip_bar(
    chips: Chips,
    width: int,
    preserve_log: bool = True,
    sort: str = "",
    *,
    type_key: str = "T",
    status_key: str = "S",
) -> Text:
    """Every chip, the active ones lit, then the sort and the log mode; only the active
    chips when ``width`` is too small."""
    full = Text(no_wrap=True, overflow="ellipsis")
    for name, _types in TYPE_CHIPS:
        full.append(f" {name} ", style="reverse bold" if name == chips.type else "dim")
    full.append(" │ ", style="dim")
    for name in STATUS_CHIPS:
        full.append(f" {name} ", style="reverse bold" if name == chips.status else "dim")
    sorting = Text(f" │ {sort}", style="bold") if sort else Text()
    full.append_text(sorting)
    full.append_text(log_mode(preserve_log))
    if full.cell_len <= width:
        return full
    short = Text(no_wrap=True, overflow="ellipsis")
    short.append(f" {type_key}", style="bold")
    short.append(" type ", style="dim")
    short.append(f" {chips.type} ", style="reverse bold")
    short.append(f"  {status_key}", style="bold")
    short.append(" status ", style="dim")
    short.append(f" {chips.status} ", style="reverse bold")
    short.append_text(sorting)
    mode = log_mode(preserve_log)
    return short + mode if short.cell_len + mode.cell_len <= width else short


class ChipBar(Static):
    """One line above the request list: the type and status chips."""

    DEFAULT_CSS = """
    ChipBar {
        height: 1;
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.chips = Chips()
        self.preserve_log = True
        self.sort = ""

    def show(self, chips: Chips, preserve_log: bool = True, sort: str = "") -> None:
        """Light the chips now active; the sort; whether a navigation clears the list."""
        self.chips = chips
        self.preserve_log = preserve_log
        self.sort = sort
        self.refresh()

    def render(self) -> Text:
        return chip_bar(self.chips, self.size.width, self.preserve_log, self.sort)
