"""A capture file into the analyzer: batches, progress, Ctrl-C and broken files.

The struct-level reader hands over batches of records; progress is reported by
position in the file (at most ten times a second), and Ctrl-C stops the reading
with what was counted so far. A file that ends mid-record, or whose corruption stops
the reading, gives the report up to that point, a warning, and ``partial``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from itertools import islice
from pathlib import Path
from typing import IO, Any, cast

from engine.analysis.aggregate import Analyzer
from engine.analysis.report import REPORTS
from engine.errors import ExitCode, UsageError
from engine.pcapio import PcapReader, PcapRecord, _open_error
from engine.pcapio.formats import RecordTuple

ProgressCallback = Callable[[int, int], None]
"""Called with (bytes read, file size) as the reading goes on."""
PacketPredicate = Callable[[int, PcapRecord], bool]
"""Whether a record (with its frame number, from 1) counts in the reports (``analyze -Y``)."""
BATCH = 4096
PROGRESS_INTERVAL = 0.1


@dataclass(slots=True)
class ReadState:
    """What happened while reading: the file's format, warnings, how the reading ended."""

    format: str = ""
    linktype: int = 0
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False
    """The file ends in the middle of a record."""
    stopped: bool = False
    """Corruption stopped the reading before the end of the file."""
    interrupted: bool = False
    """Ctrl-C (or SIGTERM) stopped the reading."""
    packets: int = 0
    matched: int = 0
    """Records the display filter kept (``analyze -Y``)."""

    @property
    def partial(self) -> bool:
        """The result covers only part of the file."""
        return self.truncated or self.stopped or self.interrupted


def open_capture(path: str | Path) -> tuple[PcapReader, IO[bytes], int]:
    """Open a pcap/pcapng file: its reader, the stream (for progress) and its size.

    Raises the reader's typed errors: NotFoundError, PermissionDeniedError,
    BadInputError (a directory, empty, not a capture file).
    """
    path = Path(path)
    try:
        stream = path.open("rb")
        size = path.stat().st_size
    except OSError as error:
        raise _open_error(error, path) from None
    try:
        reader = PcapReader(stream, name=str(path))
    except BaseException:
        stream.close()
        raise
    return reader, stream, size


def read_batches(
    path: str | Path, state: ReadState, progress: ProgressCallback | None = None
) -> Iterator[list[PcapRecord]]:
    """The file's records in batches; ``state`` says how the reading ended.

    The caller catches KeyboardInterrupt around its loop (it may arrive while the
    caller works on a batch) and sets ``state.interrupted``.
    """
    return cast(Iterator[list[PcapRecord]], read_tuple_batches(path, state, progress, True))


def read_tuple_batches(
    path: str | Path,
    state: ReadState,
    progress: ProgressCallback | None = None,
    named: bool = False,
) -> Iterator[list[RecordTuple]]:
    """:func:`read_batches` as plain tuples (:meth:`PcapReader.read_tuples`), for the
    analyzer, which only unpacks them."""
    reader, stream, size = open_capture(path)
    state.format = reader.format
    state.linktype = reader.linktype
    read: Callable[[int], list[RecordTuple]] = reader.read_tuples
    if named:  # a named record is a tuple of the same fields
        read = cast(Callable[[int], list[RecordTuple]], reader.read_batch)
    try:
        batches = iter(lambda: read(BATCH), [])
        yield from _counted(batches, state, progress, lambda: _position(stream, size), size)
    finally:
        _ended(state, reader)


def _counted(
    batches: Iterable[list[Any]],
    state: ReadState,
    progress: ProgressCallback | None,
    done: Callable[[], int],
    total: int,
) -> Iterator[list[Any]]:
    """The batches, counted into ``state``, with ``progress`` told at most every
    PROGRESS_INTERVAL how far the reading is (``done()`` of ``total`` bytes)."""
    last_report = time.monotonic()
    for batch in batches:
        state.packets += len(batch)
        yield batch
        if progress is not None:
            now = time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL:
                last_report = now
                progress(done(), total)
    if progress is not None:
        progress(total, total)


