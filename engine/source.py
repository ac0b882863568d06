"""Where packets come from: one declared protocol, one factory.

Every front end (the TUI, ``capture pcap``, ``capture ndjson``, the MCP server, the demo)
describes what it wants to read as a :class:`SourceSpec` and gets a :class:`PacketSource`
from :func:`open_source`: a live interface, a capture file (indexed, or replayed at its
pace), or the pcap stream a command writes. The capture loop reads every kind through the
same declared methods and attributes; nothing is probed with ``getattr``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from engine.config import DEFAULT_BUFFER, DEFAULT_SNAPLEN, Settings
from engine.errors import UsageError

if TYPE_CHECKING:
    from engine import bpf
    from engine.file_ring import FileRing
    from engine.pcapio import PcapRecord


class PacketSource(Protocol):
    """What the capture loop reads: an interface, a file or a command's pcap stream."""

    description: str
    """For people: ``interface lo``, ``file trace.pcap``, ``command ssh …``."""
    source_names: tuple[str, ...]
    """Each input's name by ``PcapRecord.source``: ``("lo",)``, ``("a.pcap", "b.pcap")``."""
    source_linktypes: tuple[int, ...]
    """Each input's link type, as ``linktype`` says it (a pcap file must hold one)."""
    linktype: int
    """The link type of the records it yields (a file's first interface's for pcapng; the
    first input's when several are read: each record has its own)."""
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


MAX_SOURCES = 256
"""Inputs read at once (a record's source number is kept in one byte)."""


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """What a user asked to read, from the command line and the configuration.

    One or more ``interfaces`` and ``commands`` (read side by side, interleaved as
    packets arrive; numbered interfaces first, then commands), or one or more
    ``files`` (merged by time, like mergecap); files cannot be mixed with the others.
    With nothing named, the interface of the default route.
    """

    interfaces: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    filter: str = ""
    realtime: bool = False
    """Replay files at their recorded pace (else they are indexed and shown at once)."""
    snaplen: int = DEFAULT_SNAPLEN
    buffer_size: int = DEFAULT_BUFFER

    @property
    def count(self) -> int:
        """How many inputs are named (0: the default interface)."""
        return len(self.interfaces) + len(self.files) + len(self.commands)

    def check(self) -> None:
        """Refuse what cannot be read together, in words a person can act on."""
        if self.files and (self.interfaces or self.commands):
            other = "-i" if self.interfaces else "--source-cmd"
            raise UsageError(
                f"-r cannot be mixed with {other}: files are merged by their timestamps, "
                "interfaces and commands deliver packets as they arrive; read the files "
                "alone (or capture first, then merge the files with -r a -r b)"
            )
        for kind, flag in (
            (self.interfaces, "-i"),
            (self.files, "-r"),
            (self.commands, "--source-cmd"),
        ):
            repeated = sorted({name for name in kind if kind.count(name) > 1})
            if repeated:
                raise UsageError(f"{flag} {repeated[0]} is named twice; name each input once")
        if self.count > MAX_SOURCES:
            raise UsageError(f"at most {MAX_SOURCES} inputs can be read at once, not {self.count}")


def chosen_interfaces(
    named: Sequence[str] | None, configured: str | None, others: bool = False
) -> tuple[str, ...]:
    """The interfaces to read: those named by ``-i``, else the configured one.

    The configured interface (``CAPTURE_INTERFACE``, ``defaultInterface``) is only a
    default: it is left out when files or commands (``others``) are read instead.
    """
    if named:
        return tuple(named)
    return (configured,) if configured and not others else ()


def configured_spec(
    named: Sequence[str] | None,
    files: tuple[str, ...],
    commands: tuple[str, ...],
    expression: str,
    settings: Settings,
    *,
    realtime: bool = False,
) -> SourceSpec:
    """The spec the flags (``-i``, ``-r``, ``--source-cmd``, a BPF filter) and the settings
    (the configured interface, snap length and buffer) ask for: how every front end that
    reads what a user named builds it (the TUI, headless capture, the NDJSON process)."""
    return SourceSpec(
        chosen_interfaces(named, settings.interface, bool(files or commands)),
        files,
        commands,
        filter=expression,
        realtime=realtime,
        snaplen=settings.snaplen,
        buffer_size=settings.buffer_size,
    )


SEES_LOOPBACK = frozenset({"lo", "any"})
"""Interfaces whose capture shows this machine's own loopback connections."""


def excluding_tcp_port(spec: SourceSpec, port: int | None) -> SourceSpec:
    """The spec with ``not tcp port N`` added when it captures live where that port shows.

    livetap's own connections (the web page of ``livetap serve``, a DevTools port)
    would otherwise fill the list it is showing; only a live capture on ``lo`` or
    ``any`` sees them, so files, commands and other interfaces are left alone.
    """
    if port is None or not SEES_LOOPBACK.intersection(spec.interfaces):
        return spec
    own = f"not tcp port {port}"
    expression = f"({spec.filter}) and {own}" if spec.filter.strip() else own
    return replace(spec, filter=expression)


def open_source(spec: SourceSpec) -> PacketSource:
    """The one place a source is made; raises a LivetapError a person can read."""
    spec.check()
    if len(spec.files) > 1:
        from engine.source_merge import MergedFileSource

        return MergedFileSource(spec.files, spec.filter, spec.realtime, spec.snaplen)
    if spec.files:
        from engine.replay import open_file_source

        return open_file_source(spec.files[0], spec.filter, spec.realtime, spec.snaplen)
    inputs: list[PacketSource] = []
    try:
        interfaces = spec.interfaces or (() if spec.commands else (_default_interface(),))
        for interface in interfaces:
            from engine.live import LiveSource

            inputs.append(LiveSource(interface, spec.snaplen, spec.buffer_size, spec.filter))
        for command in spec.commands:
            from engine.replay import open_command_source

            inputs.append(open_command_source(command, spec.filter, spec.snaplen))
    except BaseException:
        for opened in inputs:
            opened.close()
        raise
    if len(inputs) == 1:
        return inputs[0]
    from engine.source_merge import MergedLiveSource

    return MergedLiveSource(inputs)


def _default_interface() -> str:
    from engine.interfaces import default_interface

    return default_interface()
