"""The key table: every key livetap answers, as data.

The app's BINDINGS, the footer, the help screen and the command palette are
all made from this one table, so a key and its description live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True, slots=True)
class Key:
    """One key: what it does, in words, and the action it runs."""

    key: str
    action: str
    description: str
    help: str
    id: str
    show: bool = True
    """Shown in the footer (all keys are in the help screen and the palette)."""
    display: str | None = None
    """How the help screen writes the key, when the binding name is not readable."""


KEYS: tuple[Key, ...] = (
    Key(
        "f", "filter", "Filter", "Set the BPF capture filter (compiled by libpcap first)", "filter"
    ),
    Key(
        "d",
        "deep_decode",
        "tshark",
        "Decode the selected packet with Wireshark's dissectors (tshark), in a second tab",
        "deep-decode",
        show=False,
    ),
    Key(
        "slash",
        "display_filter",
        "Display",
        "Display filter: narrow both panes (Wireshark syntax); the capture is untouched",
        "display-filter",
        display="/",
    ),
    Key(
        "space", "toggle_pause", "Pause", "Pause or resume the view; capture keeps running", "pause"
    ),
    Key(
        "enter",
        "focus_detail",
        "Detail",
        "Move to the selected packet's detail",
        "detail",
        display="Enter",
    ),
    Key(
        "escape", "focus_list", "List", "Back to the packet list", "list", show=False, display="Esc"
    ),
    Key("w", "save_pcap", "Save pcap", "Save the packets in the buffer to a pcap file", "save"),
    Key(
        "x",
        "export_dissector",
        "Dissector",
        "Export a Wireshark Lua dissector from a spec (or draft one from the packet)",
        "dissector",
    ),
    Key(
        "c",
        "toggle_capture",
        "Capture",
        "Start (a form) or stop streaming events to an NDJSON file",
        "capture",
    ),
    Key(
        "a",
        "stats",
        "Stats",
        "Live statistics: protocols, talkers, conversations, packets/s",
        "stats",
    ),
    Key("s", "follow_stream", "Follow", "Follow the selected packet's TCP stream", "follow"),
    Key("b", "show_body", "Body", "Fetch and show the selected request's response body", "body"),
    Key(
        "g",
        "goto_packets",
        "Packets",
        "Select the packets of the selected request's TCP connection",
        "goto-packets",
    ),
    Key(
        "R",
        "relaunch_browser",
        "Relaunch",
        "Launch the browser again after it exited",
        "relaunch",
        show=False,
    ),
    Key(
        "t",
        "app.change_theme",
        "Theme",
        "Pick a theme (dark, light, high contrast, yours)",
        "theme",
        show=False,
    ),
    Key(
        "z",
        "zoom",
        "Zoom",
        "Give the focused pane (packets or browser) the whole width",
        "zoom",
        show=False,
    ),
    Key("question_mark", "help", "Help", "Show this help", "help", display="?"),
    Key("q", "quit", "Quit", "Stop capturing and quit", "quit"),
)

LIST_KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓", "Select the previous / next packet"),
    ("PgUp PgDn", "Move a page up / down"),
    ("Home End", "First packet / newest packet (End follows new packets again)"),
    ("Ctrl+P", "Command palette: every action by name"),
)


def bindings() -> list[BindingType]:
    """The app's BINDINGS, with ids so users can remap them."""
    return [
        Binding(k.key, k.action, k.description, show=k.show, id=k.id, tooltip=k.help) for k in KEYS
    ]
