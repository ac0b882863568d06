"""The requests a list shows, as one HAR 1.2 file: Export HAR without an NDJSON capture.

The entries are made as ``livetap har`` makes them from a capture (the same NDJSON lines,
the same redaction unless secrets are asked for), so both files read the same in a HAR
viewer. The file goes where other exports go, mode 0600, never through a link.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from engine.browser.records import RequestRecord, ResponseBody
from engine.browser.request_export import har_entry_of
from engine.browser.streams import StreamMessage
from engine.har import HarResult, har_log, write_har


def records_to_har(
    records: Iterable[RequestRecord],
    post_data: Mapping[str, str | None] | None = None,
    bodies: Mapping[str, ResponseBody] | None = None,
    show_secrets: bool = False,
    frames: Mapping[str, tuple[StreamMessage, ...]] | None = None,
) -> HarResult:
    """A HAR document of ``records``, in the order they started, with the request and
    response bodies at hand and the WebSockets' frames (by record id)."""
    post_data, bodies, frames = post_data or {}, bodies or {}, frames or {}
    ordered = sorted(records, key=lambda record: (record.started, record.seq))
    entries = [
        har_entry_of(
            record,
            post_data.get(record.id),
            show_secrets,
            bodies.get(record.id),
            frames.get(record.id, ()),
        )
        for record in ordered
    ]
    return HarResult(har_log(entries), len(entries), len(entries), 0)


def export_har(
    directory: Path,
    records: Iterable[RequestRecord],
    post_data: Mapping[str, str | None] | None = None,
    bodies: Mapping[str, ResponseBody] | None = None,
    show_secrets: bool = False,
    *,
    frames: Mapping[str, tuple[StreamMessage, ...]] | None = None,
) -> tuple[Path, int]:
    """Write ``livetap-requests-<time>.har`` in ``directory``; its path and entry count.

    Raises the LivetapError of :func:`engine.textfile.write_private` when it cannot write.
    """
    result = records_to_har(records, post_data, bodies, show_secrets, frames)
    path = directory / f"livetap-requests-{time.strftime('%Y%m%d-%H%M%S')}.har"
    suffix = 1
    while path.exists():  # two exports in one second: keep both
        suffix += 1
        path = directory / f"livetap-requests-{time.strftime('%Y%m%d-%H%M%S')}-{suffix}.har"
    write_har(result, path)
    return path, result.entries
