"""The browser pane: the connection's state, the request list, the request detail, and
what the keys do to requests.

The screen routes the request keys of the one key table (tui/keys.py) here. The pane
keeps what was fetched per request (bodies, post data, the connection found among the
buffered packets) and asks the browser and the engine for it in worker threads. It
posts :class:`BrowserPane.BodyShown` when a body b fetched is ready to read, so the
screen can put the pane on show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Span, Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from engine.browser.records import BrowserBatch, BrowserStatus, RequestRecord, ResponseBody
from engine.correlate import ConnectionFigures, find_connection, request_line
from engine.errors import LivetapError
from engine.process.chromium import connection_owner
from engine.tls_decode import (
    H2Frame,
    Http2Frames,
    connections_to,
    records_of,
    request_stream,
    with_stream,
)
from engine.tls_keylog import KeyLog
from tui.notes import fail, flash, warn
from tui.widgets.request_chips import ChipBar, Chips
from tui.widgets.request_detail import RequestDetail
from tui.widgets.request_sort import next_column, sort_words
from tui.widgets.request_view import RequestList

if TYPE_CHECKING:
    from engine.browser.source import BrowserSource
    from engine.display_filter import DisplayFilter
    from engine.ring import SummaryCache
    from engine.session import CaptureSession

CONNECT_HINT = """\
No browser connected.

To see a browser's requests here,
start livetap with one of:

--browser launch
  a headless Chromium of its own
  --headed: a visible one
  --open URL: load a page

--browser 9222
  a running Chrome or Chromium
  started with
  --remote-debugging-port=9222
  --user-data-dir=DIR

--browser ws://HOST:PORT/devtools/…

Every tab, popup, iframe and
worker is followed.
"""


def status_line(status: BrowserStatus, narrowed: str = "") -> Text:
    """The pane's title: endpoint, state, counts, and what the chips narrow the list to."""
    text = Text()
    text.append(" Browser ", style="bold")
    text.append(f"{status.endpoint} · ")
    colour = {"connected": "green", "connecting": "yellow"}.get(status.state.value, "red")
    text.append(status.state.value, style=f"bold {colour}")
    text.append(f" · {status.requests:,} requests · {status.targets} targets")
    if status.evicted:
        text.append(f" · {status.evicted:,} dropped")
    if status.skipped_messages:
        count = status.skipped_messages
        noun = "message" if count == 1 else "messages"
        text.append(f" · {count:,} DevTools {noun} skipped (malformed or unexpected)", style="dim")
    if narrowed:
        text.append(" · showing ")
        text.append(narrowed, style="bold reverse")
    if status.message:
        text.append(f" · {status.message}", style="italic")
    return text


