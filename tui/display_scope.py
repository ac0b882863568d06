"""The display filter in force, the panes it narrows, and how the status bar says so.

A filter naming only packet fields (``dns``, ``ip.addr == …``) leaves the requests
alone, and one naming only request fields (``status >= 400``) leaves the packets: a
request has no ``dns`` and a packet no ``status``, so filtering the other pane would
only empty it. The screen keeps one :class:`DisplayScope`; the words live here.
"""

from __future__ import annotations

from dataclasses import dataclass

PacketCounts = tuple[int, int, bool]
"""Packets shown, packets buffered, and whether the buffered ones are still being scanned."""
RequestCounts = tuple[int, int]
"""Requests listed, requests held."""


@dataclass(frozen=True, slots=True)
class DisplayScope:
    """The display filter's text ("" when everything is shown) and the panes it narrows."""

    text: str = ""
    packets: bool = False
    """Whether it narrows the packets (it names a packet field)."""
    requests: bool = False
    """Whether it narrows the requests (it names a request field)."""

    def words(self, has_packets: bool, has_browser: bool) -> str:
        """Which panes it narrows, in words, for the note after it is applied."""
        packets = self.packets and has_packets
        requests = self.requests and has_browser
        if packets and requests:
            return "both panes"
        if packets:
            return "packets only: it names no request field" if has_browser else "packets"
        if requests:
            return "requests only: it names no packet field" if has_packets else "requests"
        return "nothing filtered: it names no field of this session's panes"

    def counts(
        self, packets: PacketCounts | None, requests: RequestCounts | None, short: bool = False
    ) -> str:
        """The filter, and each pane's matches, for the status bar ("" without a filter).

        ``short`` is the 80-column form: ``/dns 12 pkts · all req``.
        """
        if not self.text:
            return ""
        text = self.text
        if short:
            parts = [f"/{text[:17]}…" if len(text) > 18 else f"/{text}"]
        else:
            parts = [f"display: {text}"]
        if packets is not None:
            shown, total, scanning = packets
            if self.packets:
                busy = " (scanning…)" if scanning else ""
                long = f"{shown:,} of {total:,} packets{busy}"
                parts.append(f"{shown:,} pkts" if short else long)
            else:
                parts.append("all pkts" if short else f"packets not filtered ({total:,})")
        if requests is not None:
            count, total = requests
            if self.requests:
                parts.append(f"{count:,} req" if short else f"{count:,} of {total:,} requests")
            else:
                parts.append("all req" if short else f"requests not filtered ({total:,})")
        return (" " if short else " · ").join(parts)
