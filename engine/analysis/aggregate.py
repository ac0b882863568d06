"""The incremental analyzer: every packet updates a few counters; reports are built on demand.

The same :class:`Analyzer` serves a pcap file (fed by :mod:`engine.analysis.reader`)
and a live capture (fed from the capture thread): :meth:`Analyzer.add` is cheap (one
struct-level parse, a handful of dict updates) and :meth:`Analyzer.snapshot` copies
what the live stats screen shows under a lock held only briefly. Every table is
bounded, so a capture that runs for days keeps a bounded memory; what falls past a
bound is counted as untracked.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from engine import linktypes
from engine.analysis.addresses import PassiveNames
from engine.analysis.conversations import (
    EVENTS,
    FIRST,
    LABEL,
    LAST,
    MAX_EVENTS,
    SEQ_HALF,
    SEQ_MASK,
    IpTable,
    TcpStream,
    TcpStreams,
    UdpTable,
)
from engine.analysis.credentials import LOGIN_PORTS, CredentialLog, LoginReader
from engine.analysis.dns import DnsLog, TcpDnsReader
from engine.analysis.fragments import Fragments
from engine.analysis.http import HttpLog
from engine.analysis.ports import tcp_label, udp_label
from engine.analysis.threats import Blocklist, Sightings
from engine.analysis.tls import tls_segment
from engine.packet.app import HTTP_FIRST_BYTES, dns_heuristic
from engine.packet.walk import Layers, Outer, Raw, routed_pair, walk_ethernet_raw, walk_raw
from engine.pcapio import PcapRecord
from engine.pcapio.formats import RecordTuple

if TYPE_CHECKING:
    from engine.analysis.snapshot import AnalysisSnapshot

DEFAULT_MAX_FLOWS: Final = 200_000
"""Conversations kept per table (IP pairs, TCP streams, UDP flows)."""
DEFAULT_MAX_ITEMS: Final = 10_000
"""HTTP requests, DNS queries and credentials kept (counts go on past it)."""
RATE_SECONDS: Final = 600
"""Per-second packet counts kept for the sparkline: the last ten minutes."""
BEACON_GAP: Final = 1.0
"""A UDP packet after this much silence on its flow starts a new session (beaconing)."""

L4_NAMES: Final[dict[int, str]] = {
    6: "tcp",
    17: "udp",
    1: "icmp",
    58: "icmpv6",
    2: "igmp",
    47: "gre",
    50: "esp",
    51: "ah",
    89: "ospf",
    103: "pim",
    112: "vrrp",
    132: "sctp",
}
_NO_APP: Final[tuple[str, ...]] = ()
_ETHERNET: Final = 1
"""linktypes.ETHERNET as a literal: compiled, a literal Final is inlined in the hot loop."""
_new = tuple.__new__
PathKey = tuple[tuple[str, ...], str | None, tuple[str, ...]]
"""A frame's protocol path: (layers to IP, transport, application layers)."""
_DATA: Final[tuple[str, ...]] = ("data",)
_MOBILITY: Final = 135
"""IPv6's Mobility header (tshark's IPv6 tap does not see such a packet)."""
_ETH_ONLY: Final[tuple[str, ...]] = ("eth",)
_SHORT: Final[tuple[str, ...]] = ("_ws.short",)
"""A record shorter than its link header (tshark: a short frame, or malformed when empty)."""
_FTP: Final[tuple[str, ...]] = ("ftp", "ftp.current-working-directory")
"""tshark adds the FTP working directory it tracks as a layer of its own."""
_DNS_LABELS: Final = frozenset({"dns", "mdns", "llmnr"})
_LOGIN_LABELS: Final = frozenset({"ftp", "telnet", "smtp", "pop", "imap"})
_LABELS: Final[dict[str, tuple[str, ...]]] = {}

