"""The BPF builder: descriptions to filters (each compiled by libpcap), errors, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Packet

from engine import linktypes
from engine.bpf import compile_filter
from engine.bpf_builder import (
    FILLERS,
    PROTOCOLS,
    SERVICES,
    DescriptionError,
    build_filter,
)
from engine.bpf_examples import EXAMPLES, examples
from engine.errors import BadInputError

SRC_MAC, DST_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"

DESCRIPTIONS = [
    (
        "HTTP traffic to 10.0.0.5 or 10.0.0.6",
        "tcp dst port 80 and (dst host 10.0.0.5 or dst host 10.0.0.6)",
    ),
    ("http", "tcp port 80"),
    ("https from 10.1.2.3", "tcp src port 443 and src host 10.1.2.3"),
    ("dns", "port 53"),
    ("dns over tcp", "tcp port 53"),
    ("udp port 53", "udp port 53"),
    ("ssh", "tcp port 22"),
    ("not ssh", "not tcp port 22"),
    ("ntp", "udp port 123"),
    ("quic", "udp port 443"),
    ("dhcp", "udp port 67 or udp port 68"),
    ("not dhcp", "not (udp port 67 or udp port 68)"),
    ("smtp, imap, pop3", "tcp port 25 or tcp port 143 or tcp port 110"),
    ("mysql or postgres or redis", "tcp port 3306 or tcp port 5432 or tcp port 6379"),
    ("mqtt", "tcp port 1883"),
    ("snmp", "udp port 161 or udp port 162"),
    ("syslog", "udp port 514"),
    ("rdp", "tcp port 3389"),
    ("telnet or ftp", "tcp port 23 or tcp port 21"),
    ("tls", "tcp port 443"),
    ("icmp", "icmp"),
    ("icmp6", "icmp6"),
    ("arp", "arp"),
    ("ipv6 and not icmp6", "ip6 and not icmp6"),
    ("ping", "icmp[icmptype] == icmp-echo or icmp[icmptype] == icmp-echoreply"),
    ("host 10.0.0.1", "host 10.0.0.1"),
    ("10.0.0.1 or 10.0.0.2", "host 10.0.0.1 or host 10.0.0.2"),
    ("host ::1", "host ::1"),
    ("traffic from 2001:db8::1", "src host 2001:db8::1"),
    ("net 192.168.0.0/16", "net 192.168.0.0/16"),
    ("to 10.0.0.0/8", "dst net 10.0.0.0/8"),
    ("from fe80::/10", "src net fe80::/10"),
    ("between 10.0.0.1 and 10.0.0.2", "host 10.0.0.1 and host 10.0.0.2"),
    ("port 8080", "port 8080"),
    ("port 8000-8080", "portrange 8000-8080"),
    ("udp port 5000 to 5010", "udp portrange 5000-5010"),
    ("ports 5000 through 5010", "portrange 5000-5010"),
    ("ports 5000 thru 5010", "portrange 5000-5010"),
    ("between 5000 and 5010", "portrange 5000-5010"),
    ("between ports 5000 and 5010", "portrange 5000-5010"),
    ("ports between 5000 and 5010", "portrange 5000-5010"),
    ("ports 5000-5010", "portrange 5000-5010"),
    ("ports 5000 - 5010", "portrange 5000-5010"),
    ("port range 5000 to 5010", "portrange 5000-5010"),
    ("port range 5000-5010", "portrange 5000-5010"),
    ("ports from 5000 to 5010", "portrange 5000-5010"),
    ("tcp ports 5000 to 5010", "tcp portrange 5000-5010"),
    ("udp src ports between 5000 and 5010", "udp src portrange 5000-5010"),
    ("tcp dst port range 5000 through 5010", "tcp dst portrange 5000-5010"),
    ("udp to ports 5000 to 5010", "udp dst portrange 5000-5010"),
    ("from port 5000 to 5010", "src portrange 5000-5010"),
    ("ports 5000 to 5010 or 6000", "portrange 5000-5010 or port 6000"),
    ("port 53 to 10.0.0.1", "port 53 and dst host 10.0.0.1"),
    ("port 53 to port 80", "port 53 and dst port 80"),
    ("ports 80 443", "port 80 or port 443"),
    ("port 80 or 443", "port 80 or port 443"),
    ("to port 443", "dst port 443"),
    ("udp from port 53", "udp src port 53"),
    ("http on port 8080", "tcp port 8080"),
    ("tcp syn", "tcp[tcpflags] & tcp-syn != 0"),
    ("syn only", "tcp[tcpflags] == tcp-syn"),
    ("syn-ack", "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack)"),
    ("rst or fin", "tcp[tcpflags] & tcp-rst != 0 or tcp[tcpflags] & tcp-fin != 0"),
    ("not syn", "not (tcp[tcpflags] & tcp-syn != 0)"),
    ("ttl below 10", "ip[8] < 10"),
    ("packets with ttl over 200", "ip[8] > 200"),
    ("ttl at least 64", "ip[8] >= 64"),
    ("ttl is 1", "ip[8] == 1"),
    ("ttl<10", "ip[8] < 10"),
    ("hop-limit below 2", "ip6[7] < 2"),
    ("larger than 1000 bytes", "len > 1000"),
    ("packets over 1000 bytes", "len > 1000"),
    ("smaller than 64", "len < 64"),
    ("length >= 1500", "len >= 1500"),
    ("vlan", "vlan"),
    ("vlan 100", "vlan 100"),
    ("host 10.0.0.1 in vlan 100", "vlan 100 and host 10.0.0.1"),
    ("broadcast", "ether broadcast"),
    ("mac 02:00:00:00:00:01", "ether host 02:00:00:00:00:01"),
    ("from mac 02:00:00:00:00:01", "ether src 02:00:00:00:00:01"),
    ("everything except ssh and dns", "not (tcp port 22 or port 53)"),
    ("http except to 10.0.0.1", "tcp port 80 and not dst host 10.0.0.1"),
    ("!ssh && !dns", "not tcp port 22 and not port 53"),
    ("(http or https) and from 10.0.0.1", "(tcp port 80 or tcp port 443) and src host 10.0.0.1"),
    ("http to 10.0.0.5 or dns", "(tcp dst port 80 and dst host 10.0.0.5) or port 53"),
    (
        "ssh from 10.0.0.1 or 10.0.0.2 to 10.0.0.3",
        "tcp dst port 22 and (src host 10.0.0.1 or src host 10.0.0.2) and dst host 10.0.0.3",
    ),
    ("HTTP  TRAFFIC   TO 10.0.0.5", "tcp dst port 80 and dst host 10.0.0.5"),
]


@pytest.mark.parametrize(("description", "expected"), DESCRIPTIONS)
def test_descriptions_become_these_filters(description: str, expected: str) -> None:
    built = build_filter(description)
    assert built.expression == expected
    assert built.compiled.expression == expected
    compile_filter(expected, linktypes.ETHERNET)  # libpcap takes it as printed
    assert built.explanation and built.program()[-1].split()[1] == "ret"


@pytest.mark.parametrize(
    ("description", "message", "position"),
    [
        ("http to foo", "don't know 'foo' (position 9)", 9),
        ("tcp foo bar", "don't know 'foo' (position 5), 'bar' (position 9)", 5),
        ("http to example.com", "are not looked up", 9),
        ("443", "say 'port 443'", 1),
        ("10.0.0.256", "not a valid IP address", 1),
        ("10.0.0.5/8", "the network is 10.0.0.0/8", 1),
        ("port 99999", "ports go up to 65535", 6),
        ("port 90-80", "runs backwards", 6),
        ("port 5010 to 5000", "the range '5010 to 5000' runs backwards", 6),
        ("ports 5000 through 70000", "ports go up to 65535, not 70000", 20),
        ("between 10.0.0.1 or 5", "two port numbers, joined by 'and'", 18),
        ("port", "expected a port number", 5),
        ("to", "expected an address, network, port or service after 'to'", 3),
        ("to tcp", "expected an address, network, port or service after 'to', not 'tcp'", 4),
        ("net 10.0.0.0", "with its prefix length", 5),
        ("(http", "'(' is never closed", 1),
        ("http)", "')' without a matching '('", 5),
        ("udp http", "HTTP runs over tcp, not udp", 5),
        ("tcp udp", "cannot be both tcp and udp", 5),
        ("over 1000", "say what is compared with 1000", 6),
        ("ttl below 300", "at most 255", 11),
        ("vlan 5000", "up to 4095", 6),
        ("café", "don't know 'café' (position 1)", 1),
        ("http\x07", "don't know 'http\\x07'", 1),
        ("except", "expected what to leave out", None),
    ],
)
def test_what_it_cannot_understand_is_named_not_guessed(
    description: str, message: str, position: int | None
) -> None:
    with pytest.raises(DescriptionError) as caught:
        build_filter(description)
    assert message in caught.value.message
    assert "\n" not in caught.value.message
    if position is not None:
        assert caught.value.position == position


@pytest.mark.parametrize("description", ["", "   ", "the traffic", "and", "or or", "not"])
def test_nothing_to_match_is_an_error(description: str) -> None:
    with pytest.raises(DescriptionError):
        build_filter(description)


def test_limits_on_size_and_depth() -> None:
    with pytest.raises(DescriptionError, match="at most 1,000"):
        build_filter("http " * 400)
    with pytest.raises(DescriptionError, match="nested more than"):
        build_filter("(" * 30 + "http" + ")" * 30)
    with pytest.raises(DescriptionError, match="nested more than"):
        build_filter("not " * 30 + "http")
    assert build_filter("(" * 10 + "http" + ")" * 10).expression == "tcp port 80"


def _frame(layers: Packet) -> bytes:
    return bytes(Ether(src=SRC_MAC, dst=DST_MAC) / layers)


@pytest.mark.parametrize(
    ("description", "frame", "matches"),
    [
        ("HTTP traffic to 10.0.0.5 or 10.0.0.6", IP(dst="10.0.0.6") / TCP(dport=80), True),
        ("HTTP traffic to 10.0.0.5 or 10.0.0.6", IP(dst="10.0.0.7") / TCP(dport=80), False),
        ("HTTP traffic to 10.0.0.5 or 10.0.0.6", IP(src="10.0.0.6") / TCP(sport=80), False),
        ("HTTP traffic to 10.0.0.5 or 10.0.0.6", IP(dst="10.0.0.5") / UDP(dport=80), False),
        ("syn only", IP() / TCP(flags="S"), True),
        ("syn only", IP() / TCP(flags="SA"), False),
        ("syn-ack", IP() / TCP(flags="SA"), True),
        ("tcp syn", IP() / TCP(flags="SA"), True),
        ("ttl below 10", IP(ttl=5) / UDP(), True),
        ("ttl below 10", IP(ttl=64) / UDP(), False),
        ("larger than 1000 bytes", IP() / UDP() / (b"x" * 1000), True),
        ("larger than 1000 bytes", IP() / UDP() / (b"x" * 100), False),
        ("dns", IP() / UDP(sport=40000, dport=53), True),
        ("port 8000-8080", IP() / TCP(dport=8042), True),
        ("port 8000-8080", IP() / TCP(dport=8081), False),
        ("udp port 5000 to 5010", IP() / UDP(dport=5010), True),
        ("udp port 5000 to 5010", IP() / UDP(dport=5011), False),
        ("udp port 5000 to 5010", IP() / TCP(dport=5005), False),
        ("between 5000 and 5010", IP() / TCP(sport=5000), True),
        ("between 5000 and 5010", IP() / TCP(sport=4999, dport=5011), False),
        ("udp src ports between 5000 and 5010", IP() / UDP(sport=5003, dport=9), True),
        ("udp src ports between 5000 and 5010", IP() / UDP(sport=9, dport=5003), False),
    ],
)
def test_the_filters_match_what_the_description_says(
    description: str, frame: Packet, matches: bool
) -> None:
    data = _frame(frame)
    assert build_filter(description).compiled.matches(data, len(data)) is matches


def test_vlan_comes_first_so_libpcap_reads_past_the_tag() -> None:
    built = build_filter("host 10.0.0.1 and vlan 100")
    tagged = bytes(Ether(src=SRC_MAC, dst=DST_MAC) / Dot1Q(vlan=100) / IP(src="10.0.0.1") / UDP())
    assert built.expression == "vlan 100 and host 10.0.0.1"
    assert built.compiled.matches(tagged, len(tagged))


def test_every_service_and_protocol_word_builds() -> None:
    for word in [*SERVICES, *PROTOCOLS]:
        assert build_filter(word).expression
        assert build_filter(f"not {word}").expression.startswith("not ")


def test_filler_words_change_nothing() -> None:
    plain = build_filter("http to 10.0.0.5").expression
    for filler in sorted(FILLERS - {"over", "is"}):
        assert build_filter(f"{filler} http {filler} to 10.0.0.5").expression == plain


# -- the examples table ---------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: example.expression)
def test_every_example_compiles(example: object) -> None:
    expression = getattr(example, "expression", "")
    compile_filter(expression, linktypes.ETHERNET)


def test_the_examples_table_is_well_formed() -> None:
    expressions = [example.expression for example in EXAMPLES]
    assert len(set(expressions)) == len(expressions)
    assert {example.category for example in EXAMPLES} == {"basic", "advanced"}
    assert all(example.description for example in EXAMPLES)
    for required in (
        "tcp[tcpflags] & tcp-syn != 0",
        "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn",
        "ip[8] < 10",
        "len > 1000",
        "vlan",
        "ether broadcast",
        "ip6",
        "icmp[icmptype] == icmp-echo",
        "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420",
        "portrange 8000-8080",
    ):
        assert required in expressions
    assert examples("advanced") == tuple(e for e in EXAMPLES if e.category == "advanced")


def test_the_http_get_example_matches_a_get_request() -> None:
    get = _frame(IP() / TCP(dport=80, flags="PA") / b"GET / HTTP/1.1\r\n\r\n")
    post = _frame(IP() / TCP(dport=80, flags="PA") / b"POST / HTTP/1.1\r\n\r\n")
    compiled = compile_filter("tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x47455420", linktypes.ETHERNET)
    assert compiled.matches(get, len(get)) and not compiled.matches(post, len(post))


# -- hostile input ------------------------------------------------------------------------------

VOCABULARY = [
    *SERVICES,
    *PROTOCOLS,
    "to",
    "from",
    "not",
    "and",
    "or",
    "(",
    ")",
    ",",
    "port",
    "80",
    "8000-8080",
    "10.0.0.1",
    "10.0.0.0/8",
    "::1",
    "syn",
    "only",
    "ttl",
    "below",
    "larger",
    "than",
    "1000",
    "bytes",
    "vlan",
    "between",
    "except",
    "host",
    "net",
    "mac",
    "02:00:00:00:00:01",
    "traffic",
    "at",
    "least",
    "!",
    "&&",
    "||",
    "<",
    ">=",
]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_only_ever_raises_bad_input(text: str) -> None:
    try:
        built = build_filter(text)
    except BadInputError as error:
        assert error.message and "\n" not in error.message
    else:
        compile_filter(built.expression, linktypes.ETHERNET)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=25))
def test_word_salad_from_the_vocabulary_builds_or_says_why(words: list[str]) -> None:
    try:
        built = build_filter(" ".join(words))
    except BadInputError as error:
        assert error.message and "\n" not in error.message
    else:
        compile_filter(built.expression, linktypes.ETHERNET)


@pytest.mark.parametrize(
    "text",
    [
        "x" * 10_000,
        "\x00http",
        "http\x1b[31m to 10.0.0.1",
        "(" * 500,
        ")" * 500,
        "port " + "9" * 5000,
        "ttl below " + "9" * 5000,
        "🙂 to 10.0.0.1",
        "http to 10.0.0.1" + "\u202e",
        "host " + "1" * 60,
    ],
)
def test_hostile_descriptions_are_refused_cleanly(text: str) -> None:
    with pytest.raises(BadInputError):
        build_filter(text)
