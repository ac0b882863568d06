"""Traffic analysis: protocol hierarchy, conversations, talkers, HTTP, DNS, patterns,
threats, credentials and TCP stream following, live or on a pcap/pcapng file.

The same incremental :class:`Analyzer` is fed by the capture thread (live stats) or
by :func:`analyze_file` (headless ``livetap analyze``). Everything reads frames at the
struct level (:mod:`engine.packet.walk`); nothing dissects a packet with scapy.

The names below are imported when first used (``livetap analyze`` does not pay for
stream following, the live snapshot or the text renderer it does not use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.analysis.aggregate import Analyzer
    from engine.analysis.follow import (
        FollowResult,
        conversation_of,
        follow_records,
        follow_stream,
        format_follow,
    )
    from engine.analysis.reader import AnalysisResult, analyze_file
    from engine.analysis.report import REPORTS
    from engine.analysis.snapshot import AnalysisSnapshot
    from engine.analysis.text import render_text
    from engine.analysis.threats import Blocklist

_WHERE = {
    "REPORTS": "report",
    "AnalysisResult": "reader",
    "AnalysisSnapshot": "snapshot",
    "Analyzer": "aggregate",
    "Blocklist": "threats",
    "FollowResult": "follow",
    "analyze_file": "reader",
    "conversation_of": "follow",
    "follow_records": "follow",
    "follow_stream": "follow",
    "format_follow": "follow",
    "render_text": "text",
}

__all__ = [
    "REPORTS",
    "AnalysisResult",
    "AnalysisSnapshot",
    "Analyzer",
    "Blocklist",
    "FollowResult",
    "analyze_file",
    "conversation_of",
    "follow_records",
    "follow_stream",
    "format_follow",
    "render_text",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"engine.analysis.{module}"), name)
    globals()[name] = value
    return value
