"""Results cut to a size an agent can take, always with a marker saying what was left out.

Lists longer than a limit keep their first items; the document then carries
``"truncation": {"truncated": true, "omitted": N, "lists": [{"path", "kept",
"omitted"}]}`` naming every list that was cut. Long texts keep their start and
report ``{"truncated": true, "omitted": N}`` (characters) next to them. When a
document is still too large as JSON, the list limit is halved until it fits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_RESULT_CHARS = 1_000_000
"""A result larger than this (as JSON) is cut further."""
MAX_MARKED_LISTS = 50
"""Cut lists named in the marker; the total counts them all."""


@dataclass(frozen=True, slots=True)
class Omission:
    """One list that was cut: where, how many items stayed, how many went."""

    path: str
    kept: int
    omitted: int


def cap_lists(value: Any, limit: int, path: str = "") -> tuple[Any, list[Omission]]:
    """A copy of a JSON value with every list cut to ``limit`` items, and what was cut."""
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        omissions: list[Omission] = []
        for key, item in value.items():
            result[key], found = cap_lists(item, limit, f"{path}.{key}" if path else str(key))
            omissions += found
        return result, omissions
    if isinstance(value, list):
        items: list[Any] = []
        omissions = []
        for index, item in enumerate(value[:limit]):
            capped, found = cap_lists(item, limit, f"{path}[{index}]")
            items.append(capped)
            omissions += found
        if len(value) > limit:
            omissions.insert(0, Omission(path or "(result)", limit, len(value) - limit))
        return items, omissions
    return value, []


def marker(omissions: list[Omission]) -> dict[str, Any]:
    """The ``truncation`` entry of a document whose lists were cut."""
    return {
        "truncated": True,
        "omitted": sum(item.omitted for item in omissions),
        "lists": [
            {"path": item.path, "kept": item.kept, "omitted": item.omitted}
            for item in omissions[:MAX_MARKED_LISTS]
        ],
    }


def bounded(
    document: dict[str, Any], limit: int, max_chars: int = MAX_RESULT_CHARS
) -> dict[str, Any]:
    """``document`` with its lists cut to ``limit`` (or fewer, until it fits in ``max_chars``)."""
    limit = max(limit, 1)
    while True:
        capped, omissions = cap_lists(document, limit)
        if omissions:
            capped["truncation"] = marker(omissions)
        if limit == 1 or len(json.dumps(capped, default=str)) <= max_chars:
            result: dict[str, Any] = capped
            return result
        limit //= 2


def cap_text(text: str, limit: int) -> tuple[str, dict[str, Any] | None]:
    """The first ``limit`` characters of a text, and a marker when some were left out."""
    if len(text) <= limit:
        return text, None
    return text[:limit], {"truncated": True, "omitted": len(text) - limit}
