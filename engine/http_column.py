"""The Protocol and Info columns of HTTP messages split over TCP segments, as tshark shows them.

The packet list decodes each frame alone: a segment that starts with an HTTP request or
status line is ``HTTP``, any other segment ``TCP``. tshark reads with reassembly: it
shows ``HTTP`` on the segment that completes a message (where its HTTP dissector runs)
and ``TCP`` on the segments before, the first one included (its Info then ends in
``[TCP segment of a reassembled PDU]``). ``livetap filter`` reads a file in order, so it
knows the completing segment when it reads it: :class:`HttpColumns` corrects the two
columns from the analysis's reassembly (its hierarchy path, the same one ``-Y http``
tests). Only connections on HTTP's ports are read that way (elsewhere the analysis reads
no HTTP, and the columns stay as decoded); other frames cost a port lookup.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.analysis.ports import HTTP_PORTS, tcp_label
from engine.display_filter.packet_fields import ProtocolPath
from engine.events import PacketSummary
from engine.pcapio import PcapRecord

SEGMENT_NOTE = " [TCP segment of a reassembled PDU]"
"""What tshark appends to the Info of a segment whose message completes later."""
CONTINUATION = "Continuation"
"""tshark's Info for HTTP payload that continues a message without starting one."""
MAX_LINES = 65536
"""Start lines remembered at once (one per direction of a connection); past it the oldest
are forgotten (a message completed later then shows its segment's Info)."""

_BODY_NAMES = {"json": "HTTP/JSON", "xml": "HTTP/XML"}
"""Bodies whose dissector adds its name to tshark's Protocol column."""

PathOf = Callable[[PcapRecord], ProtocolPath]
_Key = tuple[str, int | None, str, int | None]


class HttpColumns:
    """Protocol and Info of each frame after HTTP reassembly, for frames read in capture order.

    ``path_of`` gives a frame's protocols after reassembly (the analysis's
    :meth:`~engine.analysis.aggregate.Analyzer.frame_path`). It is asked only for the
    frames on HTTP's ports, unless the caller already has every frame's path (a filter
    that reassembles) and passes it.
    """

    def __init__(self, path_of: PathOf) -> None:
        self._path_of = path_of
        self._lines: dict[_Key, str] = {}
        """The last start line each direction of a connection sent."""

    def columns(
        self, summary: PacketSummary, record: PcapRecord, path: ProtocolPath | None = None
    ) -> tuple[str, str]:
        """The frame's (Protocol, Info); call it for every frame, in order.

        ``path`` is the frame's path when the caller computed it anyway (then it is used,
        and nothing more is computed).
        """
        protocol, info = summary.protocol, summary.info
        sport, dport = summary.sport, summary.dport
        if (
            sport is None
            or dport is None
            or (sport not in HTTP_PORTS and dport not in HTTP_PORTS)
            or tcp_label(sport, dport) != "http"
        ):
            return protocol, info  # the analysis reads no HTTP here: as decoded
        started = protocol == "HTTP"
        key = (summary.src, sport, summary.dst, dport)
        if started:
            self._remember(key, info)
        if path is None:
            path = self._path_of(record)
        application = path[2]
        if application and application[0] == "http":
            name = _BODY_NAMES.get(application[1], "HTTP") if len(application) > 1 else "HTTP"
            if started:
                return name, info
            if application[-1] == "tcp.segments":  # the segment that completes a message
                return name, self._lines.get(key) or info
            return name, CONTINUATION
        if started and not application:  # a message that completes in a later segment
            return "TCP", info + SEGMENT_NOTE
        return protocol, info

    def _remember(self, key: _Key, line: str) -> None:
        """The start line this direction sent, for the segment that completes its message."""
        lines = self._lines
        if key not in lines and len(lines) >= MAX_LINES:
            for old in list(lines)[:1024]:
                del lines[old]
        lines[key] = line
