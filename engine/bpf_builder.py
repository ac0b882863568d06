"""A short description in words turned into a BPF filter, by fixed rules.

"HTTP traffic to 10.0.0.5 or 10.0.0.6" becomes
``tcp dst port 80 and (dst host 10.0.0.5 or dst host 10.0.0.6)``. A small
tokenizer and a recursive-descent grammar do it: no network (host names are
refused, never looked up), no model, no guessing: a word the rules do not know
is named in the error with its position. Every filter is compiled by libpcap
(for Ethernet) before it is returned.

The rules, as the README documents them:

- ``and`` (also ``&&``, or nothing: words next to each other), ``or`` (``||``,
  ``,``), ``not`` (``!``, ``no``, ``except``, ``excluding``, ``without``) and
  parentheses. Like tcpdump's "host A or B", a list of values after a keyword
  stays together: "to A or B" is ``(dst host A or dst host B)``.
- ``to``/``from`` (``dst``/``src``, ``destination``/``source``) give the
  direction of the addresses, networks or ports after them. A service in the
  same part of the description takes the direction too: the service runs on
  the side it points at ("http to A": ``tcp dst port 80``); with both ``to``
  and ``from``, ``to`` decides.
- A transport (``tcp``, ``udp``, ``sctp``) next to ports qualifies them
  ("udp port 53": ``udp port 53``); a port next to a service replaces the
  service's usual port ("http on port 8080": ``tcp port 8080``).
- VLAN conditions come first in their part, since libpcap reads what follows
  ``vlan`` past the tag.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from engine import bpf, linktypes
from engine.errors import BadInputError, FilterError

MAX_DESCRIPTION = 1000
MAX_TOKENS = 200
MAX_DEPTH = 20


class DescriptionError(BadInputError):
    """A description the builder cannot turn into a filter; names the word and position."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position
        """1-based character position of the word at fault, when there is one."""


# -- the vocabulary -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Service:
    """A protocol known by its port(s): HTTP is TCP port 80."""

    title: str
    transport: str | None
    """tcp, udp, or None when it runs over both."""
    ports: tuple[tuple[int, int], ...]


def _service(title: str, transport: str | None, *ports: int | tuple[int, int]) -> Service:
    ranges = tuple(p if isinstance(p, tuple) else (p, p) for p in ports)
    return Service(title, transport, ranges)


SERVICES: dict[str, Service] = {
    "http": _service("HTTP", "tcp", 80),
    "http-alt": _service("HTTP on its alternative port", "tcp", 8080),
    "https": _service("HTTPS", "tcp", 443),
    "tls": _service("TLS on its usual port", "tcp", 443),
    "ssl": _service("TLS on its usual port", "tcp", 443),
    "quic": _service("QUIC", "udp", 443),
    "dns": _service("DNS", None, 53),
    "mdns": _service("multicast DNS", "udp", 5353),
    "llmnr": _service("LLMNR", "udp", 5355),
    "ssh": _service("SSH", "tcp", 22),
    "telnet": _service("Telnet", "tcp", 23),
    "ftp": _service("FTP control", "tcp", 21),
    "ftp-data": _service("FTP data", "tcp", 20),
    "tftp": _service("TFTP", "udp", 69),
    "smtp": _service("SMTP", "tcp", 25),
    "submission": _service("mail submission", "tcp", 587),
    "smtps": _service("SMTP over TLS", "tcp", 465),
    "imap": _service("IMAP", "tcp", 143),
    "imaps": _service("IMAP over TLS", "tcp", 993),
    "pop3": _service("POP3", "tcp", 110),
    "pop3s": _service("POP3 over TLS", "tcp", 995),
    "ntp": _service("NTP", "udp", 123),
    "dhcp": _service("DHCP", "udp", 67, 68),
    "bootp": _service("BOOTP/DHCP", "udp", 67, 68),
    "dhcpv6": _service("DHCPv6", "udp", 546, 547),
    "snmp": _service("SNMP", "udp", 161, 162),
    "syslog": _service("syslog", "udp", 514),
    "ldap": _service("LDAP", None, 389),
    "ldaps": _service("LDAP over TLS", "tcp", 636),
    "kerberos": _service("Kerberos", None, 88),
    "smb": _service("SMB", "tcp", 445),
    "netbios": _service("NetBIOS", None, (137, 139)),
    "rdp": _service("RDP", "tcp", 3389),
    "vnc": _service("VNC", "tcp", 5900),
    "mysql": _service("MySQL", "tcp", 3306),
    "postgres": _service("PostgreSQL", "tcp", 5432),
    "postgresql": _service("PostgreSQL", "tcp", 5432),
    "redis": _service("Redis", "tcp", 6379),
    "mongodb": _service("MongoDB", "tcp", 27017),
    "memcached": _service("memcached", None, 11211),
    "mqtt": _service("MQTT", "tcp", 1883),
    "mqtts": _service("MQTT over TLS", "tcp", 8883),
    "amqp": _service("AMQP", "tcp", 5672),
    "kafka": _service("Kafka", "tcp", 9092),
    "elasticsearch": _service("Elasticsearch", "tcp", 9200),
    "bgp": _service("BGP", "tcp", 179),
    "sip": _service("SIP", None, 5060),
    "rtsp": _service("RTSP", "tcp", 554),
    "nfs": _service("NFS", None, 2049),
    "radius": _service("RADIUS", "udp", (1812, 1813)),
    "openvpn": _service("OpenVPN", "udp", 1194),
    "wireguard": _service("WireGuard", "udp", 51820),
    "ike": _service("IKE (IPsec key exchange)", "udp", 500, 4500),
    "stun": _service("STUN", None, 3478),
    "irc": _service("IRC", "tcp", 6667),
    "xmpp": _service("XMPP", "tcp", 5222),
}
"""Services by name, with their transport and usual ports."""

