"""Which protocol Wireshark dissects on which TCP or UDP port.

tshark picks a TCP/UDP payload's dissector by port, trying the lower port first; a
payload on no registered port is ``data`` (unless a heuristic takes it, as DNS's does:
:func:`engine.packet.app.dns_heuristic`). These tables hold the registrations whose
names livetap uses (checked against tshark 4.0 by the tests). They belong to the packet
model, which reads DNS by them; the analysis's hierarchy names its layers by them.
"""

from __future__ import annotations

from typing import Final

TCP_APPS: Final[dict[int, str]] = {
    21: "ftp",
    22: "ssh",
    23: "telnet",
    25: "smtp",
    53: "dns",
    80: "http",
    110: "pop",
    139: "nbss",
    143: "imap",
    443: "tls",
    445: "nbss",
    465: "tls",
    587: "smtp",
    993: "tls",
    995: "tls",
    3128: "http",
    8000: "http",
    8080: "http",
}

UDP_APPS: Final[dict[int, str]] = {
    53: "dns",
    67: "dhcp",
    68: "dhcp",
    69: "tftp",
    123: "ntp",
    137: "nbns",
    161: "snmp",
    162: "snmp",
    514: "syslog",
    1900: "ssdp",
    5353: "mdns",
    5355: "llmnr",
}


def tcp_label(sport: int, dport: int) -> str | None:
    """The protocol tshark would dissect a TCP payload on these ports as, None for data."""
    low, high = (sport, dport) if sport < dport else (dport, sport)
    return TCP_APPS.get(low) or TCP_APPS.get(high)


def udp_label(sport: int, dport: int) -> str | None:
    """The protocol tshark would dissect a UDP payload on these ports as, None for data."""
    low, high = (sport, dport) if sport < dport else (dport, sport)
    return UDP_APPS.get(low) or UDP_APPS.get(high)
