"""The tshark tab's decode: real tshark, the capture's own packet number."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.deep_decode import decode_with_tshark
from engine.errors import UnavailableError
from tests.sample_traffic import sample_records

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")


def test_layers_carry_the_packet_number_of_the_capture() -> None:
    record = sample_records()[9]
    layers = decode_with_tshark(
        record.linktype, record.data, record.timestamp, record.length, number=10
    )
    assert layers[0].label.startswith("Frame 10:")
    assert any(child.label == "Frame Number: 10" for child in layers[0].children)
    names = [layer.label for layer in layers]
    assert any(name.startswith("Ethernet II") for name in names)
    assert any(name.startswith("Internet Protocol Version 4") for name in names)


def test_tshark_missing_from_path_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    record = sample_records()[0]
    with pytest.raises(UnavailableError, match="apt-get install tshark"):
        decode_with_tshark(record.linktype, record.data, record.timestamp)
