"""livetap's stateful fields against tshark's, frame by frame, over every capture in a folder.

For each file tshark reads, ``tshark -T fields`` prints tcp.stream, udp.stream, the
relative tcp.seq/ack/nxtseq, tcp.window_size, tcp.analysis.flags,
tcp.analysis.duplicate_ack_num, frame.protocols and the Info column's TCP analysis
notes; livetap computes the same from its display filter's getters (the file read in
order, as ``livetap filter`` reads it). It prints, per field, the share of files where
every frame agrees and the share of frames that agree, then the first differences.

    .venv/bin/python benchmarks/stream_fields.py DIR [--examples N]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.analysis.reader import ReadState, read_batches
from engine.display_filter.fields import FIELDS
from engine.display_filter.packet_fields import PacketView
from engine.errors import LivetapError
from engine.filter_file import SequentialTimes, summarize, with_notes

NAMES = (
    "tcp.stream",
    "udp.stream",
    "tcp.seq",
    "tcp.ack",
    "tcp.nxtseq",
    "tcp.window_size",
    "tcp.analysis.flags",
    "tcp.analysis.duplicate_ack_num",
    "frame.protocols",
)
CHECKS = (*NAMES, "Info notes")
NOTES = re.compile(r"(\[TCP [^\]]*\] )+")
SUFFIXES = (".pcap", ".pcapng", ".cap")


def _notes(info: str) -> str:
    found = NOTES.match(info)
    return found.group(0) if found else ""


def theirs(path: Path) -> list[list[str]] | None:
    """tshark's values, one row a frame; None when tshark cannot read the file."""
    args = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "aggregator=,"]
    for name in (*NAMES, "_ws.col.Info"):
        args += ["-e", name]
    result = subprocess.run(args, capture_output=True, timeout=600, check=False)
    if result.returncode != 0:
        return None
    rows = []
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        values = line.split("\t")
        values += [""] * (len(CHECKS) - len(values))
        values[-1] = _notes(values[-1])
        rows.append(values[: len(CHECKS)])
    return rows


def ours(path: Path) -> list[list[str]]:
    """livetap's values for the same frames."""
    times = SequentialTimes(track=True)
    getters = [FIELDS[name].getter for name in NAMES]
    rows = []
    number = 0
    for batch in read_batches(path, ReadState(), None):
        for record in batch:
            number += 1
            analysis = times.advance(number, record)
            summary = summarize(number, record)
            view = PacketView(summary, times)
            row = []
            for name, get in zip(NAMES, getters, strict=True):
                values = get(view) if get is not None else ()
                if name == "tcp.analysis.flags":
                    row.append("1" if values else "")
                else:
                    row.append(",".join(str(value) for value in values))
            row.append(_notes(with_notes(summary.info, analysis)))
            rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--examples", type=int, default=5)
    args = parser.parse_args()
    files_ok: Counter[str] = Counter()
    frames_ok: Counter[str] = Counter()
    files = frames = skipped = 0
    examples: dict[str, list[str]] = {}
    paths = sorted(p for p in args.folder.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    for path in paths:
        expected = theirs(path)
        try:
            found = ours(path) if expected is not None else None
        except LivetapError:
            found = None
        if expected is None or found is None or len(found) != len(expected):
            skipped += 1  # unreadable to one of them, or read to a different length
            continue
        files += 1
        frames += len(found)
        for column, check in enumerate(CHECKS):
            bad = [
                n
                for n, (a, b) in enumerate(zip(expected, found, strict=True), 1)
                if a[column] != b[column]
            ]
            files_ok[check] += not bad
            frames_ok[check] += len(found) - len(bad)
            if bad and len(examples.setdefault(check, [])) < args.examples:
                n = bad[0]
                examples[check].append(
                    f"{path.name} #{n}: tshark {expected[n - 1][column]!r}, "
                    f"livetap {found[n - 1][column]!r}"
                )
    print(f"{files} files compared ({frames:,} frames), {skipped} skipped")
    for check in CHECKS:
        print(
            f"{check:32} files {files_ok[check] / max(files, 1):7.1%}"
            f"   frames {frames_ok[check] / max(frames, 1):7.2%}"
        )
    for check, lines in examples.items():
        print(f"-- {check}")
        for line in lines:
            print("  ", line)


if __name__ == "__main__":
    main()
