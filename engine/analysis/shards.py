"""``--report conversations`` of a big file on two cores, with the serial answer exactly.

tshark reads a file on one core; here two processes read it (the parent and one forked
child), each walks every frame but counts only the IP address pairs of its half: a
pair's shard is the parity of its two addresses' last bytes XORed, which is the same
both ways, so a pair, its TCP streams and UDP flows, its fragments and its DNS
answers all stay in one process and every per-flow rule (direction, stream numbering
by SYN, reassembly) runs as in the serial analyzer. What crosses the split is merged
exactly from the frame number at which each record, stream and name first appeared:

- rows rank by frames, ties in order of first appearance: each process ranks its own
  rows by (frames, first frame) and sends its first :data:`~report.MAX_ROWS`, which
  hold the merged table's first ``MAX_ROWS``;
- TCP streams are numbered by first appearance over both halves (the child sends the
  first frame of every stream, a list of integers);
- passive names keep the first name an answer gave an address, by frame number.

A frame inside a tunnel counts in its outer pairs too, which may belong to the other
half: the first one makes the result unusable and :func:`conversations_on_two_cores`
returns None, as it does when a table would reach its bound or when the child fails;
the caller then reads the file alone. It does from the start when the machine has no
core to spare (one core, or a load average above the cores less 0.6): the second
process would only wait for a core, and the reading both do would be extra work.
Ctrl-C (or SIGTERM) in the parent asks the child to stop at its next batch, and the
partial halves are merged as the serial reader's partial tables would be.

This module is compiled with the rest of the analysis (:mod:`engine.native`): its own
per-frame loop, interpreted, had made two processes slower than one compiled process.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import threading
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from engine import linktypes
from engine.analysis.addresses import PassiveNames
from engine.analysis.aggregate import DEFAULT_MAX_FLOWS, Analyzer
from engine.analysis.conversations import (
    ADDR_A,
    FRAMES_AB,
    FRAMES_BA,
    TcpStream,
    ip_conversations,
    tcp_conversations,
    udp_conversations,
)
from engine.analysis.report import MAX_ROWS, conversation_tables
from engine.packet.walk import walk_ethernet_raw, walk_raw

MIN_BYTES = 16_000_000
"""Files smaller than this are read by one process (a fork and a merge cost ~20 ms)."""

_T = TypeVar("_T")
_IPV4 = b"\x08\x00"
_IPV6 = b"\x86\xdd"


@dataclass(slots=True)
class _Half:
    """What one process counted, ready to merge (small: ranked rows, not whole tables)."""

    usable: bool = True
    first_time: float | None = None
    ipv4: list[tuple[list[Any], int]] = field(default_factory=list)
    """(record, first frame) of the first MAX_ROWS IPv4 pairs in tshark's order."""
    ipv6: list[tuple[list[Any], int]] = field(default_factory=list)
    ipv4_total: int = 0
    ipv6_total: int = 0
    tcp: list[tuple[TcpStream, int]] = field(default_factory=list)
    tcp_first: list[int] = field(default_factory=list)
    """The first frame of every stream, in order (they number the streams)."""
    udp: list[tuple[list[Any], int]] = field(default_factory=list)
    udp_total: int = 0
    names: list[tuple[int, int, bytes, str]] = field(default_factory=list)
    """(frame, order, address, name) of each address's first name in this half."""


class _FrameNames(PassiveNames):
    """Passive names that remember at which frame each address got its first name."""

    def __init__(self) -> None:
        super().__init__(limit=1 << 62)
        self.frame = 0
        self.events: list[tuple[int, int, bytes, str]] = []

    def learn(self, address: bytes, name: str) -> None:
        """Keep the first name and the frame that gave it."""
        if address not in self._names:
            self._names[address] = name
            self.events.append((self.frame, len(self.events), address, name))


def usable(path: str | Path) -> bool:
    """Whether this file, process and machine are worth splitting over two processes."""
    try:
        cores = len(os.sched_getaffinity(0))
        size = Path(path).stat().st_size
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        return False
    return (
        cores >= 2
        and busy
        <= cores - 0.6  # most of a core to spare: on a busy machine the split only adds work
        and size >= MIN_BYTES
        and hasattr(os, "fork")
        and threading.active_count() == 1  # forking a threaded process is not safe
    )


def conversations_on_two_cores(
    path: str | Path, state: Any, progress: Any = None
) -> dict[str, Any] | None:
    """The conversations report of ``path`` read by two processes; None to read it alone.

    ``state`` (a fresh :class:`~engine.analysis.reader.ReadState`) is filled by the
    parent's reading, as the serial reader fills it; ``progress`` follows that reading.
    """
    from engine.analysis.reader import ReadState

    mine, theirs = _in_two(
        lambda: _count(path, 0, state, None, progress),
        lambda stop: _count(path, 1, ReadState(), stop, None),
        lambda half: state.interrupted or not half.usable,
    )
    if theirs is None and state.interrupted:
        theirs = _Half()  # interrupted and the child gone: the partial report of one half
    if theirs is None or not mine.usable or not theirs.usable:
        return None
    return _merge(mine, theirs)


