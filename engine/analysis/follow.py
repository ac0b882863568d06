"""Follow a TCP stream: its payload both ways, reassembled and printed as tshark prints it.

``livetap follow FILE --stream N`` gives the same output as
``tshark -q -z follow,tcp,ascii,N`` (also ``hex`` and ``raw``); ``livetap follow A B``
follows over the files merged by time, as tshark does on ``mergecap -w M A B``: streams are numbered
as Wireshark numbers ``tcp.stream`` (see :mod:`engine.analysis.conversations`), and
segments go through the same reassembly tshark's follow tap does: in-order data is
appended, data seen before is trimmed, out-of-order segments wait for the gap to
fill, and a gap the other side has acknowledged becomes
``[N bytes missing in capture file]``. ``--conv "a:p b:q"`` follows every packet
of that 4-tuple, as tshark's address form does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.analysis.addresses import format_address, format_endpoint
from engine.analysis.conversations import TcpStream, TcpStreams
from engine.analysis.reader import ProgressCallback, ReadState, read_merged_batches
from engine.errors import NotFoundError, UsageError
from engine.packet.structs import U16
from engine.packet.walk import Layers, walk
from engine.pcapio import PcapRecord

MASK = 0xFFFFFFFF
RULE = "=" * 67
FORMATS = ("ascii", "hex", "raw")


def _int32(value: int) -> int:
    """A 32-bit unsigned difference read as a signed int, as C's cast does."""
    value &= MASK
    return value - (1 << 32) if value & 0x80000000 else value


def _lt(a: int, b: int) -> bool:
    """LT_SEQ: a before b in sequence space."""
    return _int32(a - b) < 0


def _gt(a: int, b: int) -> bool:
    """GT_SEQ: a after b in sequence space."""
    return _int32(b - a) < 0


@dataclass(frozen=True, slots=True)
class FollowChunk:
    """Payload from one side, as one record of tshark's follow output."""

    node: int
    """0 for the side that sent the first packet, 1 for the other."""
    data: bytes


@dataclass(frozen=True, slots=True)
class FollowResult:
    """A followed stream: its two ends and the payload in the order it was delivered."""

    filter: str
    """The display filter tshark would print for this follow."""
    node0: str
    node1: str
    chunks: tuple[FollowChunk, ...]
    stream: int | None
    streams_total: int
    packets: int
    """Packets of the followed stream."""
    warnings: tuple[str, ...] = ()
    truncated: bool = False
    interrupted: bool = False

    def bytes_from(self, node: int) -> bytes:
        """Everything one side sent, joined."""
        return b"".join(chunk.data for chunk in self.chunks if chunk.node == node)


@dataclass(slots=True)
class _Record:
    server: bool
    seq: int
    data: bytes