class BrowserPane(Vertical):
    """Requests on the right of the packets; a hint when no browser is connected."""

    DEFAULT_CSS = """
    BrowserPane {
        width: 1fr;
        border-left: vkey $panel;
    }
    BrowserPane.-idle {
        width: 40;
    }
    BrowserPane #browser-title {
        height: 1;
        background: $panel;
    }
    BrowserPane #browser-hint {
        padding: 1 1;
        color: $text-muted;
    }
    """

    class BodyShown(Message):
        """The body b fetched is in the request detail: the screen puts it on show."""

        def __init__(self, detail: RequestDetail) -> None:
            super().__init__()
            self.detail = detail

    def __init__(
        self,
        browser: BrowserSource | None,
        packets: CaptureSession | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id, classes="" if browser is not None else "-idle")
        self.browser = browser
        self.packets = packets
        """The capture whose buffered packets hold the requests' connections (None: none)."""
        self.status: BrowserStatus | None = None
        """The browser's state at the last pull, for the status bar."""
        self._request_list: RequestList | None = None
        self._title: tuple[str, list[Span]] | None = None
        """The title last shown."""
        self._shown_request: str | None = None
        self._bodies: dict[str, ResponseBody] = {}
        self._body_notes: dict[str, str] = {}
        """Why b found no body for a request (dropped, too large, gone), shown in its detail."""
        self._post_data: dict[str, str | None] = {}
        self._figures: dict[str, tuple[int, ConnectionFigures | None]] = {}
        """Per request: the newest packet index searched, and the connection found."""
        self.preserve_log = True
        """Keep requests across a tab's navigations (False: a navigation clears the list)."""
        self._navigation_seen = 0
        """The tracker's newest navigation already acted on."""

    @property
    def connected(self) -> bool:
        """Whether a browser feeds this pane (else it shows how to connect one)."""
        return self.browser is not None

    def on_mount(self) -> None:
        """Start with the config's choice of preserve log / clear on navigate."""
        self.preserve_log = bool(getattr(self.app, "preserve_log", True))
        if self.browser is not None:
            self._navigation_seen = self.browser.tracker.navigated_at
            self._show_chips()

    def compose(self) -> ComposeResult:
        yield Static(Text(" Browser · not connected", style="bold"), id="browser-title")
        if self.connected:
            yield ChipBar(id="request-chips")
            self._request_list = RequestList(id="request-list")
            yield self._request_list
            yield RequestDetail(id="request-detail")
        else:
            yield Static(CONNECT_HINT, id="browser-hint", markup=False)

    def apply(self, batch: BrowserBatch) -> None:
        """Show the state and apply the changed requests."""
        requests = self.request_list
        narrowed = requests.chips.words() if requests is not None else ""
        self._set_title(status_line(batch.status, narrowed))
        if self.connected and (batch.changed or batch.removed):
            with self.app.batch_update():
                self.query_one(RequestList).apply(batch.changed, batch.removed)

    # -- feeding -------------------------------------------------------------------

    def pull(self) -> None:
        """Take in what the browser reported since the last pull (the screen's timer)."""
        if self.browser is None:
            return
        batch = self.browser.poll()
        self.status = batch.status
        self.apply(batch)
        navigated = self.browser.tracker.navigated_at
        if navigated != self._navigation_seen:
            self._navigation_seen = navigated
            if not self.preserve_log and self.request_list is not None:
                self.request_list.clear_before(navigated)
        if any(record.id == self._shown_request for record in batch.changed):
            self._show_request(self._shown_request)

    @property
    def request_list(self) -> RequestList | None:
        """The request list (None while no browser is connected); kept from compose."""
        return self._request_list

    @property
    def selected_request(self) -> str | None:
        """The request under the cursor, if the list has rows."""
        requests = self.request_list
        return requests.selected_id if requests is not None else None

    def set_display_filter(self, display_filter: DisplayFilter | None) -> None:
        """List only the requests ``display_filter`` matches (None: all)."""
        if self.browser is not None and self.request_list is not None:
            self.request_list.set_filter(display_filter, self.browser.tracker.records())

    def action_cycle_type_chip(self) -> None:
        """The next type chip (All, Fetch/XHR, Doc, CSS, JS, Img, Media, Font, WS, Other)."""
        if self.request_list is not None:
            self._set_chips(self.request_list.chips.next_type())

    def action_cycle_status_chip(self) -> None:
        """The next status chip (All, 2xx, 3xx, 4xx, 5xx, failed)."""
        if self.request_list is not None:
            self._set_chips(self.request_list.chips.next_status())

    def _set_chips(self, chips: Chips) -> None:
        """List the requests under ``chips``; the chip bar and the title say which."""
        requests = self.request_list
        if self.browser is None or requests is None:
            return
        requests.set_chips(chips, self.browser.tracker.records())
        self._show_chips()
        if self.status is not None:
            self._set_title(status_line(self.status, chips.words()))

    def _set_title(self, title: Text) -> None:
        """Show ``title`` if it changed: the title is one line high, so no layout (a
        Static's update lays out and repaints the whole screen, at every pull otherwise)."""
        seen = (title.plain, title.spans)
        if seen == self._title:
            return
        self._title = seen
        self.query_one("#browser-title", Static).update(title, layout=False)

    def _show_chips(self) -> None:
        """The chip bar: the active chips, and whether the log is kept across navigations."""
        requests = self.request_list
        if requests is not None:
            sort = sort_words(requests.sort_column, requests.sort_reverse)
            self.query_one(ChipBar).show(requests.chips, self.preserve_log, sort)

    def action_sort_next(self) -> None:
        """Sort by the next column (#, Method, Status, URL, Type, MIME, Size, Time, Waterfall)."""
        requests = self.request_list
        if requests is not None:
            requests.sort_by(next_column(requests.sort_column), requests.sort_reverse)
            self._show_chips()

    def action_sort_reverse(self) -> None:
        """Turn the sort's direction round."""
        requests = self.request_list
        if requests is not None:
            requests.sort_by(requests.sort_column, not requests.sort_reverse)
            self._show_chips()

    def action_clear_requests(self) -> None:
        """Clear the list: the requests made so far leave it (the NDJSON capture and the
        browser keep theirs); new ones are listed as they come."""
        requests = self.request_list
        if self.browser is None or requests is None:
            return
        records = self.browser.tracker.records()
        newest = records[-1].seq if records else 0
        requests.clear_before(newest + 1)
        self._shown_request = None
        self.query_one(RequestDetail).show_message(
            "List cleared; new requests appear as they come."
        )

    def action_toggle_preserve_log(self) -> None:
        """Preserve log (keep requests across navigations) or clear on navigate."""
        self.preserve_log = not self.preserve_log
        self._show_chips()

    def filter_counts(self) -> tuple[int, int]:
        """Requests listed and requests held (what the display filter let through, of all)."""
        requests = self.request_list
        held = len(self.browser.tracker) if self.browser is not None else 0
        return (requests.row_count if requests is not None else 0), held

    # -- the selected request's detail ------------------------------------------------

    def on_request_list_highlighted(self, message: RequestList.Highlighted) -> None:
        """Show the request under the cursor."""
        self._shown_request = message.request_id
        self._show_request(self._shown_request)

    def on_request_list_chosen(self, message: RequestList.Chosen) -> None:
        """Enter on a request opens its detail, like on a packet."""
        self.query_one(RequestDetail).focus()

    def _show_request(self, request_id: str | None) -> None:
        """Render a request with whatever was fetched for it."""
        if self.browser is None or request_id is None:
            return
        record = self.browser.get(request_id)
        detail = self.query_one(RequestDetail)
        if record is None:
            detail.show_message(f"Request {request_id} is no longer in the list")
            return
        searched, figures = self._figures.get(request_id, (-1, None))
        newest = self.packets.ring.last_index if self.packets is not None else 0
        if figures is None and searched < newest and record.remote_ip and record.remote_port:
            # not found yet: packets captured since may hold the connection
            self._figures[request_id] = (newest, None)
            self._correlate(request_id)
        body, post_data = self._bodies.get(request_id), self._post_data.get(request_id)
        note = self._body_notes.get(request_id, "") if body is None else ""
        streams = self.browser.tracker.streams
        detail.show(
            record,
            figures,
            body,
            post_data,
            note=note,
            messages=streams.messages(request_id) if record.messages else (),
            summary=streams.summary(request_id) if record.messages else None,
        )

    @work(thread=True, exclusive=True, group="correlate")
    def _correlate(self, request_id: str) -> None:
        """Find the request's connection among the buffered packets."""
        newest, figures = self._connection_of(request_id, decrypt=True)
        if not get_current_worker().is_cancelled:
            self._figures[request_id] = (newest, figures)
            if figures is not None:
                self.app.call_from_thread(self._show_request, request_id)

    def _connection_of(
        self, request_id: str, *, decrypt: bool = False
    ) -> tuple[int, ConnectionFigures | None]:
        """The correlation itself (any thread), with the newest packet it searched.

        With a key log, the connection's decrypted HTTP/2 frames name the request's
        own stream: from the cache, or (``decrypt``, off the UI thread) from tshark now.
        """
        record = self.browser.get(request_id) if self.browser else None
        packets = self.packets
        if record is None or packets is None or not record.remote_ip or not record.remote_port:
            return 0, None
        ring = packets.ring
        newest = ring.last_index
        line = request_line(record.method, record.url)
        figures = find_connection(
            iter(ring), record.remote_ip, record.remote_port, record.started, line
        )
        if figures is not None and figures.packets:
            figures = self._own_stream(ring, record, figures, decrypt)
        if figures is not None and packets.owners is not None:
            owner = connection_owner(
                figures.packets, figures.local_port, packets.packet, packets.process_of
            )
            figures = replace(figures, process=owner)
        return newest, figures

    def _own_stream(
        self,
        ring: SummaryCache,
        record: RequestRecord,
        figures: ConnectionFigures,
        decrypt: bool,
    ) -> ConnectionFigures:
        """The request's HTTP/2 stream on the correlated connection or, when that one does not
        carry it (a browser keeps a spare connection to the same server), on the one that does."""
        method, url, started = record.method, record.url, record.started
        frames = self._decrypted(ring, figures.packets, decrypt)
        if frames is None:
            return figures  # no keys, or not decrypted yet
        if request_stream(frames, method, url, started) is not None:
            return with_stream(figures, frames, method, url, started)
        endpoint = (record.remote_ip, record.remote_port or 0)
        for indices in connections_to(ring, {endpoint}).values():
            if indices[0] == figures.packets[0]:
                continue
            others = self._decrypted(ring, indices, decrypt)
            if not others or request_stream(others, method, url, started) is None:
                continue
            packets = [packet for packet in map(ring.get, indices) if packet is not None]
            found = find_connection(packets, endpoint[0], endpoint[1], started)
            if found is not None:
                return with_stream(found, others, method, url, started)
        return figures

    def _decrypted(
        self, ring: SummaryCache, indices: Sequence[int], decrypt: bool
    ) -> list[H2Frame] | None:
        """A connection's decrypted HTTP/2 frames (None without keys or not yet known)."""
        store = getattr(self.app, "http2_frames", None)
        key_log = getattr(self.app, "key_log", None)
        if not isinstance(store, Http2Frames) or not isinstance(key_log, KeyLog):
            return None
        known = store.by_first(indices[0])
        if not decrypt or not key_log.available:
            return known
        records, kept = records_of(ring, indices)
        try:
            generation = len(key_log.secrets())
            with key_log.tshark_file() as keys:
                if keys is None or not kept:
                    return known
                return store.decrypt(records, kept, keys, generation=generation)
        except LivetapError:
            return known

    # -- actions (keys routed here by the screen) ------------------------------------

    def select_request(self, request_id: str) -> bool:
        """Put the cursor on a listed request (and hold the list there); False if not listed."""
        requests = self.request_list
        if requests is None or not requests.select(request_id):
            warn(self, "that request is no longer listed")
            return False
        return True

    @property
    def fetched_bodies(self) -> dict[str, ResponseBody]:
        """The bodies b fetched so far, by request id."""
        return dict(self._bodies)

    def action_focus_detail(self) -> None:
        """Move the focus to the selected request's detail."""
        self.query_one(RequestDetail).focus()

    def action_focus_list(self) -> None:
        """Back to the request list."""
        if self.request_list is not None:
            self.request_list.focus()

    def action_follow_newest(self) -> None:
        """Follow the newest request again (like End)."""
        if self.request_list is not None:
            self.request_list.follow_newest()

    def action_show_body(self) -> None:
        """Fetch the selected request's body (and post data) from the browser."""
        request_id = self.selected_request
        if request_id is None:
            warn(self, "select a browser request first")
            return
        self._fetch_body(request_id)

    @work(thread=True, exclusive=True, group="body")
    def _fetch_body(self, request_id: str) -> None:
        """Ask the browser for the body, off the UI thread."""
        assert self.browser is not None
        try:
            self._post_data[request_id] = self.browser.fetch_post_data(request_id)
            self._bodies[request_id] = self.browser.fetch_body(request_id)
        except LivetapError as error:
            self._body_notes[request_id] = f"Response body not shown: {error.message}"
            self.app.call_from_thread(fail, self, error.message, "Body not fetched")
        self.app.call_from_thread(self._show_body, request_id)

    def _show_body(self, request_id: str) -> None:
        """Show the request with its body; the screen brings the body into view."""
        if self.selected_request != request_id:
            return  # the user moved on meanwhile: the body is kept for when they come back
        self._show_request(request_id)
        if request_id in self._bodies:
            self.post_message(self.BodyShown(self.query_one(RequestDetail)))

    def find_packets(self) -> ConnectionFigures | None:
        """The selected request's connection among the buffered packets (g), shown in its
        detail; None, with a warning saying why, when there is nothing to show."""
        request_id = self.selected_request
        if self.browser is None or request_id is None:
            warn(self, "select a browser request first")
            return None
        newest, figures = self._connection_of(request_id)
        self._figures[request_id] = (newest, figures)
        self._show_request(request_id)
        if figures is None:
            warn(self, "none of this request's packets are in the buffer")
        return figures

    def export_har(self, directory: Path, show_secrets: bool = False) -> None:
        """Write the listed requests to a HAR file in ``directory`` (a worker thread); a
        notification says where, or why not."""
        requests = self.request_list
        if self.browser is None or requests is None:
            return
        records = requests.listed
        if not records:
            warn(self, "no requests listed to export")
            return
        self._write_har(directory, records, show_secrets)

    @work(thread=True, exclusive=True, group="har")
    def _write_har(self, directory: Path, records: list[RequestRecord], show_secrets: bool) -> None:
        """Make and write the HAR off the UI thread (thousands of entries take a while)."""
        from engine.browser.bodies import BodyStore
        from engine.browser.har_export import export_har

        kept = getattr(self.browser, "bodies", None)
        bodies = dict(self._bodies)
        if isinstance(kept, BodyStore):
            for record in records:
                data = kept.get(record.id) if record.id not in bodies else None
                if data is not None:
                    bodies[record.id] = ResponseBody(record.id, data, record.mime_type)
        streams = self.browser.tracker.streams if self.browser is not None else None
        frames = {
            record.id: streams.messages(record.id)
            for record in records
            if streams is not None and record.messages and record.resource_type == "WebSocket"
        }
        try:
            path, entries = export_har(
                directory, records, self._post_data, bodies, show_secrets, frames=frames
            )
        except LivetapError as error:
            self.app.call_from_thread(fail, self, error.message, "HAR not written")
            return
        hidden = "" if show_secrets else " (secrets hidden; --show-secrets keeps them)"
        note = f"HAR: {entries:,} requests written to {path}{hidden}"
        self.app.call_from_thread(flash, self, note, 10)

    def action_relaunch_browser(self) -> None:
        """Launch the browser again after it exited."""
        if self.browser is None or not self.browser.relaunch():
            warn(self, "nothing to relaunch")