CHILD_REPORTS = frozenset({"conversations", "talkers", "dns", "patterns"})
"""What the child computes when several reports are asked: those that need neither the
protocol paths nor the HTTP and TLS readers (the parent's share is the heavier)."""


def reports_on_two_cores(
    path: str | Path, names: list[str], state: Any, progress: Any = None, **options: Any
) -> dict[str, Any] | None:
    """Several reports of ``path``, split by report between two processes reading it all.

    Each process counts the whole file for its reports only (what a report needs is
    computed as when it is asked alone, so each report is the serial one exactly).
    None when the reports do not split or the child failed: then read alone.
    """
    from engine.analysis.reader import ReadState

    theirs_names = [name for name in names if name in CHILD_REPORTS]
    my_names = [name for name in names if name not in CHILD_REPORTS]
    if not theirs_names or not my_names:
        return None
    mine, theirs = _in_two(
        lambda: _reports(path, my_names, state, (None, progress), options),
        lambda stop: _reports(path, theirs_names, ReadState(), (stop, None), options),
        lambda _document: state.interrupted,
    )
    if theirs is None:
        if not state.interrupted:
            return None
        theirs = Analyzer(reports=theirs_names, **options).report(theirs_names)
    return {name: mine[name] if name in mine else theirs[name] for name in names}


def _reports(
    path: str | Path,
    names: list[str],
    state: Any,
    watch: tuple[int | None, Any],
    options: dict[str, Any],
) -> dict[str, Any]:
    """Read the whole file into an analyzer of these reports; the reports.

    ``watch``: the descriptor that says stop (the child's), the progress callback.
    """
    from engine.analysis.reader import read_tuple_batches

    stop, progress = watch
    analyzer = Analyzer(reports=names, **options)
    add = analyzer.add_records
    try:
        for batch in read_tuple_batches(path, state, progress):
            add(batch)
            if stop is not None and select.select([stop], [], [], 0)[0]:
                break  # the parent was interrupted: report what was counted
    except KeyboardInterrupt:
        state.interrupted = True
    return analyzer.report(names)


def _in_two(
    parent: Callable[[], _T], child: Callable[[int], Any], stop_child: Callable[[_T], bool]
) -> tuple[_T, Any]:
    """``parent()`` here and ``child(stop)`` in a forked process; both results.

    The child's result comes back pickled (None if the child failed). After the
    parent's work, ``stop_child`` says whether to ask the child to stop at its next
    batch (it watches the ``stop`` descriptor). The child ignores Ctrl-C and SIGTERM:
    the parent receives them and tells it.
    """
    results_read, results_write = os.pipe()
    stop_read, stop_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: it never returns
        code = 1
        try:
            os.close(results_read)
            os.close(stop_write)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            result = child(stop_read)
            with os.fdopen(results_write, "wb") as out:
                pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        finally:
            os._exit(code)
    os.close(results_write)
    os.close(stop_read)
    results = os.fdopen(results_read, "rb")
    finished = False
    try:
        mine = parent()
        if stop_child(mine):
            with contextlib.suppress(BrokenPipeError):  # a child that finished is gone
                os.write(stop_write, b"x")
        try:
            theirs = pickle.load(results)
        except (EOFError, pickle.UnpicklingError, OSError):
            theirs = None  # the child failed
        finished = True
    finally:
        if not finished:  # Ctrl-C while waiting, or a failure here: the child goes too
            os.kill(pid, signal.SIGKILL)
        os.close(stop_write)
        results.close()
        os.waitpid(pid, 0)
    return mine, theirs