ALL_REPORTS: Final = (
    "summary",
    "protocols",
    "conversations",
    "talkers",
    "http",
    "dns",
    "patterns",
    "threats",
    "credentials",
)
"""Every report (the same names and order as :data:`engine.analysis.report.REPORTS`)."""
_HIERARCHY: Final = frozenset({"summary", "protocols"})
"""Reports that read the protocol paths (so the application layers must be read)."""
_NAMED: Final = frozenset(ALL_REPORTS) - {"summary", "protocols"}
"""Reports that show the names the capture's DNS answers gave addresses."""


class Needs:
    """Which per-packet work the requested reports need; what no report needs is skipped.

    ``paths``: the protocol hierarchy (summary, protocols), which needs HTTP and TLS
    read for its labels; ``http``/``tls``/``logins``/``dns``: the readers;
    ``sightings``: host names and URLs for the threat check; ``names``: addresses
    named by DNS answers; ``sequence``: TCP sequence tracking (retransmissions, and
    data seen twice is not read twice by the readers); ``beacons``: UDP session starts.
    Without a ``blocklist`` the threat report is only a note: no sightings are kept.
    """

    __slots__ = (
        "app",
        "beacons",
        "dns",
        "http",
        "logins",
        "names",
        "paths",
        "reports",
        "sequence",
        "sightings",
        "tls",
    )

    def __init__(self, reports: Iterable[str] | None = None, blocklist: bool = True) -> None:
        wanted = frozenset(ALL_REPORTS if reports is None else reports)
        if "all" in wanted:
            wanted = frozenset(ALL_REPORTS)
        self.reports = wanted
        self.paths = bool(wanted & _HIERARCHY)
        self.sightings = "threats" in wanted and blocklist
        self.logins = "credentials" in wanted
        self.http = self.paths or self.sightings or bool(wanted & {"http", "credentials"})
        self.tls = self.paths or self.sightings
        self.dns = self.sightings or "dns" in wanted
        self.names = bool(wanted & _NAMED)
        self.sequence = self.http or self.tls or self.logins or self.dns or "patterns" in wanted
        self.beacons = "patterns" in wanted
        self.app = self.http or self.tls or self.logins or self.dns or self.names


class _NoSightings(Sightings):
    """Sightings that keep nothing: no report asked for them."""

    def __init__(self) -> None:
        super().__init__(0)
        self.active = False

    def host(self, name: str, source: str, client: bytes, time: float) -> None:
        """Nothing to keep."""

    def url(self, url: str, client: bytes, time: float) -> None:
        """Nothing to keep."""


def _label(name: str) -> tuple[str, ...]:
    """``(name,)``, one tuple per name (they are part of the hierarchy's keys)."""
    found = _LABELS.get(name)
    if found is None:
        found = _LABELS[name] = (name,)
    return found


