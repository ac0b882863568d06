"""Application-layer readers: DNS names, the TLS server name, HTTP start lines.

The packet model's hints above the transport, read from a payload's bytes at
struct level and bounds-checked, shared by the Info column (:mod:`engine.decode`),
the display filter and the analysis reports, so each reads a name the same way.
"""

from __future__ import annotations

from typing import Final

from engine.packet.structs import DNS_COUNTS, TWO_U16, U16

DNS_OPCODES: Final = {
    0: "Standard query",
    1: "Inverse query",
    2: "Server status request",
    4: "Zone change notification",
    5: "Dynamic update",
}
DNS_RCODES: Final = {1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
DNS_TYPES: Final = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    64: "SVCB",
    65: "HTTPS",
    255: "ANY",
}
_DNS_MAX_JUMPS: Final = 64
DNS_MAX_NAME: Final = 255  # octets, as RFC 1035 allows
DNS_ANSWERS_SHOWN: Final = 3
DNS_SHOWN_TYPES: Final = frozenset({1, 5, 28})  # A, CNAME, AAAA
_DNS_NAMES: Final[dict[bytes, str]] = {}
"""Names by their uncompressed wire form: the same few names recur all the time."""
_DNS_NAME_CACHE_SIZE: Final = 4096

DNS_PORTS: Final = frozenset({53, 5353, 5355})
"""DNS, mDNS and LLMNR: the ports tshark decodes DNS messages on."""
DNS_KINDS: Final = frozenset({"dns", "mdns", "llmnr"})
"""The dissectors that read DNS messages (they share the ``dns.*`` fields)."""
DNS_SEEN: Final = 4
"""Payload bytes tshark's DNS dissectors read (id, flags) before they add their protocol:
a shorter payload on a DNS port is a malformed DNS row that ``dns`` does not match."""


def dns_heuristic(data: bytes, start: int, end: int) -> bool:
    """Whether tshark 4.0's DNS-over-UDP heuristic takes the payload ``data[start:end]``.

    tshark runs it on a UDP payload no port dissector took (DNS on port 8053, say). As
    measured on built datagrams: more than the 12-byte header, opcode 0 (a standard
    query); a query has one question, no answer, no authority and at most 10
    additional records; a response at most 1 question, 100 answers, 10 authority and 10
    additional records. Nothing past the header is checked (a bad name is then a
    malformed DNS message, as in tshark).
    """
    if end - start <= 12 or data[start + 2] & 0x78:
        return False
    counts: tuple[int, int, int, int, int] = DNS_COUNTS(data, start + 2)
    flags, questions, answers, authority, additional = counts
    if additional > 10:
        return False
    if flags & 0x8000:
        return questions <= 1 and answers <= 100 and authority <= 10
    return questions == 1 and answers == 0 and authority == 0


HTTP_METHODS: Final = (
    b"GET",
    b"POST",
    b"PUT",
    b"DELETE",
    b"HEAD",
    b"OPTIONS",
    b"PATCH",
    b"CONNECT",
    b"TRACE",
)
HTTP_STARTS: Final = (*(method + b" " for method in HTTP_METHODS), b"HTTP/1.")
HTTP_FIRST_BYTES: Final = frozenset(start[0] for start in HTTP_STARTS)
INFO_CAP: Final = 200

_CONTROL_CODES: Final = (*range(0x20), *range(0x7F, 0xA0))
_CONTROL_BYTES: Final = bytes(_CONTROL_CODES)
_ESCAPES: Final = {code: f"\\x{code:02x}" for code in _CONTROL_CODES}


class Malformed(Exception):
    """A structural error inside a DNS message: caught by the DNS layer, never by decode()."""


def safe_text(raw: bytes) -> str:
    """Packet bytes as one safe line: latin-1, control characters escaped as \\xNN."""
    text = raw.decode("latin-1")
    if len(raw.translate(None, _CONTROL_BYTES)) != len(raw):
        return text.translate(_ESCAPES)
    return text


def dns_name(data: bytes, position: int, start: int, end: int) -> tuple[str, int]:
    """A possibly compressed name and the position after it in the record.

    An uncompressed name (every question in practice) is only walked and then
    looked up by its wire form; anything else takes :func:`_dns_name_compressed`.
    """
    first = position
    limit = min(end, position + DNS_MAX_NAME + 1)
    while position < limit:
        length = data[position]
        if not length:
            wire = data[first:position]
            name = _DNS_NAMES.get(wire)
            if name is None:
                name = _remember_name(wire)
            return name, position + 1
        if length >= 0x40:
            break
        position += 1 + length
    return _dns_name_compressed(data, first, start, end)