def _ended(state: ReadState, reader: PcapReader) -> None:
    """Close a file read to its end (or not): its warnings (each names it) and how it ended."""
    state.warnings.extend(reader.warnings)
    state.truncated = state.truncated or reader.truncated
    state.stopped = state.stopped or any(
        "reading stopped" in w or "failed" in w for w in reader.warnings
    )
    reader.close()


def file_names(paths: Sequence[str | Path]) -> tuple[str, ...]:
    """The inputs' names as the display filter's ``frame.source`` knows them."""
    from engine.source_merge import distinct_names

    return distinct_names([Path(path).name for path in paths])


def read_merged_batches(
    paths: Sequence[str | Path], state: ReadState, progress: ProgressCallback | None = None
) -> Iterator[list[PcapRecord]]:
    """Several files' records merged by time, as ``-r a -r b`` and mergecap merge them.

    The merge is :func:`engine.source_merge.merge_by_time`; each record carries its
    file's number (``PcapRecord.source``); the reader's warnings name their file. One file
    is read as :func:`read_batches` reads it.
    """
    if len(paths) == 1:
        yield from read_batches(paths[0], state, progress)
        return
    from engine.source_merge import merge_by_time

    opened: list[tuple[PcapReader, IO[bytes], int]] = []
    try:
        for path in paths:
            opened.append(open_capture(path))
    except BaseException:
        for reader, _stream, _size in opened:
            reader.close()
        raise
    formats = [reader.format for reader, _stream, _size in opened]
    state.format = formats[0] if len(set(formats)) == 1 else " + ".join(formats)
    state.linktype = opened[0][0].linktype
    total = sum(size for _reader, _stream, size in opened)
    merged = merge_by_time([_with_offsets(reader) for reader, _stream, _size in opened])

    def done() -> int:
        return sum(_position(stream, size) for _reader, stream, size in opened)

    try:
        batches = iter(lambda: [item[2] for item in islice(merged, BATCH)], [])
        yield from _counted(batches, state, progress, done, total)
    finally:
        for reader, _stream, _size in opened:
            _ended(state, reader)


def _with_offsets(reader: PcapReader) -> Iterator[tuple[list[PcapRecord], list[int]]]:
    """A file's batches as the merge takes them (no index here: every offset 0)."""
    while batch := reader.read_batch(BATCH):
        yield batch, [0] * len(batch)


def _position(stream: IO[bytes], size: int) -> int:
    try:
        return min(stream.tell(), size)
    except (OSError, ValueError):
        return 0


