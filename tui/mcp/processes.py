"""capture_packets' process per packet: learnt while the capture runs, added to each summary.

The summaries are read back from the written file after the capture, when short
programs are long gone, so each packet's process is learnt as its batch is written
(the live view's attribution, its SYN watcher included) and joined by packet number.
"""

from __future__ import annotations

from typing import Any

from engine.pcapio import PcapRecord
from engine.process.packet_owners import PacketOwners
from engine.process.procfs import ProcessInfo


def process_field(owner: ProcessInfo | None) -> dict[str, Any] | None:
    """A summary's ``process``: name, pid and user, or why it is unknown; None: not asked."""
    if owner is None:
        return None
    if not owner.known:
        return {"unknown": owner.reason}
    return {"name": owner.name, "pid": owner.pid, "user": owner.user}


class CapturedOwners:
    """The processes of one capture's packets, in the order they were written."""

    def __init__(self, interfaces: tuple[str, ...]) -> None:
        """Attribute the packets of these interfaces of this host (none: not asked)."""
        self._owners: PacketOwners | None = None
        if interfaces:
            watched = interfaces[0] if len(interfaces) == 1 else "any"
            self._owners = PacketOwners(watched, len(interfaces))
            self._owners.start()
        self._ids: list[int] = []

    def observe(self, records: list[PcapRecord]) -> None:
        """A batch about to be written (the capture loop's thread)."""
        if self._owners is not None:
            self._ids.extend(self._owners.ids(records))

    def add_to(self, result: dict[str, Any]) -> None:
        """Each listed summary's ``process`` (by its packet number), and why none, if so."""
        owners = self._owners
        if owners is None:
            return
        ids = self._ids
        for summary in result.get("summaries", []):
            number = summary["index"] - 1
            summary["process"] = process_field(
                owners.info(ids[number]) if number < len(ids) else None
            )
        if owners.warning:
            result["notes"] = [*result.get("notes", []), owners.warning]

    def close(self) -> None:
        """Stop the watcher process and release the netlink socket."""
        if self._owners is not None:
            self._owners.close()
