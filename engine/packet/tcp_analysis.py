"""Wireshark's TCP sequence analysis for one connection, check by check.

:meth:`TcpConversation.segment` follows ``tcp_analyze_sequence_number`` of Wireshark's
``epan/dissectors/packet-tcp.c`` in its order: zero window probe, zero window, lost
segment, keep-alive, window update, window full, keep-alive ACK, zero window probe ACK,
duplicate ACK, then ACKed unseen segment (as tshark 4.0 decides it, see below), then
(for a segment carrying data, SYN or FIN that is not a keep-alive) spurious
retransmission, fast retransmission, out of order and retransmission. Sequence numbers
compare modulo 2**32 as Wireshark's ``GT_SEQ`` does; times compare in microseconds (a
pcap's resolution), so a threshold such as "within 20 ms" decides as tshark does. The
per-segment list Wireshark keeps for the RTO and bytes in flight is not kept: no flag
depends on it.
"""

from __future__ import annotations

from typing import NamedTuple

from engine.packet.walk import Layers

_MASK = 0xFFFFFFFF
_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10
_NEVER = -(10**18)
"""A time before anything (Wireshark's zeroed timestamps are as far in the past)."""

RETRANSMISSION = 0x0001
LOST_PACKET = 0x0002
ACK_LOST_PACKET = 0x0004
KEEP_ALIVE = 0x0008
DUPLICATE_ACK = 0x0010
ZERO_WINDOW = 0x0020
ZERO_WINDOW_PROBE = 0x0040
ZERO_WINDOW_PROBE_ACK = 0x0080
KEEP_ALIVE_ACK = 0x0100
OUT_OF_ORDER = 0x0200
FAST_RETRANSMISSION = 0x0400
WINDOW_UPDATE = 0x0800
WINDOW_FULL = 0x1000
REUSED_PORTS = 0x2000
SPURIOUS_RETRANSMISSION = 0x4000

FLAG_FIELDS: dict[str, int] = {
    "retransmission": RETRANSMISSION | FAST_RETRANSMISSION | SPURIOUS_RETRANSMISSION,
    "fast_retransmission": FAST_RETRANSMISSION,
    "spurious_retransmission": SPURIOUS_RETRANSMISSION,
    "out_of_order": OUT_OF_ORDER,
    "lost_segment": LOST_PACKET,
    "ack_lost_segment": ACK_LOST_PACKET,
    "window_update": WINDOW_UPDATE,
    "window_full": WINDOW_FULL,
    "keep_alive": KEEP_ALIVE,
    "keep_alive_ack": KEEP_ALIVE_ACK,
    "duplicate_ack": DUPLICATE_ACK,
    "zero_window": ZERO_WINDOW,
    "zero_window_probe": ZERO_WINDOW_PROBE,
    "zero_window_probe_ack": ZERO_WINDOW_PROBE_ACK,
    "reused_ports": REUSED_PORTS,
}
"""``tcp.analysis.NAME`` and the flags that set it (Wireshark also marks a fast or a
spurious retransmission as a retransmission)."""

_INFO_ORDER: tuple[tuple[int, str], ...] = (
    (RETRANSMISSION, "TCP Retransmission"),
    (FAST_RETRANSMISSION, "TCP Fast Retransmission"),
    (SPURIOUS_RETRANSMISSION, "TCP Spurious Retransmission"),
    (OUT_OF_ORDER, "TCP Out-Of-Order"),
    (REUSED_PORTS, "TCP Port numbers reused"),
    (LOST_PACKET, "TCP Previous segment not captured"),
    (ACK_LOST_PACKET, "TCP ACKed unseen segment"),
    (WINDOW_UPDATE, "TCP Window Update"),
    (WINDOW_FULL, "TCP Window Full"),
    (KEEP_ALIVE, "TCP Keep-Alive"),
    (KEEP_ALIVE_ACK, "TCP Keep-Alive ACK"),
    (DUPLICATE_ACK, ""),
    (ZERO_WINDOW_PROBE, "TCP ZeroWindowProbe"),
    (ZERO_WINDOW, "TCP ZeroWindow"),
    (ZERO_WINDOW_PROBE_ACK, "TCP ZeroWindowProbeAck"),
)
"""The order Wireshark writes the notes in; each is put in front of the ones before."""


