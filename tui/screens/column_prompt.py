"""The column editor: the packet list's columns as one line to edit (order, widths, fields).

``number, time, tcp.stream:6:Stream, source, destination, protocol, length, info``: each
column is a built-in name or any packet display-filter field (a custom column), with an
optional width and title; the order is the list's. It is checked as you type and, once
applied, saved in the config file (``packetColumns``).
"""

from __future__ import annotations

from engine.display_filter import field_names
from engine.errors import LivetapError
from engine.list_config import BUILTIN_COLUMNS, parse_columns_text
from tui.screens.prompts import Apply, Prompt

SUGGESTED_FIELDS = (
    "tcp.stream",
    "udp.stream",
    "http.host",
    "http.request.uri",
    "dns.qry.name",
    "tls.handshake.extensions_server_name",
    "ip.ttl",
    "tcp.window_size_value",
    "frame.time_delta_displayed",
    "proc.name",
)
"""Custom columns people often add in Wireshark (the suggestions offer them)."""


def _check(text: str) -> str | None:
    """Why the line would be refused, or None."""
    try:
        parse_columns_text(text)
    except LivetapError as error:
        return error.message
    return None


def column_prompt(current: str, apply: Apply) -> Prompt:
    """The column editor over the packet list."""
    known = set(field_names(packet=True, request=False))
    suggestions = [
        (f"add {name}:", f"{current}, {name}") for name in SUGGESTED_FIELDS if name in known
    ]
    return Prompt(
        "Packet list columns (saved in the config file)",
        current,
        "NAME[:WIDTH[:TITLE]], commas between, in order.  Names: "
        + ", ".join(BUILTIN_COLUMNS)
        + ", or any display-filter field (a custom column).  Enter applies, Esc cancels.",
        apply,
        validate=_check,
        suggestions=suggestions,
    )