TRANSPORTS = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}
"""Protocols that carry ports: they can qualify a port ("udp port 53")."""

PROTOCOLS: dict[str, tuple[str, str]] = {
    "icmp": ("icmp", "ICMP"),
    "icmp6": ("icmp6", "ICMPv6"),
    "icmpv6": ("icmp6", "ICMPv6"),
    "arp": ("arp", "ARP"),
    "rarp": ("rarp", "RARP"),
    "ip": ("ip", "IPv4"),
    "ipv4": ("ip", "IPv4"),
    "ip4": ("ip", "IPv4"),
    "ip6": ("ip6", "IPv6"),
    "ipv6": ("ip6", "IPv6"),
    "igmp": ("igmp", "IGMP"),
    "gre": ("ip proto gre", "GRE tunnels"),
    "esp": ("esp", "IPsec ESP"),
    "ah": ("ah", "IPsec AH"),
    "ospf": ("ip proto ospf", "OSPF"),
    "vrrp": ("vrrp", "VRRP"),
    "pim": ("pim", "PIM"),
    "stp": ("stp", "spanning tree"),
    "lldp": ("ether proto 0x88cc", "LLDP"),
    "mpls": ("mpls", "MPLS"),
    "broadcast": ("ether broadcast", "Ethernet broadcast"),
    "multicast": ("ether multicast", "Ethernet multicast"),
}
"""Other protocols and link-layer classes: (filter, what it matches)."""

PING = (
    ("icmp[icmptype] == icmp-echo", "ICMP echo requests"),
    ("icmp[icmptype] == icmp-echoreply", "ICMP echo replies"),
)

FLAGS = {
    "syn": "syn",
    "ack": "ack",
    "fin": "fin",
    "rst": "rst",
    "reset": "rst",
    "psh": "push",
    "push": "push",
    "urg": "urg",
    "ece": "ece",
    "cwr": "cwr",
}
"""TCP flag words and libpcap's names for them (tcp-syn, tcp-push ...)."""

DIRECTIONS = {
    "to": "dst",
    "towards": "dst",
    "dst": "dst",
    "destination": "dst",
    "from": "src",
    "src": "src",
    "source": "src",
}
NEGATIONS = frozenset({"not", "!", "no"})
EXCLUSIONS = frozenset({"except", "excluding", "without"})
"""Like not, but for everything after them: 'except ssh and dns'."""
ANDS = frozenset({"and", "&&", "&", "plus"})
ORS = frozenset({"or", "||", "|", ","})
FILLERS = frozenset(
    {
        "traffic",
        "packets",
        "packet",
        "frames",
        "frame",
        "the",
        "a",
        "an",
        "all",
        "any",
        "only",
        "just",
        "of",
        "on",
        "in",
        "with",
        "that",
        "which",
        "are",
        "is",
        "for",
        "using",
        "via",
        "over",
        "going",
        "coming",
        "sent",
        "flowing",
        "connections",
        "connection",
        "requests",
        "request",
        "responses",
        "response",
        "queries",
        "query",
        "messages",
        "message",
        "data",
        "protocol",
        "service",
        "services",
        "everything",
        "show",
        "me",
        "capture",
        "please",
        "flag",
        "flags",
        "set",
        "bit",
        "bits",
        "but",
        "either",
    }
)
"""Words that say nothing a filter needs; they are skipped."""