class Analyzer:
    """Counts packets into every report; feed it with :meth:`add`, read it with :meth:`report`.

    Thread safety: :meth:`add` (the capture thread) and :meth:`snapshot` /
    :meth:`report` (the UI thread) take the same lock; ``add`` holds it for one
    packet, ``snapshot`` for a copy of the small tables and references to the rows.
    """

    def __init__(
        self,
        top_n: int = 10,
        blocklist: Blocklist | None = None,
        show_secrets: bool = False,
        *,
        max_flows: int = DEFAULT_MAX_FLOWS,
        max_items: int = DEFAULT_MAX_ITEMS,
        reports: Iterable[str] | None = None,
    ) -> None:
        self.needs = needs = Needs(reports, blocklist is not None)
        """What the requested reports need (None: every report, as the live stats do)."""
        self.top_n = top_n
        self.blocklist = blocklist
        self.show_secrets = show_secrets
        self.lock = threading.Lock()
        self.packets = 0
        self.bytes = 0
        self.first_frame_time: float | None = None
        """The first packet's time: tshark's relative times count from it."""
        self.first = 0.0
        """The earliest packet time (0 before the first packet)."""
        self.last = 0.0
        """The latest packet time."""
        self.linktypes: dict[int, int] = {}
        self.paths: dict[PathKey, list[int]] = {}
        """(layers to IP, transport, application layers) -> [frames, bytes]."""
        self.ip = IpTable(max_flows)
        self.tcp = TcpStreams(max_flows, tcp_label)
        self.udp = UdpTable(max_flows)
        self.names = PassiveNames()
        self.sightings = Sightings(max_flows) if needs.sightings else _NoSightings()
        self.credentials = CredentialLog(max_items)
        self.http = HttpLog(max_items, self.credentials, self.sightings)
        self.dns = DnsLog(max_items, self.names, self.sightings)
        self.fragments = Fragments()
        self._paths = needs.paths
        self._app = needs.app
        self._sequence = needs.sequence
        self._http = needs.http
        self._tls = needs.tls
        self._logins = needs.logins
        self._dns = needs.dns
        self._names = needs.names
        self._beacons = needs.beacons
        self.rate: deque[tuple[int, int, int]] = deque(maxlen=RATE_SECONDS)
        """(second, packets, bytes) of every finished second that had packets."""
        self._second = -1
        self._second_packets = 0
        self._second_bytes = 0

    # -- feeding -------------------------------------------------------------------

    def add(self, timestamp: float, length: int, linktype: int, data: bytes) -> None:
        """Count one packet (``length`` on the wire, ``data`` as captured)."""
        self.add_records((PcapRecord(timestamp, length, linktype, data),))

    def add_records(self, records: Iterable[RecordTuple]) -> int:
        """Count a batch of (timestamp, length, linktype, data) records; returns how many.

        Cheaper than :meth:`add` per packet: the lock is taken once per batch and
        the counters live in local variables meanwhile (the capture thread's batches
        are small, so the UI never waits long).
        """
        count = 0
        size = 0
        with self.lock:
            seen = self.linktypes
            previous_linktype = -1
            linktype_count = 0
            first, last = self.first, self.last
            need_first = self.first_frame_time is None
            current = self._second
            second_packets, second_bytes = self._second_packets, self._second_bytes
            for time, length, linktype, data, _source in records:
                count += 1
                size += length
                if linktype != previous_linktype:
                    if linktype_count:
                        seen[previous_linktype] = seen.get(previous_linktype, 0) + linktype_count
                    previous_linktype, linktype_count = linktype, 0
                linktype_count += 1
                if need_first:
                    self.first_frame_time = first = last = time
                    need_first = False
                elif time > last:
                    last = time
                elif time < first:
                    first = time
                second = int(time)
                if second != current:
                    if second_packets:
                        self.rate.append((current, second_packets, second_bytes))
                    current, second_packets, second_bytes = second, 0, 0
                second_packets += 1
                second_bytes += length
                self._packet(  # direct calls: compiled (engine.native), they are C calls
                    time,
                    length,
                    walk_ethernet_raw(data) if linktype == _ETHERNET else walk_raw(linktype, data),
                    data,
                )
            if linktype_count:
                seen[previous_linktype] = seen.get(previous_linktype, 0) + linktype_count
            self._second, self._second_packets, self._second_bytes = (
                current,
                second_packets,
                second_bytes,
            )
            if count:
                self.first, self.last = first, last
            self.packets += count
            self.bytes += size
        return count

    def frame_path(self, time: float, length: int, linktype: int, data: bytes) -> PathKey:
        """Count one packet as :meth:`add` does; returns its hierarchy path.

        The path is (layers to IP, transport, application layers) as tshark's
        ``frame.protocols`` has them after reassembly: ``http`` on the segment that
        completes a message, ``udp`` on the fragment that completes a datagram. The
        file filter reads it (:mod:`engine.filter_file`). Only the per-packet tables
        are counted (not the rate series nor the link types).
        """
        with self.lock:
            if self.first_frame_time is None:
                self.first_frame_time = self.first = self.last = time
            self.packets += 1
            self.bytes += length
            if linktype == linktypes.ETHERNET:
                return self._packet(time, length, walk_ethernet_raw(data), data)
            return self._packet(time, length, walk_raw(linktype, data), data)

    def _packet(self, time: float, length: int, fields: Raw, data: bytes) -> PathKey:
        """What one packet changes beyond the totals (the caller holds the lock); its path.

        ``fields`` is the walk's plain tuple (a :class:`Layers` works too, slower).
        """
        (
            chain,
            family,
            pair,
            proto,
            sport,
            dport,
            _flags,
            _seq,
            _ack,
            _start,
            _end,
            seglen,
            fragment,
            outer,
            _net,
            l4,
        ) = fields
        if not family:
            if chain == _ETH_ONLY and len(data) < 14:
                chain = _SHORT  # no whole Ethernet header: tshark's hierarchy has no eth
            key: tuple[tuple[str, ...], str | None, tuple[str, ...]] = (chain, None, _NO_APP)
        else:
            ip = self.ip
            if outer:
                self._outer(outer, time, length, data)
            entry = ip.keys.get(pair)
            # tshark's IPv6 tap misses a fragment that completes nothing, and a Mobility header
            counted = family == 4 or (fragment is None and proto != _MOBILITY)
            if entry is None:
                if counted:
                    self._ip_pair(ip, pair, time, length)
            elif counted:
                record, direction = entry
                record[direction] += 1
                record[direction + 1] += length
                if time > record[LAST]:
                    record[LAST] = time
                elif time < record[FIRST]:
                    record[FIRST] = time
            if fragment is not None:
                whole = self.fragments.add(_new(Layers, fields), data)
                if whole is None:
                    key = (chain, "data", _NO_APP)
                    if self._paths:
                        self._path(key, length)
                    return key
                if family == 6:  # tshark's IPv6 tap sees the fragment that completes it only
                    self._ip_pair(ip, pair, time, length)
                fields, data = whole
                chain, proto, sport, dport = fields.chain, fields.proto, fields.sport, fields.dport
                seglen, l4 = fields.seglen, fields.l4
            if proto == 6 and sport >= 0:
                key = (chain, "tcp", self._tcp(time, length, fields, data))
            elif proto == -2 and sport >= 0:  # a UDP tunnel without IP inside
                self._udp(time, length, _udp_only(pair, sport, dport), data)
                key = (chain, None, _NO_APP)
            elif proto == 17 and sport >= 0:
                key = (chain, "udp", self._udp(time, length, fields, data))
            else:
                # (an empty IP payload is handed to no dissector: tshark names nothing; a
                # TCP or UDP header cut short is still named)
                named = proto >= 0 and (seglen > 0 or l4 < 0 or proto in (6, 17))
                key = (chain, L4_NAMES.get(proto, "data") if named else None, _NO_APP)
        if not self._paths:
            return key
        counts = self.paths.get(key)
        if counts is None:
            counts = self.paths[key] = [0, 0]
        counts[0] += 1
        counts[1] += length
        return key

    def _outer(self, outer: tuple[Outer, ...], time: float, length: int, data: bytes) -> None:
        """Count a tunnelled frame in each outer IP conversation (and UDP, for VXLAN & co)."""
        for tunnel in outer:
            self._ip_pair(self.ip, tunnel.pair, time, length)
            if tunnel.sport >= 0:
                self._udp(time, length, _udp_only(tunnel.pair, tunnel.sport, tunnel.dport), data)

    def _path(self, key: tuple[tuple[str, ...], str | None, tuple[str, ...]], length: int) -> None:
        counts = self.paths.get(key)
        if counts is None:
            counts = self.paths[key] = [0, 0]
        counts[0] += 1
        counts[1] += length

    def _ip_pair(self, ip: IpTable, pair: bytes, time: float, length: int) -> None:
        entry = ip.keys.get(pair)
        if entry is None:
            entry = ip.open(pair, time)
            if entry is None:
                ip.untracked_packets += 1
                return
        record, direction = entry
        record[direction] += 1
        record[direction + 1] += length
        if time > record[LAST]:
            record[LAST] = time
        elif time < record[FIRST]:
            record[FIRST] = time

    # -- TCP -----------------------------------------------------------------------

    def _tcp(self, time: float, length: int, fields: Raw, data: bytes) -> tuple[str, ...]:
        """Count a segment into its stream; returns the layers above TCP."""
        _c, _fa, pair, _p, sport, dport, flags, seq, _a, start, end, seglen, _fr, _o, _n, _l = (
            fields
        )
        streams = self.tcp
        entry = streams.keys.get((pair, sport, dport))
        if entry is None or flags & 0x02 or entry[0].base[entry[1] >> 1] is None:
            entry = streams.lookup(fields, time)  # a new stream, a SYN, or the first reply
        if entry is None:
            streams.untracked_packets += 1
            return _DATA if seglen > 0 else _NO_APP
        stream, direction = entry
        if start > len(data):
            return _NO_APP  # a header cut short: tshark's TCP dissector throws before its taps
        counts = stream.counts
        counts[direction] += 1
        counts[direction + 1] += length
        if time > stream.last:
            stream.last = time
        elif time < stream.first:
            stream.first = time
        side = direction >> 1
        if flags & 0x02:
            if flags & 0x10:
                if side:
                    stream.synack = True
            elif not side:
                stream.syn = True
        elif flags & 0x04:
            stream.resets[side] += 1
        elif not side and flags & 0x10 and stream.synack:
            stream.completed = True
        if flags & 0x01:
            stream.fins += 1
        if seglen <= 0:
            if flags & 0x03 and self._sequence:
                self._sequence_check(stream, side, flags, seq, seglen)
            return _NO_APP
        stream.data_segments += 1
        if self._sequence and self._sequence_check(stream, side, flags, seq, seglen):
            return _NO_APP  # data seen before: tshark does not dissect it again
        if not self._app:
            return _NO_APP  # no report reads the payloads (nor the hierarchy)
        label = stream.label
        if label is None:
            if self._http and (
                stream.app[side] is not None or (start < end and data[start] in HTTP_FIRST_BYTES)
            ):
                self.http.segment(stream, direction, time, data, fields, registered=False)
            return _DATA
        if label == "http":
            if not self._http:
                return _label(label)
            return self.http.segment(stream, direction, time, data, fields, registered=True)
        if label == "tls":
            if not self._tls:
                return _label(label)
            return tls_segment(stream, direction, time, data, fields, sightings=self.sightings)
        if label in _LOGIN_LABELS:
            if self._logins:
                self._login(stream, side, time, data[start:end])
            if label == "ftp":
                return _FTP
        elif label == "dns":
            reader = stream.app[side]
            if not isinstance(reader, TcpDnsReader):
                reader = stream.app[side] = TcpDnsReader()
            messages = reader.feed(data[start:end])
            if not messages:
                return _NO_APP  # a message not complete yet: plain tcp, as tshark shows it
            for message in messages:
                if self._dns:
                    self.dns.message(time, fields, message, (0, len(message)), "dns")
                elif self._names:
                    self.dns.names_only(message, (0, len(message)))
        return _label(label)

    @staticmethod
    def _sequence_check(stream: TcpStream, side: int, flags: int, seq: int, seglen: int) -> bool:
        """Whether a segment's sequence space was all seen before; counts retransmissions.

        Keep-alives (one old byte, on purpose) are seen-before but not counted.
        """
        span = seglen + (1 if flags & 0x02 else 0) + (1 if flags & 0x01 else 0)
        stop = (seq + span) & SEQ_MASK
        highest = stream.next_seq[side]
        if highest is None or ((highest - stop) & SEQ_MASK) >= SEQ_HALF:
            stream.next_seq[side] = stop  # new data: the highest sequence number moves on
            return False
        if ((seq - highest) & SEQ_MASK) < SEQ_HALF:
            return False  # starts at the edge: a zero-length probe, nothing seen twice
        if seglen <= 1 and not flags & 0x03 and ((highest - seq) & SEQ_MASK) == 1:
            return True  # a keep-alive re-sends the last byte on purpose
        stream.retransmissions += 1
        return True

    def _login(self, stream: TcpStream, side: int, time: float, payload: bytes) -> None:
        """FTP/POP3/IMAP/SMTP/Telnet: follow the login exchange for credentials."""
        reader = stream.app[0]
        if reader is None:
            if stream.bport in LOGIN_PORTS:
                reader = LoginReader(LOGIN_PORTS[stream.bport], self.credentials, stream, True)
            elif stream.aport in LOGIN_PORTS:
                reader = LoginReader(LOGIN_PORTS[stream.aport], self.credentials, stream, False)
            else:
                return
            stream.app[0] = reader
        if isinstance(reader, LoginReader):
            reader.feed((side == 0) == reader.client_is_a, payload, time)

    # -- UDP -----------------------------------------------------------------------

    def _udp(self, time: float, length: int, fields: Raw, data: bytes) -> tuple[str, ...]:
        """Count a datagram into its flow; returns the layers above UDP."""
        _c, _family, pair, _p, sport, dport, _fl, _s, _a, start, end, seglen, _fr, _o, net, _l = (
            fields
        )
        if seglen < 0:
            return _NO_APP  # a bad UDP length: tshark's UDP dissector stops before its taps
        if _family == 6:
            routed = routed_pair(data, net)
            if routed is not None:
                pair = routed
        udp = self.udp
        entry = udp.keys.get((pair, sport, dport))
        if entry is None:
            entry = udp.open(pair, sport, dport, time, udp_label(sport, dport))
            if entry is None:
                udp.untracked_packets += 1
                label = udp_label(sport, dport)
                if seglen <= 0:
                    return _NO_APP
                if label is None and dns_heuristic(data, start, end):
                    return _label("dns")  # DNS on another port: tshark's heuristic
                return _label(label) if label else _DATA
        record, direction = entry
        record[direction] += 1
        record[direction + 1] += length
        last = record[LAST]
        if time > last:
            if not direction and time - last >= BEACON_GAP and self._beacons:
                events = record[EVENTS]
                events.append(time)
                if len(events) > MAX_EVENTS:
                    del events[0]
            record[LAST] = time
        elif time < record[FIRST]:
            record[FIRST] = time
        if seglen <= 0:
            return _NO_APP
        label = record[LABEL]
        if label is None:
            if not dns_heuristic(data, start, end):
                return _DATA
            label = "dns"  # DNS on another port, as tshark's heuristic finds it
        if label in _DNS_LABELS:
            if self._dns:
                self.dns.message(time, fields, data, (start, end), label)
            elif self._names:
                self.dns.names_only(data, (start, end))
        return _LABELS.get(label) or _label(label)

    # -- reading -------------------------------------------------------------------

    def current_second(self) -> tuple[int, int]:
        """(second, packets so far) of the second still being counted (the caller locks)."""
        return self._second, self._second_packets

    def snapshot(self, now: float | None = None) -> AnalysisSnapshot:
        """What the live stats screen shows, as an immutable record (cheap: 2-4 times a second).

        ``now`` (a live capture's wall clock) extends the packets-per-second series
        with the quiet seconds since the last packet.
        """
        from engine.analysis.snapshot import take_snapshot  # the live screen's only

        return take_snapshot(self, now)

    def report(self, names: Iterable[str]) -> dict[str, Any]:
        """The named reports as JSON-ready dicts (see :data:`engine.analysis.report.REPORTS`)."""
        from engine.analysis.report import build_reports

        names = list(names)
        missing = [n for n in names if n != "all" and n not in self.needs.reports]
        if missing or ("all" in names and len(self.needs.reports) < len(ALL_REPORTS)):
            raise ValueError(f"reports not computed by this analyzer: {missing or ['all']}")
        with self.lock:
            return build_reports(self, list(names))


def _udp_only(pair: bytes, sport: int, dport: int) -> Raw:
    """A UDP header that carries a tunnel: counted in its conversation, nothing above it."""
    return ((), 0, pair, 17, sport, dport, 0, 0, 0, 0, 0, 0, None, (), -1, -1)
