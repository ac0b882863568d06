"""Process attribution for a live capture: what a capture loop starts, feeds and stops.

One object so that wiring it into a capture loop is three calls: make it when the
source is a live interface of this host, ``observe`` every record on the capture
thread (a dictionary lookup for a known flow, ~2 µs), ``close`` with the capture.
While it runs, the ``proc.*`` display filter fields read its answers.
"""

from __future__ import annotations

from engine.errors import LivetapError
from engine.pcapio import PcapRecord
from engine.process import registry
from engine.process.attribution import Attributor
from engine.process.kernel_connects import open_kernel_connects
from engine.process.procfs import ProcessInfo
from engine.process.watch import WatcherProcess


class LiveAttribution:
    """An :class:`Attributor`, its SYN watcher process, and its registration."""

    def __init__(self, interface: str, *, watcher: bool = True) -> None:
        self.attributor = Attributor()
        self.warnings: list[str] = []
        """What the user should know (the watcher could not start: short programs missed)."""
        self._watcher: WatcherProcess | None = None
        if watcher:
            try:
                self._watcher = WatcherProcess(self.attributor, interface)
            except LivetapError as error:
                self.warnings.append(
                    f"new connections are not watched ({error.message}): "
                    "programs that exit within milliseconds may be unknown"
                )
        kernel, why = open_kernel_connects()  # None without CAP_BPF: no harm
        self.attributor.kernel, self.attributor.kernel_missing = kernel, why
        registry.register(self.attributor)

    def observe(self, record: PcapRecord) -> ProcessInfo:
        """Attribute one captured record (learning its flow if it is new)."""
        return self.attributor.for_frame(record.linktype, record.data, record.timestamp)

    def close(self) -> None:
        """Stop the watcher, unregister, release the netlink socket."""
        if self._watcher is not None:
            self._watcher.stop()
        registry.unregister(self.attributor)
        kernel, self.attributor.kernel = self.attributor.kernel, None
        if kernel is not None:
            kernel.close()
        self.attributor.close()