_LESS = ("<", "below", "under", "less", "lower", "fewer", "smaller", "shorter")
_MORE = (">", "above", "over", "greater", "more", "higher", "larger", "bigger", "longer")
_COMPARATORS: dict[str, str] = {
    **dict.fromkeys(_LESS, "<"),
    **dict.fromkeys(_MORE, ">"),
    "<=": "<=",
    ">=": ">=",
    "=": "==",
    "==": "==",
    "!=": "!=",
    "equals": "==",
    "equal": "==",
    "is": "==",
    "exactly": "==",
}
_SIZE_WORDS = frozenset({"smaller", "shorter", "larger", "bigger", "longer"})
"""Comparators that can only be about the packet's length."""
_LENGTH_SUBJECTS = frozenset({"length", "len", "size"})
_BYTES = frozenset({"bytes", "byte", "b"})
_HOST_WORDS = frozenset({"host", "hosts", "address", "addr", "ip-address"})
_NET_WORDS = frozenset({"net", "network", "subnet", "cidr"})
_PORT_WORDS = frozenset({"port", "ports", "portrange"})
_RANGE_JOINERS = frozenset({"to", "through", "thru", "-"})
"""Words between the ends of a port range said in words: 'port 5000 to 5010'."""
_MAC_WORDS = frozenset({"mac", "ether", "ethernet"})
MAX_LENGTH_VALUE = 262144
_MAC = re.compile(r"^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$")
_PORT_RANGE = re.compile(r"^([0-9]{1,6})-([0-9]{1,6})$")
_NUMBER = re.compile(r"^[0-9]{1,10}$")
_HOSTNAME = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+\.?$")
_OPERATOR_CHARS = "<>=!&|"
_TOKEN = re.compile(r"\s+|[(),]|[<>=!&|]+|[^\s(),<>=!&|]+")


# -- tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    """One word or symbol of the description, with its 1-based position."""

    text: str
    position: int

    @property
    def word(self) -> str:
        return self.text.lower()


def _show(text: str) -> str:
    """A word as an error message quotes it: short, one line, control characters escaped."""
    if len(text) > 40:
        text = text[:37] + "..."
    escaped = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return f"'{escaped}'"


def tokenize(description: str) -> list[Token]:
    """Split a description into words, parentheses, commas and comparison symbols."""
    tokens = []
    for match in _TOKEN.finditer(description):
        text = match.group()
        if text.isspace():
            continue
        tokens.append(Token(text, match.start() + 1))
    return tokens


# -- the filter being built -------------------------------------------------------------------


class Node:
    """A piece of the filter: a primitive, or and/or/not of pieces."""


@dataclass(frozen=True, slots=True)
class Prim(Node):
    """One libpcap primitive or relation, with what it means in words."""

    text: str
    meaning: str
    relation: bool = False
    """An arithmetic relation (``ip[8] < 10``): parenthesised under ``not``."""


@dataclass(frozen=True, slots=True)
class AllOf(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    item: Node


def _all(items: list[Node]) -> Node:
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, AllOf) else (item,))
    return flat[0] if len(flat) == 1 else AllOf(tuple(flat))


def _any(items: list[Node]) -> Node:
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, AnyOf) else (item,))
    return flat[0] if len(flat) == 1 else AnyOf(tuple(flat))


def render(node: Node) -> str:
    """The filter text; and/or have equal precedence in libpcap, so mixed ones get parentheses."""
    if isinstance(node, Prim):
        return node.text
    if isinstance(node, Not):
        inner = render(node.item)
        simple = isinstance(node.item, Prim) and not node.item.relation
        return f"not {inner}" if simple else f"not ({inner})"
    if isinstance(node, AllOf | AnyOf):
        joiner = " and " if isinstance(node, AllOf) else " or "
        parts = []
        for item in node.items:
            text = render(item)
            parts.append(f"({text})" if isinstance(item, AllOf | AnyOf) else text)
        return joiner.join(parts)
    raise TypeError(node)


def _meanings(node: Node) -> Iterator[str]:
    """What each primitive means, in the order they appear."""
    if isinstance(node, Prim):
        yield f"{node.text}: {node.meaning}"
    elif isinstance(node, Not):
        for line in _meanings(node.item):
            yield f"not {line}"
    elif isinstance(node, AllOf | AnyOf):
        for item in node.items:
            yield from _meanings(item)


# -- terms: what a clause said, before its part of the description is assembled ----------------


@dataclass(slots=True)
class ServiceTerm:
    name: str
    service: Service
    direction: str | None
    token: Token


@dataclass(slots=True)
class TransportTerm:
    name: str
    token: Token


@dataclass(slots=True)
class PortTerm:
    ranges: list[tuple[int, int]]
    direction: str | None
    transport: str | None = None


@dataclass(slots=True)
class AddressTerm:
    addresses: list[tuple[str, str]]
    """(kind, value): kind is host, net or ether."""
    direction: str | None


