"""The main screen: packets on the left, browser requests on the right, status, footer.

It pulls a batch from each engine source on a timer (15 times a second), never
one message per packet, and asks the engine to dissect only the selected packet
and fetch only the body asked for, in worker threads.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, TabbedContent
from textual.worker import get_current_worker

from engine.bpf import compile_filter
from engine.browser.records import BrowserStatus, ResponseBody
from engine.config import config_dir
from engine.correlate import ConnectionFigures, find_connection, request_line
from engine.dissect import dissect
from engine.errors import FilterError, LivetapError, UsageError, from_os_error
from engine.events import CaptureStats, PacketSummary
from engine.ndjson.capture import NdjsonCapture, NdjsonOptions
from engine.ndjson.url_filter import UrlFilter
from tui.filter_suggestions import packet_filters
from tui.keys import bindings
from tui.prompt_history import PromptHistory
from tui.screens.help import HelpScreen
from tui.screens.ndjson_form import CaptureForm, NdjsonForm
from tui.screens.prompts import display_filter_prompt, filter_prompt, save_prompt
from tui.widgets.browser_pane import BrowserPane
from tui.widgets.key_footer import KeyFooter
from tui.widgets.packet_detail import PacketDetailPane
from tui.widgets.packet_list import PacketList, PacketListHeader
from tui.widgets.packet_rows import RingRows
from tui.widgets.request_detail import RequestDetail
from tui.widgets.request_list import RequestList
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from engine.analysis import FollowResult
    from engine.browser.source import BrowserSource
    from engine.session import CaptureSession
    from engine.view import DisplayView
    from tui.screens.dissector_export import ExportResult

POLL_INTERVAL = 1 / 15
SPLIT_MIN_WIDTH = 120
ANALYSIS_BUDGET = 5_000
"""Packets the background stream analysis takes per poll (75,000 a second at most)."""
ANALYSIS_BEHIND = 100_000
"""Further behind than this, the analysis skips to the newest packets (under heavy load
the capture and the UI come first)."""
"""Narrower than this, packets and browser take turns on the whole screen (v switches);
the status bar keeps the hidden pane's count. The README's "Using it" says so."""
SHORT_HEIGHT = 32
"""Lower than this, the part of a pane the focus is in (list or detail) gets more rows."""
NOTE_SECONDS = 6.0
WARNING_SECONDS = 8.0
ERROR_SECONDS = 12.0
"""How long notifications stay: results, things that could not be done, errors."""
PACKET_ACTIONS = frozenset(
    {
        "filter",
        "deep_decode",
        "toggle_pause",
        "save_pcap",
        "export_dissector",
        "stats",
        "follow_stream",
        "goto_packets",
    }
)
"""Keys that need a packet capture: not in the footer with --no-packets."""
BROWSER_ACTIONS = frozenset({"show_body", "goto_packets", "relaunch_browser"})
"""Keys that need a browser: not in the footer without --browser."""


class MainScreen(Screen[None]):
    """Live packets and browser requests, with the figures that say how the capture goes."""

    BINDINGS: ClassVar[list[BindingType]] = bindings()

    DEFAULT_CSS = """
    #panes { height: 1fr; }
    #packet-pane { width: 3fr; background: $surface; }
    #packet-pane:focus-within { background: $surface; }  /* restyles the header on focus */
    #panes BrowserPane { width: 2fr; }
    #panes.-only-packets BrowserPane { display: none; }
    #panes.-only-browser #packet-pane { display: none; }
    #panes.-only-packets #packet-pane { width: 1fr; }
    #panes.-only-browser BrowserPane { width: 1fr; border-left: none; }
    #packet-list { height: 3fr; }
    #panes.-zoom-list PacketDetailPane { display: none; }
    #panes.-zoom-list RequestDetail { display: none; }
    #panes.-zoom-detail #packet-header { display: none; }
    #panes.-zoom-detail #packet-list { display: none; }
    #panes.-zoom-detail RequestList { display: none; }
    #panes.-zoom-detail PacketDetailPane { height: 1fr; }
    #panes.-zoom-detail RequestDetail { height: 1fr; }
    #panes.-short.-in-detail #packet-list { height: 1fr; }
    #panes.-short.-in-detail RequestList { height: 1fr; }
    /* the pane with the keys: its title line in the theme's primary colour */
    #packet-pane:focus-within #packet-header { background: $primary; color: $text; }
    #panes BrowserPane:focus-within { border-left: vkey $primary; }
    #panes BrowserPane:focus-within #browser-title { background: $primary; color: $text; }
    """

    def __init__(
        self,
        session: CaptureSession | None,
        save_directory: Path,
        browser: BrowserSource | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.browser = browser
        self.save_directory = save_directory
        self._stats: CaptureStats | None = None
        self._browser_status: BrowserStatus | None = None
        self.shown_pane = "packets" if session is not None else "browser"
        """The pane on show when only one fits (or one is zoomed)."""
        self.zoom = ""
        """"" (none), "pane", "list" or "detail": what z gave the whole screen."""
        if browser is None:
            self._relabel("other_pane", "Browser?")
        self._generation = 0
        self._analysing = threading.Lock()
        """Held while a stream analysis worker runs (one at a time)."""
        self._reported_error: str | None = None
        self._shown_request: str | None = None
        self._bodies: dict[str, ResponseBody] = {}
        self._body_notes: dict[str, str] = {}
        """Why b found no body for a request (dropped, too large, gone), shown in its detail."""
        self._post_data: dict[str, str | None] = {}
        self._figures: dict[str, tuple[int, ConnectionFigures | None]] = {}
        """Per request: the newest packet index searched, and the connection found."""
        self.ndjson: NdjsonCapture | None = None
        self.display_filter = ""
        """The display filter's text ("" when everything is shown)."""
        self.filter_packets = False
        """Whether the display filter narrows the packets (it names a packet field)."""
        self.filter_requests = False
        """Whether the display filter narrows the requests (it names a request field)."""
        example = Path("examples/sensor.json")
        self._spec_path = str(example) if example.is_file() else ""
        self._ndjson_reported: str | None = None

    def _relabel(self, action: str, description: str) -> None:
        """Give a key another footer description for this screen (e.g. no browser: v offers one)."""
        for key, found in self._bindings.key_to_bindings.items():
            self._bindings.key_to_bindings[key] = [
                replace(binding, description=description) if binding.action == action else binding
                for binding in found
            ]

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            if self.session is not None:
                with Vertical(id="packet-pane"):
                    yield PacketListHeader(id="packet-header")
                    yield PacketList(
                        self.session.packet,
                        RingRows(self.session.ring),
                        notes=self._notes,
                        id="packet-list",
                    )
                    yield PacketDetailPane(id="packet-detail")
            if self.browser is not None or self.session is None:
                yield BrowserPane(self.browser is not None, id="browser-pane")
        yield StatusBar(id="status-bar")
        yield KeyFooter()

    @property
    def footer_hidden(self) -> frozenset[str]:
        """Actions kept out of the footer: those for a part this session lacks.

        The keys still answer (with why they cannot act), from the keyboard and the palette.
        """
        hidden: frozenset[str] = frozenset()
        if self.session is None:
            hidden |= PACKET_ACTIONS
        if self.browser is None:
            hidden |= BROWSER_ACTIONS
        return hidden

    # -- layout: one pane or two, zoom, which pane has the keys --------------------------

    @property
    def both_panes(self) -> bool:
        """Whether this session has packets and a browser."""
        return self.session is not None and self.browser is not None

    @property
    def one_pane(self) -> bool:
        """True when only one pane is on show (narrow screen, or a zoom)."""
        return self.both_panes and (self.size.width < SPLIT_MIN_WIDTH or bool(self.zoom))

    def on_resize(self, event: events.Resize) -> None:
        """Lay the panes out for the new size."""
        self._apply_layout()

    def _apply_layout(self) -> None:
        """Set the classes the stylesheet lays the panes out by."""
        panes = self.query_one("#panes")
        one = self.one_pane
        panes.set_class(one and self.shown_pane == "packets", "-only-packets")
        panes.set_class(one and self.shown_pane == "browser", "-only-browser")
        panes.set_class(self.zoom == "list", "-zoom-list")
        panes.set_class(self.zoom == "detail", "-zoom-detail")
        panes.set_class(self.size.height < SHORT_HEIGHT, "-short")
        panes.set_class(self._focus_in_detail(), "-in-detail")

    def _focus_in_browser(self) -> bool:
        """Whether the focus is in the browser pane."""
        focused = self.focused
        panes = self.query(BrowserPane)
        return focused is not None and bool(panes) and panes.first() in focused.ancestors_with_self

    def _focus_in_detail(self) -> bool:
        """Whether the focus is in a detail (packet or request), not a list."""
        focused = self.focused
        details = (PacketDetailPane, RequestDetail)
        return focused is not None and any(
            isinstance(node, details) for node in focused.ancestors_with_self
        )

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The pane the focus moves into is the one on show."""
        if self.both_panes:
            self.shown_pane = "browser" if self._focus_in_browser() else "packets"
        self._apply_layout()
        self._show_status()

    def show_pane(self, name: str, focus: Widget | None = None) -> None:
        """Put a pane on show (when only one fits) and move the focus into it."""
        self.shown_pane = name
        self._apply_layout()
        if focus is not None:
            self.call_after_refresh(focus.focus)

    @property
    def packet_list(self) -> PacketList:
        """The packet list widget."""
        return self.query_one(PacketList)

    def on_mount(self) -> None:
        """Start pulling batches from the engine."""
        if self.session is None:
            self.query_one(BrowserPane).styles.width = "1fr"
        self._apply_layout()
        if self.session is not None:
            self.packet_list.focus()
            # A file opens at its first packet; a live source follows the newest.
            self.packet_list.follow = self.session.source.ring is None  # a file starts at the top
        elif self.query(RequestList):
            self.query_one(RequestList).focus()
        self.set_interval(POLL_INTERVAL, self.pull)
        self.pull()

    # -- feeding -------------------------------------------------------------------

    def pull(self) -> None:
        """Take what the engine has gathered since the last pull and show it."""
        if self.session is not None:
            if self.session.generation != self._generation:  # a capture filter re-read the file
                self._generation = self.session.generation
                rows = self.session.view
                self.packet_list.cursor = None
                self.packet_list.set_rows(rows if rows is not None else RingRows(self.session.ring))
            batch = self.session.poll()
            view = self.session.view
            if view is not None:
                view.trim()
            self.packet_list.refresh_rows()
            if self.session.ring.analysis.observed < self.session.ring.last_index:
                self._analyse()
            self._stats = batch.stats
            self._report(batch.stats.error, "Capture stopped")
        if self.browser is not None:
            browser_batch = self.browser.poll()
            self._browser_status = browser_batch.status
            self.query_one(BrowserPane).apply(browser_batch)
            if any(record.id == self._shown_request for record in browser_batch.changed):
                self._show_request(self._shown_request)
        self._show_status()

    def _report(self, error: str | None, title: str) -> None:
        """Notify an engine error once."""
        if error and error != self._reported_error:
            self._reported_error = error
            self.fail(error, title)

    def _show_status(self) -> None:
        """Redraw the status bar with the latest figures (state only, never results)."""
        paused = self.session is not None and self.packet_list.paused
        recording = self.ndjson.stats() if self.ndjson is not None else None
        if recording is not None and recording.error and recording.error != self._ndjson_reported:
            self._ndjson_reported = recording.error
            self.notify(
                recording.error,
                title="NDJSON capture stopped",
                severity="error",
                timeout=ERROR_SECONDS,
                markup=False,
            )
        requests = self.query(RequestList)
        self.query_one(StatusBar).show(
            self._stats,
            paused,
            following=self.packet_list.follow if self.session is not None else None,
            browser=self._browser_status,
            requests_following=requests.first().follow if requests else None,
            recording=recording,
            display=self._display_counts(),
            display_short=self._display_counts(short=True),
            hint="no browser: v" if self.browser is None else "",
        )

    def _display_counts(self, short: bool = False) -> str:
        """The display filter, the pane(s) it applies to, and each pane's matches.

        ``short`` is the 80-column form: ``/dns 12 pkts · all req``.
        """
        if not self.display_filter:
            return ""
        text = self.display_filter
        if short:
            parts = [f"/{text[:17]}…" if len(text) > 18 else f"/{text}"]
        else:
            parts = [f"display: {text}"]
        if self.session is not None:
            view = self.session.view
            total = len(self.session.ring)
            if self.filter_packets:
                shown = len(view) if view is not None else total
                busy = " (scanning…)" if view is not None and view.scanning else ""
                long = f"{shown:,} of {total:,} packets{busy}"
                parts.append(f"{shown:,} pkts" if short else long)
            else:
                parts.append("all pkts" if short else f"packets not filtered ({total:,})")
        if self.browser is not None and self.query(RequestList):
            requests = self.query_one(RequestList)
            total = len(self.browser.tracker.records())
            if self.filter_requests:
                count = requests.row_count
                parts.append(f"{count:,} req" if short else f"{count:,} of {total:,} requests")
            else:
                parts.append("all req" if short else f"requests not filtered ({total:,})")
        return (" " if short else " · ").join(parts)

    def flash(self, note: str, seconds: float = NOTE_SECONDS) -> None:
        """Tell the user the result of an action: a notification, long enough to read."""
        self.notify(note, timeout=max(seconds, NOTE_SECONDS), markup=False)

    def warn(self, note: str) -> None:
        """An action that could not be done: a notification that stays longer."""
        self.notify(note, severity="warning", timeout=WARNING_SECONDS, markup=False)

    def fail(self, note: str, title: str = "") -> None:
        """An error: a notification that stays long enough to read twice."""
        self.notify(note, title=title, severity="error", timeout=ERROR_SECONDS, markup=False)

    # -- packet detail ------------------------------------------------------------------

    def on_packet_list_selected(self, message: PacketList.Selected) -> None:
        """Dissect the newly selected packet in the background."""
        packet = self.session.packet(message.index) if self.session else None
        pane = self.query_one(PacketDetailPane)
        if packet is None:
            pane.show_message(f"Packet {message.index} is no longer in the buffer")
            return
        self._dissect(packet)
        if pane.showing_deep:
            self._deep_decode(packet)

    def on_tabbed_content_tab_activated(self, message: TabbedContent.TabActivated) -> None:
        """Opening the tshark tab decodes the selected packet there."""
        if message.pane.id == "tab-tshark":
            self.action_deep_decode()

    def action_deep_decode(self) -> None:
        """Show the selected packet as Wireshark's dissectors decode it (tshark)."""
        pane = self.query_one(PacketDetailPane)
        cursor = self.packet_list.cursor if self.session is not None else None
        packet = self.session.packet(cursor) if self.session is not None and cursor else None
        if not pane.showing_deep:
            pane.query_one(TabbedContent).active = "tab-tshark"  # activation calls back here
            return
        if packet is None:
            pane.show_deep(0, None, "select a packet first (↑ ↓)")
            return
        self._deep_decode(packet)

    @work(thread=True, exclusive=True, group="deep-decode")
    def _deep_decode(self, packet: PacketSummary) -> None:
        """tshark's decode of one packet, off the UI thread (about half a second)."""
        from engine.deep_decode import decode_with_tshark

        pane = self.query_one(PacketDetailPane)
        self.app.call_from_thread(pane.show_deep, packet.index, None, "decoding with tshark…")
        try:
            nodes = decode_with_tshark(
                packet.linktype, packet.data, packet.timestamp, packet.length, number=packet.index
            )
        except LivetapError as error:
            self.app.call_from_thread(pane.show_deep, packet.index, None, error.message)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(pane.show_deep, packet.index, nodes)

    def _notes(self, index: int) -> str:
        """The TCP analysis notes of a packet, if the background analysis got to it."""
        if self.session is None:
            return ""
        found = self.session.ring.analysis.peek(index)
        return found.tcp.info_prefix() if found is not None and found.tcp is not None else ""

    @work(thread=True, exclusive=False, group="stream-analysis")
    def _analyse(self) -> None:
        """Stream numbers and TCP analysis of new packets, off the UI thread, in order.

        Only one runs at a time (a second start returns at once); it takes at most
        ANALYSIS_BUDGET packets a poll, so a burst is caught up over a few polls.
        """
        if self.session is None or not self._analysing.acquire(blocking=False):
            return
        try:
            if self.session.ring.analysis.advance(ANALYSIS_BUDGET, behind=ANALYSIS_BEHIND):
                self.app.call_from_thread(self.packet_list.notes_changed)
        finally:
            self._analysing.release()

    @work(thread=True, exclusive=True, group="dissect")
    def _dissect(self, packet: PacketSummary) -> None:
        """scapy's full dissection of one packet, off the UI thread."""
        analysis = None
        if self.session is not None:
            analysis = self.session.ring.analysis.analysis_of(packet.index)
        detail = dissect(packet, analysis)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.query_one(PacketDetailPane).show, detail)

    # -- request detail -----------------------------------------------------------------

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        """Show the request under the cursor."""
        if isinstance(message.data_table, RequestList) and message.row_key.value is not None:
            self._shown_request = str(message.row_key.value)
            self._show_request(self._shown_request)

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
        newest = self.session.ring.last_index if self.session is not None else 0
        if figures is None and searched < newest and record.remote_ip and record.remote_port:
            # not found yet: packets captured since may hold the connection
            self._figures[request_id] = (newest, None)
            self._correlate(request_id)
        body, post_data = self._bodies.get(request_id), self._post_data.get(request_id)
        note = self._body_notes.get(request_id, "") if body is None else ""
        detail.show(record, figures, body, post_data, note=note)

    @work(thread=True, exclusive=True, group="correlate")
    def _correlate(self, request_id: str) -> None:
        """Find the request's connection among the buffered packets."""
        newest, figures = self._connection_of(request_id)
        if not get_current_worker().is_cancelled:
            self._figures[request_id] = (newest, figures)
            if figures is not None:
                self.app.call_from_thread(self._show_request, request_id)

    def _connection_of(self, request_id: str) -> tuple[int, ConnectionFigures | None]:
        """The correlation itself (any thread), with the newest packet it searched."""
        record = self.browser.get(request_id) if self.browser else None
        if record is None or self.session is None or not record.remote_ip or not record.remote_port:
            return 0, None
        ring = self.session.ring
        newest = ring.last_index
        line = request_line(record.method, record.url)
        figures = find_connection(
            iter(ring), record.remote_ip, record.remote_port, record.started, line
        )
        return newest, figures

    def _selected_request(self) -> str | None:
        """The request under the cursor, if there is a browser pane with rows."""
        lists = self.query(RequestList)
        return lists.first().selected_id if lists else None

    # -- actions (the key table in tui/keys.py) --------------------------------------

    def action_filter(self) -> None:
        """Ask for a BPF filter; the engine compiles it before it replaces the old one."""
        from engine.bpf_builder import build_filter
        from engine.bpf_examples import EXAMPLES

        session = self.session
        if session is None:
            self.warn("no packet capture in this session (started with --no-packets)")
            return

        def apply(expression: str) -> str:
            applied = session.set_filter(expression)
            return f"filter: {applied}" if applied else "filter cleared"

        def done(note: str | None) -> None:
            if note:
                self.flash(note)
                self.pull()

        linktype, snaplen = session.source.filter.linktype, session.source.filter.snaplen

        def validate(expression: str) -> str | None:
            try:
                compile_filter(expression, linktype, snaplen)
            except FilterError as error:
                return error.reason
            return None

        cursor = self.packet_list.cursor
        selected = session.packet(cursor) if cursor is not None else None
        examples = [(f"{example.description}:", example.expression) for example in EXAMPLES]
        prompt = filter_prompt(
            session.source.filter.expression,
            apply,
            validate=validate,
            history=PromptHistory(config_dir() / "history" / "bpf"),
            suggestions=packet_filters(selected) + examples,
            transform=lambda text: build_filter(text).expression,
        )
        self.app.push_screen(prompt, done)

    def action_display_filter(self) -> None:
        """Ask for a display filter: it narrows both panes, the capture is untouched."""
        from engine.display_filter import DisplayFilterError, compile_display_filter

        def validate(text: str) -> str | None:
            try:
                compile_display_filter(text)
            except DisplayFilterError as error:
                return error.message
            return None

        def apply(text: str) -> str:
            return self.apply_display_filter(text)

        def done(note: str | None) -> None:
            if note:
                self.flash(note)

        history = PromptHistory(config_dir() / "history" / "display")
        prompt = display_filter_prompt(
            self.display_filter, apply, validate=validate, history=history
        )
        self.app.push_screen(prompt, done)

    def apply_display_filter(self, text: str) -> str:
        """Narrow the panes whose fields ``text`` names; raises DisplayFilterError.

        A filter naming only packet fields (``dns``, ``ip.addr == …``) leaves the requests
        alone, and one naming only request fields (``status >= 400``) leaves the packets:
        a request has no ``dns`` and a packet no ``status``, so filtering the other pane
        would only empty it. The status bar says which pane it applies to.
        """
        from engine.display_filter import compile_display_filter

        compiled = compile_display_filter(text)
        self.display_filter = compiled.text.strip()
        everything = compiled.matches_everything
        self.filter_packets = not everything and compiled.uses_packet_fields
        self.filter_requests = not everything and compiled.uses_request_fields
        if self.session is not None:
            view = self.session.set_display_filter(text if self.filter_packets else "")
            self.packet_list.set_rows(view if view is not None else RingRows(self.session.ring))
            if view is not None and view.scanning:
                self._scan(view)
        if self.browser is not None and self.query(RequestList):
            active = compiled if self.filter_requests else None
            self.query_one(RequestList).set_filter(active, self.browser.tracker.records())
        self._show_status()
        if not self.display_filter:
            return "display filter cleared"
        return f"display filter: {self.display_filter} ({self._filter_scope()})"

    def _filter_scope(self) -> str:
        """Which panes the display filter narrows, in words."""
        packets = self.filter_packets and self.session is not None
        requests = self.filter_requests and self.browser is not None
        if packets and requests:
            return "both panes"
        if packets:
            return "packets only: it names no request field" if self.browser else "packets"
        if requests:
            return "requests only: it names no packet field" if self.session else "requests"
        return "nothing filtered: it names no field of this session's panes"

    @work(thread=True, exclusive=True, group="display-filter")
    def _scan(self, view: DisplayView) -> None:
        """Match the buffered packets against a new display filter, off the UI thread."""
        view.scan()
        self.app.call_from_thread(self.pull)

    def action_toggle_pause(self) -> None:
        """Freeze or unfreeze the list; packets keep arriving in the buffer."""
        if self.session is None:
            return
        packet_list = self.packet_list
        packet_list.set_paused(not packet_list.paused)
        packet_list.refresh_rows()
        self._show_status()

    def action_focus_detail(self) -> None:
        """Move the focus to the detail of the selected packet or request."""
        if isinstance(self.focused, RequestList):
            self.query_one(RequestDetail).focus()
            return
        if self.session is None:
            return
        packet_list = self.packet_list
        if packet_list.cursor is None and packet_list.row_count:
            packet_list.hold()  # the packet being read stays in view
            packet_list.select(packet_list.last_shown)
        self.query_one(PacketDetailPane).layer_tree.focus()

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        """Enter on a request (DataTable's own Enter) opens its detail, like on a packet."""
        if isinstance(message.data_table, RequestList):
            self.query_one(RequestDetail).focus()

    def action_focus_list(self) -> None:
        """Back to the list of the pane the focus is in."""
        if self._focus_in_browser() and self.query(RequestList):
            self.query_one(RequestList).focus()
        elif self.session is not None:
            self.packet_list.focus()

    def action_save_pcap(self) -> None:
        """Ask for a file name and write the buffered packets to it."""
        session = self.session
        if session is None:
            self.warn("no packet capture in this session (started with --no-packets)")
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        default = str(self.save_directory / f"livetap-{stamp}.pcap")

        def apply(path: str) -> str:
            if not path.strip():
                raise LivetapError("enter a file name")
            target = Path(path.strip()).expanduser()
            try:
                result = session.save_pcap(target)
            except OSError as error:
                raise from_os_error(error, f"write {target}") from None
            return f"saved {result.packets:,} packets to {result.path}"

        def done(note: str | None) -> None:
            if note:
                self.notify(note, title="Saved", timeout=8, markup=False)

        self.app.push_screen(save_prompt(default, apply), done)

    def action_toggle_capture(self) -> None:
        """Stop the NDJSON capture, or open the form that starts one."""
        if self.ndjson is not None:
            report = self.ndjson.stop()
            self.ndjson = None
            self.flash(
                f"NDJSON capture stopped: {report['eventsWritten']:,} events in "
                f"{report['filesCreated']} file(s), {report['totalSizeMB']} MB",
                8,
            )
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        default = self.save_directory / f"livetap-{stamp}.ndjson"

        def start(form: CaptureForm) -> str:
            options = NdjsonOptions(
                path=form.path,
                max_size_mb=form.max_size_mb,
                url_filter=UrlFilter.parse(list(form.patterns)),
                include_bodies=form.include_bodies,
                include_sensitive=form.include_sensitive,
                browser=form.browser,
                packets=form.packets,
            )
            if not options.browser and not options.packets:
                raise UsageError("choose browser requests, packets or both")
            capture = NdjsonCapture(options, self.browser, self.session)
            capture.start()
            self.ndjson = capture
            self._ndjson_reported = None
            return f"capturing to {capture.path}"

        def done(note: str | None) -> None:
            if note:
                self.flash(note)

        form = NdjsonForm(default, start, self.browser is not None, self.session is not None)
        self.app.push_screen(form, done)

    def on_unmount(self) -> None:
        """A capture still running is stopped, so the file ends with whole lines."""
        if self.ndjson is not None:
            self.ndjson.stop()

    def action_export_dissector(self) -> None:
        """Open the dissector export dialog for the selected packet."""
        from tui.screens.dissector_export import DissectorExport

        def selected() -> PacketSummary | None:
            if self.session is None or self.packet_list.cursor is None:
                return None
            return self.session.packet(self.packet_list.cursor)

        def done(result: ExportResult | None) -> None:
            if result is None:
                return
            self._spec_path = str(result.spec_path)
            self.flash(result.note, 10)
            if result.nodes and result.packet_index == self.packet_list.cursor:
                title = f"{result.protocol} (decoded by {result.lua_path.name} in tshark)"
                self.query_one(PacketDetailPane).show_decoded(title, result.nodes)

        dialog = DissectorExport(self._spec_path, self.save_directory, selected)
        self.app.push_screen(dialog, done)

    def action_stats(self) -> None:
        """Live statistics from the engine's incremental analysis."""
        from tui.screens.stats import StatsScreen

        analysis = self.session.analysis if self.session is not None else None
        if analysis is None:
            self.warn("no packet capture in this session (started with --no-packets)")
            return
        self.app.push_screen(StatsScreen(lambda: analysis.analyzer.snapshot(time.time())))

    def action_follow_stream(self) -> None:
        """Follow the TCP stream of the selected packet, over the buffered packets."""
        from engine.analysis.follow import conversation_of

        cursor = self.packet_list.cursor if self.session is not None else None
        packet = self.session.packet(cursor) if self.session is not None and cursor else None
        conversation = conversation_of(packet.linktype, packet.data) if packet else None
        if conversation is None:
            self.warn("select a TCP packet to follow its stream")
            return
        from engine.analysis.follow import follow_records
        from tui.screens.follow import FollowScreen

        ring = self.session.ring if self.session is not None else None
        assert ring is not None

        def load() -> FollowResult:  # runs in the follow screen's worker thread
            return follow_records(list(ring.records()), conv=conversation)

        self.app.push_screen(FollowScreen(load, conversation))

    def action_show_body(self) -> None:
        """Fetch the selected request's body (and post data) from the browser."""
        request_id = self._selected_request()
        if self.browser is None:
            self.warn("no browser in this session (start livetap with --browser launch)")
            return
        if request_id is None:
            self.warn("select a browser request first")
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
            self.app.call_from_thread(self.fail, error.message, "Body not fetched")
        self.app.call_from_thread(self._show_body, request_id)

    def _show_body(self, request_id: str) -> None:
        """Show the request with its body, and scroll the detail to the body."""
        if self._selected_request() != request_id:
            return  # the user moved on meanwhile: the body is kept for when they come back
        self._show_request(request_id)
        if request_id in self._bodies:
            detail = self.query_one(RequestDetail)
            if self.one_pane and self.shown_pane != "browser":
                self.show_pane("browser", detail)  # b from the packets: show what it fetched
            self.call_after_refresh(detail.scroll_to_body)

    def action_goto_packets(self) -> None:
        """Select the packets of the selected request's connection in the packet list."""
        request_id = self._selected_request()
        if self.session is None:
            self.warn("no packet capture in this session (started with --no-packets)")
            return
        if self.browser is None or request_id is None:
            self.warn("select a browser request first")
            return
        newest, figures = self._connection_of(request_id)
        self._figures[request_id] = (newest, figures)
        self._show_request(request_id)
        if figures is None:
            self.warn("none of this request's packets are in the buffer")
            return
        packet_list = self.packet_list
        packet_list.set_marks(frozenset(figures.packets))
        packet_list.hold()
        packet_list.select(figures.packets[0])
        self.show_pane("packets", packet_list)
        local = f"{figures.local_ip}:{figures.local_port}"
        remote = f"{figures.remote_ip}:{figures.remote_port}"
        self.flash(f"{len(figures.packets)} packets of {local} ⇄ {remote}")

    def action_relaunch_browser(self) -> None:
        """Launch the browser again after it exited."""
        if self.browser is None or not self.browser.relaunch():
            self.warn("nothing to relaunch")

    def action_zoom(self) -> None:
        """Give the focused list or detail the whole screen, or lay the panes out again.

        In a detail the detail takes the screen; in a list its pane does when both panes
        are side by side, the list alone when its pane already has the whole width.
        """
        if self.zoom:
            self.zoom = ""
        elif self._focus_in_detail():
            self.zoom = "detail"
        elif self.both_panes and not self.one_pane:
            self.zoom = "pane"
        else:
            self.zoom = "list"
        if self.both_panes:
            self.shown_pane = "browser" if self._focus_in_browser() else "packets"
        self._apply_layout()

    def action_other_pane(self) -> None:
        """Move to the other pane; when only one fits, the other one takes the screen."""
        if self.browser is None:
            self.notify(
                "No browser in this session. Start livetap with --browser launch (a headless "
                "Chromium of its own) or --browser 9222 (a Chrome started with "
                "--remote-debugging-port=9222) to see its requests beside the packets.",
                title="Browser requests",
                timeout=ERROR_SECONDS,
                markup=False,
            )
            return
        if self.session is None:
            return
        if self._focus_in_browser():
            self.show_pane("packets", self.packet_list)
        else:
            self.show_pane("browser", self.query_one(RequestList))

    def action_follow_newest(self) -> None:
        """Follow the newest row again in the focused pane's list (like End)."""
        if self._focus_in_browser() or self.session is None:
            lists = self.query(RequestList)
            if lists:
                lists.first().follow_newest()
        else:
            self.packet_list.action_last()
        self._show_status()

    def action_help(self) -> None:
        """Show the key table."""
        self.app.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Stop the capture and leave."""
        self.app.exit()
