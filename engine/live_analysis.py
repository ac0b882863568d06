"""Live statistics beside the capture: batches go to the Analyzer in a thread of their own.

The capture thread only hands over each batch (a queue put); the analysis
(about 5 µs a packet) runs in its own thread. A live capture never waits for
it: past ``MAX_PENDING`` batches behind, batches are skipped and counted. A
file or a pipe can wait, so their reading is held back instead and nothing is
skipped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence

from engine.analysis import Analyzer
from engine.pcapio import PcapRecord

MAX_PENDING = 64
MAX_FLOWS = 50_000
SLICE = 256
"""Packets per call into the analyzer. Compiled (engine.native), a call keeps the GIL
until it returns, where interpreted code lets other threads run every millisecond: 256
packets are well under a millisecond, so the UI and the capture thread wait no longer."""


class LiveAnalysis:
    """An Analyzer fed asynchronously from the capture thread."""

    def __init__(self, analyzer: Analyzer | None = None) -> None:
        self.analyzer = analyzer or Analyzer(max_flows=MAX_FLOWS)
        self._queue: queue.Queue[Sequence[PcapRecord] | None] = queue.Queue(MAX_PENDING)
        self.skipped = 0
        """Packets the analysis could not keep up with (counted, not analysed)."""
        self._thread = threading.Thread(target=self._run, name="livetap-analysis", daemon=True)
        self._thread.start()

    def feed(self, records: Sequence[PcapRecord], wait: bool = False) -> None:
        """Hand over a batch; a live capture does not ``wait`` and skips when far behind."""
        if wait:
            self._queue.put(records)
            return
        try:
            self._queue.put_nowait(records)
        except queue.Full:
            self.skipped += len(records)

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            for start in range(0, len(batch), SLICE):
                self.analyzer.add_records(batch[start : start + SLICE])

    def stop(self, timeout: float = 2.0) -> None:
        """Finish what is queued and end the thread."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)
