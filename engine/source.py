"""Where packets come from: one declared protocol, one factory.

Every front end (the TUI, ``capture pcap``, ``capture ndjson``, the MCP server, the demo)
describes what it wants to read as a :class:`SourceSpec` and gets a :class:`PacketSource`
from :func:`open_source`: a live interface, a capture file (indexed, or replayed at its
pace), or the pcap stream a command writes. The capture loop reads every kind through the
same declared methods and attributes; nothing is probed with ``getattr``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from engine.config import DEFAULT_BUFFER, DEFAULT_SNAPLEN
from engine.errors import UsageError

if TYPE_CHECKING:
    from engine import bpf
    from engine.file_ring import FileRing
    from engine.pcapio import PcapRecord


class PacketSource(Protocol):
    """What the capture loop reads: an interface, a file or a command's pcap stream."""

    description: str
    """For people: ``interface lo``, ``file trace.pcap``, ``command ssh …``."""
    linktype: int
    """The link type of the records it yields (a file's first interface's for pcapng)."""
    filter: bpf.CompiledFilter
    """The capture filter in force."""

    @property
    def ring(self) -> FileRing | None:
        """A file indexed in place of a memory buffer (the file is the buffer); else None."""
        ...

    @property
    def can_wait(self) -> bool:
        """Reading may pause (for the live statistics) without losing packets: files, pipes."""
        ...

    @property
    def finished(self) -> bool:
        """Nothing more will come (a file read to its end, a command that exited)."""
        ...

    @property
    def warnings(self) -> list[str]:
        """What reading noticed and the user should know (a truncated file …)."""
        ...

    def read_batch(self, timeout: float, max_records: int = 8192) -> list[PcapRecord]:
        """The records that arrived, waiting at most ``timeout`` seconds for the first."""
        ...

    def set_filter(self, expression: str) -> bpf.CompiledFilter:
        """Filter from the next record on; raises FilterError and keeps the old one."""
        ...

    def reread(self, expression: str) -> PacketSource | None:
        """The same file from its start through ``expression``; None when it cannot be."""
        ...

    def kernel_drops(self) -> int | None:
        """Packets the kernel dropped (None where there is no kernel queue)."""
        ...

    def close(self) -> None:
        """Release the socket, the file or the process."""
        ...


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """What a user asked to read, from the command line and the configuration.

    At most one of ``file`` and ``command``; with neither, the ``interface`` (None: the
    interface of the default route).
    """

    interface: str | None = None
    file: str | None = None
    command: str | None = None
    filter: str = ""
    realtime: bool = False
    """Replay a file at its recorded pace (else it is indexed and shown at once)."""
    snaplen: int = DEFAULT_SNAPLEN
    buffer_size: int = DEFAULT_BUFFER


SEES_LOOPBACK = frozenset({"lo", "any"})
"""Interfaces whose capture shows this machine's own loopback connections."""


def excluding_tcp_port(spec: SourceSpec, port: int | None) -> SourceSpec:
    """The spec with ``not tcp port N`` added when it captures live where that port shows.

    livetap's own connections (the web page of ``livetap serve``, a DevTools port)
    would otherwise fill the list it is showing; only a live capture on ``lo`` or
    ``any`` sees them, so files, commands and other interfaces are left alone.
    """
    if port is None or spec.file or spec.command or spec.interface not in SEES_LOOPBACK:
        return spec
    own = f"not tcp port {port}"
    expression = f"({spec.filter}) and {own}" if spec.filter.strip() else own
    return replace(spec, filter=expression)


def open_source(spec: SourceSpec) -> PacketSource:
    """The one place a source is made; raises a LivetapError a person can read."""
    if spec.file and spec.command:
        raise UsageError("use either -r FILE or --source-cmd, not both")
    if spec.file:
        from engine.replay import open_file_source

        return open_file_source(spec.file, spec.filter, spec.realtime, spec.snaplen)
    if spec.command:
        from engine.replay import open_command_source

        return open_command_source(spec.command, spec.filter, spec.snaplen)
    from engine.interfaces import default_interface
    from engine.live import LiveSource

    interface = spec.interface or default_interface()
    return LiveSource(interface, spec.snaplen, spec.buffer_size, spec.filter)
