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
        "Display filter (Wireshark syntax): narrows the panes whose fields it names",
        "display-filter",
        display="/",
    ),
    Key(
        "space", "toggle_pause", "Pause", "Pause or resume the view; capture keeps running", "pause"
    ),
    Key(
        "v",
        "other_pane",
        "Other pane",
        "Go to the other pane (packets ⇄ browser); when only one fits, show the other",
        "other-pane",
    ),
    Key(
        "F",
        "follow_newest",
        "Follow",
        "Follow the newest packet or request again (like End); ↑ PgUp Home or a click hold",
        "follow-newest",
        show=False,
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
    Key(
        "p",
        "processes",
        "Processes",
        "Traffic per program (like nethogs): bytes, rate, connections, remote hosts; "
        "Enter shows only that program's packets",
        "processes",
        show=False,
    ),
    Key("s", "follow_stream", "Stream", "Follow the selected packet's TCP stream", "follow"),
    Key(
        "b",
        "show_body",
        "Req body",
        "Fetch and show the selected browser request's response body (from either pane)",
        "body",
    ),
    Key(
        "g",
        "goto_packets",
        "Req→packets",
        "Select, in the packet pane, the packets of the selected browser request's connection",
        "goto-packets",
    ),
    Key(
        "y",
        "copy_request",
        "Copy req",
        "Copy the selected browser request as curl, fetch(), raw HTTP or a HAR entry: to the "
        "clipboard (OSC 52, works over SSH) and a file; secrets hidden unless --show-secrets",
        "copy-request",
        show=False,
    ),
    Key(
        "n",
        "network_controls",
        "Network",
        "The browser's network (a menu): throttle (offline, slow/fast 3G), cache off, block "
        "requests like the selected one; a launched browser, or --allow-control",
        "network",
        show=False,
    ),
    Key(
        "T",
        "cycle_type_chip",
        "Req type",
        "Request list: the next type chip (All, Fetch/XHR, Doc, CSS, JS, Img, Media, Font, WS, "
        "Other), with the display filter",
        "type-chip",
        show=False,
    ),
    Key(
        "S",
        "cycle_status_chip",
        "Req status",
        "Request list: the next status chip (All, 2xx, 3xx, 4xx, 5xx, failed), with the "
        "display filter",
        "status-chip",
        show=False,
    ),
    Key(
        "o",
        "sort_next",
        "Sort reqs",
        "Sort the request list by the next column (#, Method, Status, URL, Type, MIME, Size, "
        "Time, Waterfall: start); the cursor stays on its request, new ones take their place",
        "sort-requests",
        show=False,
    ),
    Key(
        "O",
        "sort_reverse",
        "Sort ▲▼",
        "Turn the request list's sort round (ascending ⇄ descending; # descending: newest first)",
        "sort-reverse",
        show=False,
    ),
    Key(
        "C",
        "clear_requests",
        "Clear reqs",
        "Clear the request list (new requests are listed as they come; NDJSON and HAR "
        "captures keep theirs)",
        "clear-requests",
        show=False,
    ),
    Key(
        "P",
        "toggle_preserve_log",
        "Preserve log",
        "Preserve log across a tab's navigations, or clear the request list on navigate "
        "(preserveLog in the config file)",
        "preserve-log",
        show=False,
    ),
    Key(
        "H",
        "export_har",
        "Export HAR",
        "Write the requests the list shows (chips and display filter applied) to a HAR 1.2 "
        "file in the capture directory; secrets hidden unless --show-secrets",
        "export-har",
        show=False,
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
        "Give the focused list or detail the whole screen (z again: back)",
        "zoom",
        show=False,
    ),
    Key("question_mark", "help", "Help", "Show this help", "help", display="?"),
    Key("q", "quit", "Quit", "Stop capturing and quit", "quit"),
)

LIST_KEYS: tuple[tuple[str, str], ...] = (
    ("↑ ↓", "Select the previous / next packet or request (the first ↑ holds the list)"),
    ("PgUp PgDn", "Move a page up / down"),
    ("Home End", "First / newest row (End follows new rows again: FOLLOWING)"),
    ("Tab", "Next part of the screen (list, detail, the other pane)"),
    ("Ctrl+P", "Command palette: every action by name"),
)

FOOTER_FIRST = ("help", "quit", "other_pane")
"""Footer order: these first, then the table's order; keys that do not fit are left out
of the footer (they stay in the help screen and the command palette)."""


def bindings() -> list[BindingType]:
    """The app's BINDINGS, with ids so users can remap them."""
    return [
        Binding(k.key, k.action, k.description, show=k.show, id=k.id, tooltip=k.help) for k in KEYS
    ]