class TcpFrame(NamedTuple):
    """One segment's stateful fields, as Wireshark shows them (a tuple: one a segment)."""

    stream: int
    seq: int
    """Relative to the side's first sequence number (``tcp.seq``)."""
    ack: int
    """Relative to the other side's first one when the ACK flag is set, else as sent."""
    nxtseq: int
    """The relative sequence number after this segment (SYN and FIN count one)."""
    window_size: int
    """The window after scaling (``tcp.window_size``), when the scale is known."""
    flags: int = 0
    """The analysis flags (``RETRANSMISSION`` ...); 0 for none."""
    dupack_num: int = 0
    dupack_frame: int = 0

    def info_prefix(self) -> str:
        """Wireshark's bracketed notes at the front of the Info column, or ''."""
        if not self.flags:
            return ""
        notes: list[str] = []
        for bit, text in _INFO_ORDER:
            if self.flags & bit:
                note = text or f"TCP Dup ACK {self.dupack_frame}#{self.dupack_num}"
                notes.insert(0, f"[{note}] ")
        return "".join(notes)


def _signed(value: int) -> int:
    """A 32-bit difference as Wireshark's ``(gint32)`` cast reads it."""
    value &= _MASK
    return value - 0x100000000 if value & 0x80000000 else value


def _gt(a: int, b: int) -> bool:
    return _signed(b - a) < 0


def _lt(a: int, b: int) -> bool:
    return _signed(a - b) < 0


def _le(a: int, b: int) -> bool:
    return _signed(a - b) <= 0


def _since(now: int, then: int) -> int:
    """Microseconds from ``then`` to ``now``; a step back reads as very long (unsigned)."""
    elapsed = now - then
    return elapsed if elapsed >= 0 else 1 << 62


def tcp_options_window_scale(data: bytes, start: int, end: int) -> int | None:
    """The window scale option's shift among TCP options ``data[start:end]``, if any."""
    end = min(end, len(data))
    position = start
    while position < end:
        kind = data[position]
        if kind == 0:
            return None
        if kind == 1:
            position += 1
            continue
        if position + 1 >= end:
            return None
        size = data[position + 1]
        if size < 2:
            return None
        if kind == 3 and size == 3 and position + 2 < end:
            return min(data[position + 2], 14)
        position += size
    return None


class _Flow:
    """One direction of a connection: Wireshark's ``tcp_flow_t`` and its sequence info."""

    __slots__ = (
        "base_seq",
        "base_set",
        "dupacknum",
        "last_was_syn",
        "lastack",
        "lastack_time",
        "lastnondupack",
        "lastsegmentflags",
        "maxseqtobeacked",
        "nextseq",
        "nextseq_time",
        "win_scale",
        "window",
    )

    def __init__(self) -> None:
        self.base_seq = 0
        self.base_set = False
        self.nextseq = 0
        self.nextseq_time = _NEVER
        self.lastack = 0
        self.lastack_time = _NEVER
        self.window = _MASK
        self.win_scale = -1
        """-1 unknown (no handshake seen), -2 no scaling, else the shift."""
        self.last_was_syn = False
        self.lastsegmentflags = 0
        self.dupacknum = 0
        self.lastnondupack = 0
        self.maxseqtobeacked = 0


