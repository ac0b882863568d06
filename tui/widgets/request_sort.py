"""What each request list column sorts by: the record's own values, not the cell text
(sizes as bytes, times as seconds, statuses as numbers with failures after them).

``#`` ascending is the order requests were made in, the list's natural order; every key
ends with the seq so equal values keep that order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.browser.records import RequestRecord

SortKey = Callable[[RequestRecord], tuple[Any, ...]]


def _missing_last(value: float | None) -> tuple[int, float]:
    """Unknown sizes and times (pending) after every known one."""
    return (1, 0.0) if value is None else (0, value)


SORT_KEYS: dict[str, SortKey] = {
    "#": lambda r: (r.seq,),
    "Method": lambda r: (r.method, r.seq),
    "Status": lambda r: (bool(r.error), r.status if r.status is not None else 1000, r.seq),
    "URL": lambda r: (r.url, r.seq),
    "Type": lambda r: (r.resource_type, r.seq),
    "MIME": lambda r: (r.mime_type, r.seq),
    "Size": lambda r: (*_missing_last(r.encoded_length), r.seq),
    "Time": lambda r: (*_missing_last(r.duration), r.seq),
    "Waterfall": lambda r: (r.started, r.seq),
}
"""Column name → sort key; the Waterfall sorts by when the request started."""
SORT_ORDER = tuple(SORT_KEYS)
"""The order ``o`` goes through the columns."""


def next_column(column: str) -> str:
    """The column ``o`` sorts by after ``column`` (after the last: ``#`` again)."""
    return SORT_ORDER[(SORT_ORDER.index(column) + 1) % len(SORT_ORDER)]


def sort_words(column: str, reverse: bool) -> str:
    """The sort for the chip bar ("" for the natural order)."""
    if column == "#" and not reverse:
        return ""
    return f"sort {column} {'▼' if reverse else '▲'}"
