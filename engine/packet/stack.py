"""A frame's protocol stack as Wireshark's ``frame.protocols`` writes it.

tshark names every dissector a frame went through, colon-separated:
``eth:ethertype:ip:tcp:http``. Wireshark's Ethernet, VLAN and Linux cooked headers hand
their payload on through an "ethertype" step, which is named too. livetap knows the
layers the packet model walks and the application hints it reads (DNS, HTTP, TLS,
DHCP, NTP, QUIC); an unknown payload is ``data``, as in tshark. What tshark adds inside
an application (``http:data-text-lines``, an ICMP error's quoted header) is not there.
"""

from __future__ import annotations

from engine.packet.app import DNS_PORTS
from engine.packet.model import Packet
from engine.packet.walk import IP_DISPATCH

_BY_ETHERTYPE = frozenset({"eth", "vlan", "ieee8021ad", "sll"})
"""Layers whose payload Wireshark hands on by ethertype."""
HTTP_TCP_PORTS = frozenset({80, 1900, 2710, 2869, 3128, 3132, 5985, 8080, 8088, 11371})
"""tshark's HTTP ports: a payload there that does not start a message is a segment of
one being reassembled, which tshark lists as plain ``tcp``."""
_DHCPV6_PORTS = frozenset({546, 547})
_MEDIA = {
    "image/png": "png",
    "image/gif": "image-gif",
    "image/jpeg": "image-jfif",
    "application/x-www-form-urlencoded": "urlencoded-form",
    "application/json": "json",
    "text/xml": "xml",
    "application/xml": "xml",
}
"""The dissector tshark hands an HTTP body of this type to (text/* is data-text-lines)."""
_NOT_DISSECTORS = frozenset({"wlan.mgt"})
"""Names the protocol hierarchy uses that ``frame.protocols`` does not."""
_RENAMED = {IP_DISPATCH: "ip"}
"""Layers ``frame.protocols`` names differently from the model."""
_TRANSPORTS = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp"}


def _http(packet: Packet, payload: bytes) -> str:
    """``http`` and its body's media, or '' while tshark still waits for the rest of it."""
    head_end = payload.find(b"\r\n\r\n")
    if head_end < 0:
        return ""  # the header goes on in a later segment: tshark shows that one as http
    body = len(payload) - head_end - 4
    headers = packet.http_headers()
    length = headers.get("content-length", "").strip()
    if length.isascii() and length.isdigit() and int(length) > body:
        return ""
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    if chunked and not payload.endswith(b"0\r\n\r\n"):
        return ""
    if body <= 0:
        return "http"
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    return "http:" + _MEDIA.get(media, "data-text-lines" if media.startswith("text/") else "media")


def _dns_over_tcp(payload: bytes) -> str:
    """``dns`` when the whole length-prefixed message is in this segment, else ''."""
    if len(payload) < 2:
        return ""
    return "dns" if len(payload) - 2 >= int.from_bytes(payload[:2], "big") else ""


def _application(packet: Packet) -> str:
    """The application a TCP or UDP payload is, as far as the model knows; '' for none."""
    payload = packet.payload()
    if not payload:
        return ""
    tcp = packet.transport() == 6
    if packet.on_port(DNS_PORTS):
        return _dns_over_tcp(payload) if tcp else "dns"
    if tcp:
        if packet.http_start_line() is not None:
            return _http(packet, payload)
        if packet.is_tls():
            return "tls"
        ports = packet.ports()
        return "" if ports and not HTTP_TCP_PORTS.isdisjoint(ports) else "data"
    if packet.dns_kind() == "dns":  # DNS on another port (tshark's heuristic)
        return "dns"
    if packet.dhcp() is not None:
        return "dhcp"
    if packet.ntp() is not None:
        return "ntp"
    ports = packet.ports()
    if ports is not None and not _DHCPV6_PORTS.isdisjoint(ports):
        return "dhcpv6"
    return "quic" if packet.quic_long_header() is not None else "data"


def protocol_stack(packet: Packet) -> str:
    """``frame.protocols`` for what the model read of this frame."""
    layers = packet.layers
    names: list[str] = []
    chain = layers.chain
    for position, name in enumerate(chain):
        if name in _NOT_DISSECTORS:
            continue
        names.append(_RENAMED.get(name, name))
        following = chain[position + 1] if position + 1 < len(chain) else ""
        if name in _BY_ETHERTYPE and following and following != "llc":  # 802.3: a length
            names.append("ethertype")
    if not layers.family:
        return ":".join(names)
    if layers.fragment is not None:  # tshark's reassembly is not followed: a part is data
        names.append("data")
        return ":".join(names)
    protocol = packet.transport()
    transport = _TRANSPORTS.get(protocol)
    if transport is None:
        if layers.proto >= 0 and layers.end > layers.start:
            names.append("data")
        return ":".join(names)
    names.append(transport)
    if protocol in (6, 17):
        application = _application(packet)
        if application:
            names.append(application)
    elif protocol in (1, 58) and layers.end > layers.l4 + 8:
        names.append("data")
    return ":".join(names)