@dataclass(slots=True)
class NodeTerm:
    node: Node
    tcp_only: bool = False
    """TCP flag tests: a bare ``tcp`` next to them says nothing more."""
    vlan: bool = False


Term = ServiceTerm | TransportTerm | PortTerm | AddressTerm | NodeTerm


# -- the parser ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Parser:
    tokens: list[Token]
    length: int
    index: int = 0
    depth: int = 0

    # -- token helpers --

    def peek(self, ahead: int = 0) -> Token | None:
        """The token ``ahead`` places on, skipping nothing."""
        position = self.index + ahead
        return self.tokens[position] if position < len(self.tokens) else None

    def next_meaningful(self) -> Token | None:
        """Skip filler words; the next token that says something.

        "over" and "is" are fillers unless a number follows ("over 1000 bytes").
        """
        while (token := self.peek()) is not None and token.word in FILLERS:
            if token.word in _COMPARATORS and self._number_follows(1):
                break
            self.index += 1
        return token

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, message: str, token: Token | None) -> DescriptionError:
        if token is None:
            return DescriptionError(f"{message} (at the end)", self.length + 1)
        return DescriptionError(f"{message} (position {token.position})", token.position)

    # -- grammar --

    def parse(self) -> Node:
        node = self.or_expression()
        token = self.next_meaningful()
        if token is not None:
            if token.text == ")":
                raise self.fail("')' without a matching '('", token)
            raise self.fail(f"don't know what {_show(token.text)} means here", token)
        return node

    def or_expression(self) -> Node:
        items = [self.and_expression()]
        while (token := self.next_meaningful()) is not None and token.word in ORS:
            self.take()
            items.append(self.and_expression())
        return _any(items)

    def and_expression(self) -> Node:
        terms: list[Term] = []
        while True:
            token = self.next_meaningful()
            if token is None or token.text == ")" or token.word in ORS:
                break
            if token.word in ANDS:
                self.take()
                continue
            terms.append(self.unary())
        if not terms:
            token = self.peek()
            raise self.fail("expected something to match", token)
        return assemble(terms)

    def unary(self) -> Term:
        token = self.next_meaningful()
        if token is not None and token.word in EXCLUSIONS:
            return self.exclusion()
        if token is not None and token.word in NEGATIONS:
            self.take()
            self._enter(token)
            operand = self.unary()
            self.depth -= 1
            return NodeTerm(Not(assemble([operand])))
        return self.primary()

    def exclusion(self) -> Term:
        """'except ssh and dns' leaves out both: not (ssh or dns), to the end of the part."""
        token = self.take()
        self._enter(token)
        excluded: list[Node] = []
        while True:
            following = self.next_meaningful()
            if following is None or following.text == ")":
                break
            if following.word in ANDS or following.word in ORS:
                self.take()
                continue
            excluded.append(assemble([self.unary()]))
        self.depth -= 1
        if not excluded:
            raise self.fail(f"expected what to leave out after {_show(token.text)}", None)
        return NodeTerm(Not(_any(excluded)))

    def _enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep", token)

    def primary(self) -> Term:
        token = self.next_meaningful()
        if token is None:
            raise self.fail("expected something to match", None)
        if token.text == "(":
            self.take()
            self._enter(token)
            node = self.or_expression()
            closing = self.next_meaningful()
            if closing is None or closing.text != ")":
                raise self.fail("'(' is never closed", token)
            self.take()
            self.depth -= 1
            return NodeTerm(node)
        return self.clause()

    def clause(self) -> Term:
        token = self.take()
        word = token.word
        if word in DIRECTIONS:
            return self.directed(DIRECTIONS[word], token)
        if word in SERVICES:
            return ServiceTerm(word, SERVICES[word], None, token)
        if word in TRANSPORTS:
            return TransportTerm(word, token)
        if word in PROTOCOLS:
            text, meaning = PROTOCOLS[word]
            return NodeTerm(Prim(text, meaning))
        if word in ("ping", "echo"):
            return NodeTerm(_any([Prim(text, meaning, True) for text, meaning in PING]))
        if word in FLAGS or word in ("syn-ack", "synack"):
            return self.flag(token)
        if word in _PORT_WORDS:
            return PortTerm(self.port_list(token), None)
        if word in _HOST_WORDS or word in _NET_WORDS or word in _MAC_WORDS:
            return AddressTerm(self.address_list(token), None)
        if word == "between":
            following = self.peek()
            ahead = 1 if following is not None and following.word in _PORT_WORDS else 0
            if self._spelled_range_follows("between", ahead):
                self.index += ahead
                return PortTerm([self.port(token, "between")], None)
            return self.between(token)
        if word == "ttl":
            return NodeTerm(self.comparison(token, "ip[8]", "IPv4 time to live", 255))
        if word in ("hoplimit", "hop-limit"):
            return NodeTerm(self.comparison(token, "ip6[7]", "IPv6 hop limit", 255))
        if word in _LENGTH_SUBJECTS:
            return NodeTerm(self.comparison(token, "len", "packet length", MAX_LENGTH_VALUE))
        if word in _COMPARATORS and self._number_follows():
            self.index -= 1
            return NodeTerm(self.comparison(None, "len", "packet length", MAX_LENGTH_VALUE))
        if word == "vlan":
            return self.vlan(token)
        if _address_kind(token.text) is not None:
            self.index -= 1
            return AddressTerm(self.address_list(None), None)
        raise self.unknown(token)

    def unknown(self, token: Token) -> DescriptionError:
        word = token.word
        if _NUMBER.match(word) or _PORT_RANGE.match(word):
            return self.fail(
                f"don't know what the number {_show(token.text)} is: say 'port {token.text}'",
                token,
            )
        if re.fullmatch(r"[\d.]+|[\da-f:.]*:[\da-f:.]*(/\d+)?|[\d.]+/\d+", word):
            return self.fail(f"{_show(token.text)} is not a valid IP address or network", token)
        if _HOSTNAME.match(word):
            return self.fail(
                f"host names are not looked up: give the IP address of {_show(token.text)}",
                token,
            )
        if word == ")":
            return self.fail("')' without a matching '('", token)
        return self.fail(f"don't know {_show(token.text)}", token)

    def _spelled_range_follows(self, introducer: str, ahead: int = 0) -> bool:
        """Whether 'A and B' (after 'between') or 'A to B' (after 'from') follows."""
        joiners = ANDS if introducer == "between" else _RANGE_JOINERS
        first, joiner, last = (self.peek(ahead + n) for n in range(3))
        return (
            first is not None
            and joiner is not None
            and last is not None
            and bool(_NUMBER.match(first.word))
            and joiner.word in joiners
            and bool(_NUMBER.match(last.word))
        )

    def _number_follows(self, ahead: int = 0) -> bool:
        """Whether a number follows (after 'than'/'to'), ``ahead`` tokens on."""
        while (token := self.peek(ahead)) is not None and token.word in ("than", "to", "or"):
            ahead += 1
        return token is not None and bool(_NUMBER.match(token.word))

    # -- clauses --

    def directed(self, direction: str, token: Token) -> Term:
        target = self.next_meaningful()
        if target is None:
            raise self.fail(
                f"expected an address, network, port or service after {_show(token.text)}", None
            )
        word = target.word
        if word in _PORT_WORDS:
            self.take()
            return PortTerm(self.port_list(target), direction)
        if word in SERVICES:
            self.take()
            return ServiceTerm(word, SERVICES[word], direction, target)
        if word in _HOST_WORDS or word in _NET_WORDS or word in _MAC_WORDS:
            self.take()
            return AddressTerm(self.address_list(target), direction)
        if _address_kind(target.text) is not None:
            return AddressTerm(self.address_list(None), direction)
        raise self.fail(
            f"expected an address, network, port or service after {_show(token.text)}, "
            f"not {_show(target.text)}",
            target,
        )

    def between(self, token: Token) -> Term:
        first = self.address_list(None, single=True)
        joiner = self.next_meaningful()
        if joiner is None or joiner.word not in ANDS:
            raise self.fail(
                "'between' needs two addresses, or two port numbers, joined by 'and'",
                joiner or token,
            )
        self.take()
        second = self.address_list(None, single=True)
        return NodeTerm(_all([_address_node(first, None), _address_node(second, None)]))

    def address_list(self, keyword: Token | None, single: bool = False) -> list[tuple[str, str]]:
        """Addresses after 'host'/'net'/'mac' or on their own, joined by 'or' or ','."""
        wanted = None
        if keyword is not None:
            word = keyword.word
            wanted = "net" if word in _NET_WORDS else "ether" if word in _MAC_WORDS else "host"
        addresses = [self.address(wanted, keyword)]
        while not single:
            joiner = self.peek()
            after = self.peek(1)
            if joiner is None or after is None or joiner.word not in ORS:
                break
            if _address_kind(after.text) is None:
                break
            self.index += 1
            addresses.append(self.address(wanted, keyword))
        return addresses

    def address(self, wanted: str | None, keyword: Token | None) -> tuple[str, str]:
        token = self.next_meaningful()
        noun = {"net": "a network like 10.0.0.0/8", "ether": "a MAC address"}.get(
            wanted or "", "an IP address"
        )
        if token is None:
            raise self.fail(f"expected {noun}", None)
        kind = _address_kind(token.text)
        if kind is None:
            if keyword is None:
                raise self.unknown(token)
            raise self.fail(f"expected {noun} after {_show(keyword.text)}", token)
        self.take()
        value = token.text.lower()
        if kind == "bad-net":
            raise self.fail(_network_problem(token.text), token)
        if wanted == "net" and kind == "host":
            raise self.fail(
                f"give the network with its prefix length, e.g. {token.text}/24, "
                f"not {_show(token.text)}",
                token,
            )
        if wanted == "ether" and kind != "ether":
            raise self.fail(f"expected a MAC address, not {_show(token.text)}", token)
        if wanted == "host" and kind == "ether":
            kind = "ether"
        return kind, value

    def port_list(self, keyword: Token) -> list[tuple[int, int]]:
        """Ports and ranges after 'port': '80', '80 443', '80 or 443', '8000-8080'."""
        ranges = [self.port(keyword)]
        while True:
            token = self.peek()
            if token is None:
                break
            if _is_port(token.word):
                ranges.append(self.port(keyword))
                continue
            after = self.peek(1)
            if token.word in ORS and after is not None and _is_port(after.word):
                self.index += 1
                continue
            break
        return ranges

    def port(self, keyword: Token, introducer: str = "") -> tuple[int, int]:
        """One port or range: '80', '8000-8080', and in words 'range 5000 to 5010',
        '5000 through 5010', 'from 5000 to 5010', 'between 5000 and 5010'.

        ``introducer`` is 'between' when the caller has read it already.
        """
        token = self.next_meaningful()
        if token is not None and token.word == "range":
            self.take()
            token = self.next_meaningful()
        if (
            not introducer
            and token is not None
            and token.word in ("between", "from")
            and self._spelled_range_follows(token.word, 1)
        ):
            introducer = self.take().word
            token = self.next_meaningful()
        if token is None or not _is_port(token.word):
            raise self.fail(f"expected a port number or range after {_show(keyword.text)}", token)
        self.take()
        match = _PORT_RANGE.match(token.word)
        low, high = (int(match[1]), int(match[2])) if match else (int(token.word), int(token.word))
        end, shown = token, token.text
        joiners = ANDS if introducer == "between" else _RANGE_JOINERS
        joiner, last = self.peek(), self.peek(1)
        if (
            match is None
            and joiner is not None
            and last is not None
            and joiner.word in joiners
            and _NUMBER.match(last.word)
        ):
            self.index += 2
            high, end = int(last.word), last
            shown = f"{token.text} {joiner.text} {last.text}"
        if max(low, high) > 65535:
            raise self.fail(f"ports go up to 65535, not {max(low, high)}", end)
        if low > high:
            raise self.fail(f"the range {_show(shown)} runs backwards", token)
        return low, high

    def flag(self, token: Token) -> Term:
        word = token.word
        names = ("syn", "ack") if word in ("syn-ack", "synack") else (FLAGS[word],)
        exact = False
        following = self.peek()
        if following is not None and following.word == "only":
            self.take()
            exact = True
        flags = "|".join(f"tcp-{name}" for name in names)
        grouped = f"({flags})" if len(names) > 1 else flags
        label = "+".join(name.upper() for name in names)
        if exact:
            prim = Prim(
                f"tcp[tcpflags] == {grouped}", f"TCP with exactly {label} set", relation=True
            )
        elif len(names) > 1:
            prim = Prim(
                f"tcp[tcpflags] & {grouped} == {grouped}", f"TCP with {label} set", relation=True
            )
        else:
            prim = Prim(f"tcp[tcpflags] & {grouped} != 0", f"TCP with {label} set", relation=True)
        return NodeTerm(prim, tcp_only=True)

    def comparison(self, subject: Token | None, field_text: str, what: str, top: int) -> Prim:
        """'ttl below 10', 'length over 1000 bytes', 'larger than 1000 bytes', 'len > 1000'."""
        token = self.next_meaningful() if subject is not None else self.peek()
        operator = "=="
        size_word = False
        if token is not None and token.word in _COMPARATORS:
            self.take()
            operator = _COMPARATORS[token.word]
            size_word = token.word in _SIZE_WORDS
            following = self.peek()
            if following is not None and following.word in ("than", "to"):
                self.take()
        elif token is not None and token.word == "at":
            self.take()
            bound = self.peek()
            if bound is None or bound.word not in ("least", "most"):
                raise self.fail("expected 'at least' or 'at most'", bound)
            self.take()
            operator = ">=" if bound.word == "least" else "<="
        number = self.peek()
        if number is None or not _NUMBER.match(number.word):
            raise self.fail(f"expected a number for the {what}", number)
        self.take()
        value = int(number.word)
        if value > top:
            raise self.fail(f"the {what} is at most {top}, not {value}", number)
        unit = self.peek()
        has_unit = unit is not None and unit.word in _BYTES
        if has_unit:
            self.take()
        if subject is None and not (size_word or has_unit):
            raise self.fail(
                f"say what is compared with {value}: a length in bytes "
                f"('larger than {value} bytes') or a ttl ('ttl below {value}')",
                number,
            )
        symbol = {"<": "below", ">": "above", "<=": "at most", ">=": "at least"}.get(
            operator, "equal to" if operator == "==" else "not"
        )
        return Prim(f"{field_text} {operator} {value}", f"{what} {symbol} {value}", relation=True)

    def vlan(self, token: Token) -> Term:
        following = self.peek()
        if following is not None and following.word == "id":
            self.take()
            following = self.peek()
        if following is not None and _NUMBER.match(following.word):
            self.take()
            value = int(following.word)
            if value > 4095:
                raise self.fail(f"VLAN ids go up to 4095, not {value}", following)
            return NodeTerm(Prim(f"vlan {value}", f"802.1Q VLAN {value}"), vlan=True)
        return NodeTerm(Prim("vlan", "802.1Q VLAN-tagged frames"), vlan=True)