@dataclass(slots=True)
class _Follower:
    """tshark's follow tap for TCP, transcribed: one state for everything the filter passes."""

    client: tuple[bytes, int] | None = None
    server: tuple[bytes, int] | None = None
    seq: list[int] = field(default_factory=lambda: [0, 0])
    written: list[int] = field(default_factory=lambda: [0, 0])
    fragments: list[list[_Record]] = field(default_factory=lambda: [[], []])
    payload: list[_Record] = field(default_factory=list)

    def segment(self, fields: Layers, data: bytes, numbers: tuple[int, int]) -> None:
        """follow_tcp_tap_listener: one segment of the followed packets (``data`` captured).

        ``numbers`` are the sequence and acknowledgement numbers relative to the
        stream's initial ones, as tshark's TCP dissector hands them to its tap.
        """
        half = len(fields.pair) // 2
        src, dst = fields.pair[:half], fields.pair[half:]
        sport, dport = fields.sport, fields.dport
        seq, ack = numbers
        sequence = (seq + 1) & MASK if fields.flags & 0x02 else seq
        length = fields.seglen
        if self.client is None:
            self.client, self.server = (src, sport), (dst, dport)
        side = 0 if (src, sport) == self.client else 1
        other = 1 - side
        if self.fragments[other]:
            while self._fragments(other, ack):
                pass
        if self.written[side] == 0 and self.seq[side] == 0:
            self.seq[side] = sequence
        offset = 0
        size = len(data)
        expected = self.seq[side]
        if _lt(sequence, expected):
            following = (sequence + length) & MASK
            if _gt(following, expected):
                offset = (expected - sequence) & MASK
                size = 0 if size <= offset else size - offset
                sequence = expected
                length = (following - expected) & MASK
        if size == 0 or _lt(sequence, self.seq[side]):
            return
        record = _Record(side == 1, sequence, data[offset : offset + size])
        if sequence == self.seq[side]:
            self.seq[side] = (self.seq[side] + length) & MASK
            self.written[side] += len(record.data)
            self.payload.append(record)
            while self._fragments(side, 0):
                pass
        else:
            self.fragments[side].append(record)

    def _fragments(self, side: int, acknowledged: int) -> bool:
        """check_follow_fragments: deliver what now fits, or give up on a gap that was acked."""
        waiting = self.fragments[side]
        if not waiting:
            return False
        lowest = waiting[0].seq
        for index, fragment in enumerate(waiting):
            if _gt(lowest, fragment.seq):
                lowest = fragment.seq
            expected = self.seq[side]
            if _lt(fragment.seq, expected):
                following = (fragment.seq + len(fragment.data)) & MASK
                if _gt(following, expected):
                    position = (expected - fragment.seq) & MASK
                    if len(fragment.data) > position:
                        self.payload.append(
                            _Record(fragment.server, expected, fragment.data[position:])
                        )
                    self.seq[side] = following
                del waiting[index]
                return True
            if fragment.seq == expected:
                if fragment.data:
                    self.payload.append(fragment)
                self.seq[side] = (expected + len(fragment.data)) & MASK
                del waiting[index]
                return True
        if _gt(acknowledged, lowest):
            missing = _int32(lowest - self.seq[side])
            text = f"[{missing} bytes missing in capture file]".encode() + b"\x00"
            self.payload.append(_Record(side == 1, lowest, text))
            self.seq[side] = lowest
            return True
        return False


def parse_conv(text: str) -> tuple[tuple[bytes, int], tuple[bytes, int]]:
    """``"a:p b:q"`` (or ``a:p,b:q``; IPv6 as ``[addr]:port``) as two (address, port) pairs."""
    words = text.replace(",", " ").split()
    if len(words) != 2:
        raise UsageError(
            f'--conv {text!r} needs two endpoints, e.g. --conv "10.0.0.5:41000 93.184.216.34:80"'
        )
    ends = []
    for word in words:
        host, colon, port = word.rpartition(":")
        try:
            address = ipaddress.ip_address(host.strip("[]")) if colon else None
            number = int(port)
        except ValueError:
            address, number = None, -1
        if address is None or not 0 <= number <= 65535:
            raise UsageError(
                f"--conv endpoint {word!r} is not address:port (IPv6 as [address]:port)"
            )
        ends.append((address.packed, number))
    if len(ends[0][0]) != len(ends[1][0]):
        raise UsageError(f"--conv {text!r} mixes an IPv4 and an IPv6 address")
    return ends[0], ends[1]


def conversation_of(linktype: int, data: bytes) -> str | None:
    """The ``--conv`` text of a TCP frame's connection (for ``s`` on a packet), else None."""
    fields = walk(linktype, data)
    if fields.proto != 6 or fields.sport < 0:
        return None
    half = len(fields.pair) // 2
    a = format_endpoint(fields.pair[:half], fields.sport)
    b = format_endpoint(fields.pair[half:], fields.dport)
    return f"{a} {b}"


def _conv_filter(a: tuple[bytes, int], b: tuple[bytes, int]) -> str:
    """The display filter tshark prints for ``follow,tcp,MODE,a:p,b:q``."""
    ip = "ip" if len(a[0]) == 4 else "ipv6"

    def side(src: tuple[bytes, int], dst: tuple[bytes, int]) -> str:
        return (
            f"({ip}.src eq {format_address(src[0])} and tcp.srcport eq {src[1]}) and "
            f"({ip}.dst eq {format_address(dst[0])} and tcp.dstport eq {dst[1]})"
        )

    return f"({side(a, b)}) or ({side(b, a)})"


