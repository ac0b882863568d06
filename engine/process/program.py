"""Capture by program (``--process NAME|PID``): keep one program's traffic, children included.

Decided per flow in user space, not by a kernel filter of the program's ports: a new
connection's port is known only once its SYN has left, and a short connection on ``lo``
is over before a new BPF program could be attached, so a port filter would lose the
first packets of every connection the program opens later. Here the kernel filter only
narrows to TCP/UDP; each flow is attributed once (the SYN watcher resolving it as it
opens) and every later packet costs a dictionary lookup and a set lookup.
"""

from __future__ import annotations

import re

from engine.errors import UsageError
from engine.packet.model import Packet
from engine.process.attribution import Attributor
from engine.process.procfs import ProcessInfo, read_process

MAX_ANCESTORS = 64
KERNEL_FILTER = "tcp or udp"
"""What the kernel passes when capturing by program: the rest is decided per flow."""
_CLAUSE = re.compile(r"^(?:(?P<bpf>.*\S)\s+and\s+)?process\s+(?P<program>\S+)\s*$", re.DOTALL)
"""``[BPF and ] process NAME|PID`` as the ``f`` prompt takes it (BPF has no ``process``)."""


def split_process_clause(text: str) -> tuple[str, str | None]:
    """``"tcp port 80 and process 4121"`` → ``("tcp port 80", "4121")``.

    The ``f`` prompt's way to capture by program (what ``--process`` does): a trailing
    ``process NAME|PID`` clause; without one, ``(text, None)``.
    """
    found = _CLAUSE.match(text.strip())
    if found is None:
        return text, None
    return found.group("bpf") or "", found.group("program")


def kernel_expression(bpf: str) -> str:
    """The kernel filter while capturing by program: ``bpf`` narrowed to TCP and UDP."""
    return f"({bpf}) and ({KERNEL_FILTER})" if bpf.strip() else KERNEL_FILTER


def user_expression(kernel: str, program: str) -> str:
    """The filter as the user wrote it, from the kernel's (:func:`kernel_expression`)."""
    suffix = f") and ({KERNEL_FILTER})"
    if kernel.startswith("(") and kernel.endswith(suffix):
        return f"{kernel[1 : -len(suffix)]} and process {program}"
    return f"process {program}" if kernel == KERNEL_FILTER else f"{kernel} and process {program}"


class ProgramMatcher:
    """A program named by pid or by name; its descendants match too."""

    def __init__(self, selector: str) -> None:
        text = selector.strip()
        if not text:
            raise UsageError("--process needs a program name or a pid")
        self.pid = int(text) if text.isdigit() else None
        self.name = None if self.pid is not None else text
        self.selector = text
        """As given: a pid or a name."""
        self._verdicts: dict[tuple[int, int], bool] = {}
        """(pid, start time) → whether it is the program or one of its children."""

    def matches(self, owner: ProcessInfo) -> bool:
        """Whether this process is the program, or was started by it (at any depth)."""
        if not owner.known:
            return False
        key = (owner.pid, owner.start)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._verdicts[key] = self._lineage_matches(owner)
        return verdict

    def _is_it(self, owner: ProcessInfo) -> bool:
        if self.pid is not None:
            return owner.pid == self.pid
        first = owner.cmdline.split(" ", 1)[0].rsplit("/", 1)[-1]
        return self.name in (owner.name, first)

    def _lineage_matches(self, owner: ProcessInfo) -> bool:
        current = owner
        for _ in range(MAX_ANCESTORS):
            if self._is_it(current):
                return True
            if current.ppid <= 1:
                return False
            current = read_process(current.ppid)
            if not current.known:
                return False
        return False


class ProgramFilter:
    """Keeps the packets whose local process is the program (or its child)."""

    def __init__(self, attributor: Attributor, matcher: ProgramMatcher) -> None:
        self._attributor = attributor
        self.matcher = matcher

    def keep(self, packet: Packet, timestamp: float) -> bool:
        """Whether the packet is the program's: sent by it, or received by it (on lo too)."""
        if self.matcher.matches(self._attributor.for_packet(packet, timestamp)):
            return True
        layers = packet.layers
        if packet.transport() not in (6, 17) or layers.sport < 0:
            return False
        size = 4 if layers.family == 4 else 16
        src, dst = (layers.pair[:size], layers.sport), (layers.pair[size:], layers.dport)
        if not (self._attributor.is_local(src[0]) and self._attributor.is_local(dst[0])):
            return False  # the other end is remote: the sender's answer was the local one
        receiver = self._attributor.for_endpoints(packet.transport(), dst, src, timestamp)
        return self.matcher.matches(receiver)