@dataclass(slots=True)
class AnalysisResult:
    """The reports of one file, with how complete they are."""

    path: str
    format: str
    reports: dict[str, Any]
    warnings: list[str]
    truncated: bool
    interrupted: bool
    stopped: bool
    packets: int
    seconds: float
    """How long the analysis took."""
    filter: str | None = None
    """The display filter the reports were restricted to (None: every packet)."""
    matched: int | None = None
    """Packets the filter kept (None without a filter)."""
    files: tuple[str, ...] = ()
    """The files merged by time, when several were read (``path`` then names them all)."""

    @property
    def exit_code(self) -> ExitCode:
        """INTERRUPTED after Ctrl-C, PARTIAL for a truncated or corrupt file, else SUCCESS."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.truncated or self.stopped:
            return ExitCode.PARTIAL
        return ExitCode.SUCCESS

    def document(self) -> dict[str, Any]:
        """The ``data`` of the JSON output."""
        return {
            "file": self.path,
            **({"files": list(self.files)} if self.files else {}),
            "format": self.format,
            "complete": self.exit_code == ExitCode.SUCCESS,
            "truncated": self.truncated,
            "interrupted": self.interrupted,
            "warnings": list(self.warnings),
            **(
                {}
                if self.filter is None
                else {"filter": self.filter, "packets": self.packets, "matched": self.matched}
            ),
            "reports": self.reports,
        }


def check_reports(names: Iterable[str]) -> list[str]:
    """The report names, checked; ``all`` stands for every report."""
    chosen = list(names) or ["all"]
    unknown = [name for name in chosen if name != "all" and name not in REPORTS]
    if unknown:
        raise UsageError(
            f"there is no report {unknown[0]!r}: choose from {', '.join(REPORTS)} or all"
        )
    return list(REPORTS) if "all" in chosen else [r for r in REPORTS if r in chosen]


def analyze_file(
    path: str | Path | Sequence[str | Path],
    reports: Sequence[str] = ("all",),
    *,
    top_n: int = 10,
    blocklist: Any = None,
    show_secrets: bool = False,
    deep: bool = False,
    progress: ProgressCallback | None = None,
    predicate: PacketPredicate | None = None,
    filter_text: str | None = None,
    keylog: Path | None = None,
    decrypt_embedded: bool = True,
) -> AnalysisResult:
    """Read a pcap/pcapng file into an Analyzer and build the requested reports.

    ``path`` may name several files: they are merged by time, as ``mergecap`` merges them
    (:func:`read_merged_batches`), and read by one process.

    With ``keylog`` (a TLS key log) or secrets embedded in the file (unless
    ``decrypt_embedded`` is False: the MCP server without --show-secrets), the http
    report gains the decrypted HTTP/2 requests (``decrypted``, through tshark).

    With ``predicate`` only the records it keeps are counted (``analyze -Y``:
    ``filter_text`` names the filter in the result); relative times still count
    from the file's first packet, as tshark's do. Without it the loop is the plain
    one: no cost per packet.

    With ``deep`` the file is also decoded by tshark (Wireshark's dissectors) and its
    protocol hierarchy replaces the fast one. Ctrl-C stops the reading with the
    partial reports (``interrupted``); a truncated file gives ``truncated``.
    """
    names = check_reports(reports)
    paths = [path] if isinstance(path, str | Path) else list(path)
    if not paths:
        raise UsageError("no capture file to analyze")
    if deep and len(paths) > 1:
        raise UsageError("--deep decodes one file with tshark: merge the files first (mergecap)")
    if top_n < 1:
        raise UsageError(f"--top-n must be 1 or more, not {top_n}")
    if deep:
        from engine.analysis.deep import tshark_path

        tshark_path()  # no tshark: say so before reading, not after
    analyzer = Analyzer(top_n=top_n, blocklist=blocklist, show_secrets=show_secrets, reports=names)
    state = ReadState()
    started = time.monotonic()
    collecting = gc.isenabled()
    gc.disable()  # the tables hold no cycles; the collector would only rescan them (~8%)
    try:
        document = None
        if predicate is None and not deep and len(paths) == 1:
            document = _on_two_cores(
                paths[0],
                names,
                state,
                progress,
                top_n=top_n,
                blocklist=blocklist,
                show_secrets=show_secrets,
            )
        if document is None:
            document = _read_and_report(
                analyzer, paths, names, state, progress=progress, predicate=predicate
            )
        del analyzer  # freed with the collector still off: nothing left for it to scan
    finally:
        if collecting:
            gc.enable()
    if "talkers" in document and predicate is None and not state.interrupted and len(paths) == 1:
        _add_processes(document["talkers"], paths[0], top_n)
    if deep and not state.interrupted:
        from engine.analysis.deep import deep_decode

        try:
            decoded = deep_decode(Path(paths[0]))
        except KeyboardInterrupt:
            state.interrupted = True
        else:
            document["deep"] = decoded.summary()
            if "protocols" in document:
                document["protocols"] = decoded.protocols_report()
            state.warnings.extend(decoded.warnings)
    if "http" in document and not state.interrupted:
        if len(paths) == 1:
            _add_decrypted(
                document["http"], Path(paths[0]), keylog, decrypt_embedded, state.warnings
            )
        elif keylog is not None:
            state.warnings.append(
                "the TLS traffic was not decrypted: --keylog reads one file at a time"
            )
    matched = state.matched
    return AnalysisResult(
        ", ".join(str(one) for one in paths),
        state.format,
        document,
        state.warnings,
        state.truncated,
        state.interrupted,
        state.stopped,
        state.packets,
        time.monotonic() - started,
        filter_text if predicate is not None else None,
        matched if predicate is not None else None,
        tuple(str(one) for one in paths) if len(paths) > 1 else (),
    )


def _add_decrypted(
    report: dict[str, Any],
    path: Path,
    keylog: Path | None,
    embedded: bool,
    warnings: list[str],
) -> None:
    """The decrypted HTTP/2 requests, when there are keys (a key log or the file's own)."""
    if keylog is None and not (embedded and _is_pcapng(path)):
        return  # only pcapng embeds keys: a pcap file does not pay for tshark's modules
    from engine.analysis.decrypted import decrypted_http, has_embedded_secrets
    from engine.errors import LivetapError

    if keylog is None and not (embedded and has_embedded_secrets(path)):
        return
    try:
        report["decrypted"] = decrypted_http(path, keylog)
    except LivetapError as error:
        warnings.append(f"the TLS traffic was not decrypted: {error.message}")
    except KeyboardInterrupt:
        warnings.append("the TLS traffic was not decrypted: interrupted")


def _add_processes(talkers: dict[str, Any], path: str | Path, top_n: int) -> None:
    """The top processes of a pcapng file a live capture saved (its packet comments name
    each packet's process); nothing for any other file."""
    if not _is_pcapng(path):
        return
    from engine.process.saved import saved_processes

    try:
        rows = saved_processes(path)
    except OSError:
        return
    if rows:
        talkers["processes_total"] = len(rows)
        talkers["by_process"] = [row.to_json() for row in rows[:top_n]]


def _is_pcapng(path: str | Path) -> bool:
    """Whether a file starts as pcapng does (only pcapng carries comments and keys)."""
    try:
        with Path(path).open("rb") as stream:
            return stream.read(4) == b"\x0a\x0d\x0d\x0a"
    except OSError:
        return False


def _on_two_cores(
    path: str | Path,
    names: list[str],
    state: ReadState,
    progress: ProgressCallback | None,
    **options: Any,
) -> dict[str, Any] | None:
    """The reports read by two processes (None: read them alone).

    ``conversations`` alone is split by address pair, several reports by report.
    """
    from engine.analysis import shards

    if not shards.usable(path):
        return None
    attempt = ReadState()
    if names == ["conversations"]:
        report = shards.conversations_on_two_cores(path, attempt, progress)
        document = None if report is None else {"conversations": report}
    else:
        document = shards.reports_on_two_cores(path, names, attempt, progress, **options)
    if document is None:
        return None
    for name in fields(ReadState):
        setattr(state, name.name, getattr(attempt, name.name))
    return document


def _read_and_report(
    analyzer: Analyzer,
    paths: Sequence[str | Path],
    names: Sequence[str],
    state: ReadState,
    *,
    progress: ProgressCallback | None,
    predicate: PacketPredicate | None,
) -> dict[str, Any]:
    """Feed the file to the analyzer and build the reports (the collector is off).

    The report is built before the collector is turned back on: its first pass would
    otherwise walk every object the tables made (a tenth of the heavy mix's time).
    """
    add = analyzer.add_records
    file_first: float | None = None
    try:
        if predicate is None:
            batches: Iterator[Sequence[RecordTuple]] = (
                read_tuple_batches(paths[0], state, progress)
                if len(paths) == 1
                else read_merged_batches(paths, state, progress)
            )
            for batch in batches:
                add(batch)
        else:
            for records in read_merged_batches(paths, state, progress):
                if file_first is None:
                    file_first = records[0].timestamp
                first = state.packets - len(records) + 1
                kept = [record for n, record in enumerate(records, first) if predicate(n, record)]
                state.matched += len(kept)
                add(kept)
    except KeyboardInterrupt:
        state.interrupted = True
    if state.matched and file_first is not None:
        analyzer.first_frame_time = file_first  # relative times count from the file's start
    return analyzer.report(names)