class _StreamFollower:
    """Numbers the TCP streams of the records fed to it and follows the chosen one."""

    def __init__(self, stream: int | None, conv: str | None) -> None:
        if (stream is None) == (conv is None):
            raise UsageError('follow needs one of --stream N or --conv "a:p b:q"')
        if stream is not None and stream < 0:
            raise UsageError(f"--stream {stream}: stream numbers start at 0")
        self.stream = stream
        self.conv = conv
        self._tuples: tuple[tuple[bytes, int, bytes, int], ...] = ()
        if conv is not None:
            a, b = parse_conv(conv)
            self.filter = _conv_filter(a, b)
            self._tuples = ((a[0], a[1], b[0], b[1]), (b[0], b[1], a[0], a[1]))
        else:
            self.filter = f"tcp.stream eq {stream}"
        self._streams = TcpStreams(limit=1 << 62)
        self._follower = _Follower()
        self.packets = 0
        self.several = False
        """Several files merged by time are followed (the errors say "the files")."""

    def feed(self, records: Iterable[PcapRecord]) -> None:
        """Number and follow a batch of (timestamp, length, linktype, data) records."""
        lookup = self._streams.lookup
        for time, _length, linktype, data, _source in records:
            fields = walk(linktype, data)
            if fields.proto != 6 or fields.sport < 0 or fields.fragment is not None:
                continue  # (tshark follows reassembled fragments; fragmented TCP is very rare)
            entry = lookup(fields, time)
            if entry is None:
                continue
            if self._tuples:
                half = len(fields.pair) // 2
                src, dst = fields.pair[:half], fields.pair[half:]
                if (src, fields.sport, dst, fields.dport) not in self._tuples:
                    continue
            elif entry[0].index != self.stream:
                continue
            self.packets += 1
            if not _whole_header(fields.l4, data) or _in_fragment(fields.family, fields.net, data):
                continue  # tshark's TCP dissector gives its follow tap neither of these
            self._follower.segment(
                fields, data[fields.start : fields.end], _relative(fields, entry)
            )

    def result(self, state: ReadState | None = None) -> FollowResult:
        """The followed payload; NotFoundError when nothing matched."""
        total = len(self._streams.streams)
        interrupted = state is not None and state.interrupted
        if not self.packets and not interrupted:
            if self.stream is not None:
                plural = "stream" if total == 1 else "streams"
                numbers = f" (0-{total - 1})" if total else ""
                has = "the files have" if self.several else "the file has"
                raise NotFoundError(
                    f"there is no TCP stream {self.stream}: {has} {total} {plural}{numbers}"
                )
            where = "the files" if self.several else "the file"
            raise NotFoundError(f"no TCP packet in {where} goes between {self.conv}")
        follower = self._follower
        node0 = format_endpoint(*follower.client) if follower.client else ":0"
        node1 = format_endpoint(*follower.server) if follower.server else ":0"
        chunks = tuple(FollowChunk(1 if r.server else 0, r.data) for r in follower.payload)
        return FollowResult(
            self.filter,
            node0,
            node1,
            chunks,
            self.stream,
            total,
            self.packets,
            tuple(state.warnings) if state else (),
            state.truncated or state.stopped if state else False,
            interrupted,
        )


def _whole_header(start: int, data: bytes) -> bool:
    """Whether the TCP header at ``start`` says 20 bytes or more and was captured whole."""
    if start < 0 or start + 13 > len(data):
        return False
    length = (data[start + 12] >> 4) * 4
    return length >= 20 and start + length <= len(data)


def _in_fragment(family: int, net: int, data: bytes) -> bool:
    """An IPv4 fragment read as TCP (a first fragment cut by the snap length, which cannot
    be reassembled): tshark counts its conversation but does not follow it."""
    return (
        family == 4 and net >= 0 and net + 8 <= len(data) and bool(U16(data, net + 6)[0] & 0x3FFF)
    )


def _relative(fields: Layers, entry: tuple[TcpStream, int]) -> tuple[int, int]:
    """Sequence and acknowledgement numbers relative to the stream's base (tshark's default)."""
    stream, direction = entry
    side = direction >> 1
    base = stream.base[side] or 0
    other = stream.base[1 - side]
    ack = fields.ack
    if fields.flags & 0x10 and other is not None:
        ack = (ack - other) & MASK
    return (fields.seq - base) & MASK, ack