def _is_port(word: str) -> bool:
    return bool(_NUMBER.match(word) or _PORT_RANGE.match(word))


def _address_kind(text: str) -> str | None:
    """host, net, ether, 'bad-net' (host bits set) or None for anything else."""
    lowered = text.lower()
    if _MAC.match(lowered):
        return "ether"
    if not re.fullmatch(r"[0-9a-f:./]+", lowered) or len(lowered) > 50:
        return None
    if "/" in lowered:
        try:
            ipaddress.ip_network(lowered, strict=True)
        except ValueError:
            try:
                ipaddress.ip_network(lowered, strict=False)
            except ValueError:
                return None
            return "bad-net"
        return "net"
    try:
        ipaddress.ip_address(lowered)
    except ValueError:
        return None
    return "host"


def _network_problem(text: str) -> str:
    network = ipaddress.ip_network(text.lower(), strict=False)
    return f"{_show(text)} has bits set after the prefix: the network is {network}"


# -- assembling one part of the description ------------------------------------------------------


def assemble(terms: list[Term]) -> Node:
    """Apply the rules for words side by side (one 'and' group), then build its nodes."""
    directions = [
        t.direction for t in terms if isinstance(t, AddressTerm) and t.direction is not None
    ]
    service_direction = "dst" if "dst" in directions else "src" if directions else None
    transports = [t for t in terms if isinstance(t, TransportTerm)]
    if len({t.name for t in transports}) > 1:
        names = " and ".join(sorted({t.name for t in transports}))
        raise DescriptionError(
            f"a packet cannot be both {names} (position {transports[1].token.position})",
            transports[1].token.position,
        )
    transport = transports[0].name if transports else None
    services = [t for t in terms if isinstance(t, ServiceTerm)]
    ports = [t for t in terms if isinstance(t, PortTerm)]
    for service in services:
        wanted = service.service.transport
        if transport and wanted and wanted != transport:
            raise DescriptionError(
                f"{service.service.title} runs over {wanted}, not {transport} "
                f"(position {service.token.position})",
                service.token.position,
            )
    if services and ports:
        if len(services) > 1:
            raise DescriptionError(
                "give one service with a port, not several "
                f"(position {services[1].token.position})",
                services[1].token.position,
            )
        transport = transport or services[0].service.transport
        terms = [t for t in terms if not isinstance(t, ServiceTerm)]
        services = []
    used_transport = False
    nodes: list[Node] = []
    vlans: list[Node] = []
    for term in terms:
        if isinstance(term, TransportTerm):
            continue
        if isinstance(term, PortTerm):
            nodes.append(_port_node(term.ranges, term.direction, transport, None))
            used_transport = used_transport or transport is not None
        elif isinstance(term, ServiceTerm):
            direction = term.direction or service_direction
            proto = term.service.transport or transport
            used_transport = used_transport or (transport is not None)
            nodes.append(_port_node(term.service.ports, direction, proto, term.service.title))
        elif isinstance(term, AddressTerm):
            nodes.append(_address_node(term.addresses, term.direction))
        elif term.vlan:
            vlans.append(term.node)
        else:
            nodes.append(term.node)
            used_transport = used_transport or (term.tcp_only and transport == "tcp")
    flags = next((t for t in terms if isinstance(t, NodeTerm) and t.tcp_only), None)
    if flags is not None and transport not in (None, "tcp"):
        raise DescriptionError(f"TCP flags are only in tcp packets, not {transport}")
    if transport and not used_transport:
        nodes.insert(0, Prim(transport, TRANSPORTS[transport]))
    if not nodes and not vlans:
        raise DescriptionError("expected something to match")
    return _all(vlans + nodes)


