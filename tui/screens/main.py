"""The main screen: packets on the left, browser requests on the right, status, footer.

It pulls a batch from each engine source on a timer (15 times a second), never
one message per packet, and asks the engine to dissect only the selected packet
and fetch only the body asked for, in worker threads.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, TabbedContent
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
from tui.widgets.packet_detail import PacketDetailPane
from tui.widgets.packet_list import PacketList, PacketListHeader
from tui.widgets.packet_rows import RingRows
from tui.widgets.request_detail import RequestDetail
from tui.widgets.request_list import RequestList
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from engine.browser.source import BrowserSource
    from engine.session import CaptureSession
    from engine.view import DisplayView
    from tui.screens.dissector_export import ExportResult

POLL_INTERVAL = 1 / 15


class MainScreen(Screen[None]):
    """Live packets and browser requests, with the figures that say how the capture goes."""

    BINDINGS: ClassVar[list[BindingType]] = bindings()

    DEFAULT_CSS = """
    #panes { height: 1fr; }
    #panes.-zoom-packets BrowserPane { display: none; }
    #panes.-zoom-browser #packet-pane { display: none; }
    #packet-pane { width: 1fr; }
    #packet-list { height: 3fr; }
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
        self._note = ""
        self._note_until = 0.0
        self._reported_error: str | None = None
        self._shown_request: str | None = None
        self._bodies: dict[str, ResponseBody] = {}
        self._post_data: dict[str, str | None] = {}
        self._figures: dict[str, tuple[int, ConnectionFigures | None]] = {}
        """Per request: the newest packet index searched, and the connection found."""
        self.ndjson: NdjsonCapture | None = None
        self.display_filter = ""
        """The display filter's text ("" when everything is shown)."""
        example = Path("examples/sensor.json")
        self._spec_path = str(example) if example.is_file() else ""
        self._ndjson_reported: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            if self.session is not None:
                with Vertical(id="packet-pane"):
                    yield PacketListHeader(id="packet-header")
                    yield PacketList(
                        self.session.packet, RingRows(self.session.ring), id="packet-list"
                    )
                    yield PacketDetailPane(id="packet-detail")
            yield BrowserPane(self.browser is not None, id="browser-pane")
        yield StatusBar(id="status-bar")
        yield Footer()

    @property
    def packet_list(self) -> PacketList:
        """The packet list widget."""
        return self.query_one(PacketList)

    def on_mount(self) -> None:
        """Start pulling batches from the engine."""
        if self.session is None:
            self.query_one(BrowserPane).styles.width = "1fr"
        if self.session is not None:
            self.packet_list.focus()
            # A file opens at its first packet; a live source follows the newest.
            self.packet_list.follow = not getattr(self.session.source, "indexed", False)
        elif self.query(RequestList):
            self.query_one(RequestList).focus()
        self.set_interval(POLL_INTERVAL, self.pull)
        self.pull()

    # -- feeding -------------------------------------------------------------------

    def pull(self) -> None:
        """Take what the engine has gathered since the last pull and show it."""
        if self.session is not None:
            batch = self.session.poll()
            view = self.session.view
            if view is not None:
                view.trim()
            self.packet_list.refresh_rows()
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
            self.notify(error, title=title, severity="error", timeout=10, markup=False)

    def _show_status(self) -> None:
        """Redraw the status bar with the latest figures."""
        note = self._note if time.monotonic() < self._note_until else ""
        paused = self.session is not None and self.packet_list.paused
        recording = self.ndjson.stats() if self.ndjson is not None else None
        shown = self._display_counts()
        if recording is not None and recording.error and recording.error != self._ndjson_reported:
            self._ndjson_reported = recording.error
            self.notify(
                recording.error, title="NDJSON capture stopped", severity="error", markup=False
            )
        self.query_one(StatusBar).show(
            self._stats,
            paused,
            note,
            browser=self._browser_status,
            recording=recording,
            display=shown,
        )

    def _display_counts(self) -> str:
        """What the display filter shows: its text and the packets and requests it lets through."""
        if not self.display_filter:
            return ""
        parts = [f"display: {self.display_filter}"]
        if self.session is not None:
            view = self.session.view
            shown = len(view) if view is not None else len(self.session.ring)
            busy = " (scanning…)" if view is not None and view.scanning else ""
            parts.append(f"{shown:,} of {len(self.session.ring):,} packets{busy}")
        if self.browser is not None and self.query(RequestList):
            requests = self.query_one(RequestList)
            parts.append(
                f"{requests.row_count:,} of {len(self.browser.tracker.records()):,} requests"
            )
        return " · ".join(parts)

    def flash(self, note: str, seconds: float = 5.0) -> None:
        """Show a short note in the status bar."""
        self._note, self._note_until = note, time.monotonic() + seconds
        self._show_status()

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

    @work(thread=True, exclusive=True, group="dissect")
    def _dissect(self, packet: PacketSummary) -> None:
        """scapy's full dissection of one packet, off the UI thread."""
        detail = dissect(packet)
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
        detail.show(record, figures, self._bodies.get(request_id), self._post_data.get(request_id))

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
            self.flash("no packet capture in this session (started with --no-packets)")
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
        """Show only what ``text`` matches in both panes; raises DisplayFilterError."""
        from engine.display_filter import compile_display_filter

        compiled = compile_display_filter(text)
        self.display_filter = compiled.text.strip()
        if self.session is not None:
            view = self.session.set_display_filter(text)
            self.packet_list.set_rows(view if view is not None else RingRows(self.session.ring))
            if view is not None and view.scanning:
                self._scan(view)
        if self.browser is not None and self.query(RequestList):
            active = None if compiled.matches_everything else compiled
            self.query_one(RequestList).set_filter(active, self.browser.tracker.records())
        self._show_status()
        return (
            f"display filter: {self.display_filter}"
            if self.display_filter
            else "display filter cleared"
        )

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
            packet_list.select(packet_list.last_shown)
        self.query_one(PacketDetailPane).layer_tree.focus()

    def action_focus_list(self) -> None:
        """Back to the list of the pane the focus is in."""
        focused = self.focused
        pane = self.query_one(BrowserPane)
        if focused is not None and pane in focused.ancestors and self.query(RequestList):
            self.query_one(RequestList).focus()
        elif self.session is not None:
            self.packet_list.focus()

    def action_save_pcap(self) -> None:
        """Ask for a file name and write the buffered packets to it."""
        session = self.session
        if session is None:
            self.flash("no packet capture in this session")
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
                self.flash(note, 8)
                self.notify(note, title="Saved", markup=False)

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
            self.flash("no packet capture in this session")
            return
        self.app.push_screen(StatsScreen(lambda: analysis.analyzer.snapshot(time.time())))

    def action_follow_stream(self) -> None:
        """Follow the TCP stream of the selected packet, over the buffered packets."""
        from engine.analysis.follow import conversation_of

        cursor = self.packet_list.cursor if self.session is not None else None
        packet = self.session.packet(cursor) if self.session is not None and cursor else None
        conversation = conversation_of(packet.linktype, packet.data) if packet else None
        if conversation is None:
            self.flash("select a TCP packet to follow its stream")
            return
        self._follow(conversation)

    @work(thread=True, exclusive=True, group="follow")
    def _follow(self, conversation: str) -> None:
        """Reassemble the stream from the ring, off the UI thread."""
        from engine.analysis.follow import follow_records
        from tui.screens.follow import FollowScreen

        assert self.session is not None
        records = list(self.session.ring.records())
        try:
            result = follow_records(records, conv=conversation)
        except LivetapError as error:
            self.app.call_from_thread(self.flash, error.message)
            return
        self.app.call_from_thread(self.app.push_screen, FollowScreen(result))

    def action_show_body(self) -> None:
        """Fetch the selected request's body (and post data) from the browser."""
        request_id = self._selected_request()
        if self.browser is None or request_id is None:
            self.flash("select a browser request first")
            return
        self.flash("fetching the body…", 2)
        self._fetch_body(request_id)

    @work(thread=True, exclusive=True, group="body")
    def _fetch_body(self, request_id: str) -> None:
        """Ask the browser for the body, off the UI thread."""
        assert self.browser is not None
        try:
            self._post_data[request_id] = self.browser.fetch_post_data(request_id)
            self._bodies[request_id] = self.browser.fetch_body(request_id)
        except LivetapError as error:
            self.app.call_from_thread(self.flash, error.message, 6)
        self.app.call_from_thread(self._show_request, request_id)

    def action_goto_packets(self) -> None:
        """Select the packets of the selected request's connection in the packet list."""
        request_id = self._selected_request()
        if self.browser is None or self.session is None or request_id is None:
            self.flash("select a browser request first (and capture packets)")
            return
        newest, figures = self._connection_of(request_id)
        self._figures[request_id] = (newest, figures)
        self._show_request(request_id)
        if figures is None:
            self.flash("none of this request's packets are in the buffer")
            return
        packet_list = self.packet_list
        packet_list.set_marks(frozenset(figures.packets))
        packet_list.select(figures.packets[0])
        packet_list.focus()
        local = f"{figures.local_ip}:{figures.local_port}"
        remote = f"{figures.remote_ip}:{figures.remote_port}"
        self.flash(f"{len(figures.packets)} packets of {local} ⇄ {remote}")

    def action_relaunch_browser(self) -> None:
        """Launch the browser again after it exited."""
        if self.browser is None or not self.browser.relaunch():
            self.flash("nothing to relaunch")

    def action_zoom(self) -> None:
        """Show only the pane the focus is in, or both again."""
        if self.session is None or self.browser is None:
            return
        panes = self.query_one("#panes")
        if panes.has_class("-zoom-packets") or panes.has_class("-zoom-browser"):
            panes.remove_class("-zoom-packets", "-zoom-browser")
            return
        focused = self.focused
        in_browser = focused is not None and self.query_one(BrowserPane) in focused.ancestors
        panes.add_class("-zoom-browser" if in_browser else "-zoom-packets")

    def action_help(self) -> None:
        """Show the key table."""
        self.app.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Stop the capture and leave."""
        self.app.exit()
