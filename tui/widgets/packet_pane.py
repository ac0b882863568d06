"""The packet pane: the packet list, the selected packet's detail, and what the keys do to them.

The screen routes the keys of the one key table (tui/keys.py) to the ``action_*`` methods
here and reads the figures its status bar shows; the pane owns the session's view (pause,
filters, the display filter's rows) and asks the engine to dissect only the selected
packet, in worker threads. It posts :class:`PacketPane.Changed` when something it did
between two pulls should show at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import TabbedContent
from textual.worker import get_current_worker

from engine.bpf import compile_filter
from engine.config import config_dir, default_config_path, write_config_key
from engine.dissect import FieldNode, dissect
from engine.errors import FilterError, LivetapError, from_os_error
from engine.events import CaptureStats, PacketSummary
from engine.list_config import columns_text, parse_columns_text
from engine.packet_marks import UnignoredRows
from engine.packet_range import PacketRange, parse_range
from engine.process.detail import process_node
from engine.process.procfs import unknown
from engine.process.program import kernel_expression, split_process_clause
from engine.process.top import CapturedProcesses
from engine.tls_decode import (
    MAX_PACKETS,
    Http2Frames,
    connection_of,
    decrypt_pass,
    records_of,
    tls_endpoints,
)
from engine.tls_keylog import KeyLog
from engine.view import RingTimes
from tui.filter_suggestions import packet_filters
from tui.notes import fail, flash, warn
from tui.packet_look import packet_look
from tui.prompt_history import PromptHistory
from tui.screens.prompts import filter_prompt, save_prompt
from tui.screens.save_menu import SaveCounts, SaveMenu, range_prompt
from tui.widgets.packet_detail import PacketDetailPane
from tui.widgets.packet_find import FindProgress, PacketNavigation
from tui.widgets.packet_list import PacketList, PacketListHeader
from tui.widgets.packet_rows import PacketRows, RingRows, SortedRows

ANALYSIS_BUDGET = 5_000
"""Packets the background stream analysis takes per poll (75,000 a second at most)."""
MAX_SORT = 2_000_000
"""More rows than this are not sorted (a 1 GB file's 12 million would take minutes and
gigabytes of keys); a display filter narrows them first."""
SORT_IN_THREAD = 5_000
"""Longer lists are sorted in a worker thread (the keys keep answering meanwhile)."""
ANALYSIS_SLICE = 250
"""Packets analysed between two pauses of the analysis thread."""
ANALYSIS_YIELD = 9.0
"""After each slice the thread sleeps this many times as long as the slice took: at most
a tenth of the time goes to the analysis, so the list keeps 12–15 repaints a second at
100,000 packets/s (benchmarks/ui_latency.py; 6–7 without the pauses); when far
behind, it skips (ANALYSIS_BEHIND)."""
ANALYSIS_BEHIND = 100_000
"""Further behind than this, the analysis skips to the newest packets (under heavy load
the capture and the UI come first)."""

TLS_INTERVAL = 2.0
"""Seconds between two background decryption passes (each one tshark per changed connection)."""

if TYPE_CHECKING:
    from engine.analysis import FollowResult
    from engine.correlate import ConnectionFigures
    from engine.list_config import ColumnSpec
    from engine.session import CaptureSession
    from engine.view import DisplayView
    from tui.screens.dissector_export import ExportResult


class PacketPane(Vertical):
    """Packets: the list above, the selected packet's layers and bytes below."""

    class Changed(Message):
        """The pane changed what it shows (a filter applied, a scan done): pull and redraw now."""

    class DisplayFilterAsked(Message):
        """A view of the pane asks for this display filter (follow stream's ``f``)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(
        self, session: CaptureSession, save_directory: Path, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.session = session
        self.save_directory = save_directory
        self.stats: CaptureStats | None = None
        """The figures of the last pull, for the status bar."""
        self._generation = 0
        self._reported_error: str | None = None
        self._spec_path = ""
        """The last dissector spec exported (x offers it again)."""
        self._analysis_wake = threading.Event()
        """Set by each poll that finds packets the stream analysis has not seen."""
        self._analysis_stop = threading.Event()
        self._analysis_thread: threading.Thread | None = None
        self._processes: CapturedProcesses | None = None
        """Per-process counts for the Processes view (made when it first opens)."""
        self._processes_lock = threading.Lock()
        self.navigation = PacketNavigation(self)
        """Find, go to, marks and ignores (ctrl+f, ctrl+g, m, ctrl+d ...)."""
        self._tls_thread: threading.Thread | None = None
        """Decrypts the browser's TLS connections with the key log (started on mount)."""

    def compose(self) -> ComposeResult:
        session = self.session
        inputs = len(session.source.source_names) > 1
        processes = session.process_of if session.owners is not None else None
        look = packet_look(session, getattr(self.app, "list_settings", None))
        yield PacketListHeader(inputs, processes is not None, look=look, id="packet-header")
        yield FindProgress(id="find-progress")
        packet_list = PacketList(
            session.packet,
            self._rows(),
            notes=self._notes,
            inputs=inputs,
            processes=processes,
            look=look,
            id="packet-list",
        )
        # A file opens at its first packet; a live source follows the newest.
        packet_list.follow = self.session.source.ring is None
        packet_list.user_marks = session.marks
        yield packet_list
        yield PacketDetailPane(id="packet-detail")

    def _rows(self) -> UnignoredRows:
        """The rows the list shows: the display filter's (or all), without the ignored."""
        session = self.session
        view = session.view
        return UnignoredRows(view if view is not None else RingRows(session.ring), session.marks)

    @property
    def packet_list(self) -> PacketList:
        """The packet list widget."""
        return self.query_one(PacketList)

    @property
    def detail(self) -> PacketDetailPane:
        """The selected packet's detail."""
        return self.query_one(PacketDetailPane)

    @property
    def selected(self) -> PacketSummary | None:
        """The packet under the cursor, while it is still in the buffer."""
        cursor = self.packet_list.cursor
        return self.session.packet(cursor) if cursor is not None else None

    # -- feeding -------------------------------------------------------------------

    def pull(self) -> None:
        """Take in what the capture gathered since the last pull (the screen's timer)."""
        session = self.session
        if session.generation != self._generation:  # a capture filter re-read the file
            self._generation = session.generation
            self.navigation.cancel()
            self.packet_list.cursor = None
            self.packet_list.user_marks = session.marks
            self.packet_list.look.rebind(RingTimes(session.ring), session.ring.analysis)
            self.packet_list.set_rows(self._rows())
            self._rows_replaced()
        batch = session.poll()
        if session.view is not None:
            session.view.trim()
        session.marks.forget_before(session.ring.first_index)
        self.packet_list.refresh_rows()
        if session.ring.analysis.observed < session.ring.last_index:
            self._analyse()
        self.stats = batch.stats
        error = batch.stats.error
        if error and error != self._reported_error:  # said once
            self._reported_error = error
            fail(self, error, "Capture stopped")

    def set_display_filter(self, text: str) -> None:
        """Show only the packets ``text`` matches ("": all); a scan runs off the UI thread."""
        view = self.session.set_display_filter(text)
        self.navigation.cancel()
        self.packet_list.set_rows(self._rows())
        self._rows_replaced()
        if view is not None and view.scanning:
            self._scan(view)

    @work(thread=True, exclusive=True, group="display-filter")
    def _scan(self, view: DisplayView) -> None:
        """Match the buffered packets against a new display filter, off the UI thread."""
        view.scan()
        self.post_message(self.Changed())

    def filter_counts(self) -> tuple[int, int, bool]:
        """Packets the display filter lets through, packets buffered, and whether it still scans."""
        view, total = self.session.view, len(self.session.ring)
        if view is None:
            return total, total, False
        return len(self.packet_list.rows), total, view.scanning  # less the ignored

    def show_connection(self, figures: ConnectionFigures) -> None:
        """Mark a browser request's packets and select the first (g, from the browser pane).

        A decrypted HTTP/2 connection narrows them to the request's own stream.
        """
        packet_list = self.packet_list
        packets = figures.stream_packets
        packet_list.set_marks(frozenset(packets))
        packet_list.hold()
        packet_list.select(packets[0])

    # -- the selected packet's detail ------------------------------------------------

    def on_packet_list_selected(self, message: PacketList.Selected) -> None:
        """Dissect the newly selected packet in the background."""
        packet = self.session.packet(message.index)
        pane = self.detail
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

    def _notes(self, index: int) -> str:
        """The TCP analysis notes of a packet, if the background analysis got to it."""
        found = self.session.ring.analysis.peek(index)
        notes = found.tcp.info_prefix() if found is not None and found.tcp is not None else ""
        frames = self._http2_frames()
        label = frames.label(index) if frames is not None else ""
        return f"{notes}[{label}] " if label else notes

    def _analyse(self) -> None:
        """Wake the stream analysis thread (started on first use, one per pane).

        One long-lived thread, not a Textual worker per poll: a worker's start and
        state messages, fifteen times a second, halved the list's repaints at 100,000
        packets/s (benchmarks/ui_latency.py: 15 → 7 a second).
        """
        if self._analysis_thread is None:
            self._analysis_thread = threading.Thread(
                target=self._analysis_loop, name="stream-analysis", daemon=True
            )
            self._analysis_thread.start()
        self._analysis_wake.set()

    def _analysis_loop(self) -> None:
        """Stream numbers and TCP analysis of new packets, off the UI thread, in order.

        It takes at most ANALYSIS_BUDGET packets a wake-up, so a burst is caught up over a
        few polls, and skips ahead when more than ANALYSIS_BEHIND wait.
        """
        stop = self._analysis_stop
        while not stop.is_set():
            self._analysis_wake.wait()
            self._analysis_wake.clear()
            analysis = self.session.ring.analysis  # a capture filter on a file: a new ring
            observed = 0
            while not stop.is_set() and observed < ANALYSIS_BUDGET:
                began = time.perf_counter()
                done = analysis.advance(ANALYSIS_SLICE, behind=ANALYSIS_BEHIND)
                if not done:
                    break
                observed += done
                # the GIL back to the UI and the capture for most of the time
                time.sleep(max(0.001, ANALYSIS_YIELD * (time.perf_counter() - began)))
            if observed and not stop.is_set():
                try:
                    self.app.call_from_thread(self.packet_list.notes_changed)
                except RuntimeError:  # the app is closing
                    return

    def on_mount(self) -> None:
        """Start decrypting the browser's TLS when there is a key log."""
        self._start_decryption()

    def on_unmount(self) -> None:
        """Let the stream analysis thread end with the pane."""
        self._analysis_stop.set()
        self._analysis_wake.set()

    @work(thread=True, exclusive=True, group="dissect")
    def _dissect(self, packet: PacketSummary) -> None:
        """scapy's full dissection of one packet, off the UI thread."""
        several = len(self.session.source.source_names) > 1
        analysis = self.session.ring.analysis.analysis_of(packet.index)
        detail = dissect(packet, show_input=several, analysis=analysis)
        owners = self.session.owners
        if owners is not None:
            owner = self.session.process_of(packet.index)
            why = owners.warning if not owners.active else None
            shown = owner or unknown(why or "not attributed (not this host's interface)")
            detail = replace(detail, layers=(process_node(shown), *detail.layers))
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self.detail.show, detail)

    @work(thread=True, exclusive=True, group="deep-decode")
    def _deep_decode(self, packet: PacketSummary) -> None:
        """tshark's decode of one packet, off the UI thread (about half a second)."""
        from engine.deep_decode import decode_with_tshark

        pane = self.detail
        self.app.call_from_thread(pane.show_deep, packet.index, None, "decoding with tshark…")
        key_log = self._key_log()
        try:
            if key_log is None or not key_log.available:
                nodes = decode_with_tshark(
                    packet.linktype,
                    packet.data,
                    packet.timestamp,
                    packet.length,
                    number=packet.index,
                )
            else:
                nodes = self._decrypted_decode(packet, key_log)
        except LivetapError as error:
            self.app.call_from_thread(pane.show_deep, packet.index, None, error.message)
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(pane.show_deep, packet.index, nodes)

    def _decrypted_decode(self, packet: PacketSummary, key_log: KeyLog) -> tuple[FieldNode, ...]:
        """tshark's decode of a packet after its connection's earlier packets, with the keys."""
        from engine.deep_decode import decode_with_tshark

        ring = self.session.ring
        context, _ = records_of(ring, connection_of(ring, packet.index)[:-1][-MAX_PACKETS:])
        with key_log.tshark_file() as keys:
            return decode_with_tshark(
                packet.linktype,
                packet.data,
                packet.timestamp,
                packet.length,
                number=packet.index,
                context=context,
                keys=keys,
            )

    def _http2_frames(self) -> Http2Frames | None:
        """The app's decrypted HTTP/2 frames (shared with the browser pane), if any."""
        found = getattr(self.app, "http2_frames", None)
        return found if isinstance(found, Http2Frames) else None

    def _start_decryption(self) -> None:
        """With a key log and a browser, decrypt its connections in the background."""
        if self._tls_thread is None and self._key_log() is not None:
            self._tls_thread = threading.Thread(
                target=self._decryption_loop, name="tls-decrypt", daemon=True
            )
            self._tls_thread.start()

    def _decryption_loop(self) -> None:
        """Every TLS_INTERVAL: one tshark pass per browser connection that changed.

        Bounded by tls_decode (the newest RECENT packets, MAX_PACKETS a connection);
        the rows drawn before their labels were known are drawn again.
        """
        seen: tuple[int, int, int] | None = None
        while not self._analysis_stop.wait(TLS_INTERVAL):
            key_log, frames = self._key_log(), self._http2_frames()
            if key_log is None or frames is None:
                continue
            try:
                generation = len(key_log.secrets())
                endpoints = self._tls_endpoints()
                now = (self.session.ring.last_index, len(endpoints), generation)
                if not endpoints or now == seen:
                    continue  # nothing new since the last pass: no scan, no tshark
                seen = now
                with key_log.tshark_file() as keys:
                    ring = self.session.ring
                    done = decrypt_pass(frames, ring, endpoints, keys, generation) if keys else 0
            except LivetapError:
                continue  # no tshark, an unreadable key log: the d view says why
            if done:
                try:
                    self.app.call_from_thread(self.packet_list.notes_changed)
                except RuntimeError:  # the app is closing
                    return

    def _tls_endpoints(self) -> set[tuple[str, int]]:
        """The servers whose connections to decrypt: the browser's HTTPS requests', or
        without a browser (``-r FILE --keylog KEYS``) every TLS server in the buffer's end."""
        browser = getattr(self.app, "browser", None)
        if browser is None:
            return tls_endpoints(self.session.ring)
        return {
            (record.remote_ip, record.remote_port)
            for record in browser.tracker.records()
            if record.url.startswith("https:") and record.remote_ip and record.remote_port
        }

    # -- actions (keys routed here by the screen) ------------------------------------

    def action_deep_decode(self) -> None:
        """Show the selected packet as Wireshark's dissectors decode it (tshark)."""
        pane = self.detail
        cursor = self.packet_list.cursor
        packet = self.session.packet(cursor) if cursor else None
        if not pane.showing_deep:
            pane.query_one(TabbedContent).active = "tab-tshark"  # activation calls back here
            return
        if packet is None:
            pane.show_deep(0, None, "select a packet first (↑ ↓)")
            return
        self._deep_decode(packet)

    def action_toggle_pause(self) -> None:
        """Freeze or unfreeze the list; packets keep arriving in the buffer."""
        packet_list = self.packet_list
        if packet_list.paused and self._is_live:
            self._unsort()  # a live list that moves again is in arrival order
        packet_list.set_paused(not packet_list.paused)
        packet_list.refresh_rows()

    def action_focus_detail(self) -> None:
        """Move the focus to the selected packet's layers (the newest shown, if none is)."""
        packet_list = self.packet_list
        if packet_list.cursor is None and packet_list.row_count:
            packet_list.hold()  # the packet being read stays in view
            packet_list.select(packet_list.last_shown)
        self.detail.layer_tree.focus()

    def action_follow_newest(self) -> None:
        """Follow the newest packet again (like End)."""
        self.packet_list.action_last()

    def action_filter(self) -> None:
        """Ask for a BPF filter; the engine compiles it before it replaces the old one."""
        from engine.bpf_builder import build_filter
        from engine.bpf_examples import EXAMPLES

        session = self.session

        def apply(expression: str) -> str:
            applied = session.set_filter(expression)
            return f"filter: {applied}" if applied else "filter cleared"

        def done(note: str | None) -> None:
            if note:
                flash(self, note)
                self.post_message(self.Changed())

        linktype, snaplen = session.source.filter.linktype, session.source.filter.snaplen

        def validate(expression: str) -> str | None:
            bpf, program = split_process_clause(expression)
            if program is not None and session.owners is None:
                return "process: no attribution in this capture (a file, a stream, --no-process)"
            try:
                compile_filter(kernel_expression(bpf) if program else bpf, linktype, snaplen)
            except FilterError as error:
                return error.reason
            return None

        examples = [(f"{example.description}:", example.expression) for example in EXAMPLES]
        prompt = filter_prompt(
            session.capture_filter,
            apply,
            validate=validate,
            history=PromptHistory(config_dir() / "history" / "bpf"),
            suggestions=packet_filters(self.selected) + self._process_choice() + examples,
            transform=lambda text: build_filter(text).expression,
        )
        self.app.push_screen(prompt, done)

    def _key_log(self) -> KeyLog | None:
        """The run's TLS key log (``--keylog`` or the launched browser's), if any."""
        found = getattr(self.app, "key_log", None)
        return found if isinstance(found, KeyLog) else None

    def _process_choice(self) -> list[tuple[str, str]]:
        """The ``f`` prompt's "this packet's process" choice, when the selected packet has one
        (the capture filter ``and process PID``: what ``--process PID`` keeps, its children
        included)."""
        cursor = self.packet_list.cursor
        owner = self.session.process_of(cursor) if cursor is not None else None
        if owner is None or not owner.known:
            return []
        bpf = split_process_clause(self.session.capture_filter)[0]
        clause = f"{bpf} and process {owner.pid}" if bpf.strip() else f"process {owner.pid}"
        return [(f"this packet's process ({owner.name})  ", clause)]

    def action_save_pcap(self) -> None:
        """Ask which packets (all, displayed, marked, a range), then the file to write."""
        session = self.session
        ring, marks = session.ring, session.marks
        view = session.view
        ignored = len(marks.ignored)
        counts = SaveCounts(
            all=max(0, len(ring) - ignored),
            displayed=len(self.packet_list.rows) if view is not None else None,
            marked=len(marks.marked - marks.ignored),
            ignored=ignored,
        )

        def chosen(which: str | None) -> None:
            if which == "range":
                taken: list[PacketRange] = []

                def take(text: str) -> str:
                    taken.append(parse_range(text))
                    return ""

                def then(_note: str | None) -> None:
                    if taken:
                        self._ask_file("range", taken[-1])

                prompt = range_prompt(take, ring.first_index, ring.last_index)
                self.app.push_screen(prompt, then)
            elif which:
                self._ask_file(which, None)

        self.app.push_screen(SaveMenu(counts), chosen)

    def _ask_file(self, which: str, packets: PacketRange | None) -> None:
        """Ask for a file name and write the chosen packets to it."""
        session = self.session
        stamp = time.strftime("%Y%m%d-%H%M%S")
        key_log = self._key_log() if getattr(self.app, "embed_secrets", False) else None
        suffix = "pcapng" if key_log is not None else "pcap"
        default = str(self.save_directory / f"livetap-{stamp}.{suffix}")
        title = {
            "all": "Save the buffered packets to",
            "displayed": "Save the displayed packets to",
            "marked": "Save the marked packets to",
            "range": f"Save packets {packets.text if packets else ''} to",
        }[which]

        def apply(path: str) -> str:
            if not path.strip():
                raise LivetapError("enter a file name")
            target = Path(path.strip()).expanduser()
            secrets = key_log.secrets() if key_log is not None else b""
            try:
                result = session.save_packets(target, which, packets, secrets=secrets)
            except OSError as error:
                raise from_os_error(error, f"write {target}") from None
            left_out = f" ({result.ignored:,} ignored left out)" if result.ignored else ""
            note = f"saved {result.packets:,} packets to {result.path}{left_out}"
            if secrets:
                note += " with TLS keys (anyone with the file can decrypt it)"
            if session.owners is not None and target.suffix.lower() != ".pcapng":
                note += " (a .pcapng file keeps each packet's process, as a packet comment)"
            return note

        def done(note: str | None) -> None:
            if note:
                self.app.notify(note, title="Saved", timeout=8, markup=False)

        self.app.push_screen(save_prompt(default, apply, title), done)

    # -- find, go to, marks, ignores (tui/widgets/packet_find.py) ----------------------

    def action_find_packet(self) -> None:
        """Ask what to find and select the next match."""
        self.navigation.ask_find()

    def action_find_next(self) -> None:
        """The next packet the last find matches."""
        self.navigation.search(forward=True)

    def action_find_previous(self) -> None:
        """The previous packet the last find matches."""
        self.navigation.search(forward=False)

    def cancel_find(self) -> None:
        """Stop a find that runs (Esc)."""
        self.navigation.cancel()

    def action_goto_packet(self) -> None:
        """Ask for a packet number and select it."""
        self.navigation.ask_goto()

    def action_toggle_mark(self) -> None:
        """Mark or unmark the selected packet."""
        self.navigation.toggle_mark()

    def action_next_mark(self) -> None:
        """Select the next marked packet."""
        self.navigation.next_mark()

    def action_unmark_all(self) -> None:
        """Unmark every packet."""
        self.navigation.unmark_all()

    def action_toggle_ignore(self) -> None:
        """Ignore the selected packet (it leaves the list)."""
        self.navigation.toggle_ignore()

    def action_unignore_all(self) -> None:
        """Show the ignored packets again."""
        self.navigation.unignore_all()

    def action_export_dissector(self) -> None:
        """Open the dissector export dialog for the selected packet."""
        from tui.screens.dissector_export import DissectorExport, default_spec

        def done(result: ExportResult | None) -> None:
            if result is None:
                return
            self._spec_path = str(result.spec_path)
            flash(self, result.note, 10)
            if result.nodes and result.packet_index == self.packet_list.cursor:
                title = f"{result.protocol} (decoded by {result.lua_path.name} in tshark)"
                self.detail.show_decoded(title, result.nodes)

        spec = self._spec_path or default_spec()
        dialog = DissectorExport(spec, self.save_directory, lambda: self.selected)
        self.app.push_screen(dialog, done)

    def action_stats(self) -> None:
        """Live statistics from the engine's incremental analysis."""
        from tui.screens.stats import StatsScreen

        analysis = self.session.analysis
        if analysis is None:
            warn(self, "no live statistics for this capture")
            return
        self.app.push_screen(StatsScreen(lambda: analysis.analyzer.snapshot(time.time())))

    def process_counter(self) -> Callable[[], CapturedProcesses] | None:
        """What the Processes view redraws from: per-process counts of the captured packets,
        caught up at each call (kept for the session, so reopening the view goes on)."""
        session = self.session
        owners = session.owners
        attributor = owners.attributor if owners is not None else None
        if owners is None or attributor is None:
            why = owners.warning if owners is not None else None
            warn(
                self,
                why
                or "no Processes view: packets are tied to programs only on a live capture "
                "of this host's interfaces (without --no-process)",
            )
            return None
        if self._processes is None:
            self._processes = CapturedProcesses(attributor)
        counts, lock = self._processes, self._processes_lock

        def count() -> CapturedProcesses:
            with lock:  # one counter at a time (a reopened view's worker and the last one)
                counts.catch_up(session.ring, session.process_of)
            return counts

        return count

    def action_expert_info(self) -> None:
        """Expert info: the buffered packets' warnings and errors; Enter selects one."""
        from engine.expert import expert_info
        from tui.screens.expert import ExpertScreen

        ring = self.session.ring

        def describe(index: int) -> str:
            packet = self.session.packet(index)
            if packet is None:
                return f"Frame {index} (no longer in the buffer)"
            return f"Frame {index}: {packet.src} → {packet.dst} {packet.protocol} {packet.info}"

        def done(index: int | None) -> None:
            if index is None:
                return
            packet_list = self.packet_list
            if packet_list.rows.row_of(index) is None:
                warn(self, f"packet {index} is not shown (display filter, or left the buffer)")
            packet_list.hold()
            packet_list.select(index)

        screen = ExpertScreen(lambda: expert_info(ring, ring.analysis), describe)
        self.app.push_screen(screen, done)

    def action_follow_stream(self) -> None:
        """Follow the TCP stream of the selected packet, over the buffered packets."""
        from engine.analysis.follow import conversation_of

        cursor = self.packet_list.cursor
        packet = self.session.packet(cursor) if cursor else None
        conversation = conversation_of(packet.linktype, packet.data) if packet else None
        if conversation is None:
            warn(self, "select a TCP packet to follow its stream")
            return
        from engine.analysis.follow import follow_records
        from tui.screens.follow import FollowScreen

        ring = self.session.ring

        def load() -> FollowResult:  # runs in the follow screen's worker thread
            return follow_records(list(ring.records()), conv=conversation)

        def done(display_filter: str | None) -> None:
            if display_filter:  # f (tcp.stream == N) or X (the other packets)
                self.post_message(self.DisplayFilterAsked(display_filter))

        analysis = ring.analysis.analysis_of(packet.index) if packet is not None else None
        stream = analysis.tcp.stream if analysis is not None and analysis.tcp else None
        self.app.push_screen(FollowScreen(load, conversation, stream), done)

    # -- how the list shows packets (tui/packet_look.py) -------------------------------

    def _look_changed(self, note: str) -> None:
        """Redraw the rows and the titles after a change of look, and say what it is."""
        self.packet_list.look_changed()
        self.query_one(PacketListHeader).relayout()
        flash(self, note)

    def set_columns(self, specs: tuple[ColumnSpec, ...]) -> None:
        """Show these columns, in this order (the column editor, or a script)."""
        self.packet_list.look.specs = specs
        self.packet_list.look_changed()
        self.query_one(PacketListHeader).relayout()

    def action_cycle_time_format(self) -> None:
        """Show the next time format (since the first packet, since the previous …)."""
        label = self.packet_list.look.cycle_time_format()
        self._look_changed(f"time: {label}")

    def action_time_reference(self) -> None:
        """Set or unset the selected packet as a time reference (Wireshark's *REF*)."""
        cursor = self.packet_list.cursor
        if cursor is None:
            warn(self, "select a packet to make it the time reference")
            return
        now = self.packet_list.look.time.toggle_reference(cursor)
        self._look_changed(
            f"packet {cursor} is a time reference: later times count from it"
            if now
            else f"packet {cursor} is no longer a time reference"
        )

    def action_toggle_colouring(self) -> None:
        """Colour the rows by the colouring rules, or only by protocol."""
        on = self.packet_list.look.toggle_colouring()
        self._look_changed("colouring rules on" if on else "colouring rules off")

    @property
    def _is_live(self) -> bool:
        """Packets arrive as they are captured (not a file, -r)."""
        return self.session.source.ring is None

    def _rows_replaced(self) -> None:
        """Other rows (a display filter, a file read again) come in arrival order."""
        look = self.packet_list.look
        if look.sort is not None:
            look.sort = None
            self.query_one(PacketListHeader).relayout()

    def _unsort(self) -> None:
        """Back to arrival order, the cursor kept on its packet."""
        packet_list = self.packet_list
        rows = packet_list.rows
        if not isinstance(rows, SortedRows):
            return
        packet_list.look.sort = None
        packet_list.set_rows(rows.base)
        self._after_sort()

    def _after_sort(self) -> None:
        """Hold the list on the cursor's packet (or at the top) and retitle the columns."""
        packet_list = self.packet_list
        packet_list.hold()
        packet_list.look_changed()
        self.query_one(PacketListHeader).relayout()
        if packet_list.cursor is not None:
            packet_list.select(packet_list.cursor)
        else:
            packet_list.scroll_to(y=0, animate=False, immediate=True)

    def _sort(self, column: str | None, descending: bool) -> None:
        """Sort the rows shown by ``column`` (None: arrival order); a long list off the UI
        thread (100,000 rows take a second or two)."""
        packet_list = self.packet_list
        if column is None:
            self._unsort()
            flash(self, "packets in arrival order")
            return
        rows = packet_list.rows
        count = len(rows) if isinstance(rows, SortedRows) else packet_list.row_count
        if count > MAX_SORT:
            warn(
                self,
                f"{count:,} rows: sorting takes at most {MAX_SORT:,}; narrow them with a "
                "display filter (/) first",
            )
            return
        if count > SORT_IN_THREAD:
            flash(self, f"sorting {count:,} packets by {column}…")
            self._sort_in_thread(rows, count, column, descending)
            return
        self._apply_sort(rows, self._sorted(rows, count, column, descending), column, descending)

    def _sorted(self, rows: PacketRows, count: int, column: str, descending: bool) -> list[int]:
        """The rows' packet numbers in the column's order (any thread)."""
        from tui.packet_sort import sorted_indices

        found = sorted(i for row in range(count) if (i := rows.index_at(row)) is not None)
        packets = (packet for index in found if (packet := self.session.packet(index)))
        return sorted_indices(packets, column, self.packet_list.look, descending)

    @work(thread=True, exclusive=True, group="sort-packets")
    def _sort_in_thread(self, rows: PacketRows, count: int, column: str, descending: bool) -> None:
        """A long list's sort, off the UI thread."""
        order = self._sorted(rows, count, column, descending)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._apply_sort, rows, order, column, descending)

    def _apply_sort(
        self, rows: PacketRows, order: list[int], column: str, descending: bool
    ) -> None:
        """Show the sorted rows, unless the list changed meanwhile (a filter, a resume)."""
        packet_list = self.packet_list
        if packet_list.rows is not rows:
            return
        base = rows.base if isinstance(rows, SortedRows) else rows
        packet_list.look.sort = (column, descending)
        packet_list.set_rows(SortedRows(base, order))
        self._after_sort()
        direction = "descending" if descending else "ascending"
        flash(self, f"{len(order):,} packets sorted by {column} ({direction})")

    def _sortable(self) -> bool:
        """A paused list or a file can be sorted; say why a live one cannot."""
        if self._is_live and not self.packet_list.paused:
            warn(self, "pause (space) to sort: a live list that follows stays in arrival order")
            return False
        return True

    def action_sort_packets(self) -> None:
        """Sort by the next column shown (No. … Info, then arrival order again)."""
        if not self._sortable():
            return
        packet_list = self.packet_list
        width = packet_list.scrollable_content_region.width
        layout = packet_list.look.layout(
            width, packet_list.inputs, packet_list._processes is not None
        )
        names = [name for name in layout.shown if name != "process"]
        current = packet_list.look.sort
        if current is None:
            self._sort(names[0] if names and names[0] != "number" else names[1], False)
            return
        after = names.index(current[0]) + 1 if current[0] in names else len(names)
        self._sort(names[after] if after < len(names) else None, False)

    def action_sort_packets_reverse(self) -> None:
        """Turn the packet sort round (ascending ⇄ descending)."""
        if not self._sortable():
            return
        current = self.packet_list.look.sort
        self._sort(current[0] if current else "number", not current[1] if current else True)

    def action_edit_columns(self) -> None:
        """Edit the packet list's columns (order, widths, custom fields); saved in the config."""
        from tui.screens.column_prompt import column_prompt

        look = self.packet_list.look

        def apply(text: str) -> str:
            specs = parse_columns_text(text)
            self.set_columns(specs)
            path = getattr(self.app, "config_path", None) or default_config_path()
            write_config_key(path, "packetColumns", [spec.to_value() for spec in specs])
            return f"columns saved in {path}"

        def done(note: str | None) -> None:
            if note:
                flash(self, note, 8)

        self.app.push_screen(column_prompt(columns_text(look.specs), apply), done)