class TcpConversation:
    """Both directions of one TCP connection and its stream number."""

    __slots__ = ("_flows", "first", "first_rtt", "last", "mru_syn", "stream")

    def __init__(self, stream: int, first: tuple[bytes, int]) -> None:
        self.stream = stream
        self.first = first
        """The endpoint of one side (the key's first): its flow is ``_flows[0]``."""
        self._flows = (_Flow(), _Flow())
        self.last = 0
        """The last frame seen, for forgetting old conversations."""
        self.mru_syn = 0
        """When the latest SYN was sent (microseconds; 0: none)."""
        self.first_rtt = 0
        """SYN to the handshake's last ACK (microseconds; 0: not known)."""

    def _directions(self, source: tuple[bytes, int]) -> tuple[_Flow, _Flow]:
        forward, reverse = self._flows
        return (forward, reverse) if source == self.first else (reverse, forward)

    def reused_by(self, source: tuple[bytes, int], seq: int) -> bool:
        """A SYN from ``source`` with another initial sequence number: a new connection."""
        forward, _reverse = self._directions(source)
        return forward.base_set and seq != forward.base_seq

    def segment(
        self,
        number: int,
        timestamp: float,
        source: tuple[bytes, int],
        layers: Layers,
        *,
        window: int,
        window_scale: int | None,
        reused: bool,
    ) -> TcpFrame:
        """The next segment of this connection (frame ``number``), in capture order."""
        fwd, rev = self._directions(source)
        self.last = number
        now = round(timestamp * 1_000_000)
        flags = layers.flags
        seq, ack, seglen = layers.seq, layers.ack, layers.seglen
        if flags & (_SYN | _ACK) == _SYN:
            self.mru_syn = now
        elif flags & (_SYN | _ACK) == _ACK and self.mru_syn and not self.first_rtt:
            self.first_rtt = now - self.mru_syn
        shift = fwd.win_scale if fwd.win_scale >= 0 and not flags & _SYN else 0
        window_size = (window << shift) & _MASK
        found = _analyse(
            self, fwd, rev, number=number, now=now, segment=(seq, ack, seglen, flags, window)
        )
        if reused:
            found.flags |= REUSED_PORTS
        fwd.lastsegmentflags = found.flags
        if window_scale is not None:  # read on any segment, as Wireshark reads options
            fwd.win_scale = window_scale
        if flags & _SYN:
            _window_scaling(fwd, rev, bool(flags & _ACK))
        fwd.last_was_syn = bool(flags & _SYN)
        relative_seq = (seq - fwd.base_seq) & _MASK
        relative_ack = (ack - rev.base_seq) & _MASK if flags & _ACK and rev.base_set else ack
        extra = 1 if flags & (_SYN | _FIN) else 0
        return TcpFrame(
            self.stream,
            relative_seq,
            relative_ack,
            (relative_seq + seglen + extra) & _MASK,
            window_size,
            found.flags,
            found.dupack_num,
            found.dupack_frame,
        )


def _window_scaling(fwd: _Flow, rev: _Flow, synack: bool) -> None:
    """Wireshark's ``verify_tcp_window_scaling`` after a SYN's options are read."""
    if fwd.win_scale == -1:
        fwd.win_scale = rev.win_scale = -2
    elif synack and rev.win_scale == -2:
        fwd.win_scale = -2


class _Found:
    __slots__ = ("dupack_frame", "dupack_num", "flags")

    def __init__(self) -> None:
        self.flags = 0
        self.dupack_num = 0
        self.dupack_frame = 0


def _analyse(
    conversation: TcpConversation,
    fwd: _Flow,
    rev: _Flow,
    *,
    number: int,
    now: int,
    segment: tuple[int, int, int, int, int],
) -> _Found:
    """``tcp_analyze_sequence_number``: the flags of one segment, and the flows moved on."""
    seq, ack, seglen, flags, window = segment
    found = _Found()
    if not fwd.base_set:
        fwd.base_seq = seq if flags & _SYN else (seq - 1) & _MASK
        fwd.base_set = True
    if not rev.base_set and flags & _ACK:
        rev.base_seq = (ack - 1) & _MASK
        rev.base_set = True
    _forward_checks(fwd, rev, found, number, (seq, ack, seglen, flags, window))
    # ACKed unseen segment: tshark 4.0 reports it when this side's ACK moves past what
    # the other side was seen sending, once per gap. (Wireshark's master since counts
    # duplicate ACKs here instead; 4.0's answers on the corpora are these.)
    moved = ack != fwd.lastack
    if moved:
        fwd.lastnondupack = number
        fwd.dupacknum = 0
    if moved and rev.maxseqtobeacked and _gt(ack, rev.maxseqtobeacked) and flags & _ACK:
        found.flags |= ACK_LOST_PACKET
        rev.maxseqtobeacked = rev.nextseq  # so the same loss is reported once
    if seglen > 0 or flags & (_SYN | _FIN):
        _retransmission_checks(
            conversation, fwd, rev, found=found, now=now, segment=(seq, seglen, flags)
        )
    nextseq = (seq + seglen + (1 if flags & (_SYN | _FIN) else 0)) & _MASK
    probe = bool(found.flags & ZERO_WINDOW_PROBE)
    if (_gt(nextseq, fwd.nextseq) or not fwd.nextseq) and not probe:
        fwd.nextseq = nextseq
        fwd.nextseq_time = now
    if (seq == fwd.maxseqtobeacked or not fwd.maxseqtobeacked) and not probe:
        fwd.maxseqtobeacked = fwd.nextseq
    fwd.window = window
    fwd.lastack = ack
    fwd.lastack_time = now
    return found


