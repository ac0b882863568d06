"""The main screen: packets on the left, browser requests on the right, status, footer.

The screen composes the two panes, lays them out (one or two, zoom), routes the keys
of the one key table (tui/keys.py) to the pane that owns what they act on, and keeps
what spans both panes: the display filter, the NDJSON capture and the status bar. It
pulls a batch from each pane's engine source on a timer (15 times a second), never one
message per packet.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget

from engine.config import config_dir
from engine.errors import UsageError
from engine.ndjson.capture import NdjsonCapture, NdjsonOptions
from engine.ndjson.url_filter import UrlFilter
from tui.display_scope import DisplayScope
from tui.keys import bindings
from tui.notes import ERROR_SECONDS, NO_BROWSER, NO_PACKETS, fail, flash, warn
from tui.prompt_history import PromptHistory
from tui.screens.help import HelpScreen
from tui.screens.ndjson_form import CaptureForm, NdjsonForm
from tui.screens.prompts import display_filter_prompt
from tui.widgets.browser_pane import BrowserPane
from tui.widgets.key_footer import KeyFooter
from tui.widgets.packet_detail import PacketDetailPane
from tui.widgets.packet_list import PacketList
from tui.widgets.packet_pane import PacketPane
from tui.widgets.request_detail import RequestDetail
from tui.widgets.request_view import RequestList
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from engine.browser.source import BrowserSource
    from engine.session import CaptureSession
    from tui.screens.dissector_export import ExportResult

PACKET_LIST_ACTIONS = (
    "find_packet",
    "find_next",
    "find_previous",
    "goto_packet",
    "toggle_mark",
    "next_mark",
    "unmark_all",
    "toggle_ignore",
    "unignore_all",
)
"""Find, go to, mark and ignore: routed to the packet pane's action of the same name."""
POLL_INTERVAL = 1 / 15
SPLIT_MIN_WIDTH = 120
"""Narrower than this, packets and browser take turns on the whole screen (v switches);
the status bar keeps the hidden pane's count. The README's "Using it" says so."""
SHORT_HEIGHT = 32
"""Lower than this, the part of a pane the focus is in (list or detail) gets more rows."""
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
        *PACKET_LIST_ACTIONS,
        "cycle_time_format",
        "time_reference",
        "toggle_colouring",
        "sort_packets",
        "sort_packets_reverse",
        "edit_columns",
    }
)
"""Keys that need a packet capture: not in the footer with --no-packets."""
BROWSER_ACTIONS = frozenset(
    {
        "show_body",
        "goto_packets",
        "relaunch_browser",
        "copy_request",
        "replay_request",
        "edit_resend",
        "search_bodies",
        "network_controls",
        "cycle_type_chip",
        "cycle_status_chip",
        "export_har",
        "clear_requests",
        "toggle_preserve_log",
        "sort_next",
        "sort_reverse",
    }
)
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
    #panes.-zoom-detail ChipBar { display: none; }
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
        self.shown_pane = "packets" if session is not None else "browser"
        """The pane on show when only one fits (or one is zoomed)."""
        self.zoom = ""
        """"" (none), "pane", "list" or "detail": what z gave the whole screen."""
        if browser is None:
            self._relabel("other_pane", "Browser?")
        self.display_scope = DisplayScope()
        """The display filter and the panes it narrows."""
        self._packets: PacketPane | None = None
        self._requests: BrowserPane | None = None
        self.ndjson: NdjsonCapture | None = None
        self._ndjson_reported: str | None = None
        self._spec_path = ""
        """The last dissector spec exported when there is no packet pane to remember it."""

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
                self._packets = PacketPane(self.session, self.save_directory, id="packet-pane")
                yield self._packets
            if self.browser is not None or self.session is None:
                self._requests = BrowserPane(self.browser, self.session, id="browser-pane")
                yield self._requests
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

    # -- the panes -------------------------------------------------------------------

    @property
    def packets(self) -> PacketPane | None:
        """The packet pane (None with --no-packets); kept from compose, as a DOM query at
        every key and pull cost about a millisecond each."""
        return self._packets

    @property
    def requests(self) -> BrowserPane | None:
        """The browser pane (None when packets are shown without a browser)."""
        return self._requests

    @property
    def packet_list(self) -> PacketList:
        """The packet list widget."""
        return self.query_one(PacketList)

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
        focused, pane = self.focused, self.requests
        return focused is not None and pane is not None and pane in focused.ancestors_with_self

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

    def on_mount(self) -> None:
        """Start pulling batches from the engine."""
        requests = self.requests
        if self.session is None and requests is not None:
            requests.styles.width = "1fr"
        self._apply_layout()
        if self.session is not None:
            self.packet_list.focus()
        elif requests is not None and requests.request_list is not None:
            requests.request_list.focus()
        self.set_interval(POLL_INTERVAL, self.pull)
        self.pull()

    # -- feeding -------------------------------------------------------------------

    def pull(self) -> None:
        """Take what the engine has gathered since the last pull and show it."""
        packets, requests = self.packets, self.requests
        if packets is not None:
            packets.pull()
        if requests is not None:
            requests.pull()
        self._show_status()

    @on(PacketPane.Changed)
    def _pane_changed(self) -> None:
        """A pane changed what it shows between two pulls: show it now."""
        self.pull()

    @on(BrowserPane.BodyShown)
    def _body_shown(self, message: BrowserPane.BodyShown) -> None:
        """b fetched a body: put the browser pane on show (b from the packets) and scroll to it."""
        if self.one_pane and self.shown_pane != "browser":
            self.show_pane("browser", message.detail)
        self.call_after_refresh(message.detail.scroll_to_body)

    def _show_status(self) -> None:
        """Redraw the status bar with the latest figures (state only, never results)."""
        packets, requests = self.packets, self.requests
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
        request_list = requests.request_list if requests is not None else None
        self.query_one(StatusBar).show(
            packets.stats if packets is not None else None,
            packets is not None and packets.packet_list.paused,
            following=packets.packet_list.follow if packets is not None else None,
            browser=requests.status if requests is not None else None,
            requests_following=request_list.follow if request_list is not None else None,
            recording=recording,
            display=self._display_counts(),
            display_short=self._display_counts(short=True),
            hint="no browser: v" if self.browser is None else "",
        )

    def _display_counts(self, short: bool = False) -> str:
        """The display filter, the pane(s) it applies to, and each pane's matches."""
        packets, requests = self.packets, self.requests
        request_list = requests.request_list if requests is not None else None
        chips = request_list.chips.words() if request_list is not None else ""
        counted = requests.filter_counts() if requests is not None and request_list else None
        text = self.display_scope.counts(
            packets.filter_counts() if packets is not None else None,
            None if chips and not self.display_scope.requests else counted,
            short=short,
        )
        if not chips or counted is None:
            return text
        count, total = counted
        chip_part = (
            f"[{chips}] {count:,} req" if short else f"{chips}: {count:,} of {total:,} requests"
        )
        return f"{text} · {chip_part}" if text else chip_part

    # -- the display filter: both panes ------------------------------------------------

    def action_display_filter(self) -> None:
        """Ask for a display filter: it narrows both panes, the capture is untouched."""
        self.prepare_display_filter(self.display_scope.text)

    def prepare_display_filter(self, text: str) -> None:
        """The display filter prompt, holding ``text`` to edit (Prepare as Filter)."""
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
                flash(self, note)

        history = PromptHistory(config_dir() / "history" / "display")
        prompt = display_filter_prompt(text, apply, validate=validate, history=history)
        self.app.push_screen(prompt, done)

    def apply_display_filter(self, text: str) -> str:
        """Narrow the panes whose fields ``text`` names; raises DisplayFilterError.

        The status bar says which pane it applies to (see tui/display_scope.py for why).
        """
        from engine.display_filter import compile_display_filter

        compiled = compile_display_filter(text)
        everything = compiled.matches_everything
        scope = DisplayScope(
            compiled.text.strip(),
            packets=not everything and compiled.uses_packet_fields,
            requests=not everything and compiled.uses_request_fields,
        )
        self.display_scope = scope
        packets, requests = self.packets, self.requests
        if packets is not None:
            packets.set_display_filter(text if scope.packets else "")
        if self.browser is not None and requests is not None:
            requests.set_display_filter(compiled if scope.requests else None)
        self._show_status()
        if not scope.text:
            return "display filter cleared"
        words = scope.words(self.session is not None, self.browser is not None)
        return f"display filter: {scope.text} ({words})"

    def action_apply_field_filter(self) -> None:
        """A: Apply / Prepare as Filter from the field under the layer tree's cursor."""
        packets = self._packet_pane()
        field = packets.detail.field if packets is not None else None
        if packets is None:
            return
        if not (field and field.filter):
            warn(self, "move to a field of the packet's layers (Enter) that a display filter knows")
            return
        self._field_filter(field.filter)

    def on_packet_pane_display_filter_asked(self, message: PacketPane.DisplayFilterAsked) -> None:
        """A packet view asks for a display filter (follow stream: ``tcp.stream == N``)."""
        from engine.display_filter import DisplayFilterError

        try:
            flash(self, self.apply_display_filter(message.text))
        except DisplayFilterError as error:
            fail(self, error.message, "Display filter")

    def on_packet_detail_pane_field_chosen(self, message: PacketDetailPane.FieldChosen) -> None:
        """Enter on a field of the layer tree: Apply / Prepare as Filter."""
        self._field_filter(message.node.filter)

    def _field_filter(self, selected: str) -> None:
        """Wireshark's Apply as Filter / Prepare as Filter menu for a field's filter."""
        from engine.display_filter import DisplayFilterError
        from tui.screens.apply_filter import ApplyFilterMenu

        def done(choice: tuple[str, str] | None) -> None:
            if choice is None:
                return
            mode, text = choice
            if mode == "prepare":
                self.prepare_display_filter(text)
                return
            try:
                flash(self, self.apply_display_filter(text))
            except DisplayFilterError as error:
                fail(self, error.message, "Display filter")

        self.app.push_screen(ApplyFilterMenu(selected, self.display_scope.text), done)

    # -- the NDJSON capture: both panes' events --------------------------------------

    def action_toggle_capture(self) -> None:
        """Stop the NDJSON capture, or open the form that starts one."""
        if self.ndjson is not None:
            report = self.ndjson.stop()
            self.ndjson = None
            flash(
                self,
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
                flash(self, note)

        form = NdjsonForm(default, start, self.browser is not None, self.session is not None)
        self.app.push_screen(form, done)

    def on_unmount(self) -> None:
        """A capture still running is stopped, so the file ends with whole lines."""
        if self.ndjson is not None:
            self.ndjson.stop()

    # -- key routing: each key to the pane that owns what it acts on ------------------

    def _packet_pane(self) -> PacketPane | None:
        """The packet pane for a packet key; without one, say why the key does nothing."""
        packets = self.packets
        if packets is None:
            warn(self, NO_PACKETS)
        return packets

    def action_filter(self) -> None:
        """f: the packet pane's BPF filter prompt."""
        if (packets := self._packet_pane()) is not None:
            packets.action_filter()

    def action_deep_decode(self) -> None:
        """d: the selected packet decoded by tshark, in the packet detail's second tab."""
        if (packets := self._packet_pane()) is not None:
            packets.action_deep_decode()

    def action_toggle_pause(self) -> None:
        """space: freeze or unfreeze the packet list."""
        if self.packets is not None:
            self.packets.action_toggle_pause()
            self._show_status()

    def action_save_pcap(self) -> None:
        """w: write the buffered packets to a pcap file."""
        if (packets := self._packet_pane()) is not None:
            packets.action_save_pcap()

    def action_find_packet(self) -> None:
        """ctrl+f: find a packet by display filter, hex bytes or text."""
        if (packets := self._packet_pane()) is not None:
            packets.action_find_packet()

    def action_find_next(self) -> None:
        """ctrl+n: the next packet the last find matches."""
        if (packets := self._packet_pane()) is not None:
            packets.action_find_next()

    def action_find_previous(self) -> None:
        """ctrl+b: the previous packet the last find matches."""
        if (packets := self._packet_pane()) is not None:
            packets.action_find_previous()

    def action_goto_packet(self) -> None:
        """ctrl+g: go to a packet by its number."""
        if (packets := self._packet_pane()) is not None:
            packets.action_goto_packet()

    def action_toggle_mark(self) -> None:
        """m: mark or unmark the selected packet."""
        if (packets := self._packet_pane()) is not None:
            packets.action_toggle_mark()

    def action_next_mark(self) -> None:
        """M: the next marked packet."""
        if (packets := self._packet_pane()) is not None:
            packets.action_next_mark()

    def action_unmark_all(self) -> None:
        """U: unmark every packet."""
        if (packets := self._packet_pane()) is not None:
            packets.action_unmark_all()

    def action_toggle_ignore(self) -> None:
        """ctrl+d: ignore the selected packet (it leaves the list)."""
        if (packets := self._packet_pane()) is not None:
            packets.action_toggle_ignore()
            self._show_status()

    def action_unignore_all(self) -> None:
        """D: show the ignored packets again."""
        if (packets := self._packet_pane()) is not None:
            packets.action_unignore_all()
            self._show_status()

    def action_stats(self) -> None:
        """a: live statistics of the capture."""
        if (packets := self._packet_pane()) is not None:
            packets.action_stats()

    def action_processes(self) -> None:
        """p: traffic per program; Enter on one shows only its packets."""
        from tui.screens.processes import ProcessesScreen

        packets = self._packet_pane()
        counter = packets.process_counter() if packets is not None else None
        if counter is None:
            return

        def done(pid: int | None) -> None:
            if pid is not None:
                flash(self, self.apply_display_filter(f"proc.pid == {pid}"))

        self.app.push_screen(ProcessesScreen(counter), done)

    def action_expert_info(self) -> None:
        """e: the expert info of the buffered packets (warnings and errors, grouped)."""
        if (packets := self._packet_pane()) is not None:
            packets.action_expert_info()

    def action_cycle_time_format(self) -> None:
        """k: the packet list's next time format."""
        if (packets := self._packet_pane()) is not None:
            packets.action_cycle_time_format()

    def action_time_reference(self) -> None:
        """ctrl+t: the selected packet as a time reference, or no longer one."""
        if (packets := self._packet_pane()) is not None:
            packets.action_time_reference()

    def action_toggle_colouring(self) -> None:
        """ctrl+r: the packet list's colouring rules on or off."""
        if (packets := self._packet_pane()) is not None:
            packets.action_toggle_colouring()

    def action_sort_packets(self) -> None:
        """>: sort the paused or file packet list by the next column."""
        if (packets := self._packet_pane()) is not None:
            packets.action_sort_packets()

    def action_sort_packets_reverse(self) -> None:
        """<: turn the packet sort round."""
        if (packets := self._packet_pane()) is not None:
            packets.action_sort_packets_reverse()

    def action_edit_columns(self) -> None:
        """L: the packet list's column editor."""
        if (packets := self._packet_pane()) is not None:
            packets.action_edit_columns()

    def action_follow_stream(self) -> None:
        """s: the selected packet's TCP stream."""
        if self.packets is None:
            warn(self, "select a TCP packet to follow its stream")
            return
        self.packets.action_follow_stream()

    def action_export_dissector(self) -> None:
        """x: the dissector export dialog; without packets, from a spec alone."""
        if self.packets is not None:
            self.packets.action_export_dissector()
            return
        from tui.screens.dissector_export import DissectorExport, default_spec

        def done(result: ExportResult | None) -> None:
            if result is not None:
                self._spec_path = str(result.spec_path)
                flash(self, result.note, 10)

        spec = self._spec_path or default_spec()
        self.app.push_screen(DissectorExport(spec, self.save_directory, lambda: None), done)

    def action_focus_detail(self) -> None:
        """Enter: the detail of the selected request or packet, by where the focus is."""
        if isinstance(self.focused, RequestList) and self.requests is not None:
            self.requests.action_focus_detail()
        elif self.packets is not None:
            self.packets.action_focus_detail()

    def action_focus_list(self) -> None:
        """Esc: back to the list of the pane the focus is in."""
        requests = self.requests
        if self._focus_in_browser() and requests is not None and requests.request_list is not None:
            requests.action_focus_list()
        elif self.packets is not None:
            self.packets.cancel_find()
            self.packet_list.focus()

    def action_show_body(self) -> None:
        """b: the selected request's body, from either pane."""
        if self.browser is None or self.requests is None:
            warn(self, NO_BROWSER)
            return
        self.requests.action_show_body()

    def action_goto_packets(self) -> None:
        """g: select, in the packet pane, the packets of the selected request's connection."""
        packets, requests = self.packets, self.requests
        if packets is None:
            warn(self, NO_PACKETS)
            return
        if requests is None:
            warn(self, "select a browser request first")
            return
        figures = requests.find_packets()
        if figures is None:
            return
        packets.show_connection(figures)
        self.show_pane("packets", self.packet_list)
        local = f"{figures.local_ip}:{figures.local_port}"
        remote = f"{figures.remote_ip}:{figures.remote_port}"
        if figures.stream is not None:
            count = len(figures.stream_packets)
            flash(self, f"{count} packets of HTTP/2 stream {figures.stream} on {local} ⇄ {remote}")
            return
        flash(self, f"{len(figures.packets)} packets of {local} ⇄ {remote}")

    def action_copy_request(self) -> None:
        """Copy the selected request as curl, fetch, raw HTTP or a HAR entry (a menu)."""
        from tui.screens.copy_request import copy_request

        request_id = self.requests.selected_request if self.requests is not None else None
        if self.browser is None or request_id is None:
            warn(self, "select a browser request first")
            return
        copy_request(self, self.browser, request_id, self.save_directory)

    def action_replay_request(self) -> None:
        """r: send the selected request again from its page."""
        self._replay(edit=False)

    def action_edit_resend(self) -> None:
        """e: edit the selected request in a form, then send it from its page."""
        self._replay(edit=True)

    def _replay(self, *, edit: bool) -> None:
        from tui.screens.resend_form import replay_request

        request_id = self.requests.selected_request if self.requests is not None else None
        if self.browser is None or request_id is None:
            warn(self, "select a browser request first")
            return
        replay_request(self, self.browser, request_id, edit=edit)

    def action_search_bodies(self) -> None:
        """B: search the listed requests' response bodies; a match chosen is selected."""
        from tui.screens.body_search import BodySearch

        if (requests := self._browser_pane()) is None or requests.request_list is None:
            return
        assert self.browser is not None

        def chosen(request_id: str | None) -> None:
            if request_id is not None and requests.select_request(request_id):
                self.show_pane("browser", requests.request_list)

        listed = requests.request_list.listed
        screen = BodySearch(self.browser, listed, requests.fetched_bodies)
        self.app.push_screen(screen, chosen)

    def action_network_controls(self) -> None:
        """Throttle, disable the cache or block requests like the selected one (a menu)."""
        from tui.screens.network_menu import change_network

        if self.browser is None:
            warn(self, "no browser in this session (start livetap with --browser launch)")
            return
        request_id = self.requests.selected_request if self.requests is not None else None
        record = self.browser.get(request_id) if request_id else None
        change_network(self, self.browser, record.url if record else None)

    def _browser_pane(self) -> BrowserPane | None:
        """The browser pane for a request key; without a browser, say why nothing happens."""
        if self.browser is None or self.requests is None:
            warn(self, NO_BROWSER)
            return None
        return self.requests

    def action_cycle_type_chip(self) -> None:
        """T: the request list's next type chip."""
        if (requests := self._browser_pane()) is not None:
            requests.action_cycle_type_chip()
            self._show_status()

    def action_cycle_status_chip(self) -> None:
        """S: the request list's next status chip."""
        if (requests := self._browser_pane()) is not None:
            requests.action_cycle_status_chip()
            self._show_status()

    def action_sort_next(self) -> None:
        """o: sort the request list by the next column."""
        if (requests := self._browser_pane()) is not None:
            requests.action_sort_next()

    def action_sort_reverse(self) -> None:
        """O: turn the request list's sort round."""
        if (requests := self._browser_pane()) is not None:
            requests.action_sort_reverse()

    def action_clear_requests(self) -> None:
        """C: clear the request list."""
        if (requests := self._browser_pane()) is not None:
            requests.action_clear_requests()
            self._show_status()

    def action_toggle_preserve_log(self) -> None:
        """P: preserve log across navigations, or clear the list on navigate."""
        if (requests := self._browser_pane()) is not None:
            requests.action_toggle_preserve_log()
            kept = "requests stay when a tab navigates"
            flash(self, "preserve log: " + kept if requests.preserve_log else "clear on navigate")

    def action_export_har(self) -> None:
        """H: the listed requests to a HAR file in the capture directory."""
        if (requests := self._browser_pane()) is not None:
            requests.export_har(self.save_directory, bool(getattr(self.app, "show_secrets", False)))

    def action_relaunch_browser(self) -> None:
        """R: launch the browser again after it exited."""
        if self.requests is None:
            warn(self, "nothing to relaunch")
            return
        self.requests.action_relaunch_browser()

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
        if self._focus_in_browser() or self.packets is None:
            if self.requests is not None:
                self.requests.action_follow_newest()
        else:
            self.packets.action_follow_newest()
        self._show_status()

    def action_help(self) -> None:
        """Show the key table."""
        self.app.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Stop the capture and leave."""
        self.app.exit()
