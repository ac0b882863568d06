"""Full dissection of the selected packet into plain text nodes."""

from __future__ import annotations

from engine import linktypes
from engine.dissect import dissect, hexdump_lines
from engine.events import PacketSummary
from tests.sample_traffic import sample_records


def as_summary(index: int, data: bytes, linktype: int = linktypes.ETHERNET) -> PacketSummary:
    return PacketSummary(index, 1.5, len(data), linktype, "", "", None, None, "", "", data)


def test_layers_and_fields_of_a_dns_response() -> None:
    record = sample_records()[3]
    detail = dissect(as_summary(4, record.data))
    names = [layer.label for layer in detail.layers]
    assert names[0].startswith("Frame 4:") and names[1:] == ["Ethernet", "IP", "UDP", "DNS"]
    dns = detail.layers[-1]
    fields = {child.label.split(":")[0] for child in dns.children}
    assert {"id", "qr", "qd (1)", "an (1)"} <= fields
    answer = next(child for child in dns.children if child.label.startswith("an ("))
    resource = answer.children[0]
    assert resource.label == "DNS Resource Record"
    assert "rdata: 93.184.216.34" in [node.label for node in resource.children]
    assert detail.error is None


def test_hex_dump_lines() -> None:
    lines = hexdump_lines(bytes(range(20)) + b"AB")
    assert lines == (
        "0000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  ................",
        "0010  10 11 12 13 41 42" + " " * 33 + "....AB",
    )


def test_garbage_and_unknown_link_types_never_raise() -> None:
    for data in (b"", b"\xff" * 3, bytes(range(256)) * 3):
        for linktype in (linktypes.ETHERNET, linktypes.RAW, linktypes.LINUX_SLL, 147, 9999):
            detail = dissect(as_summary(1, data, linktype))
            assert detail.layers[0].label.startswith("Frame 1:")
            assert len(detail.hexdump) == (len(data) + 15) // 16
            assert all("\n" not in node.label for node in detail.layers)
