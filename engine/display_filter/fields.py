"""Every field a display filter can name, each declared once: type, name, getter.

A packet field's getter reads the packet model (:mod:`.packet_fields`); a request field
names the key of the record the browser pane supplies. Names and types are Wireshark's,
so a filter typed into Wireshark works here (the README's field list is made from this
table by ``python -m engine.display_filter``).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.display_filter.packet_fields import (
    PacketGetter,
    _addresses,
    _analysis_flag,
    _arp,
    _arp_part,
    _dhcp_part,
    _dns,
    _dns_answer_values,
    _dns_flags,
    _dns_kind,
    _dns_part,
    _dns_ttls,
    _http,
    _http_header,
    _http_kind,
    _http_part,
    _icmp_part,
    _layer,
    _macs,
    _ntp_part,
    _payload,
    _ports,
    _present,
    _protocols,
    _quic_part,
    _sni,
    _source_name,
    _tcp_flag,
    _tcp_state,
    _time_delta,
    _time_delta_displayed,
    _time_relative,
    _tls,
    _tls_suites,
    _tls_types,
    _transport_is,
    _udp_streams,
    _value,
)
from engine.display_filter.process_fields import process_part
from engine.packet.model import SERVICE_TPIDS
from engine.packet.tcp_analysis import FLAG_FIELDS

INT, FLOAT, STR, IPV4, IPV6, MAC, BYTES, PROTOCOL = (
    "int",
    "float",
    "str",
    "ipv4",
    "ipv6",
    "mac",
    "bytes",
    "protocol",
)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field a filter can name: its type, and where packets and requests keep it."""

    name: str
    """Wireshark's name for it (``ip.src``, ``tcp.flags.syn``, ``dns``)."""
    kind: str
    getter: PacketGetter | None
    """How a packet's values are read (from the packet model); None for request-only."""
    request_key: str | None = None
    """The key of a request record's mapping that holds it, if requests have it."""
    maximum: int = 0xFFFFFFFF
    description: str = ""
    stateful: bool = False
    """Its value depends on other packets (a stream number, a TCP analysis flag): whoever
    tests a filter using it must feed every packet, in order, to a tracker."""

    @property
    def packet(self) -> bool:
        """Packets have it."""
        return self.getter is not None


TUNNEL_LAYERS = {
    "gre": "GRE",
    "vxlan": "VXLAN",
    "geneve": "GENEVE",
    "erspan": "ERSPAN",
    "mpls": "MPLS",
    "pim": "PIM",
    "ppp": "PPP",
    "pppoes": "PPPoE session",
    "macsec": "MACsec",
    "nsh": "Network Service Header",
    "llc": "802.2 LLC",
    "sll": "Linux cooked capture",
}
"""Layers the packet model names in a frame's chain, each a protocol field of that name."""


def protocol(name: str, description: str, getter: PacketGetter) -> FieldSpec:
    """A protocol a packet has or not (``dns``, ``tcp``)."""
    return FieldSpec(name, PROTOCOL, getter, None, 0xFFFFFFFF, description)


def packet(name: str, kind: str, description: str, getter: PacketGetter, maximum: int) -> FieldSpec:
    """A field only packets have."""
    return FieldSpec(name, kind, getter, None, maximum, description)


def stateful(
    name: str, kind: str, description: str, getter: PacketGetter, maximum: int
) -> FieldSpec:
    """A packet field computed from the packets before it (``tcp.stream``)."""
    return FieldSpec(name, kind, getter, None, maximum, description, stateful=True)


ANALYSIS_NOTES = {
    "retransmission": "a retransmission (fast and spurious ones included)",
    "fast_retransmission": "resent within 20 ms of two or more duplicate ACKs",
    "spurious_retransmission": "resends data the other side already acknowledged",
    "out_of_order": "an earlier segment arriving within the connection's first RTT",
    "lost_segment": "previous segment not captured (a gap in the sequence)",
    "ack_lost_segment": "acknowledges data that was not captured",
    "window_update": "an empty segment that only changes the window",
    "window_full": "fills the other side's advertised window",
    "keep_alive": "a keep-alive (one byte behind, 0 or 1 byte long)",
    "keep_alive_ack": "the answer to a keep-alive",
    "duplicate_ack": "a duplicate ACK",
    "zero_window": "advertises a zero window",
    "zero_window_probe": "a one-byte probe of a zero window",
    "zero_window_probe_ack": "the answer to a zero window probe",
    "reused_ports": "a SYN reusing a finished connection's ports (a new stream)",
}
"""What each ``tcp.analysis.*`` note means, for the README's table."""