def _port_node(
    ranges: list[tuple[int, int]] | tuple[tuple[int, int], ...],
    direction: str | None,
    transport: str | None,
    title: str | None,
) -> Node:
    prefix = " ".join(part for part in (transport, direction) if part)
    side = {"dst": "destination ", "src": "source "}.get(direction or "", "")
    items: list[Node] = []
    for low, high in ranges:
        if low == high:
            text, what = f"port {low}", f"{side}port {low}"
        else:
            text, what = f"portrange {low}-{high}", f"{side}ports {low} to {high}"
        proto = TRANSPORTS.get(transport or "", "TCP or UDP")
        meaning = f"{title}: {proto} {what}" if title else f"{proto} {what}"
        items.append(Prim(f"{prefix} {text}".strip(), meaning))
    return _any(items)


def _address_node(addresses: list[tuple[str, str]], direction: str | None) -> Node:
    side = {"dst": "destination ", "src": "source "}.get(direction or "", "")
    items: list[Node] = []
    for kind, value in addresses:
        if kind == "ether":
            text = f"ether {direction} {value}" if direction else f"ether host {value}"
            items.append(Prim(text, f"{side}MAC address {value}"))
        else:
            text = f"{direction} {kind} {value}" if direction else f"{kind} {value}"
            noun = "network" if kind == "net" else "host"
            items.append(Prim(text, f"{side}{noun} {value}"))
    return _any(items)


