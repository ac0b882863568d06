"""``livetap -r``: a file is indexed, not loaded; frames are read back from it on demand."""

from __future__ import annotations

import subprocess
from pathlib import Path

from engine import linktypes
from engine.file_ring import FileRing
from engine.pcapio import PcapRecord, open_pcap, write_pcap_file
from engine.replay import IndexedFileSource, open_file_source
from engine.session import CaptureSession
from tests.sample_traffic import sample_records


def big_capture(path: Path, count: int) -> list[PcapRecord]:
    """Enough records of varied sizes that the reader refills its buffer many times."""
    base = sample_records()
    records = [
        PcapRecord(1_700_000_000 + n * 0.001, len(frame) + 7, linktypes.ETHERNET, frame)
        for n, frame in ((n, base[n % len(base)].data) for n in range(count))
    ]
    write_pcap_file(path, records)
    return records


def test_a_file_is_indexed_and_read_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "big.pcap"
    written = big_capture(path, 40_000)
    session = CaptureSession(open_file_source(path))
    assert isinstance(session.source, IndexedFileSource) and isinstance(session.ring, FileRing)
    with session:
        assert session.wait_finished(30)
    ring = session.ring
    assert (len(ring), ring.first_index, ring.last_index, ring.evicted) == (40_000, 1, 40_000, 0)
    for index in (1, 2, 17, 20_000, 39_999, 40_000):
        assert ring.record(index) == written[index - 1]
    assert ring.get(40_000) is not None and ring.get(40_001) is None
    assert [r.data for r in ring.records(100, 103)] == [r.data for r in written[99:103]]


def test_pcapng_offsets_and_a_filter_keep_the_index_right(tmp_path: Path) -> None:
    pcap = tmp_path / "big.pcap"
    written = big_capture(pcap, 5_000)
    pcapng = tmp_path / "big.pcapng"
    subprocess.run(
        ["editcap", "-F", "pcapng", str(pcap), str(pcapng)], check=True, capture_output=True
    )
    session = CaptureSession(open_file_source(pcapng, expression="tcp port 443"))
    with session:
        assert session.wait_finished(30)
    tls = [r for r in written if b"example.com" in r.data and r.data[36:38] == b"\x01\xbb"]
    assert len(session.ring) == len(tls) > 0
    assert [r.data for r in session.ring.records()] == [r.data for r in tls]
    with open_pcap(pcapng) as reader:
        offsets: list[int] = []
        records = reader.read_batch(10_000, offsets)
    content = pcapng.read_bytes()
    assert all(
        content[o : o + len(r.data)] == r.data for o, r in zip(offsets, records, strict=True)
    )
