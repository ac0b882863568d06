"""A small Wireshark-style display filter over packets and browser requests.

``compile_display_filter("tcp.port in {80 443} and not ip.addr == 10.0.0.0/8")``
parses the text once into a tree and compiles it into two plain functions: one
for packets (fields read from the summary and from the raw bytes with cheap
struct reads) and one for request records (fields read from a mapping the UI
supplies). A display filter only narrows what the panes show; the capture
never sees it.

The language (the README documents it):

- ``field op value`` with ``== != < <= > >=`` (also ``eq ne lt le gt ge``),
  ``contains "text"``, ``matches "regex"`` (``~``; case-insensitive,
  Wireshark's default), ``in {80 443 8000..8080}`` and ``not in {...}``.
- A field alone tests that the packet has it (``tcp.flags.syn`` means "is
  TCP"), protocol names alone (``dns``, ``tcp``, ``http``) that the packet is
  one; ``and``/``&&``, ``or``/``||``, ``not``/``!`` and parentheses, with
  ``not`` binding tightest and ``and`` tighter than ``or``.
- Fields can have several values (``ip.addr`` is the source and the
  destination): ``==`` and the others match when any value does, ``!=`` when
  none is equal. A field the packet lacks makes every comparison false,
  ``!=`` included; ``not ip.addr == 10.0.0.1`` also matches non-IP packets.
- ``ip.addr == 10.0.0.0/8`` tests a network. Strings are in double quotes
  with C escapes; a single word (``method == GET``) needs none.

Errors raise :class:`DisplayFilterError` (a BadInputError) naming the column.
Matching never raises: anything unexpected counts as no match.
"""

from __future__ import annotations

import difflib
import importlib
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import BadInputError
from engine.events import PacketSummary
from engine.packet.model import SERVICE_TPIDS, Packet

MAX_FILTER = 4096
"""Characters; a display filter is a line, not a document."""
MAX_DEPTH = 64
MAX_SET = 1024
MAX_PATTERN = 256
MAX_SUBJECT = 4096
"""``matches`` looks at this many characters (bytes) of a value at most."""
MAX_AMBIGUITY = 4 * MAX_SUBJECT
"""A ``matches`` pattern may backtrack over one open-ended repetition, not two (see _ambiguity)."""
MAX_HEADERS = 8192
"""Bytes of an HTTP header block read for http.host and friends."""

evaluation_errors: int = 0
"""How often matching hit an unexpected error and answered "no match" (a bug counter)."""


class DisplayFilterError(BadInputError):
    """A display filter that cannot be compiled; the message starts with the column."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.reason = message


# -- tokens ------------------------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z0-9_.:/\-]+")
_SYMBOLS = ("==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "~", "(", ")", "{", "}", ",")
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    """word, string, symbol or end."""
    text: str
    column: int


def _show(text: str) -> str:
    """Quote user text for a message: short, one line."""
    if len(text) > 40:
        text = text[:37] + "..."
    return "'" + "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text) + "'"


def tokenize(text: str) -> list[Token]:
    """Words (field names, numbers, addresses), strings, and operator symbols."""
    tokens: list[Token] = []
    position = 0
    length = len(text)
    while position < length:
        char = text[position]
        if char.isspace():
            position += 1
            continue
        column = position + 1
        if char == '"':
            value, position = _string(text, position)
            tokens.append(Token("string", value, column))
            continue
        match = _WORD.match(text, position)
        if match:
            tokens.append(Token("word", match.group(), column))
            position = match.end()
            continue
        symbol = next((s for s in _SYMBOLS if text.startswith(s, position)), None)
        if symbol is None:
            hint = " (use == to compare)" if char == "=" else ""
            raise DisplayFilterError(column, f"unexpected character {_show(char)}{hint}")
        tokens.append(Token("symbol", symbol, column))
        position += len(symbol)
    tokens.append(Token("end", "", length + 1))
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    """A double-quoted string with C escapes; returns its value and the position after it."""
    out: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == '"':
            return "".join(out), position + 1
        if char != "\\":
            out.append(char)
            position += 1
            continue
        escape = text[position + 1 : position + 2]
        if escape in _ESCAPES:
            out.append(_ESCAPES[escape])
            position += 2
        elif escape in ("x", "u", "U"):
            digits = {"x": 2, "u": 4, "U": 8}[escape]
            code = text[position + 2 : position + 2 + digits]
            if len(code) != digits or not all(c in "0123456789abcdefABCDEF" for c in code):
                raise DisplayFilterError(position + 1, f"\\{escape} needs {digits} hex digits")
            value = int(code, 16)
            if value > 0x10FFFF:
                raise DisplayFilterError(position + 1, f"\\{escape}{code} is not a character")
            out.append(chr(value))
            position += 2 + digits
        elif escape and escape in "01234567":
            octal = re.match(r"[0-7]{1,3}", text[position + 1 : position + 4])
            digits_text = octal.group() if octal else escape
            out.append(chr(int(digits_text, 8)))
            position += 1 + len(digits_text)
        else:
            raise DisplayFilterError(
                position + 1, f"unknown escape {_show(chr(92) + escape)} in a string"
            )
    raise DisplayFilterError(start + 1, "this string has no closing quote")


# -- fields ------------------------------------------------------------------------------------

INT, STR, IPV4, IPV6, MAC, BYTES, PROTOCOL = (
    "int",
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
    kind: str
    packet: bool
    """Packets have it (read by a getter in :data:`_PACKET_GETTERS`)."""
    request_key: str | None = None
    """The key of a request record's mapping that holds it, if requests have it."""
    maximum: int = 0xFFFFFFFF
    description: str = ""


