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
        "Decode the selected packet with Wireshark's dissectors (tshark), in a second tab; "
        "with a TLS key log, decrypted (HTTP/2 frames)",
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
    Key(
        "w",
        "save_pcap",
        "Save pcap",
        "Save packets to a pcap/pcapng file: all, the displayed, the marked or a range (a menu); "
        "--embed-secrets: TLS keys inside (the file then decrypts everywhere)",
        "save",
    ),
    Key(
        "ctrl+f",
        "find_packet",
        "Find",
        "Find a packet by display filter, hex bytes (de ad be ef) or text in its bytes "
        "(any case; case: for exact), from the selected one, wrapping at the end",
        "find",
        show=False,
        display="Ctrl+F",
    ),
    Key(
        "ctrl+n",
        "find_next",
        "Find next",
        "The next packet the last find matches (wraps round the end)",
        "find-next",
        show=False,
        display="Ctrl+N",
    ),
    Key(
        "ctrl+b",
        "find_previous",
        "Find previous",
        "The previous packet the last find matches (wraps round the start)",
        "find-previous",
        show=False,
        display="Ctrl+B",
    ),
    Key(
        "ctrl+g",
        "goto_packet",
        "Go to packet",
        "Go to a packet by its number (Home / End: the first / the newest)",
        "goto-packet",
        show=False,
        display="Ctrl+G",
    ),
    Key(
        "m",
        "toggle_mark",
        "Mark",
        "Mark or unmark the selected packet (Wireshark's Ctrl+M, which a terminal sends as "
        "Enter); marked rows show ● and save on their own (w)",
        "mark",
        show=False,
    ),
    Key(
        "M",
        "next_mark",
        "Next mark",
        "Select the next marked packet (wraps round the end)",
        "next-mark",
        show=False,
    ),
    Key("U", "unmark_all", "Unmark all", "Unmark every packet", "unmark-all", show=False),
    Key(
        "ctrl+d",
        "toggle_ignore",
        "Ignore",
        "Ignore the selected packet: it leaves the list, finds and saves (D brings all back)",
        "ignore",
        show=False,
        display="Ctrl+D",
    ),
    Key(
        "D",
        "unignore_all",
        "Unignore all",
        "Show the ignored packets again (in the list, finds and saves)",
        "unignore-all",
        show=False,
    ),
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
    Key(
        "A",
        "apply_field_filter",
        "Apply field",
        "Apply or prepare a display filter from the field under the layer tree's cursor "
        "(Wireshark's Apply/Prepare as Filter: selected, not, and/or [not] selected); Enter "
        "on a field does the same, and its bytes are highlighted in the hex dump",
        "apply-field-filter",
        show=False,
    ),
    Key(
        "e",
        "expert_info",
        "Expert",
        "Expert info: the buffered packets with warnings and errors (TCP analysis, resets, "
        "malformed), grouped by severity and summary with counts; Enter selects a packet",
        "expert-info",
        show=False,
    ),
    Key(
        "s",
        "follow_stream",
        "Stream",
        "Follow the selected packet's TCP stream (in it: / searches, n/N next/previous match, "
        "f filters tcp.stream == N, X filters it out)",
        "follow",
    ),
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
        "Select, in the packet pane, the packets of the selected browser request's connection "
        "(its own HTTP/2 stream when decrypted)",
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
        "r",
        "replay_request",
        "Replay req",
        "Send the selected browser request again from the page that made it (listed ↻#N); "
        "a launched browser, or --allow-control",
        "replay-request",
        show=False,
    ),
    Key(
        "E",
        "edit_resend",
        "Edit+resend",
        "Edit the selected browser request (method, URL, headers, body) and send it from its "
        "page (listed ↻#N); a launched browser, or --allow-control",
        "edit-resend",
        show=False,
    ),
    Key(
        "B",
        "search_bodies",
        "Search bodies",
        "Search the listed requests' response bodies (kept, or still in the browser) and "
        "WebSocket frames and server-sent events for a text; Enter on a match selects it",
        "search-bodies",
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
        "k",
        "cycle_time_format",
        "Time format",
        "Packet list: the next time format (since the first packet, since the previous captured "
        "packet, since the previous displayed packet, time of day, UTC date and time, epoch; "
        "timeFormat in the config file)",
        "time-format",
        show=False,
    ),
    Key(
        "ctrl+t",
        "time_reference",
        "Time ref",
        "Set or unset the selected packet as a time reference (*REF*): later packets' times "
        "count from it",
        "time-reference",
        show=False,
        display="Ctrl+T",
    ),
    Key(
        "ctrl+r",
        "toggle_colouring",
        "Colouring",
        "Colour the packet list by the colouring rules (bad TCP, TCP RST, ICMP errors …) or "
        "by protocol only (colouring, colouringRules in the config file)",
        "colouring",
        show=False,
        display="Ctrl+R",
    ),
    Key(
        "greater_than_sign",
        "sort_packets",
        "Sort pkts",
        "Sort a paused or file packet list by the next column shown (then arrival order "
        "again); a live list that follows stays in arrival order",
        "sort-packets",
        show=False,
        display=">",
    ),
    Key(
        "less_than_sign",
        "sort_packets_reverse",
        "Sort pkts ▲▼",
        "Turn the packet list's sort round (ascending ⇄ descending)",
        "sort-packets-reverse",
        show=False,
        display="<",
    ),
    Key(
        "L",
        "edit_columns",
        "Columns",
        "Edit the packet list's columns: order, widths, any display-filter field as a custom "
        "column (saved as packetColumns in the config file)",
        "columns",
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