# -- the API ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuiltFilter:
    """A filter built from a description, compiled by libpcap, with what each part means."""

    description: str
    expression: str
    explanation: tuple[str, ...]
    compiled: bpf.CompiledFilter = field(repr=False, compare=False)

    def program(self) -> list[str]:
        """The BPF program, as ``tcpdump -d`` prints it."""
        return bpf.explain(self.compiled)


def build_filter(description: str) -> BuiltFilter:
    """Turn a short description into a libpcap-checked filter; DescriptionError if it cannot."""
    if not isinstance(description, str):
        raise DescriptionError("the description must be text")
    if len(description) > MAX_DESCRIPTION:
        raise DescriptionError(
            f"the description is {len(description):,} characters long "
            f"(at most {MAX_DESCRIPTION:,}): say it in fewer words"
        )
    if not description.strip():
        raise DescriptionError(
            "say what to capture, e.g. 'http to 10.0.0.5', 'tcp syn' or 'dns from 192.168.1.1'"
        )
    tokens = tokenize(description)
    if len(tokens) > MAX_TOKENS:
        raise DescriptionError(
            f"the description has {len(tokens)} words and symbols (at most {MAX_TOKENS})"
        )
    _check_vocabulary(tokens)
    node = _Parser(tokens, len(description)).parse()
    expression = render(node)
    try:
        compiled = bpf.compile_filter(expression, linktypes.ETHERNET)
    except FilterError as error:
        raise DescriptionError(
            f"the description gives {expression!r}, which libpcap refuses: {error.reason}"
        ) from None
    return BuiltFilter(description, expression, tuple(_meanings(node)), compiled)


