"""An answer's owner written as a pointer to the question is read as dns_name reads it.

The DNS reader takes the question's name for an owner written ``C0 0C`` when the
question had no pointer of its own; on every byte of real and mutated messages the
answers, the names learnt and the malformed count must equal those of the plain walk.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from scapy.layers.dns import DNS, DNSQR, DNSRR, dns_compress

from engine.analysis import dns as dns_module
from engine.analysis.addresses import PassiveNames
from engine.analysis.dns import DnsLog
from engine.analysis.threats import Sightings
from engine.packet.walk import Layers


def _messages() -> list[bytes]:
    base = [
        DNS(
            id=7,
            qr=1,
            qd=DNSQR(qname="host1.example"),
            an=DNSRR(rrname="host1.example", rdata="93.184.0.1"),
        ),
        DNS(
            id=8,
            qr=1,
            qd=DNSQR(qname="a.example", qtype="AAAA"),
            an=DNSRR(rrname="a.example", type="AAAA", rdata="2001:db8::1")
            / DNSRR(rrname="a.example", type="CNAME", rdata="b.example"),
        ),
        DNS(id=9, qr=1, qd=DNSQR(qname="."), an=DNSRR(rrname=".", rdata="10.0.0.1")),
    ]
    raw = [bytes(dns_compress(message)) for message in base]  # type: ignore[no-untyped-call]
    assert b"\xc0\x0c" in raw[0] and b"\xc0\x0c" in raw[1]
    rng = random.Random(15)
    mutated = []
    for _ in range(3000):
        message = bytearray(rng.choice(raw))
        for _ in range(rng.randrange(1, 4)):
            message[rng.randrange(len(message))] = rng.choice((0, 0xC0, 12, rng.randrange(256)))
        mutated.append(bytes(message[: rng.randrange(12, len(message) + 1)]))
    return raw + mutated


def _read(messages: list[bytes]) -> tuple[Any, ...]:
    names = PassiveNames()
    log = DnsLog(1000, names, Sightings(10))
    only = PassiveNames()
    names_log = DnsLog(1000, only, Sightings(10))
    pair = bytes([10, 0, 0, 53, 10, 0, 0, 9])
    fields = Layers(("eth", "ip"), 4, pair, 17, 53, 40000, 0, 0, 0, 42, 0, 0, None, (), 14, 34)
    for message in messages:
        data = bytes(42) + message + b"\xc0\x0c\xc0"  # bytes past the end must not be read
        bounds = (42, 42 + len(message))
        log.message(1.0, fields, data, bounds, "dns")
        names_log.names_only(data, bounds)
    return (
        [(q.name, q.rcode, q.answers) for q in log.items],
        log.malformed,
        names.items(),
        only.items(),
    )


@pytest.mark.pure
def test_the_shortcut_reads_what_the_walk_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    messages = _messages()
    plain = dns_module._plain
    taken: list[bool] = []

    def counted(data: bytes, after: int) -> bool:
        taken.append(True)
        return plain(data, after)

    monkeypatch.setattr(dns_module, "_plain", counted)
    fast = _read(messages)
    assert len(taken) > 1000
    monkeypatch.setattr(dns_module, "_plain", lambda data, after: False)
    assert fast == _read(messages)
    assert fast[0] and fast[1] and fast[3]
