"""Find a packet (Wireshark's Ctrl+F): by display filter, hex bytes or text, forward or back.

The packet list asks; this module walks the rows the list shows (every buffered packet,
a display filter's matches, without the ignored ones) from the selected one, in either
direction, wrapping at the ends, and answers with the index of the next match. Hex and
text look in the frame's bytes as captured (Wireshark's "Packet bytes"), with no
decoding; a display filter decodes each packet's summary as the filter needs it.

A search over a big file takes a while: :meth:`PacketFinder.search` reports progress and
can be cancelled between packets, so a front end runs it in a worker thread.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from engine.display_filter import DisplayFilter, DisplayFilterError, compile_display_filter
from engine.errors import BadInputError
from engine.events import PacketSummary
from engine.file_ring import FileRing
from engine.pcapio import PcapRecord
from engine.ring import PacketRing
from engine.view import RingTimes

FindKind = Literal["filter", "hex", "text"]
PROGRESS_EVERY = 0.25
"""Seconds between two progress reports of a long search."""
FILE_BLOCK = 512
"""Packets read from a file at once (one read) while searching it."""
MAX_PATTERN = 4096
"""Longest pattern (bytes) searched for."""

_HEX = re.compile(r"(?:0x)?([0-9a-fA-F]{2}(?:[\s:.-]?[0-9a-fA-F]{2})*)")
_PREFIXES: dict[str, tuple[FindKind, bool]] = {
    "hex:": ("hex", True),
    "text:": ("text", False),
    "case:": ("text", True),
    "filter:": ("filter", True),
}
"""Explicit kinds: ``hex:de ad``, ``text:get`` (any case), ``case:GET`` (exact case)."""


class FindError(BadInputError):
    """What was typed cannot be searched for: says why, in words."""


class Rows(Protocol):
    """The rows a list shows, by position (the packet list's rows, a display view)."""

    def __len__(self) -> int: ...

    def index_at(self, row: int) -> int | None: ...

    def row_of(self, index: int) -> int | None: ...


@dataclass(frozen=True, slots=True)
class FindQuery:
    """What to look for, parsed once: a display filter, or bytes (hex, or text)."""

    kind: FindKind
    text: str
    """What was typed."""
    pattern: bytes = b""
    """The bytes to find (hex and text); lower-cased for a text search in any case."""
    case_sensitive: bool = True
    display_filter: DisplayFilter | None = None

    def describe(self) -> str:
        """The search in words, for the prompt's check line and the notes."""
        if self.kind == "filter":
            return f"display filter {self.text.strip()}"
        if self.kind == "hex":
            return "hex bytes " + self.pattern.hex(" ")
        case = "exact case" if self.case_sensitive else "any case"
        return f"text {self.pattern.decode('utf-8', 'replace')!r} ({case})"


def parse_find(text: str) -> FindQuery:
    """Read what the user typed as a search; raises FindError saying why it cannot be.

    ``hex:``, ``text:`` (any case), ``case:`` (exact case) and ``filter:`` say the kind;
    without one: a valid display filter, else hex bytes (``de ad be ef``, ``deadbeef``,
    ``0xdead``), else text in any case. A quoted ``"text"`` is text.
    """
    stripped = text.strip()
    if not stripped:
        raise FindError("type what to find: a display filter, hex bytes or text")
    for prefix, (kind, case) in _PREFIXES.items():
        if stripped.startswith(prefix):
            return _query(kind, stripped[len(prefix) :].strip(), case)
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        return _query("text", stripped[1:-1], False)
    try:
        return _query("filter", stripped, True)
    except FindError:
        pass
    if _HEX.fullmatch(stripped):
        return _query("hex", stripped, True)
    return _query("text", stripped, False)


def _query(kind: FindKind, text: str, case_sensitive: bool) -> FindQuery:
    """One kind of query from its text; raises FindError."""
    if not text:
        raise FindError(f"type what to find after {kind}:")
    if kind == "filter":
        try:
            compiled = compile_display_filter(text)
        except DisplayFilterError as error:
            raise FindError(f"display filter: {error.message}") from None
        if not compiled.uses_packet_fields:
            raise FindError(f"{text!r} names no packet field")
        return FindQuery("filter", text, display_filter=compiled)
    if kind == "hex":
        found = _HEX.fullmatch(text)
        if found is None:
            raise FindError(f"{text!r} is not hex bytes (e.g. de ad be ef or deadbeef)")
        pattern = bytes.fromhex(re.sub(r"[\s:.-]", "", found.group(1)))
    else:
        pattern = text.encode("utf-8")
        if not case_sensitive:
            pattern = pattern.lower()
    if len(pattern) > MAX_PATTERN:
        raise FindError(f"at most {MAX_PATTERN:,} bytes can be searched for")
    return FindQuery(kind, text, pattern, case_sensitive)


@dataclass(frozen=True, slots=True)
class FindResult:
    """Where the search stopped: the match's packet index (None: no match)."""

    index: int | None
    wrapped: bool
    """The match was found after going round the end (or the start, backwards)."""
    searched: int
    """Rows tested."""
    cancelled: bool = False


Progress = Callable[[int, int], None]
"""Rows searched so far, rows to search."""


class PacketFinder:
    """Tests packets of a buffer against one query; searches the rows a list shows."""

    def __init__(self, ring: PacketRing | FileRing, query: FindQuery) -> None:
        self.ring = ring
        self.query = query
        compiled = query.display_filter
        self._times = RingTimes(ring, track=compiled.stateful) if compiled is not None else None
        self._forward = True
        self._block: tuple[int, list[PcapRecord | None]] | None = None
        """Packets read from a file ahead of the search: (first index, records)."""

    def matches(self, index: int) -> bool:
        """Whether packet ``index`` matches (False once it left the buffer)."""
        record = self._record(index)
        if record is None:
            return False
        query = self.query
        compiled = query.display_filter
        if compiled is None:
            data = record.data if query.case_sensitive else record.data.lower()
            return query.pattern in data
        timestamp, length, linktype, data, source = record
        names = self.ring.source_names
        # The filter reads its fields from the bytes (the packet model), never the list's
        # columns: they are left empty rather than decoded (half the time of a search).
        summary = PacketSummary(
            index,
            timestamp,
            length,
            linktype,
            "",
            "",
            None,
            None,
            "",
            "",
            data,
            names[source] if source < len(names) else "",
        )
        return compiled.matches_packet(summary, self._times)

    def _record(self, index: int) -> PcapRecord | None:
        """The packet's bytes; from a file, read a block at a time in the search's direction."""
        ring = self.ring
        if not isinstance(ring, FileRing):
            return ring.record(index)
        block = self._block
        if block is None or not block[0] <= index < block[0] + len(block[1]):
            first = index if self._forward else max(1, index - FILE_BLOCK + 1)
            block = self._block = (first, ring.record_block(first, first + FILE_BLOCK - 1))
        return block[1][index - block[0]]

    def search(
        self,
        rows: Rows,
        start: int | None,
        forward: bool = True,
        *,
        progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> FindResult:
        """The next row (or previous, with ``forward`` False) after packet ``start`` that
        matches, going round the end once; ``start`` itself is tested last.

        ``start`` None (nothing selected) begins at the first row (the last, backwards).
        ``progress`` is called about every PROGRESS_EVERY seconds of a long search, and
        ``cancelled`` checked as often: a cancelled search returns no index.
        """
        total = len(rows)
        self._forward = forward
        if total == 0:
            return FindResult(None, False, 0)
        origin = rows.row_of(start) if start is not None else None
        step = 1 if forward else -1
        if origin is None:
            origin = -1 if forward else total  # the first row tested is the first (last)
        next_report = time.monotonic() + PROGRESS_EVERY
        for searched in range(1, total + 1):
            row = (origin + step * searched) % total
            index = rows.index_at(row)
            if index is not None and self.matches(index):
                wrapped = (row <= origin) if forward else (row >= origin)
                return FindResult(index, wrapped, searched)
            if searched % 512 == 0 and time.monotonic() >= next_report:
                next_report = time.monotonic() + PROGRESS_EVERY
                if cancelled is not None and cancelled():
                    return FindResult(None, False, searched, cancelled=True)
                if progress is not None:
                    progress(searched, total)
        return FindResult(None, False, total)