def follow_records(
    records: Iterable[PcapRecord],
    stream: int | None = None,
    conv: str | None = None,
) -> FollowResult:
    """Follow a stream in records already in memory (e.g. the live ring buffer's packets)."""
    follower = _StreamFollower(stream, conv)
    follower.feed(records)
    return follower.result()


def follow_stream(
    path: str | Path | Sequence[str | Path],
    stream: int | None = None,
    conv: str | None = None,
    progress: ProgressCallback | None = None,
) -> FollowResult:
    """Follow TCP stream ``stream`` (tshark's number) or the 4-tuple ``conv`` in a file.

    Several paths are merged by time first, as mergecap merges them
    (:func:`engine.analysis.reader.read_merged_batches`), so the stream numbers and the
    output are tshark's on ``mergecap -w M A B``. Raises NotFoundError when the files
    have no such stream (or no packet of the 4-tuple), UsageError for a malformed
    ``conv``, and the reader's typed errors (naming the file). Ctrl-C ends the reading
    with what was followed so far (``interrupted``).
    """
    paths = [path] if isinstance(path, str | Path) else list(path)
    if not paths:
        raise UsageError("follow needs a FILE (a pcap or pcapng file)")
    follower = _StreamFollower(stream, conv)
    follower.several = len(paths) > 1
    state = ReadState()
    try:
        for batch in read_merged_batches(paths, state, progress):
            follower.feed(batch)
    except KeyboardInterrupt:
        state.interrupted = True
    return follower.result(state)


# -- output, as tshark prints it -----------------------------------------------------------


def _printable(byte: int) -> bool:
    return 0x20 <= byte < 0x7F


_ASCII = bytes(b if _printable(b) or b in (0x0A, 0x0D) else 0x2E for b in range(256))
_HEX_ASCII = bytes(b if _printable(b) else 0x2E for b in range(256))


def ascii_text(data: bytes) -> str:
    """Payload as tshark's ASCII follow shows it: unprintable bytes as dots, newlines kept."""
    return data.translate(_ASCII).decode("latin-1")


def hex_lines(data: bytes, offset: int, prefix: str = "") -> list[str]:
    """tshark's follow hex dump: offset, 16 bytes in two groups of 8, then their text."""
    lines = []
    for start in range(0, len(data), 16):
        row = data[start : start + 16]
        hex_part = " ".join(f"{b:02x}" for b in row[:8])
        if len(row) > 8:
            hex_part += "  " + " ".join(f"{b:02x}" for b in row[8:])
        text = row[:8].translate(_HEX_ASCII).decode("latin-1")
        if len(row) > 8:
            text += " " + row[8:].translate(_HEX_ASCII).decode("latin-1")
        elif len(row) == 8:
            text += " "
        if text.endswith(" "):
            text = text[:-1]  # tshark drops one trailing space (even a real one)
        lines.append(f"{prefix}{offset + start:08X}  {hex_part.ljust(49)} {text}")
    return lines


def format_follow(result: FollowResult, mode: str = "ascii") -> str:
    """The follow output exactly as ``tshark -q -z follow,tcp,MODE,...`` prints it."""
    if mode not in FORMATS:
        raise UsageError(f"unknown follow format {mode!r}: use ascii, hex or raw")
    out = [
        "",
        RULE,
        f"Follow: tcp,{mode}",
        f"Filter: {result.filter}",
        f"Node 0: {result.node0}",
        f"Node 1: {result.node1}",
    ]
    offsets = [0, 0]
    for chunk in result.chunks:
        prefix = "\t" if chunk.node else ""
        if mode == "ascii":
            out.append(f"{prefix}{len(chunk.data)}")
            out.append(ascii_text(chunk.data))
        elif mode == "hex":
            out.extend(hex_lines(chunk.data, offsets[chunk.node], prefix))
            offsets[chunk.node] += len(chunk.data)
        else:
            out.append(f"{prefix}{chunk.data.hex()}")
    out.append(RULE)
    return "\n".join(out) + "\n"