def _remember_name(wire: bytes) -> str:
    """The text of an uncompressed wire-form name (without its root byte), cached."""
    labels = []
    position = 0
    while position < len(wire):
        following = position + 1 + wire[position]
        labels.append(wire[position + 1 : following])
        position = following
    name = safe_text(b".".join(labels)) if labels else "<Root>"
    if len(_DNS_NAMES) >= _DNS_NAME_CACHE_SIZE:
        _DNS_NAMES.clear()
    _DNS_NAMES[wire] = name
    return name


def _dns_name_compressed(data: bytes, position: int, start: int, end: int) -> tuple[str, int]:
    """A name with compression pointers (or a broken one), and the position after it.

    The name may not grow past 255 bytes and pointers are followed at most 64
    times, so neither a pointer loop nor a flood of labels can keep it busy:
    they end as "Malformed DNS (...)".
    """
    labels: list[bytes] = []
    after = -1
    jumps = 0
    size = 0
    while position < end:
        length = data[position]
        if length == 0:
            name = safe_text(b".".join(labels)) if labels else "<Root>"
            return name, after if after >= 0 else position + 1
        if length < 0x40:
            size += length + 1
            if size > DNS_MAX_NAME:
                raise Malformed("name too long")
            following = position + 1 + length
            labels.append(data[position + 1 : following])
            position = following
        elif length < 0xC0:
            raise Malformed(f"label type 0x{length & 0xC0:02x}")
        elif position + 1 >= end:
            break
        else:
            if after < 0:
                after = position + 2
            jumps += 1
            if jumps > _DNS_MAX_JUMPS:
                raise Malformed("compression loop")
            position = start + ((length & 0x3F) << 8 | data[position + 1])
    raise Malformed("name runs past the end")


def skip_dns_name(data: bytes, position: int, end: int) -> int:
    """The position after a name, without reading it (a pointer ends a name)."""
    while True:
        if position >= end:
            raise Malformed("name runs past the end")
        length = data[position]
        if length >= 0xC0:
            return position + 2
        if length >= 0x40:
            raise Malformed(f"label type 0x{length & 0xC0:02x}")
        position += length + 1
        if length == 0:
            return position


def client_hello_sni(data: bytes, position: int, end: int) -> str | None:
    """Walk session id, cipher suites and compression methods to the extensions."""
    position += 34  # client version and random
    if position + 1 > end:
        return None
    position += 1 + data[position]  # session id
    if position + 2 > end:
        return None
    position += 2 + U16(data, position)[0]  # cipher suites
    if position + 1 > end:
        return None
    position += 1 + data[position]  # compression methods
    if position + 2 > end:
        return None
    extensions_end = min(position + 2 + U16(data, position)[0], end)
    position += 2
    while position + 4 <= extensions_end:
        kind, length = TWO_U16(data, position)
        position += 4
        if kind == 0:
            return _server_name(data, position, min(position + length, extensions_end))
        position += length
    return None


def _server_name(data: bytes, position: int, end: int) -> str | None:
    """The host_name entry of a _server_name extension's list."""
    position += 2  # list length
    while position + 3 <= end:
        kind = data[position]
        (length,) = U16(data, position + 1)
        position += 3
        if position + length > end:
            return None
        if kind == 0:
            return safe_text(data[position : position + min(length, DNS_MAX_NAME)])
        position += length
    return None


def http_line(data: bytes, start: int, end: int) -> str | None:
    """An HTTP/1.x request or status line at ``start``, else None."""
    newline = data.find(b"\n", start, end)
    line = data[start : newline if newline >= 0 else end].rstrip(b"\r")
    status = line.startswith(b"HTTP/1.")
    if not (_is_status_line(line) if status else _is_request_line(line)):
        return None
    return safe_text(line[:INFO_CAP])[:INFO_CAP]


def _is_request_line(line: bytes) -> bool:
    """METHOD SP target SP HTTP/x.y (the method was checked by the caller)."""
    first, last = line.find(b" "), line.rfind(b" ")
    return first > 0 and last > first + 1 and _is_version(line[last + 1 :])


def _is_status_line(line: bytes) -> bool:
    """HTTP/1.x SP three-digit code, then an optional reason phrase."""
    return (
        _is_version(line[:8])
        and len(line) >= 12
        and line[8] == 0x20
        and line[9:12].isdigit()
        and (len(line) == 12 or line[12] == 0x20)
    )


def _is_version(word: bytes) -> bool:
    """HTTP/x.y with single digits."""
    return (
        len(word) == 8
        and word.startswith(b"HTTP/")
        and word[5:6].isdigit()
        and word[6] == 0x2E
        and word[7:8].isdigit()
    )
