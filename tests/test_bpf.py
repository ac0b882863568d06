"""BPF filters compiled by libpcap: errors in libpcap's words, kernel and user-space use."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from engine import linktypes
from engine.bpf import compile_filter, explain
from engine.errors import ExitCode, FilterError


def frame(layer: IP) -> bytes:
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / layer)


def test_user_space_matching_agrees_with_the_expression() -> None:
    dns = frame(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5000, dport=53))
    web = frame(IP(src="10.0.0.1", dst="10.0.0.3") / TCP(sport=5000, dport=80, flags="S"))
    checks = {
        "udp port 53": (True, False),
        "tcp[tcpflags] & tcp-syn != 0": (False, True),
        "host 10.0.0.3": (False, True),
        "": (True, True),
        "len > 1000": (False, False),
    }
    for expression, (want_dns, want_web) in checks.items():
        compiled = compile_filter(expression, linktypes.ETHERNET)
        assert (compiled.matches(dns, len(dns)), compiled.matches(web, len(web))) == (
            want_dns,
            want_web,
        ), expression


def test_raw_ip_link_type_compiles_for_ip_at_offset_zero() -> None:
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1, dport=53))
    compiled = compile_filter("udp port 53", linktypes.RAW)
    assert compiled.matches(packet, len(packet))
    assert compile_filter("udp port 53", 12).linktype == linktypes.RAW


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("udp portt 53", "syntax error"),
        ("host 999.1.1.1", "999.1.1.1"),
        ("port 70000", "port"),
        ("tcp and \x00 udp", "NUL"),
        ("x" * 5000, "at most 4096"),
    ],
)
def test_bad_expressions_carry_libpcaps_reason(expression: str, reason: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter(expression, linktypes.ETHERNET)
    assert reason in str(caught.value)
    assert caught.value.exit_code == ExitCode.BAD_INPUT


def test_the_snap_length_is_the_programs_return_value() -> None:
    compiled = compile_filter("", linktypes.ETHERNET, snaplen=96)
    assert compiled.instructions[-1] == (0x06, 0, 0, 96)
    assert explain(compiled) == ["(000) ret      #96"]