_KNOWN = (
    frozenset(SERVICES)
    | frozenset(TRANSPORTS)
    | frozenset(PROTOCOLS)
    | frozenset(FLAGS)
    | frozenset(DIRECTIONS)
    | NEGATIONS
    | EXCLUSIONS
    | ANDS
    | ORS
    | FILLERS
    | frozenset(_COMPARATORS)
    | _LENGTH_SUBJECTS
    | _BYTES
    | _HOST_WORDS
    | _NET_WORDS
    | _PORT_WORDS
    | _MAC_WORDS
    | frozenset(
        {
            "(",
            ")",
            "ping",
            "echo",
            "syn-ack",
            "synack",
            "between",
            "range",
            "through",
            "thru",
            "-",
            "ttl",
            "hoplimit",
            "hop-limit",
            "vlan",
            "id",
            "than",
            "to",
            "at",
            "least",
            "most",
        }
    )
)


def _check_vocabulary(tokens: list[Token]) -> None:
    """Name every word the rules do not know at once, before parsing."""
    unknown = [
        token
        for token in tokens
        if token.word not in _KNOWN
        and not _is_port(token.word)
        and _address_kind(token.text) is None
    ]
    if not unknown:
        return
    first = unknown[0]
    if len(unknown) == 1:
        raise _Parser(tokens, 0).unknown(first)
    shown = ", ".join(f"{_show(t.text)} (position {t.position})" for t in unknown[:5])
    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    raise DescriptionError(f"don't know {shown}{more}", first.position)
