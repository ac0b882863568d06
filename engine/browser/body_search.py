"""Which requests' response bodies (or WebSocket frames and server-sent events) contain a
text: the kept bodies, those the browser still has, and the messages livetap kept.

Each request with a finished response is looked at once: livetap's own copy when it kept
one (:mod:`engine.browser.bodies`), else the browser is asked (``Network.getResponseBody``,
a short timeout each). A WebSocket's or EventSource's text messages that livetap still
holds (:mod:`engine.browser.streams`: the newest of each connection, each cut at its cap)
are searched too, and a match says where it was (``body``, ``frame #3 ↓ received``,
``event #2 tick``). Bounded: at most :data:`MAX_MATCHES` matches, a total time limit,
and a ``cancelled`` check between requests, so a worker thread can run it while the
user types; ``progress`` is called as it goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from engine.browser.records import RequestRecord, ResponseBody
from engine.browser.source import BrowserSource
from engine.browser.streams import StreamMessage
from engine.errors import LivetapError

MAX_MATCHES = 500
TIME_LIMIT = 60.0
"""Seconds a search may take in all."""
FETCH_TIMEOUT = 3.0
"""Seconds the browser may take to hand over one body."""
SNIPPET = 30
"""Characters of context each side of the first match."""


@dataclass(frozen=True, slots=True)
class BodyMatch:
    """A request whose response body contains the text."""

    request_id: str
    seq: int
    url: str
    count: int
    """How many times the text occurs."""
    snippet: str
    """The first occurrence with a little context, on one line."""
    where: str = "body"
    """Where the first occurrence is (``body``, ``frame #3 ↓ received``, ``event #2 tick``),
    and in how many more places the text occurs."""


@dataclass(frozen=True, slots=True)
class SearchProgress:
    """Where a search stands."""

    searched: int
    total: int
    unavailable: int
    """Requests whose body neither livetap nor the browser has (any more)."""
    matches: tuple[BodyMatch, ...]
    done: bool = False
    stopped: str = ""
    """Why the search ended early (time limit, match limit), or ""."""


def has_body(record: RequestRecord) -> bool:
    """Whether a request has a response body to look in."""
    return (
        record.finished
        and not record.error
        and not record.redirected_to
        and record.resource_type != "WebSocket"
    )


def searchable(record: RequestRecord) -> bool:
    """Whether a request has a response body, or WebSocket frames or events, to look in."""
    return has_body(record) or record.messages > 0


def message_place(message: StreamMessage) -> str:
    """Where in a connection a message is: ``frame #3 ↓ received``, ``event #2 tick``."""
    if message.kind == "sse":
        return f"event #{message.index}" + (f" {message.event}" if message.event else "")
    arrow = "↑" if message.direction == "sent" else "↓"
    return f"frame #{message.index} {arrow} {message.direction}"


def find(body: bytes, needle: str) -> tuple[int, str]:
    """How often ``needle`` occurs in ``body`` (as UTF-8 text, ignoring case), and a snippet."""
    text = body.decode("utf-8", errors="replace")
    folded, wanted = text.casefold(), needle.casefold()
    if len(folded) != len(text):  # casefold changed lengths (ß → ss): no snippet offsets
        return folded.count(wanted), ""
    count = folded.count(wanted)
    if not count:
        return 0, ""
    at = folded.index(wanted)
    start, end = max(0, at - SNIPPET), at + len(wanted) + SNIPPET
    snippet = " ".join(text[start:end].split())
    return count, ("…" if start else "") + snippet + ("…" if end < len(text) else "")


def search_bodies(
    source: BrowserSource,
    records: Iterable[RequestRecord],
    needle: str,
    *,
    progress: Callable[[SearchProgress], None] | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    fetched: Mapping[str, ResponseBody] | None = None,
    time_limit: float = TIME_LIMIT,
    max_matches: int = MAX_MATCHES,
) -> SearchProgress:
    """Look for ``needle`` in the response body of each of ``records`` (in their order)."""
    if not needle:
        return SearchProgress(0, 0, 0, (), done=True)
    wanted = [record for record in records if searchable(record)]
    matches: list[BodyMatch] = []
    unavailable = searched = 0
    stopped = ""
    deadline = time.monotonic() + time_limit
    last_report = 0.0
    for record in wanted:
        if cancelled():
            stopped = "cancelled"
            break
        if time.monotonic() > deadline:
            stopped = f"stopped after {time_limit:.0f} s"
            break
        searched += 1
        found = _places(source, record, fetched, needle)
        if found is None:
            unavailable += 1
        elif found:
            count = sum(place[1] for place in found)
            where = found[0][0] + (f" (+{len(found) - 1} more)" if len(found) > 1 else "")
            match = BodyMatch(record.id, record.seq, record.url, count, found[0][2], where)
            matches.append(match)
            if len(matches) >= max_matches:
                stopped = f"the first {max_matches} matches"
                break
        now = time.monotonic()
        if progress is not None and now - last_report > 0.1:
            last_report = now
            progress(SearchProgress(searched, len(wanted), unavailable, tuple(matches)))
    result = SearchProgress(
        searched, len(wanted), unavailable, tuple(matches), done=True, stopped=stopped
    )
    if progress is not None:
        progress(result)
    return result


def _places(
    source: BrowserSource,
    record: RequestRecord,
    fetched: Mapping[str, ResponseBody] | None,
    needle: str,
) -> list[tuple[str, int, str]] | None:
    """Each place of a request the text occurs (where, how often, snippet), in order:
    its body, then its kept text messages; None when it has nothing left to look in."""
    places: list[tuple[str, int, str]] = []
    data = _body(source, record, fetched) if has_body(record) else None
    if data is not None:
        count, snippet = find(data, needle)
        if count:
            places.append(("body", count, snippet))
    messages = source.tracker.streams.messages(record.id) if record.messages else ()
    if data is None and not messages:
        return None
    for message in messages:
        if message.text and message.direction in ("sent", "received"):
            count, snippet = find(message.data, needle)
            if count:
                places.append((message_place(message), count, snippet))
    return places


def _body(
    source: BrowserSource, record: RequestRecord, fetched: Mapping[str, ResponseBody] | None
) -> bytes | None:
    """The body livetap has (fetched by b, or kept), else the browser's; None if gone."""
    if fetched is not None and record.id in fetched:
        return fetched[record.id].data
    try:
        return source.fetch_body(record.id, timeout=FETCH_TIMEOUT).data
    except LivetapError:
        return None
