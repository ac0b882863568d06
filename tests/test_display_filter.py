"""The display filter: its language, packet and request fields, errors by column, hostile text."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet

from engine import display_filter, linktypes
from engine.decode import decode
from engine.display_filter import (
    FIELDS,
    MAX_AMBIGUITY,
    DisplayFilterError,
    compile_display_filter,
    field_names,
)
from engine.errors import BadInputError
from engine.events import PacketSummary
from engine.session import CaptureSession
from tests.conftest import free_tcp_port, free_udp_port, send_udp, wait_for

SRC_MAC, DST_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"


def summary(frame: bytes | Packet, linktype: int = linktypes.ETHERNET) -> PacketSummary:
    """A packet record as the capture thread makes it."""
    data = bytes(frame)
    src, dst, sport, dport, protocol, info = decode(linktype, data)
    return PacketSummary(7, 1.0, len(data), linktype, src, dst, sport, dport, protocol, info, data)


def ether(layers: Packet) -> PacketSummary:
    return summary(Ether(src=SRC_MAC, dst=DST_MAC) / layers)


def tls_client_hello(server_name: str) -> bytes:
    name = server_name.encode()
    sni = struct.pack("!HBH", len(name) + 3, 0, len(name)) + name
    extensions = struct.pack("!HH", 0, len(sni)) + sni
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += struct.pack("!H", len(extensions)) + extensions
    handshake = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


HTTP_POST = ether(
    IP(src="10.0.0.1", dst="10.0.0.2", ttl=64)
    / TCP(sport=50000, dport=80, flags="PA")
    / b"POST /api/items HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: curl/8\r\n\r\n{}"
)
HTTP_404 = ether(
    IP(src="10.0.0.2", dst="10.0.0.1")
    / TCP(sport=80, dport=50000, flags="PA")
    / b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\r\n"
)
SYN = ether(IP(src="192.168.1.10", dst="10.9.8.7", ttl=3) / TCP(sport=40000, dport=443, flags="S"))
DNS_QUERY = ether(
    IP(src="10.0.0.1", dst="10.0.0.53")
    / UDP(sport=40001, dport=53)
    / DNS(id=0x1234, rd=1, qd=DNSQR(qname="www.example.com", qtype="AAAA"))
)
PING6 = ether(IPv6(src="2001:db8::1", dst="::1", hlim=9) / ICMPv6EchoRequest())
PING = ether(IP(src="10.0.0.1", dst="10.0.0.9") / ICMP(type=8))
ARP_REQUEST = ether(ARP(op=1, psrc="10.0.0.1", pdst="10.0.0.2"))
VLAN_UDP = summary(
    Ether(src=SRC_MAC, dst=DST_MAC) / Dot1Q(vlan=42) / IP() / UDP(sport=1000, dport=2000) / b"x"
)
TLS_HELLO = ether(IP() / TCP(sport=50001, dport=443, flags="PA") / tls_client_hello("api.example"))
BIG_UDP = ether(IP(src="10.0.0.1", dst="10.1.0.1") / UDP(sport=5000, dport=5001) / (b"z" * 1200))
RAW_IP = summary(bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=2)), linktypes.RAW)

CASES: list[tuple[str, PacketSummary, bool]] = [
    ("ip.addr == 10.0.0.1", HTTP_POST, True),
    ("ip.addr == 10.0.0.1", HTTP_404, True),
    ("ip.addr == 10.0.0.1", SYN, False),
    ("ip.src == 10.0.0.1", HTTP_404, False),
    ("ip.dst == 10.0.0.1", HTTP_404, True),
    ("ip.addr == 10.0.0.0/24", SYN, False),
    ("ip.addr == 10.0.0.0/8", SYN, True),
    ("ip.addr != 10.0.0.1", HTTP_POST, False),
    ("ip.addr != 10.0.0.1", SYN, True),
    ("ip.addr != 10.0.0.1", ARP_REQUEST, False),
    ("not ip.addr == 10.0.0.1", ARP_REQUEST, True),
    ("ip.addr in {10.0.0.5 192.168.1.10}", SYN, True),
    ("ip.ttl < 10", SYN, True),
    ("ip.ttl < 10", HTTP_POST, False),
    ("ipv6.addr == ::1", PING6, True),
    ("ipv6.src == 2001:db8::/32", PING6, True),
    ("ipv6.hlim == 9", PING6, True),
    ("ipv6", PING6, True),
    ("ip", PING6, False),
    ("tcp.port in {80 443}", HTTP_POST, True),
    ("tcp.port in {80 443}", SYN, True),
    ("tcp.port in {80 443}", DNS_QUERY, False),
    ("tcp.port in {8000..8080, 50000}", HTTP_404, True),
    ("tcp.port not in {80}", SYN, True),
    ("tcp.port not in {80}", HTTP_POST, False),
    ("tcp.srcport == 80", HTTP_404, True),
    ("tcp.dstport == 80", HTTP_404, False),
    ("udp.port == 53", DNS_QUERY, True),
    ("udp.port == 53", SYN, False),
    ("udp.dstport >= 5000 && udp.length > 1000", BIG_UDP, True),
    ("tcp.flags.syn == 1", SYN, True),
    ("tcp.flags.syn == 1", HTTP_POST, False),
    ("tcp.flags.syn == 1 and tcp.flags.ack == 0", SYN, True),
    ("tcp.flags.push == true", HTTP_POST, True),
    ("tcp.flags == 0x02", SYN, True),
    ("tcp.flags.syn", HTTP_POST, True),
    ("tcp.len > 0", HTTP_POST, True),
    ("tcp.len > 0", SYN, False),
    ("frame.len > 1000", BIG_UDP, True),
    ("frame.len > 1000", SYN, False),
    ("frame.len <= 60", SYN, True),
    ("frame.number == 7", SYN, True),
    ('frame contains "POST"', HTTP_POST, True),
    ('frame contains "POST"', HTTP_404, False),
    ('frame matches "host: shop\\\\.example"', HTTP_POST, True),
    ('tcp.payload contains "{}"', HTTP_POST, True),
    ('udp.payload contains "zzzz"', BIG_UDP, True),
    ("dns", DNS_QUERY, True),
    ("dns", HTTP_POST, False),
    ('dns.qry.name contains "example"', DNS_QUERY, True),
    ('dns.qry.name == "www.example.com"', DNS_QUERY, True),
    ("dns.qry.type == 28", DNS_QUERY, True),
    ("dns.id == 0x1234 and dns.flags.response == 0", DNS_QUERY, True),
    ("http", HTTP_POST, True),
    ("http", SYN, False),
    ('http.request.method == "POST"', HTTP_POST, True),
    ("http.request.method == POST", HTTP_POST, True),
    ('http.request.method == "GET"', HTTP_POST, False),
    ('http.request.method == "POST"', HTTP_404, False),
    ('http.request.uri contains "/api/"', HTTP_POST, True),
    ('http.host == "shop.example"', HTTP_POST, True),
    ('http.user_agent matches "^curl/"', HTTP_POST, True),
    ("http.request", HTTP_POST, True),
    ("http.request", HTTP_404, False),
    ("http.response", HTTP_404, True),
    ("http.response.code >= 400", HTTP_404, True),
    ("http.response.code >= 400", HTTP_POST, False),
    ('http.content_type contains "json"', HTTP_404, True),
    ("tls", TLS_HELLO, True),
    ('tls.handshake.extensions_server_name == "api.example"', TLS_HELLO, True),
    ('tls.handshake.extensions_server_name matches "API"', TLS_HELLO, True),
    ("icmp", PING, True),
    ("icmp.type == 8", PING, True),
    ("icmp", PING6, False),
    ("icmpv6.type == 128", PING6, True),
    ("arp", ARP_REQUEST, True),
    ("arp.opcode == 1", ARP_REQUEST, True),
    ("arp", PING, False),
    ("vlan", VLAN_UDP, True),
    ("vlan.id == 42 and udp.dstport == 2000", VLAN_UDP, True),
    ("vlan", PING, False),
    ("eth.src == 02:00:00:00:00:01", PING, True),
    ("eth.addr == 02-00-00-00-00-02", PING, True),
    ("eth.type == 0x0800", PING, True),
    ("eth", RAW_IP, False),
    ("ip.src == 10.0.0.1 and udp.dstport == 2", RAW_IP, True),
    ("tcp or udp", DNS_QUERY, True),
    ("!(tcp || udp)", PING, True),
    ("not tcp and not udp", PING, True),
    ("tcp and udp or icmp", PING, True),
    ("tcp and (udp or icmp)", PING, False),
    ("not not tcp", SYN, True),
    ('url contains "/api/"', HTTP_POST, False),
    ("status >= 400", HTTP_404, False),
    ("", SYN, True),
]


@pytest.mark.parametrize(("text", "packet", "expected"), CASES)
def test_packets(text: str, packet: PacketSummary, expected: bool) -> None:
    assert compile_display_filter(text).matches_packet(packet) is expected


REQUEST = {
    "url": "https://shop.example/api/items?page=2",
    "method": "POST",
    "status": 404,
    "mime": "application/json",
    "type": "XHR",
    "host": "shop.example",
    "size": 1234,
}


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        ('url contains "/api/"', REQUEST, True),
        ('url contains "/static/"', REQUEST, False),
        ("status >= 400", REQUEST, True),
        ("status >= 400", {**REQUEST, "status": 200}, False),
        ("status >= 400", {**REQUEST, "status": "503"}, True),
        ("status >= 400", {**REQUEST, "status": None}, False),
        ("status >= 400", {**REQUEST, "status": "\u00b3"}, False),
        ("status >= 400", {**REQUEST, "status": 404.0}, True),
        ("status in {200..299}", {"status": 204}, True),
        ('method == "GET"', REQUEST, False),
        ("method == POST", REQUEST, True),
        ('mime contains "json"', REQUEST, True),
        ('type == "XHR" and size > 1000', REQUEST, True),
        ('url matches "page=[0-9]+$"', REQUEST, True),
        ('host == "shop.example"', REQUEST, True),
        ('http.request.method == "POST"', REQUEST, True),
        ("http.response.code == 404", REQUEST, True),
        ('http.request.full_uri contains "items"', REQUEST, True),
        ('http.content_type contains "json"', REQUEST, True),
        ("http", REQUEST, True),
        ("http.response", REQUEST, True),
        ("http.response", {"url": "https://a/"}, False),
        ("tcp", REQUEST, False),
        ("ip.addr == 10.0.0.1", REQUEST, False),
        ("not tcp", REQUEST, True),
        ("status != 200", {"url": "x"}, False),
        ('url contains "x"', {}, False),
        ("", REQUEST, True),
    ],
)
def test_request_records(text: str, fields: Mapping[str, object], expected: bool) -> None:
    assert compile_display_filter(text).matches_fields(fields) is expected


def test_which_panes_a_filter_speaks_to() -> None:
    assert not compile_display_filter("status >= 400").uses_packet_fields
    assert compile_display_filter("status >= 400").uses_request_fields
    assert not compile_display_filter("tcp.port == 80").uses_request_fields
    both = compile_display_filter('http.request.method == "GET"')
    assert both.uses_packet_fields and both.uses_request_fields
    assert compile_display_filter("  ").matches_everything
    assert compile_display_filter("dns or tcp").fields == frozenset({"dns", "tcp"})
    assert "ip.addr" in field_names(request=False) and "url" not in field_names(request=False)
    assert "url" in field_names(packet=False) and "ip.addr" not in field_names(packet=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tcp and ip.adr == 1", "column 9: unknown field 'ip.adr' (did you mean ip.addr?)"),
        ("tcp.prot == 80", "column 1: unknown field 'tcp.prot' (did you mean tcp.port?)"),
        ("10.0.0.1", "column 1: unknown field '10.0.0.1' (a value needs a field in front"),
        ("ip.addr = 1.2.3.4", "column 9: unexpected character '=' (use == to compare)"),
        ("ip.addr == ::1", "column 12: ip.addr holds IPv4 addresses; use ipv6.addr for '::1'"),
        ("ip.addr == bogus", "column 12: ip.addr needs an IPv4 address or network"),
        ("ip.addr > 10.0.0.1", "column 11: ip.addr can be compared with == or != only, not >"),
        ("tcp.port == 99999", "column 13: tcp.port is at most 65535, not 99999"),
        ('tcp.port == "80"', "column 13: tcp.port is a number"),
        ("tcp.port ==", "column 12: expected a value after '=='"),
        ("tcp.port in {80", "column 13: this '{' is never closed"),
        ("tcp.port in {}", "column 13: the set is empty"),
        ("tcp.port in {90..80}", "column 14: the range '90..80' runs backwards"),
        ("tcp.port in 80", "column 13: expected '{'"),
        ("(tcp or udp", "column 1: this '(' is never closed"),
        ("tcp)", "column 4: ')' without a matching '('"),
        ("tcp udp", "column 5: expected 'and', 'or' or the end, not 'udp'"),
        ("tcp and", "column 8: expected a field or protocol name"),
        ("and tcp", "column 1: expected a field or protocol name, not 'and'"),
        ('url contains "abc', "column 14: this string has no closing quote"),
        ('url contains "\\q"', "column 15: unknown escape '\\q'"),
        ('url contains "\\x4"', "column 15: \\x needs 2 hex digits"),
        ("dns == 1", "column 5: dns is a protocol: use it alone"),
        ("frame.len contains 5", "column 20: frame.len is not text"),
        ('status matches "4.."', "column 16: status is not text"),
        ('url matches "(a+)+$"', "column 13: the regular expression repeats a repetition"),
        ('url matches "(x*)*"', "column 13: the regular expression repeats a repetition"),
        ('url matches "["', "column 13: invalid regular expression"),
        ("ip.src == ip.dst", "column 11: comparing two fields is not supported"),
        ("frame[0:2] == 1", "column 6: unexpected character '['"),
        ("tcp.port == 80 \x07", "column 16: unexpected character '\\x07'"),
        ("ip.addr == 10.0.0.1 and é", "column 25: unexpected character 'é'"),
    ],
)
def test_errors_point_at_the_column(text: str, message: str) -> None:
    with pytest.raises(DisplayFilterError) as caught:
        compile_display_filter(text)
    assert caught.value.message.startswith(message), caught.value.message
    assert "\n" not in caught.value.message
    assert caught.value.column == int(message.split(":", maxsplit=1)[0].split()[1])


def test_strings_take_c_escapes() -> None:
    packet = ether(IP() / UDP(sport=1, dport=2) / b'say "hi"\tthere')
    assert compile_display_filter('frame contains "say \\"hi\\"\\tthere"').matches_packet(packet)
    assert compile_display_filter('frame contains "\\x73ay"').matches_packet(packet)
    assert compile_display_filter('url == "caf\\u00e9"').matches_fields({"url": "café"})


def test_limits() -> None:
    with pytest.raises(DisplayFilterError, match="at most 4,096"):
        compile_display_filter("tcp or " * 1000 + "tcp")
    with pytest.raises(DisplayFilterError, match="nested more than 64"):
        compile_display_filter("(" * 100 + "tcp" + ")" * 100)
    with pytest.raises(DisplayFilterError, match="nested more than 64"):
        compile_display_filter("not " * 100 + "tcp")
    with pytest.raises(DisplayFilterError, match="longer than 256"):
        compile_display_filter('url matches "' + "a" * 300 + '"')
    assert compile_display_filter("(" * 60 + "tcp" + ")" * 60).matches_packet(SYN)
    long_value = compile_display_filter('url matches "b$"')
    assert not long_value.matches_fields({"url": "a" * 100_000 + "b"})  # looks at 4096 at most


@pytest.mark.root
def test_a_real_capture_filtered_by_port(live_session: Callable[..., CaptureSession]) -> None:
    errors = display_filter.evaluation_errors
    udp_port, tcp_port = free_udp_port(), free_tcp_port()
    session = live_session(f"udp port {udp_port} or tcp port {tcp_port}")
    send_udp(udp_port, [b"a", b"bb", b"ccc"])
    with socket.socket() as server:
        server.bind(("127.0.0.1", tcp_port))
        server.listen()
        with socket.create_connection(("127.0.0.1", tcp_port)):
            accepted, _ = server.accept()
            accepted.close()
    assert wait_for(lambda: len(session.ring) >= 6)
    packets = list(session.ring)
    udp_only = compile_display_filter(f"udp.port == {udp_port} and frame.len > 43")
    assert [p.data[42:] for p in packets if udp_only.matches_packet(p)] == [b"bb", b"ccc"]
    syns = compile_display_filter(f"tcp.flags.syn == 1 && tcp.port == {tcp_port}")
    assert sum(syns.matches_packet(p) for p in packets) == 2  # SYN, SYN-ACK
    assert display_filter.evaluation_errors == errors


# -- hostile input ------------------------------------------------------------------------------

ATOMS = [
    *FIELDS,
    "==",
    "!=",
    "<",
    ">=",
    "contains",
    "matches",
    "in",
    "not",
    "and",
    "or",
    "&&",
    "||",
    "!",
    "(",
    ")",
    "{",
    "}",
    ",",
    "80",
    "0x1f",
    "10.0.0.1",
    "10.0.0.0/8",
    "::1",
    "02:00:00:00:00:01",
    '"x"',
    '"(a|b)+"',
    '"\\x41"',
    "1..9",
    "true",
    "~",
]


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_only_ever_raises_bad_input(text: str) -> None:
    errors = display_filter.evaluation_errors
    try:
        compiled = compile_display_filter(text)
    except BadInputError as error:
        assert error.message.startswith("column ") and "\n" not in error.message
    else:
        compiled.matches_packet(SYN)
        compiled.matches_fields(REQUEST)
    assert display_filter.evaluation_errors == errors


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(ATOMS), min_size=1, max_size=20))
def test_token_salad_compiles_or_says_where(tokens: list[str]) -> None:
    errors = display_filter.evaluation_errors
    text = " ".join(tokens)
    try:
        compiled = compile_display_filter(text)
    except BadInputError as error:
        assert error.message.startswith("column ")
        return
    for packet in (SYN, HTTP_POST, DNS_QUERY, PING6, ARP_REQUEST, VLAN_UDP, RAW_IP, TLS_HELLO):
        assert compiled.matches_packet(packet) in (True, False)
    assert compiled.matches_fields(REQUEST) in (True, False)
    assert display_filter.evaluation_errors == errors


FILTERS_OVER_EVERYTHING = [
    compile_display_filter(text)
    for text in (
        "ip.addr == 10.0.0.0/8 or ipv6.addr == ::/0",
        'tcp.port in {1..65535} or udp.port >= 0 or dns.qry.name contains "a"',
        'http.request.method matches "." or http.response.code > 0 or http.host contains ""',
        'tls.handshake.extensions_server_name contains "" or icmp.type >= 0 or arp.opcode > 0',
        "vlan.id >= 0 or eth.type > 0 or ip.ttl >= 0 or ipv6.hlim >= 0 or tcp.flags.syn == 1",
        'frame matches "\\x00" or tcp.payload contains "a" or udp.payload matches "b"',
        'dns.id >= 0 or dns.qry.type >= 0 or http.user_agent contains "" or tcp.len >= 0',
    )
]


@settings(max_examples=800, deadline=None)
@given(
    st.sampled_from(
        [
            linktypes.ETHERNET,
            linktypes.RAW,
            linktypes.LINUX_SLL,
            linktypes.LINUX_SLL2,
            linktypes.NULL,
            linktypes.LOOP,
            linktypes.IPV4,
            linktypes.IPV6,
            12,
            9999,
        ]
    ),
    st.binary(max_size=200),
    st.sampled_from(["TCP", "UDP", "DNS", "MDNS", "HTTP", "TLS", "ARP", ""]),
    st.text(max_size=50),
)
def test_matching_garbage_packets_never_raises(
    linktype: int, data: bytes, protocol: str, info: str
) -> None:
    errors = display_filter.evaluation_errors
    packet = PacketSummary(1, 0.0, len(data), linktype, "", "", None, None, protocol, info, data)
    real = summary(data, linktype)
    for compiled in FILTERS_OVER_EVERYTHING:
        compiled.matches_packet(packet)
        compiled.matches_packet(real)
    assert display_filter.evaluation_errors == errors


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["url", "method", "status", "mime", "type", "host", "size", "other"]),
        st.one_of(
            st.none(),
            st.integers(),
            st.floats(allow_nan=True),
            st.text(max_size=30),
            st.booleans(),
            st.binary(max_size=10),
        ),
    )
)
def test_matching_odd_request_records_never_raises(fields: dict[str, object]) -> None:
    errors = display_filter.evaluation_errors
    for text in ('url contains "a" or status >= 400', "size in {0..10}", 'method matches "^p"'):
        compile_display_filter(text).matches_fields(fields)
    assert display_filter.evaluation_errors == errors


@pytest.mark.parametrize(
    "text",
    [
        "x" * 10_000,
        '"' + "a" * 9_000,
        "\x00\x01\x02",
        "tcp.port == 80\u202e",
        "🙂 == 1",
        "ip.addr == " + "9" * 5000,
        "tcp.port == " + "9" * 30,
        "tcp.port in {" + "1 " * 2000 + "}",
        "{" * 500,
        'url matches "' + "(" * 200 + '"',
    ],
)
def test_hostile_filters_are_refused_cleanly(text: str) -> None:
    with pytest.raises(BadInputError):
        compile_display_filter(text)


def test_every_packet_field_is_declared_once_with_a_getter_and_listed_in_the_readme() -> None:
    from engine.display_filter.fields import DECLARATIONS, markdown_table

    names = [spec.name for spec in DECLARATIONS]
    assert len(names) == len(set(names))
    assert all(spec.getter is not None or spec.request_key is not None for spec in DECLARATIONS)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    listed = readme.split("<!-- fields:start -->\n", 1)[1].split("\n<!-- fields:end -->", 1)[0]
    assert listed == markdown_table(), "run: python -m engine.display_filter"


def test_the_engine_uses_no_private_regular_expression_parser() -> None:
    engine = Path(__file__).resolve().parent.parent / "engine"
    assert not [p for p in engine.rglob("*.py") if "re._parser" in p.read_text()]


@pytest.mark.parametrize(
    ("pattern", "refused"),
    [
        ("(a+)+", True),
        ("(a*)*b", True),
        (".*a.*b", True),
        ("(a|aa)*", True),
        ("(?:ab)+c", False),
        ("^get", False),
        ("[0-9]{1,3}", False),
        ("a{2,}b", False),
        ("x{foo}", False),
        ("(?i)ab+c", False),
        ("(?P<n>a+)(?P=n)", False),
        ("[]a]+b", False),
    ],
)
def test_matches_refuses_patterns_that_backtrack_for_ever(pattern: str, refused: bool) -> None:
    text = f'http.host matches "{pattern}"'
    if refused:
        with pytest.raises(DisplayFilterError, match="regular expression"):
            compile_display_filter(text)
    else:
        compile_display_filter(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab.*+?|(){},[]^$:", min_size=1, max_size=16))
def test_the_pattern_shape_agrees_with_pythons_own_parser(pattern: str) -> None:
    """The shape livetap reads (engine/display_filter/regex.py) gives re's verdicts."""
    import importlib
    import re
    import warnings

    from engine.display_filter import regex

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            re.compile(pattern)
        except re.error:
            return
    theirs = importlib.import_module("re._parser").parse(pattern)
    ours = regex.structure(pattern)
    assert regex._nested_repeat(ours, False) == regex._nested_repeat(theirs, False)
    assert (regex._ambiguity(ours) > MAX_AMBIGUITY) == (regex._ambiguity(theirs) > MAX_AMBIGUITY)