_TUNNEL_LAYERS = {
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


def _fields() -> dict[str, FieldSpec]:
    """Every field the filter knows, packets' and requests'."""
    specs: list[FieldSpec] = []

    def add(name: str, kind: str, description: str, maximum: int = 0xFFFFFFFF) -> None:
        specs.append(FieldSpec(name, kind, True, None, maximum, description))

    for name, description in (
        ("eth", "Ethernet frames"),
        ("vlan", "802.1Q-tagged frames"),
        ("ieee8021ad", "802.1ad (QinQ service) tagged frames"),
        ("arp", "ARP"),
        ("ip", "IPv4"),
        ("ipv6", "IPv6"),
        ("tcp", "TCP"),
        ("udp", "UDP"),
        ("icmp", "ICMP"),
        ("icmpv6", "ICMPv6"),
        ("dns", "DNS"),
        ("mdns", "multicast DNS"),
        ("llmnr", "LLMNR"),
        ("tls", "TLS"),
        ("ssl", "TLS (old name)"),
        *_TUNNEL_LAYERS.items(),
    ):
        add(name, PROTOCOL, description)
    specs.append(FieldSpec("http", PROTOCOL, True, "*", description="HTTP (every browser request)"))
    for name, kind, description, maximum in (
        ("frame", BYTES, "every packet; its bytes for contains/matches", 0),
        ("frame.len", INT, "length on the wire", 0xFFFFFFFF),
        ("frame.cap_len", INT, "bytes captured", 0xFFFFFFFF),
        ("frame.number", INT, "the packet's number", 0xFFFFFFFFFFFFFFFF),
        ("eth.src", MAC, "source MAC", 0),
        ("eth.dst", MAC, "destination MAC", 0),
        ("eth.addr", MAC, "either MAC", 0),
        ("eth.type", INT, "ethertype", 0xFFFF),
        ("vlan.id", INT, "VLAN id", 4095),
        ("ieee8021ad.id", INT, "802.1ad service VLAN id", 4095),
        ("arp.opcode", INT, "1 request, 2 reply", 0xFFFF),
        ("ip.src", IPV4, "IPv4 source", 0),
        ("ip.dst", IPV4, "IPv4 destination", 0),
        ("ip.addr", IPV4, "either IPv4 address", 0),
        ("ip.ttl", INT, "time to live", 255),
        ("ip.proto", INT, "protocol number", 255),
        ("ip.len", INT, "total length", 0xFFFF),
        ("ip.id", INT, "identification", 0xFFFF),
        ("ip.hdr_len", INT, "header length in bytes", 60),
        ("ip.dsfield", INT, "differentiated services byte", 255),
        ("ip.flags.df", INT, "don't fragment (0 or 1)", 1),
        ("ip.flags.mf", INT, "more fragments (0 or 1)", 1),
        ("ip.frag_offset", INT, "fragment offset in bytes", 0xFFFF),
        ("ip.checksum", INT, "header checksum", 0xFFFF),
        ("ipv6.src", IPV6, "IPv6 source", 0),
        ("ipv6.dst", IPV6, "IPv6 destination", 0),
        ("ipv6.addr", IPV6, "either IPv6 address", 0),
        ("ipv6.hlim", INT, "hop limit", 255),
        ("ipv6.nxt", INT, "next header", 255),
        ("ipv6.plen", INT, "payload length", 0xFFFF),
        ("tcp.srcport", INT, "TCP source port", 0xFFFF),
        ("tcp.dstport", INT, "TCP destination port", 0xFFFF),
        ("tcp.port", INT, "either TCP port", 0xFFFF),
        ("tcp.flags", INT, "the flags byte", 0xFF),
        ("tcp.flags.fin", INT, "FIN (0 or 1)", 1),
        ("tcp.flags.syn", INT, "SYN (0 or 1)", 1),
        ("tcp.flags.reset", INT, "RST (0 or 1)", 1),
        ("tcp.flags.push", INT, "PSH (0 or 1)", 1),
        ("tcp.flags.ack", INT, "ACK (0 or 1)", 1),
        ("tcp.flags.urg", INT, "URG (0 or 1)", 1),
        ("tcp.window_size_value", INT, "window (unscaled)", 0xFFFF),
        ("tcp.len", INT, "TCP payload length", 0xFFFF),
        ("tcp.hdr_len", INT, "TCP header length in bytes", 60),
        ("tcp.seq_raw", INT, "sequence number as sent", 0xFFFFFFFF),
        ("tcp.ack_raw", INT, "acknowledgement number as sent", 0xFFFFFFFF),
        ("tcp.checksum", INT, "TCP checksum", 0xFFFF),
        ("tcp.urgent_pointer", INT, "urgent pointer", 0xFFFF),
        ("tcp.payload", BYTES, "TCP payload bytes", 0),
        ("udp.srcport", INT, "UDP source port", 0xFFFF),
        ("udp.dstport", INT, "UDP destination port", 0xFFFF),
        ("udp.port", INT, "either UDP port", 0xFFFF),
        ("udp.length", INT, "UDP length", 0xFFFF),
        ("udp.checksum", INT, "UDP checksum", 0xFFFF),
        ("udp.payload", BYTES, "UDP payload bytes", 0),
        ("icmp.type", INT, "ICMP type", 255),
        ("icmp.code", INT, "ICMP code", 255),
        ("icmpv6.type", INT, "ICMPv6 type", 255),
        ("icmpv6.code", INT, "ICMPv6 code", 255),
        ("dns.id", INT, "DNS transaction id", 0xFFFF),
        ("dns.flags.response", INT, "0 query, 1 response", 1),
        ("dns.qry.name", STR, "the first question's name", 0),
        ("dns.qry.type", INT, "the first question's type", 0xFFFF),
        ("http.request.uri", STR, "request target", 0),
        ("http.request.version", STR, "HTTP/1.1 ...", 0),
        ("http.user_agent", STR, "User-Agent header", 0),
        ("tls.handshake.extensions_server_name", STR, "TLS SNI", 0),
    ):
        add(name, kind, description, maximum)
    for name, kind, key, description, maximum in (
        ("http.request", PROTOCOL, "*", "HTTP requests (every browser request)", 0),
        ("http.response", PROTOCOL, "status", "HTTP responses (requests with a status)", 0),
        ("http.request.method", STR, "method", "request method", 0),
        ("http.response.code", INT, "status", "response status", 999),
        ("http.host", STR, "host", "Host header / host", 0),
        ("http.content_type", STR, "mime", "Content-Type / MIME type", 0),
    ):
        specs.append(FieldSpec(name, kind, True, key, maximum, description))
    for name, kind, description, maximum in (
        ("url", STR, "the request URL", 0),
        ("method", STR, "GET, POST ...", 0),
        ("status", INT, "response status", 999),
        ("mime", STR, "response MIME type", 0),
        ("type", STR, "resource type (Document, XHR, Script ...)", 0),
        ("host", STR, "the URL's host", 0),
        ("size", INT, "response size in bytes", 0xFFFFFFFFFFFFFFFF),
    ):
        specs.append(FieldSpec(name, kind, False, name, maximum, description))
    specs.append(FieldSpec("http.request.full_uri", STR, False, "url", 0, "the request URL"))
    return {spec.name: spec for spec in specs}


FIELDS: dict[str, FieldSpec] = _fields()
"""Every field name a display filter may use."""

_WORD_OPERATORS = {
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "contains": "contains",
    "matches": "matches",
}
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_KEYWORDS = frozenset({"and", "or", "not", "in", *_WORD_OPERATORS})


# -- the tree ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Test:
    """``field op literal`` (op None: the field exists / the protocol is there)."""

    field: FieldSpec
    op: str | None
    literal: Any = None
    column: int = 0


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str
    """and, or"""
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Negation:
    item: Expr


Expr = Test | BoolOp | Negation


# -- literals ------------------------------------------------------------------------------------


def _int_literal(spec: FieldSpec, token: Token) -> int:
    """A number for an integer field: decimal, 0x hex, or true/false for 0/1 fields."""
    text = token.text.lower()
    if token.kind == "word" and spec.maximum == 1 and text in ("true", "false"):
        return int(text == "true")
    if token.kind != "word" or not re.fullmatch(r"[0-9]{1,20}|0x[0-9a-f]{1,16}", text):
        raise DisplayFilterError(
            token.column, f"{spec.name} is a number; {_show(token.text)} is not one"
        )
    value = int(text, 16) if text.startswith("0x") else int(text)
    if value > spec.maximum:
        raise DisplayFilterError(
            token.column, f"{spec.name} is at most {spec.maximum}, not {value}"
        )
    return value


def _address_literal(spec: FieldSpec, token: Token) -> tuple[int, int]:
    """An address or network as (network, mask) over the address's integer value."""
    version = 4 if spec.kind == IPV4 else 6
    text = token.text
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        network = None
    if network is None or token.kind != "word":
        family = "an IPv4" if version == 4 else "an IPv6"
        raise DisplayFilterError(
            token.column,
            f"{spec.name} needs {family} address or network, not {_show(text)}",
        )
    if network.version != version:
        other = "ipv6" if version == 4 else "ip"
        raise DisplayFilterError(
            token.column,
            f"{spec.name} holds IPv{version} addresses; "
            f"use {other}{spec.name[spec.name.index('.') :]} for {_show(text)}",
        )
    return int(network.network_address), int(network.netmask)


def _mac_literal(spec: FieldSpec, token: Token) -> bytes:
    text = token.text.lower().replace("-", ":")
    if token.kind != "word" or not re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", text):
        raise DisplayFilterError(
            token.column, f"{spec.name} needs a MAC address like 02:00:00:00:00:01"
        )
    return bytes.fromhex(text.replace(":", ""))


def _string_literal(spec: FieldSpec, token: Token) -> str:
    if token.kind == "string":
        return token.text
    if token.kind == "word":
        if token.text in FIELDS and token.text not in ("type", "host", "url", "method"):
            raise DisplayFilterError(
                token.column,
                "comparing two fields is not supported; compare with a value in quotes",
            )
        return token.text
    raise DisplayFilterError(token.column, f"{spec.name} needs a string in double quotes")


def _literal(spec: FieldSpec, token: Token) -> Any:
    """The token as a value of the field's type, checked now so matching need not."""
    if token.kind == "word" and spec.kind != STR and token.text in FIELDS:
        raise DisplayFilterError(
            token.column, "comparing two fields is not supported; compare with a value"
        )
    if spec.kind == INT:
        return _int_literal(spec, token)
    if spec.kind in (IPV4, IPV6):
        return _address_literal(spec, token)
    if spec.kind == MAC:
        return _mac_literal(spec, token)
    return _string_literal(spec, token)


_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})


