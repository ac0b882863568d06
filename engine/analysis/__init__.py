"""Traffic analysis: protocol hierarchy, conversations, talkers, HTTP, DNS, patterns,
threats, credentials and TCP stream following, live or on a pcap/pcapng file.

The same incremental :class:`Analyzer` is fed by the capture thread (live stats) or
by :func:`analyze_file` (headless ``livetap analyze``). Everything reads frames at the
struct level (:mod:`engine.packet.walk`); nothing dissects a packet with scapy.
"""

from __future__ import annotations

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