def _forward_checks(
    fwd: _Flow, rev: _Flow, found: _Found, number: int, segment: tuple[int, int, int, int, int]
) -> None:
    """The checks before ``finished_fwd``: probes, windows, losses, keep-alives, dup ACKs."""
    seq, ack, seglen, flags, window = segment
    plain = not flags & (_SYN | _FIN | _RST)
    if seglen == 1 and seq == fwd.nextseq and rev.window == 0:
        found.flags |= ZERO_WINDOW_PROBE
        return
    if window == 0 and plain:
        found.flags |= ZERO_WINDOW
    if fwd.nextseq and _gt(seq, fwd.nextseq) and not flags & _RST:
        found.flags |= LOST_PACKET
    if seglen in (0, 1) and seq == (fwd.nextseq - 1) & _MASK and plain:
        found.flags |= KEEP_ALIVE
    same = seq == fwd.nextseq and ack == fwd.lastack and plain and seglen == 0
    if same and window and window != fwd.window:
        found.flags |= WINDOW_UPDATE
    if seglen > 0 and rev.win_scale != -1 and plain:
        shift = 0 if rev.last_was_syn or rev.win_scale == -2 else rev.win_scale
        if (seq + seglen) & _MASK == (rev.lastack + ((rev.window << shift) & _MASK)) & _MASK:
            found.flags |= WINDOW_FULL
    if same and window and window == fwd.window and rev.lastsegmentflags & KEEP_ALIVE:
        found.flags |= KEEP_ALIVE_ACK
        return
    if same and window == 0 and fwd.window == 0 and rev.lastsegmentflags & ZERO_WINDOW_PROBE:
        found.flags |= ZERO_WINDOW_PROBE_ACK
        return
    if same and window and window == fwd.window:
        fwd.dupacknum += 1
        found.flags |= DUPLICATE_ACK
        found.dupack_num = fwd.dupacknum
        found.dupack_frame = fwd.lastnondupack


def _retransmission_checks(
    conversation: TcpConversation,
    fwd: _Flow,
    rev: _Flow,
    *,
    found: _Found,
    now: int,
    segment: tuple[int, int, int],
) -> None:
    """Spurious, fast, out-of-order or plain retransmission of a segment with data."""
    seq, seglen, flags = segment
    if found.flags & KEEP_ALIVE:
        return
    not_advanced = bool(fwd.nextseq) and _lt(seq, fwd.nextseq)
    if seglen > 1 and (fwd.nextseq - 1) & _MASK == seq:
        not_advanced = False
    if seglen > 0 and rev.lastack and _le(seq + seglen, rev.lastack):
        found.flags |= SPURIOUS_RETRANSMISSION
        return
    if (
        not_advanced
        and rev.dupacknum >= 2
        and rev.lastack == seq
        and _since(now, rev.lastack_time) < 20_000
    ):
        found.flags |= FAST_RETRANSMISSION
        return
    threshold = conversation.first_rtt or 3_000
    extra = 1 if flags & (_SYN | _FIN) else 0
    if (
        not_advanced
        and _since(now, fwd.nextseq_time) < threshold
        and fwd.nextseq != (seq + seglen + extra) & _MASK
    ):
        found.flags |= OUT_OF_ORDER
        return
    if not_advanced:
        found.flags |= RETRANSMISSION
