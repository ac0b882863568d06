"""Each captured packet's process, as the capture session keeps it: a small id a packet.

The session asks :meth:`PacketOwners.select` for a batch's ids on the capture thread
(and, with ``--process``, which packets to keep) and stores them in the ring beside the
packets; the list's Process column, the detail and the ``proc.*`` filter fields read them
back by packet index. An id indexes a table of the :class:`ProcessInfo` answers seen (one
per process, not one object per packet), so a packet keeps the answer learnt when it was
captured, even after its flow is forgotten.

Only a live capture of this host's interfaces attributes: a file's or a remote
command's packets are not this host's sockets (a local lookup could name a stranger).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.errors import LivetapError
from engine.packet.model import Packet
from engine.pcapio import PcapRecord
from engine.process.attribution import Attributor
from engine.process.live import LiveAttribution
from engine.process.procfs import ProcessInfo
from engine.process.program import ProgramFilter, ProgramMatcher

if TYPE_CHECKING:
    from engine.source import SourceSpec

MAX_OWNERS = 1_000_000
"""Distinct answers kept (ids are 4 bytes; past this, new answers are not stored)."""
RECENT_OBJECTS = 4096
ETHERNET, IPV4, IPV6 = 1, b"\x08\x00", b"\x86\xdd"
LINK_HEADERS = {1: (12, 14), 113: (14, 16), 276: (0, 20)}
"""Link type → (where the EtherType is, where IP starts): Ethernet, SLL, SLL2."""
WHOLE = (b"\x00\x00", b"\x40\x00")
"""IPv4 flags and offset of a packet that is not a fragment (DF set or not)."""
TCP, UDP, SYN = 6, 17, 0x02


def _flow_key(linktype: int, data: bytes) -> tuple[int, bytes] | None:
    """(protocol, addresses and ports) of a TCP/UDP packet that is not a SYN, read at fixed
    offsets: IPv4 without options and not a fragment, or IPv6, in Ethernet (``lo``) or a
    Linux cooked header (``any``); None for anything else (it is asked alone)."""
    offsets = LINK_HEADERS.get(linktype)
    if offsets is None:
        return None
    kind_at, net = offsets
    kind, size = data[kind_at : kind_at + 2], len(data)
    if kind == IPV4 and size >= net + 24 and data[net] == 0x45 and data[net + 6 : net + 8] in WHOLE:
        protocol, ends, flags_at = data[net + 9], data[net + 12 : net + 24], net + 33
    elif kind == IPV6 and size >= net + 44:
        protocol, ends, flags_at = data[net + 6], data[net + 8 : net + 44], net + 53
    else:
        return None
    if protocol == UDP or (protocol == TCP and size > flags_at and not data[flags_at] & SYN):
        return protocol, ends
    return None


class PacketOwners:
    """Attributes the live inputs' packets and numbers the answers.

    ``live_inputs``: records whose ``source`` is below it are from this host's
    interfaces (a session numbers interfaces before commands); ``interface``: where
    the SYN watcher listens (``any`` for several).
    """

    def __init__(
        self, interface: str, live_inputs: int = 1, only: ProgramMatcher | None = None
    ) -> None:
        self.interface = interface
        self._live_inputs = live_inputs
        self._live: LiveAttribution | None = None
        self._selection: tuple[ProgramMatcher, ProgramFilter | None] | None = (
            (only, None) if only is not None else None
        )
        """With ``--process`` (or the ``f`` prompt's ``process N``): the program whose
        packets :meth:`select` keeps, and its filter once attribution runs; one attribute,
        replaced whole, since the capture thread reads it while the UI may set it."""
        self._table: list[ProcessInfo | None] = [None]
        """id → answer; id 0 is "no answer" (not attributed)."""
        self._ids: dict[ProcessInfo, int] = {}
        """Answer → its table id (equal answers of several flows share one)."""
        self._objects: dict[int, tuple[ProcessInfo, int]] = {}
        """``id()`` of a recent answer object → (it, its table id): answers are shared per
        flow, so most packets skip hashing the dataclass."""
        self.warning: str | None = None
        """Why attribution is off or partial, once, for the status bar."""
        self.started = False

    def start(self) -> None:
        """Open the netlink socket and start the watcher (on the capture thread: ~0.1 s).

        When that fails (no permission), attribution is off and :attr:`warning` says why.
        """
        if self.started:
            return
        self.started = True
        try:
            self._live = LiveAttribution(self.interface)
        except (LivetapError, OSError) as error:
            reason = error.message if isinstance(error, LivetapError) else str(error)
            self.warning = f"which program sent a packet is not shown: {reason}"
            return
        if self._live.warnings:
            self.warning = self._live.warnings[0]
        selection = self._selection
        if selection is not None:
            self._selection = (selection[0], ProgramFilter(self._live.attributor, selection[0]))

    @property
    def only(self) -> ProgramMatcher | None:
        """The program whose packets are kept (``--process``); None: every packet."""
        selection = self._selection
        return selection[0] if selection is not None else None

    def set_only(self, matcher: ProgramMatcher | None) -> None:
        """Keep only this program's packets from the next batch on (None: every packet).

        Raises :class:`LivetapError` when attribution could not start (then nothing
        could be kept): the capture goes on as it was.
        """
        if matcher is None:
            self._selection = None
            return
        if self.started and self._live is None:
            raise LivetapError(
                "cannot capture by program: " + (self.warning or "attribution is not running")
            )
        live = self._live
        program = ProgramFilter(live.attributor, matcher) if live is not None else None
        self._selection = (matcher, program)

    @property
    def attributor(self) -> Attributor | None:
        """The running attributor (for per-process counts); None when not attributing."""
        return self._live.attributor if self._live is not None else None

    @property
    def active(self) -> bool:
        """Packets are being attributed."""
        return self._live is not None

    def ids(self, records: Sequence[PcapRecord]) -> list[int]:
        """Each record's process id (0 for inputs that are not live interfaces)."""
        return self._attribute(records, None)

    def select(self, records: list[PcapRecord]) -> tuple[list[PcapRecord], list[int]]:
        """The records to keep and their ids: all of them, or (``only``) the program's.

        A packet is the program's when it sent it or, on ``lo``, received it; decided
        once per flow per batch. Without attribution running, nothing is the program's.
        """
        selection = self._selection
        if selection is None:
            return records, self.ids(records)
        program = selection[1]
        if program is None:
            return [], []
        kept: list[PcapRecord] = []
        return kept, self._attribute(records, kept, program)

    def _attribute(
        self,
        records: Sequence[PcapRecord],
        kept: list[PcapRecord] | None,
        program: ProgramFilter | None = None,
    ) -> list[int]:
        """The ids of ``records`` (of those appended to ``kept``, when it is given).

        The attributor is asked once per flow per batch: a later packet of a flow
        already met in the batch (same addresses, ports and protocol, not a SYN) takes
        the same answer, read at fixed offsets for Ethernet IPv4/IPv6 (what ``lo`` gives).
        """
        live = self._live
        if live is None:
            return []
        observe, objects, limit = live.observe, self._objects, self._live_inputs
        found: list[int] = []
        append = found.append
        met: dict[int, dict[bytes, tuple[int, bool]]] = {TCP: {}, UDP: {}}
        """Per protocol: the flows met in this batch (addresses and ports) → their answer."""
        for record in records:
            timestamp, _, linktype, data, source = record
            if source >= limit:
                if kept is None:
                    append(0)
                continue
            if (
                linktype == ETHERNET
                and data[12:14] == IPV4
                and data[14] == 0x45
                and data[20:22] in WHOLE
                and len(data) >= 48
            ):  # lo's common case inline (this runs for every packet): _flow_key's first case
                protocol = data[23]
                if protocol == UDP or (protocol == TCP and not data[47] & SYN):
                    key: tuple[int, bytes] | None = (protocol, data[26:38])
                else:
                    key = None
            else:
                key = _flow_key(linktype, data)
            if key is None:
                met[TCP].clear()  # a SYN may start a new connection on a four-tuple met
            else:
                answer = met[key[0]].get(key[1])
                if answer is not None:
                    if kept is None:
                        append(answer[0])
                    elif answer[1]:
                        kept.append(record)
                        append(answer[0])
                    continue
            owner = observe(record)
            seen = objects.get(id(owner))
            owner_id = seen[1] if seen is not None and seen[0] is owner else self._number(owner)
            wanted = program is None or program.keep(Packet(linktype, data), timestamp)
            if key is not None:
                met[key[0]][key[1]] = (owner_id, wanted)
            if kept is None:
                append(owner_id)
            elif wanted:
                kept.append(record)
                append(owner_id)
        return found

    def _number(self, owner: ProcessInfo) -> int:
        """The table id of an answer object not seen lately (a new flow's)."""
        owner_id = self._ids.get(owner)
        if owner_id is None:
            if len(self._table) >= MAX_OWNERS:
                return 0
            owner_id = self._ids[owner] = len(self._table)
            self._table.append(owner)
        if len(self._objects) >= RECENT_OBJECTS:
            self._objects.clear()
        self._objects[id(owner)] = (owner, owner_id)  # the object is held: its id() stays
        return owner_id

    def info(self, owner_id: int) -> ProcessInfo | None:
        """The answer with this id; None for 0 (not attributed)."""
        table = self._table
        return table[owner_id] if 0 < owner_id < len(table) else None

    def close(self) -> None:
        """Stop the watcher and release the socket; the answers stay readable."""
        live, self._live = self._live, None
        if live is not None:
            live.close()


def for_capture(
    spec: SourceSpec, source_names: tuple[str, ...], only: ProgramMatcher | None = None
) -> PacketOwners | None:
    """The attribution a session of ``spec`` should run, if any (``source_names``: the
    opened source's inputs, the default interface resolved).

    Only this host's interfaces: none for files, none for commands' streams (their
    inputs come after the interfaces, so only the first inputs are attributed).
    """
    if spec.files:
        return None
    interfaces = source_names[: len(source_names) - len(spec.commands)]
    if not interfaces:
        return None
    watched = interfaces[0] if len(interfaces) == 1 else "any"
    return PacketOwners(watched, len(interfaces), only)
