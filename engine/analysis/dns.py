"""DNS queries and answers, and the passive names they give the capture's addresses.

Messages are read with the packet-list decoder's name reader (compression pointers
followed a bounded number of times, names at most 255 bytes); a malformed message is
counted, never raised. A response is paired with its query by client, server, port,
id and question name.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from socket import AF_INET6, inet_ntoa, inet_ntop
from typing import Final

from engine.analysis.addresses import PassiveNames
from engine.analysis.threats import Sightings
from engine.packet.app import DNS_RCODES, DNS_TYPES, Malformed, dns_name
from engine.packet.structs import DNS, RR, U16
from engine.packet.walk import Raw

MAX_ANSWERS: Final = 16
"""Answers kept per response (the rest are counted)."""
MAX_PENDING: Final = 20_000
"""Queries waiting for their response; the oldest are let go beyond this."""


@dataclass(slots=True)
class DnsQuery:
    """A query and, once seen, its response."""

    time: float
    client: bytes
    client_port: int
    server: bytes
    server_port: int
    id: int
    name: str
    type: str
    protocol: str
    """"dns", "mdns" or "llmnr"."""
    response_time: float | None = None
    rcode: str | None = None
    answers: list[str] = field(default_factory=list)
    query_seen: bool = True
    """False for a response whose query was not in the capture."""


def _plain(data: bytes, after: int) -> bool:
    """Whether the question name that ends before ``after`` was written without a pointer.

    Then an answer whose owner is a pointer to it (``C0 0C``, nearly every answer) has
    the question's name: :func:`dns_name` would follow the pointer and read the same
    labels again, within the same bounds, without an error.
    """
    return data[after - 1] == 0 and data[after - 2] < 0xC0


def type_name(value: int) -> str:
    """A record type's mnemonic (A, AAAA, ...) or TYPEnnn."""
    return DNS_TYPES.get(value) or f"TYPE{value}"


def rcode_name(value: int) -> str:
    """A response code's mnemonic; 0 is NOERROR."""
    return "NOERROR" if value == 0 else DNS_RCODES.get(value) or f"RCODE{value}"