def both(
    name: str, kind: str, key: str, description: str, getter: PacketGetter, *, maximum: int = 0
) -> FieldSpec:
    """A field packets and browser requests both have (``http.host``)."""
    return FieldSpec(name, kind, getter, key, maximum, description)


def request(name: str, kind: str, description: str, maximum: int) -> FieldSpec:
    """A field only browser requests have (``url``, ``status``)."""
    return FieldSpec(name, kind, None, name, maximum, description)


DECLARATIONS: list[FieldSpec] = [
    protocol("eth", "Ethernet frames", lambda view: _present(view.packet.ethernet() is not None)),
    protocol("vlan", "802.1Q-tagged frames", lambda view: _present(bool(view.packet.vlan_ids()))),
    protocol(
        "ieee8021ad",
        "802.1ad (QinQ service) tagged frames",
        lambda view: _present(bool(view.packet.vlan_ids(SERVICE_TPIDS))),
    ),
    protocol("arp", "ARP", _arp),
    protocol("ip", "IPv4", _layer("ip")),
    protocol("ipv6", "IPv6", _layer("ipv6")),
    protocol("tcp", "TCP", _transport_is(6)),
    protocol("udp", "UDP", _transport_is(17)),
    protocol("icmp", "ICMP", _transport_is(1)),
    protocol("icmpv6", "ICMPv6", _transport_is(58)),
    protocol("dns", "DNS", _dns),
    protocol("mdns", "multicast DNS", _dns_kind("mdns")),
    protocol("llmnr", "LLMNR", _dns_kind("llmnr")),
    protocol("tls", "TLS", _tls),
    protocol("ssl", "TLS (old name)", _tls),
    *(protocol(name, description, _layer(name)) for name, description in TUNNEL_LAYERS.items()),
    both("http", PROTOCOL, "*", "HTTP (every browser request)", _http),
    packet(
        "frame",
        BYTES,
        "every packet; its bytes for contains/matches",
        lambda view: (view.summary.data,),
        0,
    ),
    packet("frame.len", INT, "length on the wire", lambda view: (view.summary.length,), 0xFFFFFFFF),
    packet(
        "frame.cap_len", INT, "bytes captured", lambda view: (len(view.summary.data),), 0xFFFFFFFF
    ),
    packet(
        "frame.number",
        INT,
        "the packet's number",
        lambda view: (view.summary.index,),
        0xFFFFFFFFFFFFFFFF,
    ),
    packet("frame.time_epoch", FLOAT, "seconds since 1970", lambda v: (v.summary.timestamp,), 0),
    packet("frame.time_relative", FLOAT, "seconds since the first packet", _time_relative, 0),
    packet("frame.time_delta", FLOAT, "seconds since the previous packet", _time_delta, 0),
    packet(
        "frame.time_delta_displayed",
        FLOAT,
        "seconds since the previous packet the filter passed (0 before any)",
        _time_delta_displayed,
        0,
    ),
    packet(
        "frame.protocols",
        STR,
        "the protocol stack, colon-separated (eth:ethertype:ip:tcp)",
        _protocols,
        0,
    ),
    packet("frame.source", STR, "the input it came from (eth0, a.pcap)", _source_name, 0),
    packet(
        "frame.interface_name",
        STR,
        "Wireshark's name for frame.source (the if_name livetap writes)",
        _source_name,
        0,
    ),
    packet("eth.src", MAC, "source MAC", _macs("src"), 0),
    packet("eth.dst", MAC, "destination MAC", _macs("dst"), 0),
    packet("eth.addr", MAC, "either MAC", _macs("addr"), 0),
    packet(
        "eth.type",
        INT,
        "ethertype of the Ethernet header itself (0x8100 on a VLAN-tagged frame)",
        _value(lambda packet: packet.eth_type()),
        0xFFFF,
    ),
    packet("vlan.id", INT, "VLAN id", lambda view: view.packet.vlan_ids(), 4095),
    packet(
        "vlan.etype",
        INT,
        "the type after an 802.1Q tag (the inner ethertype, or the next tag's)",
        lambda view: view.packet.vlan_etypes(),
        0xFFFF,
    ),
    packet(
        "ieee8021ad.id",
        INT,
        "802.1ad service VLAN id",
        lambda view: view.packet.vlan_ids(SERVICE_TPIDS),
        4095,
    ),
    packet(
        "arp.opcode", INT, "1 request, 2 reply", _value(lambda packet: packet.arp_opcode()), 0xFFFF
    ),
    packet("ip.src", IPV4, "IPv4 source", _addresses(4, "src"), 0),
    packet("ip.dst", IPV4, "IPv4 destination", _addresses(4, "dst"), 0),
    packet("ip.addr", IPV4, "either IPv4 address", _addresses(4, "addr"), 0),
    packet("ip.ttl", INT, "time to live", lambda view: view.packet.ipv4_bytes(8), 255),
    packet("ip.proto", INT, "protocol number", lambda view: view.packet.ipv4_bytes(9), 255),
    packet("ip.len", INT, "total length", lambda view: view.packet.ipv4_words(2), 0xFFFF),
    packet("ip.id", INT, "identification", lambda view: view.packet.ipv4_words(4), 0xFFFF),
    packet(
        "ip.hdr_len",
        INT,
        "header length in bytes",
        lambda view: tuple((b & 15) * 4 for b in view.packet.ipv4_bytes(0)),
        60,
    ),
    packet(
        "ip.dsfield",
        INT,
        "differentiated services byte",
        lambda view: view.packet.ipv4_bytes(1),
        255,
    ),
    packet(
        "ip.flags.df",
        INT,
        "don't fragment (0 or 1)",
        lambda view: tuple(w >> 14 & 1 for w in view.packet.ipv4_words(6)),
        1,
    ),
    packet(
        "ip.flags.mf",
        INT,
        "more fragments (0 or 1)",
        lambda view: tuple(w >> 13 & 1 for w in view.packet.ipv4_words(6)),
        1,
    ),
    packet(
        "ip.frag_offset",
        INT,
        "fragment offset in bytes",
        lambda view: tuple((w & 0x1FFF) * 8 for w in view.packet.ipv4_words(6)),
        0xFFFF,
    ),
    packet("ip.checksum", INT, "header checksum", lambda view: view.packet.ipv4_words(10), 0xFFFF),
    packet("ipv6.src", IPV6, "IPv6 source", _addresses(6, "src"), 0),
    packet("ipv6.dst", IPV6, "IPv6 destination", _addresses(6, "dst"), 0),
    packet("ipv6.addr", IPV6, "either IPv6 address", _addresses(6, "addr"), 0),
    packet("ipv6.hlim", INT, "hop limit", lambda view: view.packet.ipv6_fields(7), 255),
    packet("ipv6.nxt", INT, "next header", lambda view: view.packet.ipv6_fields(6), 255),
    packet("ipv6.plen", INT, "payload length", lambda view: view.packet.ipv6_fields(4), 0xFFFF),
    packet("tcp.srcport", INT, "TCP source port", _ports(6, "src"), 0xFFFF),
    packet("tcp.dstport", INT, "TCP destination port", _ports(6, "dst"), 0xFFFF),
    packet("tcp.port", INT, "either TCP port", _ports(6, "both"), 0xFFFF),
    packet(
        "tcp.flags",
        INT,
        "the flags byte",
        _value(lambda packet: packet.layers.flags if packet.tcp_header() >= 0 else None),
        0xFF,
    ),
    packet("tcp.flags.fin", INT, "FIN (0 or 1)", _tcp_flag(0), 1),
    packet("tcp.flags.syn", INT, "SYN (0 or 1)", _tcp_flag(1), 1),
    packet("tcp.flags.reset", INT, "RST (0 or 1)", _tcp_flag(2), 1),
    packet("tcp.flags.push", INT, "PSH (0 or 1)", _tcp_flag(3), 1),
    packet("tcp.flags.ack", INT, "ACK (0 or 1)", _tcp_flag(4), 1),
    packet("tcp.flags.urg", INT, "URG (0 or 1)", _tcp_flag(5), 1),
    packet(
        "tcp.window_size_value",
        INT,
        "window (unscaled)",
        _value(lambda packet: packet.tcp_word(14)),
        0xFFFF,
    ),
    packet(
        "tcp.len",
        INT,
        "TCP payload length",
        _value(lambda packet: packet.layers.seglen if packet.tcp_header() >= 0 else None),
        0xFFFF,
    ),
    packet(
        "tcp.hdr_len",
        INT,
        "TCP header length in bytes",
        _value(lambda p: p.layers.start - p.layers.l4 if p.tcp_header() >= 0 else None),
        60,
    ),
    packet(
        "tcp.seq_raw",
        INT,
        "sequence number as sent",
        _value(lambda packet: packet.layers.seq if packet.tcp_header() >= 0 else None),
        0xFFFFFFFF,
    ),
    packet(
        "tcp.ack_raw",
        INT,
        "acknowledgement number as sent",
        _value(lambda packet: packet.layers.ack if packet.tcp_header() >= 0 else None),
        0xFFFFFFFF,
    ),
    stateful(
        "tcp.stream",
        INT,
        "TCP stream index (0, 1 ... in order of first sight)",
        _tcp_state(lambda t: t.stream),
        0xFFFFFFFF,
    ),
    stateful(
        "tcp.seq",
        INT,
        "sequence number, relative to the side's first",
        _tcp_state(lambda t: t.seq),
        0xFFFFFFFF,
    ),
    stateful(
        "tcp.ack",
        INT,
        "acknowledgement number, relative (as sent without ACK)",
        _tcp_state(lambda t: t.ack),
        0xFFFFFFFF,
    ),
    stateful(
        "tcp.nxtseq",
        INT,
        "relative sequence number after this segment",
        _tcp_state(lambda t: t.nxtseq),
        0xFFFFFFFF,
    ),
    stateful(
        "tcp.window_size",
        INT,
        "window after scaling (when the handshake was seen)",
        _tcp_state(lambda t: t.window_size),
        0xFFFFFFFF,
    ),
    stateful(
        "tcp.analysis.flags",
        PROTOCOL,
        "any TCP analysis note below",
        _tcp_state(lambda t: True if t.flags else None),
        0,
    ),
    *(
        stateful(f"tcp.analysis.{name}", PROTOCOL, ANALYSIS_NOTES[name], _analysis_flag(mask), 0)
        for name, mask in FLAG_FIELDS.items()
    ),
    stateful(
        "tcp.analysis.duplicate_ack_num",
        INT,
        "which duplicate ACK this is (1, 2 ...)",
        _tcp_state(lambda t: t.dupack_num or None),
        0xFFFFFFFF,
    ),
    stateful(
        "tcp.analysis.duplicate_ack_frame",
        INT,
        "the frame the duplicate ACKs repeat",
        _tcp_state(lambda t: t.dupack_frame if t.dupack_num else None),
        0xFFFFFFFFFFFFFFFF,
    ),
    packet("tcp.checksum", INT, "TCP checksum", _value(lambda packet: packet.tcp_word(16)), 0xFFFF),
    packet(
        "tcp.urgent_pointer",
        INT,
        "urgent pointer",
        _value(lambda packet: packet.tcp_word(18)),
        0xFFFF,
    ),
    packet("tcp.payload", BYTES, "TCP payload bytes", _payload(6), 0),
    packet("udp.srcport", INT, "UDP source port", _ports(17, "src"), 0xFFFF),
    packet("udp.dstport", INT, "UDP destination port", _ports(17, "dst"), 0xFFFF),
    packet("udp.port", INT, "either UDP port", _ports(17, "both"), 0xFFFF),
    stateful(
        "udp.stream",
        INT,
        "UDP stream index (0, 1 ... in order of first sight)",
        _udp_streams,
        0xFFFFFFFF,
    ),
    packet("udp.length", INT, "UDP length", _value(lambda packet: packet.udp_word(4)), 0xFFFF),
    packet("udp.checksum", INT, "UDP checksum", _value(lambda packet: packet.udp_word(6)), 0xFFFF),
    packet("udp.payload", BYTES, "UDP payload bytes", _payload(17), 0),
    packet("icmp.type", INT, "ICMP type", _icmp_part(1, 0), 255),
    packet("icmp.code", INT, "ICMP code", _icmp_part(1, 1), 255),
    packet("icmpv6.type", INT, "ICMPv6 type", _icmp_part(58, 0), 255),
    packet("icmpv6.code", INT, "ICMPv6 code", _icmp_part(58, 1), 255),
    packet("dns.id", INT, "DNS transaction id", _dns_part(0), 0xFFFF),
    packet("dns.flags.response", INT, "0 query, 1 response", _dns_part(1), 1),
    packet("dns.qry.name", STR, "the first question's name", _dns_part(2), 0),
    packet("dns.qry.type", INT, "the first question's type", _dns_part(3), 0xFFFF),
    packet("http.request.uri", STR, "request target", _http_part(1, False), 0),
    packet("http.request.version", STR, "HTTP/1.1 ...", _http_part(2, False), 0),
    packet("http.user_agent", STR, "User-Agent header", _http_header("user-agent"), 0),
    packet("tls.handshake.extensions_server_name", STR, "TLS SNI", _sni, 0),
    packet("dns.flags.rcode", INT, "response code", _dns_flags(lambda f, _a: f & 15), 15),
    packet("dns.count.answers", INT, "answer records", _dns_flags(lambda _f, a: a), 0xFFFF),
    packet("dns.a", IPV4, "an IPv4 address in an answer", _dns_answer_values(1, 4), 0),
    packet("dns.aaaa", IPV6, "an IPv6 address in an answer", _dns_answer_values(28, 16), 0),
    packet("dns.resp.ttl", INT, "an answer's time to live", _dns_ttls, 0xFFFFFFFF),
    packet("tls.handshake.type", INT, "handshake message type (1 ClientHello …)", _tls_types, 255),
    packet("tls.handshake.ciphersuite", INT, "offered or chosen cipher suite", _tls_suites, 0xFFFF),
    protocol(
        "quic",
        "QUIC long header on port 443",
        lambda v: _present(v.packet.quic_long_header() is not None),
    ),
    packet("quic.version", INT, "QUIC version", _quic_part(0), 0xFFFFFFFF),
    packet("quic.dcid", BYTES, "destination connection id", _quic_part(1), 0),
    packet("quic.scid", BYTES, "source connection id", _quic_part(2), 0),
    packet("arp.src.hw_mac", MAC, "sender MAC", _arp_part(0), 0),
    packet("arp.src.proto_ipv4", IPV4, "sender IPv4 address", _arp_part(1), 0),
    packet("arp.dst.hw_mac", MAC, "target MAC", _arp_part(2), 0),
    packet("arp.dst.proto_ipv4", IPV4, "target IPv4 address", _arp_part(3), 0),
    protocol("dhcp", "DHCP / BOOTP", lambda v: _present(v.packet.dhcp() is not None)),
    packet("dhcp.option.dhcp", INT, "DHCP message type (1 Discover …)", _dhcp_part(0), 255),
    packet("dhcp.hw.mac_addr", MAC, "client MAC", _dhcp_part(1), 0),
    protocol("ntp", "NTP", lambda v: _present(v.packet.ntp() is not None)),
    packet("ntp.flags.vn", INT, "NTP version", _ntp_part(0), 7),
    packet("ntp.flags.mode", INT, "NTP mode", _ntp_part(1), 7),
    packet("ntp.stratum", INT, "stratum", _ntp_part(2), 255),
    both(
        "http.request",
        PROTOCOL,
        "*",
        "HTTP requests (every browser request)",
        _http_kind(request=True),
    ),
    both(
        "http.response",
        PROTOCOL,
        "status",
        "HTTP responses (requests with a status)",
        _http_kind(request=False),
    ),
    both("http.request.method", STR, "method", "request method", _http_part(0, False), maximum=0),
    both("http.response.code", INT, "status", "response status", _http_part(1, True), maximum=999),
    both("http.host", STR, "host", "Host header / host", _http_header("host"), maximum=0),
    both(
        "http.content_type",
        STR,
        "mime",
        "Content-Type / MIME type",
        _http_header("content-type"),
    ),
    packet("proc.name", STR, "the local program (live capture)", process_part("name"), 0),
    packet("proc.pid", INT, "the local program's pid", process_part("pid"), 0xFFFFFFFF),
    packet("proc.user", STR, "the user the program runs as", process_part("user"), 0),
    packet("proc.cmdline", STR, "the program's command line", process_part("cmdline"), 0),
    packet("proc.unit", STR, "its systemd unit or container", process_part("unit"), 0),
    request("url", STR, "the request URL", 0),
    request("method", STR, "GET, POST ...", 0),
    request("status", INT, "response status", 999),
    request("mime", STR, "response MIME type", 0),
    request("type", STR, "resource type (Document, XHR, Script ...)", 0),
    request("host", STR, "the URL's host", 0),
    request("size", INT, "response size in bytes", 0xFFFFFFFFFFFFFFFF),
    FieldSpec("http.request.full_uri", STR, None, "url", 0, "the request URL"),
]

FIELDS: dict[str, FieldSpec] = {spec.name: spec for spec in DECLARATIONS}
"""Every field name a display filter may use."""


def markdown_table() -> str:
    """The packet fields as the README lists them: name, type, what it is."""
    rows = ["| field | type | what it is |", "|---|---|---|"]
    rows += [
        f"| `{spec.name}` | {spec.kind} | {spec.description} |"
        for spec in DECLARATIONS
        if spec.packet
    ]
    return "\n".join(rows)