def _regex(spec: FieldSpec, token: Token) -> re.Pattern[str] | re.Pattern[bytes]:
    """Compile a ``matches`` pattern once; refuse the ones that can take exponential time."""
    if token.kind not in ("string", "word"):
        raise DisplayFilterError(token.column, "matches needs a regular expression in quotes")
    pattern = token.text
    if len(pattern) > MAX_PATTERN:
        raise DisplayFilterError(
            token.column, f"the regular expression is longer than {MAX_PATTERN} characters"
        )
    try:
        parsed = importlib.import_module("re._parser").parse(pattern)
        if _nested_repeat(parsed, False):
            raise DisplayFilterError(
                token.column,
                "the regular expression repeats a repetition (like (a+)+), "
                "which can take forever: simplify it",
            )
        if _ambiguity(parsed) > MAX_AMBIGUITY:
            raise DisplayFilterError(
                token.column,
                "the regular expression can match in too many ways (like .*a.*b, a*a*b or "
                "(a|aa)*), which can take minutes per packet: keep one open-ended repetition, "
                "bound the others ({1,10}), or use and with contains",
            )
        if spec.kind == BYTES:
            return re.compile(pattern.encode("utf-8", "surrogatepass"), re.IGNORECASE | re.DOTALL)
        return re.compile(pattern, re.IGNORECASE)
    except DisplayFilterError:
        raise
    except (re.error, RecursionError, OverflowError, ValueError, TypeError, IndexError) as error:
        reason = getattr(error, "msg", None) or type(error).__name__
        raise DisplayFilterError(token.column, f"invalid regular expression: {reason}") from None


