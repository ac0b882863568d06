"""The process part of a packet's detail tree: who sent (or received) it, or why unknown.

One node, first in the tree, so the answer a live capture stored with the packet is
read where the layers are (the Process column has room only for a name and a pid).
"""

from __future__ import annotations

from engine.dissect import FieldNode
from engine.process.procfs import ProcessInfo


def process_node(owner: ProcessInfo) -> FieldNode:
    """``Process: curl 4121`` with the command line, user, pid, parent and unit below it."""
    if not owner.known:
        fields = [FieldNode(f"User: {owner.user}")] if owner.user else []
        return FieldNode(f"Process: unknown: {owner.reason}", tuple(fields))
    if owner.cmdline:
        fields = [
            FieldNode(f"Command line: {owner.cmdline}"),
            FieldNode(f"User: {owner.user or owner.uid}"),
            FieldNode(f"PID: {owner.pid}"),
            FieldNode(f"Parent PID: {owner.ppid}"),
        ]
    else:  # named by the kernel hook after the program ended: /proc had nothing left
        fields = [
            FieldNode("Command line: not known (the program ended before livetap read it)"),
            FieldNode(f"User: {owner.user or owner.uid}"),
            FieldNode(f"PID: {owner.pid}"),
        ]
    if owner.unit:
        fields.append(FieldNode(f"Unit: {owner.unit}"))
    return FieldNode(f"Process: {owner.name} {owner.pid}", tuple(fields))
