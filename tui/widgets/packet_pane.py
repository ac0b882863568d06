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
from engine.config import config_dir
from engine.dissect import FieldNode, dissect
from engine.errors import FilterError, LivetapError, from_os_error
from engine.events import CaptureStats, PacketSummary
from engine.process.detail import process_node
from engine.process.procfs import unknown
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
from tui.filter_suggestions import packet_filters
from tui.notes import fail, flash, warn
from tui.prompt_history import PromptHistory
from tui.screens.prompts import filter_prompt, save_prompt
from tui.widgets.packet_detail import PacketDetailPane
from tui.widgets.packet_list import PacketList, PacketListHeader
from tui.widgets.packet_rows import RingRows

ANALYSIS_BUDGET = 5_000
"""Packets the background stream analysis takes per poll (75,000 a second at most)."""
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
    from engine.session import CaptureSession
    from engine.view import DisplayView
    from tui.screens.dissector_export import ExportResult


class PacketPane(Vertical):
    """Packets: the list above, the selected packet's layers and bytes below."""

    class Changed(Message):
        """The pane changed what it shows (a filter applied, a scan done): pull and redraw now."""

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
        self._tls_thread: threading.Thread | None = None
        """Decrypts the browser's TLS connections with the key log (started on mount)."""

    def compose(self) -> ComposeResult:
        session = self.session
        inputs = len(session.source.source_names) > 1
        processes = session.process_of if session.owners is not None else None
        yield PacketListHeader(inputs, processes is not None, id="packet-header")
        packet_list = PacketList(
            session.packet,
            RingRows(session.ring),
            notes=self._notes,
            inputs=inputs,
            processes=processes,
            id="packet-list",
        )
        # A file opens at its first packet; a live source follows the newest.
        packet_list.follow = self.session.source.ring is None
        yield packet_list
        yield PacketDetailPane(id="packet-detail")

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
            rows = session.view
            self.packet_list.cursor = None
            self.packet_list.set_rows(rows if rows is not None else RingRows(session.ring))
        batch = session.poll()
        if session.view is not None:
            session.view.trim()
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
        self.packet_list.set_rows(view if view is not None else RingRows(self.session.ring))
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
        return len(view), total, view.scanning

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
        analysis = self.session.ring.analysis
        stop = self._analysis_stop
        while not stop.is_set():
            self._analysis_wake.wait()
            self._analysis_wake.clear()
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
            try:
                compile_filter(expression, linktype, snaplen)
            except FilterError as error:
                return error.reason
            return None

        examples = [(f"{example.description}:", example.expression) for example in EXAMPLES]
        prompt = filter_prompt(
            session.source.filter.expression,
            apply,
            validate=validate,
            history=PromptHistory(config_dir() / "history" / "bpf"),
            suggestions=packet_filters(self.selected) + examples,
            transform=lambda text: build_filter(text).expression,
        )
        self.app.push_screen(prompt, done)

    def _key_log(self) -> KeyLog | None:
        """The run's TLS key log (``--keylog`` or the launched browser's), if any."""
        found = getattr(self.app, "key_log", None)
        return found if isinstance(found, KeyLog) else None

    def action_save_pcap(self) -> None:
        """Ask for a file name and write the buffered packets to it.

        With ``--embed-secrets`` the TLS keys go into the file (pcapng, a DSB).
        """
        session = self.session
        stamp = time.strftime("%Y%m%d-%H%M%S")
        key_log = self._key_log() if getattr(self.app, "embed_secrets", False) else None
        suffix = "pcapng" if key_log is not None else "pcap"
        default = str(self.save_directory / f"livetap-{stamp}.{suffix}")

        def apply(path: str) -> str:
            if not path.strip():
                raise LivetapError("enter a file name")
            target = Path(path.strip()).expanduser()
            secrets = key_log.secrets() if key_log is not None else b""
            try:
                result = session.save_pcap(target, secrets=secrets)
            except OSError as error:
                raise from_os_error(error, f"write {target}") from None
            if secrets:
                return (
                    f"saved {result.packets:,} packets with TLS keys to {result.path} "
                    "(anyone with the file can decrypt it)"
                )
            return f"saved {result.packets:,} packets to {result.path}"

        def done(note: str | None) -> None:
            if note:
                self.app.notify(note, title="Saved", timeout=8, markup=False)

        self.app.push_screen(save_prompt(default, apply), done)

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

        self.app.push_screen(FollowScreen(load, conversation))
