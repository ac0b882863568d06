"""Which Chromium process owns a browser request's connection: its pid and its role.

Chromium runs one browser process and many children, each started with ``--type=``
(``renderer``, ``gpu-process``, ``utility`` …); the network service, which owns the
sockets, is a utility process with ``--utility-sub-type=network.mojom.NetworkService``.
The request's TCP connection is found among the captured packets (engine/correlate.py);
its packets from the browser's side carry the process learnt when they were captured.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Protocol

from engine.process.procfs import ProcessInfo

_TYPE = re.compile(r"(?:^| )--type=(\S+)")
_SUB_TYPE = re.compile(r"(?:^| )--utility-sub-type=(\S+)")


class _Summary(Protocol):
    @property
    def sport(self) -> int | None: ...


def chromium_role(cmdline: str) -> str:
    """``network service (--type=utility)``, ``renderer (--type=renderer)``, or
    ``browser process (no --type)`` for the main process, read from its command line."""
    kind = _TYPE.search(cmdline)
    if kind is None:
        return "browser process (no --type)"
    sub = _SUB_TYPE.search(cmdline)
    flag = f"--type={kind.group(1)}"
    if sub is not None and "networkservice" in sub.group(1).lower():
        return f"network service ({flag})"
    if sub is not None:
        return f"utility: {sub.group(1)} ({flag})"
    names = {"renderer": "renderer", "gpu-process": "GPU process", "zygote": "zygote"}
    return f"{names.get(kind.group(1), kind.group(1))} ({flag})"


def connection_owner(
    indices: Iterable[int],
    local_port: int,
    packet: Callable[[int], _Summary | None],
    process_of: Callable[[int], ProcessInfo | None],
) -> ProcessInfo | None:
    """The process stored with the connection's packets sent from ``local_port`` (the
    browser's end): the first known one, else the first unknown one (with its reason);
    None when no packet was attributed."""
    unknown: ProcessInfo | None = None
    for index in indices:
        summary = packet(index)
        if summary is None or summary.sport != local_port:
            continue
        owner = process_of(index)
        if owner is None:
            continue
        if owner.known:
            return owner
        unknown = unknown or owner
    return unknown
