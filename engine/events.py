"""The immutable records the engine hands to the UI, the CLI and the tests.

Only these records cross the engine/UI boundary: no scapy packet, socket or
Textual object ever does. They are small frozen dataclasses with slots so that
the ring buffer can hold many of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class HeaderSummary(NamedTuple):
    """What the fast header decoder reads out of one frame: enough for a list row."""

    src: str
    dst: str
    sport: int | None
    dport: int | None
    protocol: str
    info: str


@dataclass(frozen=True, slots=True)
class PacketSummary:
    """One captured packet as the packet list shows it, with its raw bytes.

    ``index`` is the 1-based capture order (Wireshark's "No."), ``timestamp``
    seconds since the epoch, ``length`` the original length on the wire and
    ``data`` the captured bytes (at most the snap length).
    """

    index: int
    timestamp: float
    length: int
    linktype: int
    src: str
    dst: str
    sport: int | None
    dport: int | None
    protocol: str
    info: str
    data: bytes
    source: str = ""
    """The name of the input it came from (``eth0``, ``a.pcap``): the Source column and
    ``frame.source`` when several are read at once."""

    @property
    def captured_length(self) -> int:
        """How many bytes were kept (less than :attr:`length` when snapped)."""
        return len(self.data)


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """A snapshot of the running capture's counters, for the status bar."""

    source: str
    filter: str
    packets: int
    bytes: int
    packets_per_second: float
    kernel_drops: int | None
    """``None`` where the source cannot know (files, commands)."""
    evicted: int
    buffered: int
    running: bool
    finished: bool
    """The source has ended (end of file, command exited); the buffer stays."""
    error: str | None = None
    """Why the source stopped, when it stopped on an error."""
    warning: str | None = None
    """Something the user should know that did not stop the capture."""


@dataclass(frozen=True, slots=True)
class PacketBatch:
    """What arrived since the UI last asked: new packet indices and fresh stats."""

    first_index: int
    """Index of the first new packet (``last_index + 1`` when nothing is new)."""
    last_index: int
    stats: CaptureStats

    @property
    def count(self) -> int:
        """How many packets arrived in this batch."""
        return self.last_index - self.first_index + 1