def _count(path: str | Path, shard: int, state: Any, stop: int | None, progress: Any) -> _Half:
    """Walk every frame of the file; count those of this shard's address pairs."""
    from engine.analysis.reader import read_tuple_batches

    analyzer = Analyzer(reports=("conversations",))
    names = _FrameNames()
    analyzer.names = names
    analyzer.dns.names = names
    packet = analyzer._packet  # the per-frame step of add_records
    ip_records = analyzer.ip.records
    streams = analyzer.tcp.streams
    udp_records = analyzer.udp.records
    ip_first: list[int] = []
    tcp_first: list[int] = []
    udp_first: list[int] = []
    half = _Half()
    ethernet = linktypes.ETHERNET
    frame = 0
    try:
        for batch in read_tuple_batches(path, state, progress):
            if half.first_time is None:
                half.first_time = batch[0][0]
            for time, length, linktype, data, _source in batch:
                frame += 1
                checked = False
                if linktype == ethernet and len(data) >= 54:
                    kind = data[12:14]  # untagged IP: the pair's shard without a walk
                    if kind == _IPV4:
                        if (data[29] ^ data[33]) & 1 != shard:
                            continue
                        checked = True
                    elif kind == _IPV6:
                        if (data[37] ^ data[53]) & 1 != shard:
                            continue
                        checked = True
                    raw = walk_ethernet_raw(data)
                else:
                    raw = walk_raw(linktype, data)
                if raw[13]:
                    half.usable = False  # a tunnel: its outer pairs may be the other half's
                    return half
                pair = raw[2]
                if not pair:
                    continue  # no IP: no conversation
                if (pair[(len(pair) >> 1) - 1] ^ pair[-1]) & 1 != shard:
                    if checked:  # the other half skipped it by its header: nobody counts it
                        half.usable = False
                        return half
                    continue
                names.frame = frame
                packet(time, length, raw, data)
                if len(ip_records) != len(ip_first):
                    ip_first.extend([frame] * (len(ip_records) - len(ip_first)))
                if len(streams) != len(tcp_first):
                    tcp_first.extend([frame] * (len(streams) - len(tcp_first)))
                if len(udp_records) != len(udp_first):
                    udp_first.extend([frame] * (len(udp_records) - len(udp_first)))
            if stop is not None and select.select([stop], [], [], 0)[0]:
                break  # the parent was interrupted: send what was counted
    except KeyboardInterrupt:
        state.interrupted = True
    if (
        analyzer.ip.untracked_packets
        or analyzer.tcp.untracked_packets
        or analyzer.udp.untracked_packets
    ):
        half.usable = False
        return half
    v4 = [(r, f) for r, f in zip(ip_records, ip_first, strict=True) if len(r[ADDR_A]) == 4]
    v6 = [(r, f) for r, f in zip(ip_records, ip_first, strict=True) if len(r[ADDR_A]) != 4]
    half.ipv4, half.ipv4_total = _top_records(v4), len(v4)
    half.ipv6, half.ipv6_total = _top_records(v6), len(v6)
    ranked = sorted(
        zip(streams, tcp_first, strict=True), key=lambda s: -(s[0].counts[0] + s[0].counts[2])
    )
    half.tcp = ranked[:MAX_ROWS]
    half.tcp_first = tcp_first
    half.udp, half.udp_total = (
        _top_records(list(zip(udp_records, udp_first, strict=True))),
        len(udp_records),
    )
    half.names = names.events
    return half


def _top_records(records: list[tuple[list[Any], int]]) -> list[tuple[list[Any], int]]:
    """The first MAX_ROWS in tshark's order (frames, most first; then first seen)."""
    ranked = sorted(records, key=lambda rf: -(rf[0][FRAMES_AB] + rf[0][FRAMES_BA]))
    return ranked[:MAX_ROWS]


def _merged_records(
    one: list[tuple[list[Any], int]], other: list[tuple[list[Any], int]]
) -> list[list[Any]]:
    both = sorted(one + other, key=lambda rf: (-(rf[0][FRAMES_AB] + rf[0][FRAMES_BA]), rf[1]))
    return [record for record, _first in both[:MAX_ROWS]]


def _merge(mine: _Half, theirs: _Half) -> dict[str, Any] | None:
    """The two halves as one conversations report; None if a table passed its bound."""
    if (
        mine.ipv4_total + mine.ipv6_total + theirs.ipv4_total + theirs.ipv6_total
        > DEFAULT_MAX_FLOWS
        or len(mine.tcp_first) + len(theirs.tcp_first) > DEFAULT_MAX_FLOWS
        or mine.udp_total + theirs.udp_total > DEFAULT_MAX_FLOWS
    ):
        return None  # the serial reader would have stopped tracking somewhere
    numbers = sorted(mine.tcp_first + theirs.tcp_first)
    ranked = sorted(
        mine.tcp + theirs.tcp, key=lambda s: (-(s[0].counts[0] + s[0].counts[2]), s[1])
    )[:MAX_ROWS]
    streams = []
    for stream, first in ranked:
        stream.index = bisect_left(numbers, first)
        streams.append(stream)
    names = PassiveNames()
    for _frame, _order, address, name in sorted(mine.names + theirs.names):
        names.learn(address, name)
    v4 = _merged_records(mine.ipv4, theirs.ipv4)
    v6 = _merged_records(mine.ipv6, theirs.ipv6)
    udp = _merged_records(mine.udp, theirs.udp)
    return conversation_tables(
        {
            "ipv4": (ip_conversations(v4), mine.ipv4_total + theirs.ipv4_total),
            "ipv6": (ip_conversations(v6), mine.ipv6_total + theirs.ipv6_total),
            "tcp": (tcp_conversations(streams), len(numbers)),
            "udp": (udp_conversations(udp), mine.udp_total + theirs.udp_total),
        },
        mine.first_time or 0.0,
        names.name_of_text,
    )
