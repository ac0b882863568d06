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

_BY_ETHERTYPE = frozenset({"eth", "vlan", "ieee8021ad", "sll"})
"""Layers whose payload Wireshark hands on by ethertype."""
HTTP_TCP_PORTS = frozenset({80, 1900, 2710, 2869, 3128, 3132, 5985, 8080, 8088, 11371})
"""tshark's HTTP ports: a payload there that does not start a message is a segment of
one being reassembled, which tshark lists as plain ``tcp``."""
_TRANSPORTS = {1: "icmp", 2: "igmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp"}


def _application(packet: Packet) -> str:
    """The application a TCP or UDP payload is, as far as the model knows; '' for none."""
    if not packet.payload():
        return ""
    if packet.on_port(DNS_PORTS):
        return "dns"
    if packet.transport() == 6:
        if packet.http_start_line() is not None:
            return "http"
        if packet.is_tls():
            return "tls"
        ports = packet.ports()
        return "" if ports and not HTTP_TCP_PORTS.isdisjoint(ports) else "data"
    if packet.dhcp() is not None:
        return "dhcp"
    if packet.ntp() is not None:
        return "ntp"
    return "quic" if packet.quic_long_header() is not None else "data"


def protocol_stack(packet: Packet) -> str:
    """``frame.protocols`` for what the model read of this frame."""
    layers = packet.layers
    names: list[str] = []
    chain = layers.chain
    for position, name in enumerate(chain):
        names.append(name)
        if name in _BY_ETHERTYPE and position + 1 < len(chain):
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