def _nested_repeat(items: Iterable[Any], inside: bool) -> bool:
    """Whether an unbounded repetition contains another repetition (catastrophic backtracking)."""
    for op, value in items:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = value
            unbounded = high > 1000 or high - low > 100
            if inside and (unbounded or _has_repeat(sub)):
                return True
            if _nested_repeat(sub, inside or unbounded):
                return True
        elif name == "SUBPATTERN":
            if _nested_repeat(value[-1], inside):
                return True
        elif name == "BRANCH":
            if any(_nested_repeat(branch, inside) for branch in value[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _nested_repeat(value[1], inside):
                return True
        elif name == "ATOMIC_GROUP" and _nested_repeat(value, inside):
            return True
    return False


def _has_repeat(items: Iterable[Any]) -> bool:
    return _nested_repeat(items, True)


def _ambiguity(items: Iterable[Any]) -> int:
    """How many ways the backtracking matcher may try to match at one position, capped.

    Python's ``re`` cannot be interrupted, so the cost is bounded before matching:
    each repetition multiplies by the lengths it can take (an open-ended one by
    MAX_SUBJECT), an alternation adds its branches, a repeated ambiguous item is
    raised to the power of its count. Sequential open-ended repetitions
    (``.*a.*b``) multiply, which is the polynomial blow-up a single one avoids.
    """
    cost = 1
    for op, value in items:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = value
            high = min(high, MAX_SUBJECT)
            step = max(1, high - min(low, high) + 1)
            inner = _ambiguity(sub)
            for _ in range(high if inner > 1 else 0):
                step *= inner
                if step > MAX_AMBIGUITY:
                    break
            cost *= step
        elif name == "BRANCH":
            cost *= sum(_ambiguity(branch) for branch in value[1])
        elif name == "SUBPATTERN":
            cost *= _ambiguity(value[-1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            cost *= _ambiguity(value[1])
        elif name == "ATOMIC_GROUP":
            cost *= _ambiguity(value)
        elif name == "GROUPREF_EXISTS":
            cost *= _ambiguity(value[1]) + (_ambiguity(value[2]) if value[2] else 1)
        if cost > MAX_AMBIGUITY:
            return cost
    return cost


# -- the parser --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Parser:
    tokens: list[Token]
    index: int = 0
    depth: int = 0
    used: set[str] = field(default_factory=set)

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def is_word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() in words

    def is_symbol(self, *symbols: str) -> bool:
        token = self.peek()
        return token.kind == "symbol" and token.text in symbols

    def parse(self) -> Expr:
        expression = self.or_expression()
        token = self.peek()
        if token.kind != "end":
            if token.text == ")":
                raise DisplayFilterError(token.column, "')' without a matching '('")
            raise DisplayFilterError(
                token.column, f"expected 'and', 'or' or the end, not {_show(token.text)}"
            )
        return expression

    def _enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise DisplayFilterError(token.column, f"nested more than {MAX_DEPTH} levels deep")

    def or_expression(self) -> Expr:
        items = [self.and_expression()]
        while self.is_word("or") or self.is_symbol("||"):
            self.take()
            items.append(self.and_expression())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_expression(self) -> Expr:
        items = [self.unary()]
        while self.is_word("and") or self.is_symbol("&&"):
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def unary(self) -> Expr:
        if self.is_word("not") or self.is_symbol("!"):
            token = self.take()
            self._enter(token)
            item = self.unary()
            self.depth -= 1
            return Negation(item)
        return self.primary()

    def primary(self) -> Expr:
        token = self.peek()
        if token.kind == "symbol" and token.text == "(":
            self.take()
            self._enter(token)
            expression = self.or_expression()
            closing = self.take()
            if not (closing.kind == "symbol" and closing.text == ")"):
                raise DisplayFilterError(token.column, "this '(' is never closed")
            self.depth -= 1
            return expression
        if token.kind == "end":
            raise DisplayFilterError(token.column, "expected a field or protocol name")
        if token.kind != "word" or token.text.lower() in _KEYWORDS:
            raise DisplayFilterError(
                token.column, f"expected a field or protocol name, not {_show(token.text)}"
            )
        return self.test()

    def field_spec(self, token: Token) -> FieldSpec:
        spec = FIELDS.get(token.text) or FIELDS.get(token.text.lower())
        if spec is None:
            close = difflib.get_close_matches(token.text.lower(), FIELDS, n=1, cutoff=0.75)
            hint = f" (did you mean {close[0]}?)" if close else ""
            if re.fullmatch(r"[\d.:/]+", token.text):
                hint = " (a value needs a field in front, e.g. ip.addr == ...)"
            raise DisplayFilterError(token.column, f"unknown field {_show(token.text)}{hint}")
        self.used.add(spec.name)
        return spec

    def test(self) -> Expr:
        name = self.take()
        spec = self.field_spec(name)
        operator = self.peek()
        op = None
        if operator.kind == "symbol" and operator.text in _COMPARISONS | {"~"}:
            op = "matches" if operator.text == "~" else operator.text
        elif operator.kind == "word" and operator.text.lower() in _WORD_OPERATORS:
            op = _WORD_OPERATORS[operator.text.lower()]
        elif operator.kind == "word" and operator.text.lower() == "in":
            op = "in"
        elif self.is_word("not") and self._next_is_in():
            self.take()
            op = "not in"
        if op is None:
            return Test(spec, None, None, name.column)
        self.take()
        if spec.kind == PROTOCOL:
            raise DisplayFilterError(
                operator.column, f"{spec.name} is a protocol: use it alone, without {op!r}"
            )
        if op in ("in", "not in"):
            return Test(spec, op, self.value_set(spec), name.column)
        value = self.take()
        if value.kind in {"end", "symbol"}:
            raise DisplayFilterError(value.column, f"expected a value after {op!r}")
        return Test(spec, op, self.operand(spec, op, value), name.column)

    def _next_is_in(self) -> bool:
        following = self.tokens[self.index + 1]
        return following.kind == "word" and following.text.lower() == "in"

    def operand(self, spec: FieldSpec, op: str, value: Token) -> Any:
        """Check the operator suits the field's type, and convert the value once."""
        if op == "matches":
            if spec.kind not in (STR, BYTES):
                raise DisplayFilterError(
                    value.column, f"{spec.name} is not text: matches needs text"
                )
            return _regex(spec, value)
        if op == "contains":
            if spec.kind == STR:
                return _string_literal(spec, value)
            if spec.kind == BYTES:
                if value.kind not in ("string", "word"):
                    raise DisplayFilterError(value.column, "contains needs a string in quotes")
                return value.text.encode("utf-8", "surrogatepass")
            raise DisplayFilterError(value.column, f"{spec.name} is not text: contains needs text")
        if spec.kind == BYTES:
            raise DisplayFilterError(
                value.column, f"{spec.name} can only be searched with contains or matches"
            )
        if op not in ("==", "!=") and spec.kind != INT:
            raise DisplayFilterError(
                value.column, f"{spec.name} can be compared with == or != only, not {op}"
            )
        return _literal(spec, value)

    def value_set(self, spec: FieldSpec) -> tuple[Any, ...]:
        """``{80 443 8000..8080}`` (commas allowed) as literals and (low, high) ranges."""
        opening = self.take()
        if not (opening.kind == "symbol" and opening.text == "{"):
            raise DisplayFilterError(opening.column, "expected '{' to start a set of values")
        if spec.kind == BYTES:
            raise DisplayFilterError(opening.column, f"{spec.name} cannot be tested with in")
        values: list[Any] = []
        while True:
            token = self.take()
            if token.kind == "symbol" and token.text == "}":
                break
            if token.kind == "symbol" and token.text == ",":
                continue
            if token.kind in ("end", "symbol"):
                raise DisplayFilterError(opening.column, "this '{' is never closed")
            if len(values) >= MAX_SET:
                raise DisplayFilterError(token.column, f"a set holds at most {MAX_SET} values")
            values.append(self.set_member(spec, token))
        if not values:
            raise DisplayFilterError(opening.column, "the set is empty")
        return tuple(values)

    def set_member(self, spec: FieldSpec, token: Token) -> Any:
        if token.kind == "word" and ".." in token.text and spec.kind == INT:
            low_text, _, high_text = token.text.partition("..")
            low = _int_literal(spec, Token("word", low_text, token.column))
            high = _int_literal(spec, Token("word", high_text, token.column))
            if low > high:
                raise DisplayFilterError(
                    token.column, f"the range {_show(token.text)} runs backwards"
                )
            return (low, high)
        value = _literal(spec, token)
        return (value, value) if spec.kind == INT else value


# -- packets: fields read from the packet model ------------------------------------------------

_DNS_PORTS = frozenset({53, 5353, 5355})
_DIGITS = re.compile(r"[0-9]{1,19}")
"""ASCII digits only: str.isdigit() also takes '³', which int() refuses."""


class _PacketView:
    """One packet as the filter reads it: summary fields at once, the model on first use."""

    __slots__ = ("_packet", "summary")

    def __init__(self, summary: PacketSummary) -> None:
        self.summary = summary
        self._packet: Packet | None = None

    @property
    def packet(self) -> Packet:
        if self._packet is None:
            self._packet = Packet(self.summary.linktype, self.summary.data)
        return self._packet


def _present(flag: bool) -> tuple[bool, ...]:
    return (True,) if flag else ()


def _one(value: Any) -> tuple[Any, ...]:
    return () if value is None else (value,)


def _tcp_flag(bit: int) -> Callable[[_PacketView], tuple[Any, ...]]:
    def get(view: _PacketView) -> tuple[Any, ...]:
        packet = view.packet
        return ((packet.layers.flags >> bit) & 1,) if packet.tcp_header() >= 0 else ()

    return get


def _ports(protocol: int, which: str) -> Callable[[_PacketView], tuple[Any, ...]]:
    def get(view: _PacketView) -> tuple[Any, ...]:
        found = view.packet.all_ports(protocol)
        if which == "src":
            return tuple(ports[0] for ports in found)
        if which == "dst":
            return tuple(ports[1] for ports in found)
        return tuple(port for ports in found for port in ports)

    return get


def _addresses(family: int, which: str) -> Callable[[_PacketView], tuple[Any, ...]]:
    return lambda view: view.packet.addresses(family, which)


def _macs(which: str) -> Callable[[_PacketView], tuple[Any, ...]]:
    def get(view: _PacketView) -> tuple[Any, ...]:
        eth = view.packet.ethernet()
        if eth is None:
            return ()
        return (eth[0],) if which == "src" else (eth[1],) if which == "dst" else eth

    return get


def _transport_is(protocol: int) -> Callable[[_PacketView], tuple[Any, ...]]:
    return lambda view: _present(view.packet.carries(protocol))


def _layer(name: str) -> Callable[[_PacketView], tuple[Any, ...]]:
    return lambda view: _present(view.packet.has(name))


def _on_ports(*ports: int) -> Callable[[_PacketView], tuple[Any, ...]]:
    """A protocol tshark picks by port: a payload to or from one of them."""
    wanted = frozenset(ports)
    return lambda view: _present(view.packet.on_port(wanted))


def _tls(view: _PacketView) -> tuple[Any, ...]:
    return _present(view.packet.is_tls())


def _dns_part(index: int) -> Callable[[_PacketView], tuple[Any, ...]]:
    def get(view: _PacketView) -> tuple[Any, ...]:
        packet = view.packet
        if not packet.on_port(_DNS_PORTS):
            return ()
        dns = packet.dns_question()
        if dns is None or (index == 3 and dns[3] < 0) or (index == 2 and not dns[2]):
            return ()
        return (dns[index],)

    return get


def _http_part(index: int, status: bool) -> Callable[[_PacketView], tuple[Any, ...]]:
    def get(view: _PacketView) -> tuple[Any, ...]:
        line = view.packet.http_start_line()
        if line is None or (line[0] == "") != status:
            return ()
        value = line[index]
        if status:
            return (int(value),) if _DIGITS.fullmatch(value) else ()
        return (value,)

    return get


def _http_kind(request: bool) -> Callable[[_PacketView], tuple[Any, ...]]:
    def get(view: _PacketView) -> tuple[Any, ...]:
        line = view.packet.http_start_line()
        return _present(line is not None and bool(line[0]) == request)

    return get


def _http_header(name: str) -> Callable[[_PacketView], tuple[Any, ...]]:
    return lambda view: _one(view.packet.http_headers().get(name))


def _http(view: _PacketView) -> tuple[Any, ...]:
    return _present(view.packet.http_start_line() is not None)


def _sni(view: _PacketView) -> tuple[Any, ...]:
    return _one(view.packet.tls_server_name())


def _value(read: Callable[[Packet], Any]) -> Callable[[_PacketView], tuple[Any, ...]]:
    return lambda view: _one(read(view.packet))


def _icmp_part(protocol: int, index: int) -> Callable[[_PacketView], tuple[Any, ...]]:
    def get(view: _PacketView) -> tuple[Any, ...]:
        packet = view.packet
        icmp = packet.icmp()
        return (icmp[index],) if icmp is not None and packet.transport() == protocol else ()

    return get


def _payload(protocol: int) -> Callable[[_PacketView], tuple[Any, ...]]:
    def get(view: _PacketView) -> tuple[Any, ...]:
        packet = view.packet
        payload = packet.payload()
        return (payload,) if payload and packet.transport() == protocol else ()

    return get


_PACKET_GETTERS: dict[str, Callable[[_PacketView], tuple[Any, ...]]] = {
    "frame": lambda view: (view.summary.data,),
    "frame.len": lambda view: (view.summary.length,),
    "frame.cap_len": lambda view: (len(view.summary.data),),
    "frame.number": lambda view: (view.summary.index,),
    "eth": lambda view: _present(view.packet.ethernet() is not None),
    "eth.src": _macs("src"),
    "eth.dst": _macs("dst"),
    "eth.addr": _macs("addr"),
    "eth.type": _value(lambda packet: packet.ether_type()),
    "vlan": lambda view: _present(bool(view.packet.vlan_ids())),
    "ieee8021ad": lambda view: _present(bool(view.packet.vlan_ids(SERVICE_TPIDS))),
    "ieee8021ad.id": lambda view: view.packet.vlan_ids(SERVICE_TPIDS),
    "vlan.id": lambda view: view.packet.vlan_ids(),
    "arp": _layer("arp"),
    "arp.opcode": _value(lambda packet: packet.arp_opcode()),
    "ip": _layer("ip"),
    "ip.src": _addresses(4, "src"),
    "ip.dst": _addresses(4, "dst"),
    "ip.addr": _addresses(4, "addr"),
    "ip.ttl": lambda view: view.packet.ipv4_bytes(8),
    "ip.proto": lambda view: view.packet.ipv4_bytes(9),
    "ip.len": lambda view: view.packet.ipv4_words(2),
    "ip.id": lambda view: view.packet.ipv4_words(4),
    "ip.hdr_len": lambda view: tuple((b & 15) * 4 for b in view.packet.ipv4_bytes(0)),
    "ip.dsfield": lambda view: view.packet.ipv4_bytes(1),
    "ip.flags.df": lambda view: tuple(w >> 14 & 1 for w in view.packet.ipv4_words(6)),
    "ip.flags.mf": lambda view: tuple(w >> 13 & 1 for w in view.packet.ipv4_words(6)),
    "ip.frag_offset": lambda view: tuple((w & 0x1FFF) * 8 for w in view.packet.ipv4_words(6)),
    "ip.checksum": lambda view: view.packet.ipv4_words(10),
    "ipv6": _layer("ipv6"),
    "ipv6.src": _addresses(6, "src"),
    "ipv6.dst": _addresses(6, "dst"),
    "ipv6.addr": _addresses(6, "addr"),
    "ipv6.hlim": lambda view: view.packet.ipv6_fields(7),
    "ipv6.nxt": lambda view: view.packet.ipv6_fields(6),
    "ipv6.plen": lambda view: view.packet.ipv6_fields(4),
    "tcp": _transport_is(6),
    "tcp.srcport": _ports(6, "src"),
    "tcp.dstport": _ports(6, "dst"),
    "tcp.port": _ports(6, "both"),
    "tcp.flags": _value(lambda packet: packet.layers.flags if packet.tcp_header() >= 0 else None),
    "tcp.flags.fin": _tcp_flag(0),
    "tcp.flags.syn": _tcp_flag(1),
    "tcp.flags.reset": _tcp_flag(2),
    "tcp.flags.push": _tcp_flag(3),
    "tcp.flags.ack": _tcp_flag(4),
    "tcp.flags.urg": _tcp_flag(5),
    "tcp.window_size_value": _value(lambda packet: packet.tcp_word(14)),
    "tcp.len": _value(lambda packet: packet.layers.seglen if packet.tcp_header() >= 0 else None),
    "tcp.payload": _payload(6),
    "tcp.hdr_len": _value(lambda p: p.layers.start - p.layers.l4 if p.tcp_header() >= 0 else None),
    "tcp.seq_raw": _value(lambda packet: packet.layers.seq if packet.tcp_header() >= 0 else None),
    "tcp.ack_raw": _value(lambda packet: packet.layers.ack if packet.tcp_header() >= 0 else None),
    "tcp.checksum": _value(lambda packet: packet.tcp_word(16)),
    "tcp.urgent_pointer": _value(lambda packet: packet.tcp_word(18)),
    "udp": _transport_is(17),
    "udp.srcport": _ports(17, "src"),
    "udp.dstport": _ports(17, "dst"),
    "udp.port": _ports(17, "both"),
    "udp.length": _value(lambda packet: packet.udp_length()),
    "udp.payload": _payload(17),
    "udp.checksum": _value(lambda packet: packet.udp_word(6)),
    "icmp": _transport_is(1),
    "icmp.type": _icmp_part(1, 0),
    "icmp.code": _icmp_part(1, 1),
    "icmpv6": _transport_is(58),
    "icmpv6.type": _icmp_part(58, 0),
    "icmpv6.code": _icmp_part(58, 1),
    "dns": _on_ports(53),
    "mdns": _on_ports(5353),
    "llmnr": _on_ports(5355),
    "dns.id": _dns_part(0),
    "dns.flags.response": _dns_part(1),
    "dns.qry.name": _dns_part(2),
    "dns.qry.type": _dns_part(3),
    "http": _http,
    "http.request": _http_kind(request=True),
    "http.response": _http_kind(request=False),
    "http.request.method": _http_part(0, False),
    "http.request.uri": _http_part(1, False),
    "http.request.version": _http_part(2, False),
    "http.response.code": _http_part(1, True),
    "http.host": _http_header("host"),
    "http.user_agent": _http_header("user-agent"),
    "http.content_type": _http_header("content-type"),
    "tls": _tls,
    "ssl": _tls,
    "tls.handshake.extensions_server_name": _sni,
    **{name: _layer(name) for name in _TUNNEL_LAYERS},
}


# -- requests: fields from a mapping ----------------------------------------------------------


def _request_getter(spec: FieldSpec) -> Callable[[Mapping[str, object]], tuple[Any, ...]]:
    """Read one field of a request record, converted to the field's type."""
    key = spec.request_key
    if key == "*":
        return lambda fields: (True,)
    if key is None:
        return lambda fields: ()
    if spec.kind == INT:

        def get_int(fields: Mapping[str, object]) -> tuple[Any, ...]:
            value = fields.get(key)
            if isinstance(value, bool) or value is None:
                return ()
            if isinstance(value, int):
                return (value,)
            if isinstance(value, float) and value.is_integer():
                return (int(value),)
            if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
                return (int(value),)
            return ()

        return get_int

    def get_str(fields: Mapping[str, object]) -> tuple[Any, ...]:
        value = fields.get(key)
        return () if value is None else (value if isinstance(value, str) else str(value),)

    return get_str


# -- compiling the tree into functions -------------------------------------------------------------

Check = Callable[[Any], bool]


def _compare(spec: FieldSpec, op: str | None, literal: Any) -> Callable[[tuple[Any, ...]], bool]:
    """A test over a field's values (already read), for one operator and literal."""
    if op is None:
        return bool
    kind = spec.kind
    if kind in (IPV4, IPV6):
        networks = tuple(literal) if op in ("in", "not in") else (literal,)

        def inside(values: tuple[Any, ...]) -> bool:
            for value in values:
                for net, mask in networks:
                    if value & mask == net:
                        return True
            return False

        if op in ("==", "in"):
            return inside
        return lambda values: bool(values) and not inside(values)
    if op == "contains":
        if kind == BYTES:
            return lambda values: any(literal in value for value in values)
        return lambda values: any(literal in value for value in values)
    if op == "matches":
        search = literal.search
        return lambda values: any(search(value[:MAX_SUBJECT]) for value in values)
    if op in ("in", "not in"):
        if kind == INT:
            ranges = tuple(literal)

            def member(values: tuple[Any, ...]) -> bool:
                return any(low <= value <= high for value in values for low, high in ranges)
        else:
            options = frozenset(literal)

            def member(values: tuple[Any, ...]) -> bool:
                return any(value in options for value in values)

        if op == "in":
            return member
        return lambda values: bool(values) and not member(values)
    if op == "==":
        return lambda values: literal in values
    if op == "!=":
        return lambda values: bool(values) and literal not in values
    if op == "<":
        return lambda values: any(value < literal for value in values)
    if op == "<=":
        return lambda values: any(value <= literal for value in values)
    if op == ">":
        return lambda values: any(value > literal for value in values)
    return lambda values: any(value >= literal for value in values)


def _compile(
    node: Expr, getter_for: Callable[[FieldSpec], Callable[[Any], tuple[Any, ...]]]
) -> Check:
    """The tree as nested closures over one kind of record."""
    if isinstance(node, Test):
        read = getter_for(node.field)
        compare = _compare(node.field, node.op, node.literal)
        return lambda record: compare(read(record))
    if isinstance(node, Negation):
        inner = _compile(node.item, getter_for)
        return lambda record: not inner(record)
    parts = [_compile(item, getter_for) for item in node.items]
    combined = parts[0]
    for part in parts[1:]:
        combined = _both(combined, part) if node.op == "and" else _either(combined, part)
    return combined


def _both(first: Check, second: Check) -> Check:
    return lambda record: first(record) and second(record)


def _either(first: Check, second: Check) -> Check:
    return lambda record: first(record) or second(record)


def _packet_getter(spec: FieldSpec) -> Callable[[Any], tuple[Any, ...]]:
    if not spec.packet:
        return lambda view: ()
    return _PACKET_GETTERS[spec.name]


# -- the API ---------------------------------------------------------------------------------------


def _always(record: Any) -> bool:
    return True


@dataclass(frozen=True)
class DisplayFilter:
    """A compiled display filter: test packets and request records against it."""

    text: str
    fields: frozenset[str]
    """The field and protocol names the filter uses."""
    _packet_check: Check = field(repr=False, compare=False)
    _request_check: Check = field(repr=False, compare=False)

    @property
    def matches_everything(self) -> bool:
        """The empty filter: nothing is hidden."""
        return not self.text.strip()

    @property
    def uses_packet_fields(self) -> bool:
        """Some field only packets have (a request-only filter hides every packet)."""
        return any(FIELDS[name].packet for name in self.fields)

    @property
    def uses_request_fields(self) -> bool:
        """Some field request records have (a packet-only filter hides every request)."""
        return any(FIELDS[name].request_key is not None for name in self.fields)

    def matches_packet(self, summary: PacketSummary) -> bool:
        """Whether a packet passes; never raises (an unexpected error is no match)."""
        try:
            return bool(self._packet_check(_PacketView(summary)))
        except Exception:
            global evaluation_errors  # noqa: PLW0603 - a process-wide bug counter, by design
            evaluation_errors += 1
            return False

    def matches_fields(self, fields: Mapping[str, object]) -> bool:
        """Whether a request record (url, method, status, mime, type, host, size) passes."""
        try:
            return bool(self._request_check(fields))
        except Exception:
            global evaluation_errors  # noqa: PLW0603
            evaluation_errors += 1
            return False


def compile_display_filter(text: str) -> DisplayFilter:
    """Parse and compile once; raises DisplayFilterError (a BadInputError) with the column."""
    if not isinstance(text, str):
        raise DisplayFilterError(1, "a display filter must be text")
    if len(text) > MAX_FILTER:
        raise DisplayFilterError(
            MAX_FILTER + 1, f"the filter is {len(text):,} characters long (at most {MAX_FILTER:,})"
        )
    if not text.strip():
        return DisplayFilter(text, frozenset(), _always, _always)
    parser = _Parser(tokenize(text))
    tree = parser.parse()
    return DisplayFilter(
        text,
        frozenset(parser.used),
        _compile(tree, _packet_getter),
        _compile(tree, _request_getter),
    )


def field_names(packet: bool = True, request: bool = True) -> list[str]:
    """Field names for completion and help, sorted."""
    return sorted(
        spec.name
        for spec in FIELDS.values()
        if (packet and spec.packet) or (request and spec.request_key is not None)
    )