class DnsLog:
    """Every DNS exchange (bounded), counts by name and type, passive names for addresses."""

    def __init__(self, limit: int, names: PassiveNames, sightings: Sightings) -> None:
        self.items: list[DnsQuery] = []
        self.limit = limit
        self.queries = 0
        self.responses = 0
        self.malformed = 0
        self.names = names
        self._sightings = sightings
        self._pending: dict[tuple[bytes, int, bytes, int, str], DnsQuery] = {}
        self.by_name: dict[str, int] = {}
        self.by_rcode: dict[str, int] = {}

    def message(
        self, time: float, fields: Raw, data: bytes, bounds: tuple[int, int], protocol: str
    ) -> None:
        """One DNS message between ``bounds`` (a UDP payload, or TCP's after its length)."""
        try:
            self._message(time, fields, data, bounds, protocol)
        except (Malformed, IndexError, struct.error):
            self.malformed += 1

    def _message(
        self, time: float, fields: Raw, data: bytes, bounds: tuple[int, int], protocol: str
    ) -> None:
        start, end = bounds
        pair, sport, dport = fields[2], fields[4], fields[5]
        if end - start < 12:
            raise Malformed("short header")
        ident, flags, questions, answers = DNS(data, start)
        half = len(pair) // 2
        src, dst = pair[:half], pair[half:]
        position = start + 12
        qname, qtype = "", 0
        plain = False
        if questions:
            qname, position = dns_name(data, position, start, end)
            plain = data[position - 1] == 0 and data[position - 2] < 0xC0  # _plain, inlined
            if position + 4 > end:
                raise Malformed("truncated question")
            (qtype,) = U16(data, position)
            position += 4
            for _ in range(questions - 1):
                _, position = dns_name(data, position, start, end)
                position += 4
        by_name = self.by_name
        if not flags & 0x8000:
            self.queries += 1
            if not questions:
                return
            kind = DNS_TYPES.get(qtype) or type_name(qtype)
            query = DnsQuery(time, src, sport, dst, dport, ident, qname, kind, protocol)
            if len(self.items) < self.limit:
                self.items.append(query)
            by_name[qname] = by_name.get(qname, 0) + 1
            if self._sightings.active:
                self._sightings.host(qname, "dns", src, time)
            pending_queries = self._pending
            if len(pending_queries) >= MAX_PENDING:
                pending_queries.pop(next(iter(pending_queries)))
            pending_queries[(src, sport, dst, ident, qname)] = query
            return
        self.responses += 1
        rcode = "NOERROR" if not flags & 15 else rcode_name(flags & 15)
        self.by_rcode[rcode] = self.by_rcode.get(rcode, 0) + 1
        pending = self._pending.pop((dst, dport, src, ident, qname), None)
        if pending is not None:
            query = pending
        else:
            query = DnsQuery(time, dst, dport, src, sport, ident, qname, type_name(qtype), protocol)
            query.query_seen = False
            self._keep(query)
            if qname:
                by_name[qname] = by_name.get(qname, 0) + 1
        query.response_time = time
        query.rcode = rcode
        query.answers = self._answers(data, bounds, position, answers, (qname, plain))

    def names_only(self, data: bytes, bounds: tuple[int, int]) -> None:
        """Learn the names a response's A/AAAA answers give addresses, and nothing else.

        What the reports that name addresses need when the DNS report is not asked
        for: queries are not read, nothing is counted or kept.
        """
        start, end = bounds
        if end - start < 12 or not data[start + 2] & 0x80:
            return
        try:
            _ident, _flags, questions, answers = DNS(data, start)
            if not answers:
                return
            position = start + 12
            qname = ""
            plain = False
            if questions:
                qname, position = dns_name(data, position, start, end)
                plain = _plain(data, position)
                if position + 4 > end:
                    return
                position += 4
                for _ in range(questions - 1):
                    _, position = dns_name(data, position, start, end)
                    position += 4
            for _ in range(answers):
                if (
                    plain
                    and position + 1 < end
                    and data[position] == 0xC0
                    and data[position + 1] == 12
                ):
                    owner, position = qname, position + 2  # as dns_name reads it, sooner
                else:
                    owner, position = dns_name(data, position, start, end)
                if position + 10 > end:
                    return
                rtype, length = RR(data, position)
                rdata = position + 10
                position = rdata + length
                if position > end:
                    return
                if (rtype == 1 and length == 4) or (rtype == 28 and length == 16):
                    self.names.learn(data[rdata:position], qname or owner)
        except (Malformed, IndexError, struct.error):
            return

    def _keep(self, query: DnsQuery) -> None:
        if len(self.items) < self.limit:
            self.items.append(query)

    def _answers(
        self,
        data: bytes,
        bounds: tuple[int, int],
        position: int,
        count: int,
        question: tuple[str, bool],
    ) -> list[str]:
        """The answer records as "TYPE value"; A/AAAA records name their address.

        ``question``: its name, and whether it was written without a pointer (see
        :func:`_plain`).
        """
        start, end = bounds
        qname, plain = question
        shown: list[str] = []
        for _ in range(count):
            if plain and position + 1 < end and data[position] == 0xC0 and data[position + 1] == 12:
                owner, position = qname, position + 2  # as dns_name reads it, sooner
            else:
                owner, position = dns_name(data, position, start, end)
            if position + 10 > end:
                raise Malformed("truncated answer")
            rtype, length = RR(data, position)
            rdata = position + 10
            position = rdata + length
            if position > end:
                raise Malformed("truncated answer")
            value: str | None = None
            if rtype == 1 and length == 4:
                raw = data[rdata:position]
                value = inet_ntoa(raw)
                self.names.learn(raw, qname or owner)
            elif rtype == 28 and length == 16:
                raw = data[rdata:position]
                value = inet_ntop(AF_INET6, raw)
                self.names.learn(raw, qname or owner)
            elif rtype in (2, 5, 12):  # NS, CNAME, PTR
                value = dns_name(data, rdata, start, position)[0]
            elif rtype == 15 and length >= 3:  # MX
                value = dns_name(data, rdata + 2, start, position)[0]
            if len(shown) < MAX_ANSWERS:
                shown.append(
                    f"{type_name(rtype)} {value}" if value is not None else type_name(rtype)
                )
        return shown


class TcpDnsReader:
    """One direction of DNS over TCP: messages cut out by their two-byte length prefix.

    A message may span segments and a segment may hold several; tshark shows ``dns``
    on the segment that completes a message (segments before it are plain ``tcp``),
    which :meth:`feed` reports. A message is kept whole (at most 64 KiB) to be read.
    """

    __slots__ = ("_buffer", "_need")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._need = -1
        """Bytes of the current message still missing; -1 while its prefix is read."""

    def feed(self, payload: bytes) -> list[bytes]:
        """Take one segment's payload; returns the messages it completes."""
        done: list[bytes] = []
        position = 0
        size = len(payload)
        buffer = self._buffer
        while position < size:
            if self._need < 0:
                take = min(2 - len(buffer), size - position)
                buffer += payload[position : position + take]
                position += take
                if len(buffer) < 2:
                    break
                self._need = int.from_bytes(buffer, "big")
                buffer.clear()
                if not self._need:
                    self._need = -1  # an empty message: nothing to read
                    continue
            take = min(self._need, size - position)
            buffer += payload[position : position + take]
            position += take
            self._need -= take
            if not self._need:
                done.append(bytes(buffer))
                buffer.clear()
                self._need = -1
        return done
