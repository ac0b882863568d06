"""Struct-level field extraction for the analysis: one frame in, the fields every report needs.

:mod:`engine.decode` turns a frame into a list row (strings). The analysis needs the
raw fields instead: addresses as bytes, ports, TCP flags and sequence numbers, where
the payload lies, and the names of the layers for the protocol hierarchy (the names
Wireshark's ``-z io,phs`` uses: ``eth``, ``vlan``, ``ip``, ``ipv6``, ``sll``, ...).
It reads with the decoder's precompiled structs and never builds an object per layer.

Nothing here raises on any input: every read is bounds-checked, a header cut short
ends the walk at the last layer that could be read (a hypothesis test feeds random
bytes for every link type).
"""

from __future__ import annotations

from collections.abc import Callable
from struct import Struct
from typing import NamedTuple

from engine import linktypes
from engine.decode import (
    _AF_INET6,
    _ARPHRD_NETLINK,
    _ETHERNET_IPV4,
    _IP4,
    _IP6,
    _SLL,
    _TCP,
    _U16,
    _U32,
    _U32LE,
    _UDP,
    _VLAN_TAGS,
)

_new = tuple.__new__

MAX_TUNNEL_DEPTH = 4
"""IP-in-IP/GRE headers followed at most: crafted input must not recurse without end."""


class Fields(NamedTuple):
    """What one frame holds for the reports, read but not interpreted."""

    chain: tuple[str, ...]
    """Layer names down to the network layer (``("eth", "ip")``); for a frame without
    IP, every layer that was recognised (``("eth", "arp")``)."""
    family: int
    """4 or 6 for a readable IP header, else 0."""
    pair: bytes
    """Source then destination address (8 or 32 bytes); empty without IP."""
    proto: int
    """The IP protocol number (6 TCP, 17 UDP, ...); -1 without IP."""
    sport: int
    """The source port; -1 for no TCP/UDP or a header that cannot be read."""
    dport: int
    flags: int
    """TCP flags (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10)."""
    seq: int
    ack: int
    start: int
    """Where the transport payload starts in the frame."""
    end: int
    """Where the captured part of the payload ends (never past the IP length)."""
    seglen: int
    """The payload's length on the wire, from the IP header (more than end - start
    when the frame was cut by the snap length)."""
    fragment: tuple[int, int, bool, int, int] | None
    """For an IP fragment: identification, offset in bytes, more fragments, where the
    fragment's IP payload starts in the frame, and its length on the wire."""
    outer: tuple[bytes, ...]
    """Address pairs of the tunnel headers around this IP header, outermost first."""


_NOTHING: tuple[bytes, ...] = ()


def _only(chain: tuple[str, ...]) -> Fields:
    """A frame without a readable IP header: only its layer names."""
    return _new(Fields, (chain, 0, b"", -1, -1, -1, 0, 0, 0, 0, 0, 0, None, _NOTHING))


_CHAINS: dict[tuple[tuple[str, ...], str], tuple[str, ...]] = {}
_CHAIN_CACHE_SIZE = 1024


def extend(chain: tuple[str, ...], name: str) -> tuple[str, ...]:
    """``chain + (name,)``, the same tuple object each time (they key the hierarchy)."""
    key = (chain, name)
    found = _CHAINS.get(key)
    if found is None:
        if len(_CHAINS) >= _CHAIN_CACHE_SIZE:
            _CHAINS.clear()
        found = _CHAINS[key] = (*chain, name)
    return found


ETH: tuple[str, ...] = ("eth",)
ETH_IP = extend(ETH, "ip")
ETH_IPV6 = extend(ETH, "ipv6")

_U16LE = Struct("<H").unpack_from
_ETH_IPV4, _ETH_IPV6, _ETH_ARP = 0x0800, 0x86DD, 0x0806
_ETH_LLC = 0x8870
"""Jumbo LLC: an ethertype saying an 802.2 header follows."""
_ETHERTYPE_NAMES = {
    _ETH_ARP: "arp",
    0x8035: "rarp",
    0x88CC: "lldp",
    0x8863: "pppoed",
    0x8864: "pppoes",
    0x888E: "eapol",
    0x8847: "mpls",
    0x8848: "mpls",
    0x88F7: "ptp",
}
_IPV6_EXTENSIONS = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT = 44


# -- link layers -----------------------------------------------------------------------


def parse(linktype: int, data: bytes) -> Fields:
    """The fields of one frame of the given pcap link type; never raises."""
    if linktype == linktypes.ETHERNET:
        return parse_ethernet(data)
    link = _LINKS.get(linktypes.normalise(linktype))
    if link is None:
        return _only(unknown_link_chain(linktype))
    return link(data)


def unknown_link_chain(linktype: int) -> tuple[str, ...]:
    """How the hierarchy names a link type livetap does not read (tshark's user DLTs too)."""
    if 147 <= linktype <= 162:
        return ("user_dlt", "data")
    return (f"linktype-{linktype}",)


def parse_ethernet(data: bytes) -> Fields:
    """Ethernet II; untagged IPv4 without options or fragments is read with one unpack."""
    size = len(data)
    if size >= 34:
        ethertype, version_ihl, total, fragment, protocol = _ETHERNET_IPV4(data, 0)
        if ethertype == _ETH_IPV4 and version_ihl == 0x45 and total >= 20 and not fragment & 0x3FFF:
            wire = 14 + total
            end = wire if wire < size else size
            if protocol == 6 and end >= 54:  # TCP, inlined: the most common frame of all
                sport, dport, seq, ack, data_offset, flags, _window = _TCP(data, 34)
                payload = 34 + ((data_offset >> 4) << 2)
                if payload >= 54 and payload <= wire:
                    return _new(
                        Fields,
                        (
                            ETH_IP,
                            4,
                            data[26:34],
                            6,
                            sport,
                            dport,
                            flags,
                            seq,
                            ack,
                            payload,
                            end if end > payload else payload,
                            wire - payload,
                            None,
                            _NOTHING,
                        ),
                    )
            if protocol in _TUNNELS:
                return _ipv4(data, 14, ETH, _NOTHING)
            return _transport(data, (ETH_IP, 4, data[26:34], protocol, _NOTHING), 34, end, wire)
    elif size < 14:
        return _only(ETH)
    (ethertype,) = _U16(data, 12)
    return _ethertype(data, 14, ethertype, ETH)


def _ethertype(data: bytes, offset: int, ethertype: int, chain: tuple[str, ...]) -> Fields:
    """What an ethertype announces: VLAN tags, IP, or a protocol only named."""
    while ethertype in _VLAN_TAGS:
        chain = extend(chain, "vlan")
        if offset + 4 > len(data):
            return _only(chain)
        (ethertype,) = _U16(data, offset + 2)
        offset += 4
    if ethertype == _ETH_IPV4:
        return _ipv4(data, offset, chain, _NOTHING)
    if ethertype == _ETH_IPV6:
        return _ipv6(data, offset, chain, _NOTHING)
    if ethertype <= 1500 or ethertype == _ETH_LLC:
        return _llc(data, offset, extend(chain, "llc"))
    return _only(extend(chain, _ETHERTYPE_NAMES.get(ethertype, "data")))


def _llc(data: bytes, offset: int, chain: tuple[str, ...]) -> Fields:
    """802.2 LLC: spanning tree by its SAP, SNAP's ethertype followed, the rest only named."""
    if offset + 3 > len(data):
        return _only(chain)
    dsap = data[offset]
    if dsap == 0x42:
        return _only(extend(chain, "stp"))
    if dsap == 0xAA and offset + 8 <= len(data):
        (ethertype,) = _U16(data, offset + 6)
        return _ethertype(data, offset + 8, ethertype, chain)
    return _only(chain)


def _sll(data: bytes) -> Fields:
    """Linux cooked capture v1: 16 bytes, protocol at offset 14."""
    chain = ("sll",)
    if len(data) < 16:
        return _only(chain)
    hatype, _halen = _SLL(data, 0)
    if hatype == _ARPHRD_NETLINK:
        return _only(extend(chain, "netlink"))
    (protocol,) = _U16(data, 14)
    return _ethertype(data, 16, protocol, chain)


def _sll2(data: bytes) -> Fields:
    """Linux cooked capture v2: 20 bytes, protocol at offset 0 (tshark calls it sll too)."""
    chain = ("sll",)
    if len(data) < 20:
        return _only(chain)
    (hatype,) = _U16(data, 8)
    if hatype == _ARPHRD_NETLINK:
        return _only(extend(chain, "netlink"))
    (protocol,) = _U16(data, 0)
    return _ethertype(data, 20, protocol, chain)


def _null(data: bytes) -> Fields:
    """BSD loopback: the address family in either byte order."""
    chain = ("null",)
    if len(data) < 4:
        return _only(chain)
    (little,) = _U32LE(data, 0)
    (big,) = _U32(data, 0)
    if little == 2 or big == 2:
        return _ipv4(data, 4, chain, _NOTHING)
    if little in _AF_INET6 or big in _AF_INET6:
        return _ipv6(data, 4, chain, _NOTHING)
    return _only(extend(chain, "data"))


def _loop(data: bytes) -> Fields:
    """OpenBSD loopback: the address family in network byte order (tshark: null)."""
    chain = ("null",)
    if len(data) < 4:
        return _only(chain)
    (family,) = _U32(data, 0)
    if family == 2:
        return _ipv4(data, 4, chain, _NOTHING)
    if family in _AF_INET6:
        return _ipv6(data, 4, chain, _NOTHING)
    return _only(extend(chain, "data"))


def _raw(data: bytes) -> Fields:
    """Raw IP, told apart by the version nibble."""
    chain = ("raw",)
    if not data:
        return _only(chain)
    version = data[0] >> 4
    if version == 4:
        return _ipv4(data, 0, chain, _NOTHING)
    if version == 6:
        return _ipv6(data, 0, chain, _NOTHING)
    return _only(extend(chain, "data"))


def _raw_ipv4(data: bytes) -> Fields:
    """LINKTYPE_IPV4: an IPv4 packet and nothing else."""
    return _ipv4(data, 0, (), _NOTHING)


def _raw_ipv6(data: bytes) -> Fields:
    """LINKTYPE_IPV6: an IPv6 packet and nothing else."""
    return _ipv6(data, 0, (), _NOTHING)


IEEE802_11 = 105
IEEE802_11_RADIOTAP = 127
_WLAN = ("wlan",)
_RADIOTAP = ("radiotap", "wlan_radio", "wlan")


def _radiotap(data: bytes) -> Fields:
    """A radiotap header (its length says where the 802.11 frame starts), then 802.11."""
    if len(data) < 8:
        return _only(("radiotap",))
    (length,) = _U16LE(data, 2)
    if length < 8 or length > len(data):
        return _only(("radiotap",))
    return _wlan(data, length, _RADIOTAP)


def _ieee802_11(data: bytes) -> Fields:
    """A bare 802.11 frame."""
    return _wlan(data, 0, _WLAN)


def _wlan(data: bytes, offset: int, chain: tuple[str, ...]) -> Fields:
    """802.11: management frames named, data frames through LLC/SNAP to IP, encrypted ones data."""
    if offset + 24 > len(data):
        return _only(chain)
    control, flags = data[offset], data[offset + 1]
    kind, subtype = (control >> 2) & 3, control >> 4
    if kind == 0:
        return _only(extend(chain, "wlan.mgt"))
    if kind != 2 or subtype & 4:  # control frames and data frames without a body
        return _only(chain)
    header = 24 + (6 if flags & 3 == 3 else 0)
    if subtype & 8:  # QoS data: a QoS control field, and HT control when ordered
        header += 2 + (4 if flags & 0x80 else 0)
    start = offset + header
    if start >= len(data):
        return _only(chain)
    if flags & 0x40:  # protected: only the keys could tell what is inside
        return _only(extend(chain, "data"))
    if data[start : start + 3] == b"\xaa\xaa\x03" and start + 8 <= len(data):
        (ethertype,) = _U16(data, start + 6)
        return _ethertype(data, start + 8, ethertype, extend(chain, "llc"))
    return _only(extend(chain, "data"))


_LINKS: dict[int, Callable[[bytes], Fields]] = {
    linktypes.ETHERNET: parse_ethernet,
    linktypes.LINUX_SLL: _sll,
    linktypes.LINUX_SLL2: _sll2,
    linktypes.RAW: _raw,
    linktypes.IPV4: _raw_ipv4,
    linktypes.IPV6: _raw_ipv6,
    linktypes.NULL: _null,
    linktypes.LOOP: _loop,
    IEEE802_11: _ieee802_11,
    IEEE802_11_RADIOTAP: _radiotap,
}

KNOWN_LINKTYPES = frozenset(_LINKS)
"""The link types whose frames are read down to IP (others are only counted)."""


# -- network layer ---------------------------------------------------------------------

_Ip = tuple[tuple[str, ...], int, bytes, int, tuple[bytes, ...]]
"""An IP header's findings: layer names, family, address pair, protocol, tunnel pairs."""
_Span = tuple[int, int, int]
"""Where a payload lies: start, end of the captured bytes, end on the wire."""


def _ipv4(data: bytes, offset: int, chain: tuple[str, ...], outer: tuple[bytes, ...]) -> Fields:
    """IPv4: addresses, fragments, tunnels, then the transport within the total length."""
    chain = extend(chain, "ip")
    size = len(data)
    if size - offset < 20:
        return _only(chain)
    version_ihl, total, fragment, protocol = _IP4(data, offset)
    header = (version_ihl & 15) << 2
    if version_ihl >> 4 != 4 or header < 20 or 0 < total < header or offset + header > size:
        return _only(chain)
    ip = (chain, 4, data[offset + 12 : offset + 20], protocol, outer)
    wire = offset + total if total else size  # TSO captures may say 0
    start = offset + header
    end = wire if wire < size else size
    if fragment & 0x3FFF:
        (ident,) = _U16(data, offset + 4)
        where = (ident, (fragment & 0x1FFF) << 3, bool(fragment & 0x2000), start, wire - start)
        return _fragment(data, ip, (start, end, wire), where)
    if protocol in _TUNNELS and len(outer) < MAX_TUNNEL_DEPTH:
        return _tunnel(data, ip, start, end)
    return _transport(data, ip, start, end, wire)


def _ipv6(data: bytes, offset: int, chain: tuple[str, ...], outer: tuple[bytes, ...]) -> Fields:
    """IPv6: addresses, extension headers walked (a fragment header noted), the transport."""
    chain = extend(chain, "ipv6")
    size = len(data)
    if size - offset < 40:
        return _only(chain)
    version, length, protocol = _IP6(data, offset)
    if version >> 4 != 6:
        return _only(chain)
    pair = data[offset + 8 : offset + 40]
    start = offset + 40
    wire = start + length if length else size  # 0: jumbogram or TSO
    end = wire if wire < size else size
    where: tuple[int, int, bool, int, int] | None = None
    while protocol in _IPV6_EXTENSIONS or protocol == _IPV6_FRAGMENT:
        if start + 8 > end:  # each pass moves on by 8 bytes or more
            return _transport(data, (chain, 6, pair, -2, outer), start, end, wire)
        if protocol == _IPV6_FRAGMENT:
            (word,) = _U16(data, start + 2)
            if word & 0xFFF9:
                (ident,) = _U32(data, start + 4)
                where = (ident, word & 0xFFF8, bool(word & 1), start + 8, wire - start - 8)
            protocol = data[start]
            start += 8
        else:
            protocol = data[start]
            start += (data[start + 1] + 1) << 3
    ip = (chain, 6, pair, protocol, outer)
    if start > end:
        return _transport(data, (chain, 6, pair, -2, outer), end, end, wire)
    if where is not None:
        return _fragment(data, ip, (start, end, wire), where)
    if protocol in _TUNNELS and len(outer) < MAX_TUNNEL_DEPTH:
        return _tunnel(data, ip, start, end)
    return _transport(data, ip, start, end, wire)


_TUNNELS = frozenset({4, 41, 47})
"""IPv4-in-IP, IPv6-in-IP and GRE: the inner header is read as Wireshark does."""


def _tunnel(data: bytes, ip: _Ip, start: int, end: int) -> Fields:
    """The IP packet inside IP-in-IP or GRE; the outer addresses go to ``outer``."""
    chain, _family, pair, protocol, outer = ip
    outer = (*outer, pair)
    inner = data[:end]  # the inner packet may not read past the outer one
    if protocol == 4:
        return _ipv4(inner, start, chain, outer)
    if protocol == 41:
        return _ipv6(inner, start, chain, outer)
    chain = extend(chain, "gre")
    if start + 4 > end:
        return _fields_of_tunnel(chain, pair, outer)
    (flags,) = _U16(data, start)
    (ethertype,) = _U16(data, start + 2)
    if flags & 0x0007:  # GRE version 1 (PPTP) and others: not followed
        return _fields_of_tunnel(chain, pair, outer)
    start += 4 + 4 * ((flags >> 15 & 1) + (flags >> 13 & 1) + (flags >> 12 & 1))
    if ethertype == _ETH_IPV4:
        return _ipv4(inner, start, chain, outer)
    if ethertype == _ETH_IPV6:
        return _ipv6(inner, start, chain, outer)
    return _fields_of_tunnel(extend(chain, "data"), pair, outer)


def _fields_of_tunnel(chain: tuple[str, ...], pair: bytes, outer: tuple[bytes, ...]) -> Fields:
    """A tunnel whose inside is not IP: the last IP header's addresses, no transport."""
    family = 4 if len(pair) == 8 else 6
    return _new(Fields, (chain, family, pair, -2, -1, -1, 0, 0, 0, 0, 0, 0, None, outer[:-1]))


def _fragment(data: bytes, ip: _Ip, span: _Span, where: tuple[int, int, bool, int, int]) -> Fields:
    """An IP fragment: the first one's transport header is read, the others carry data.

    The first fragment's transport header is read as if the datagram went on (its
    lengths describe the whole datagram); :func:`reassembled` reads it again once
    every fragment has arrived.
    """
    start, end, wire = span
    if where[1] == 0:
        return _transport(data, ip, start, end, start + 0xFFFF)._replace(fragment=where)
    chain, family, pair, protocol, outer = ip
    return _new(
        Fields,
        (chain, family, pair, protocol, -1, -1, 0, 0, 0, start, end, wire - start, where, outer),
    )


# -- transport layer -------------------------------------------------------------------


def _transport(data: bytes, ip: _Ip, start: int, end: int, wire: int) -> Fields:
    """TCP or UDP header fields, or only where the payload of another protocol lies."""
    chain, family, pair, protocol, outer = ip
    if protocol == 6:
        if end - start >= 20:
            sport, dport, seq, ack, data_offset, flags, _window = _TCP(data, start)
            payload = start + ((data_offset >> 4) << 2)
            if payload >= start + 20 and payload <= wire:
                stop = end if end > payload else payload
                fields = (chain, family, pair, 6, sport, dport, flags, seq, ack, payload, stop)
                return _new(Fields, (*fields, wire - payload, None, outer))
    elif protocol == 17:
        if end - start >= 8:
            sport, dport, length = _UDP(data, start)
            payload = start + 8
            if 8 <= length <= wire - start:
                stop = start + length
                end = end if end < stop else stop
                fields = (chain, family, pair, 17, sport, dport, 0, 0, 0, payload, end)
                return _new(Fields, (*fields, length - 8, None, outer))
            if length == 0:  # jumbograms and some offloaded captures
                fields = (chain, family, pair, 17, sport, dport, 0, 0, 0, payload, end)
                return _new(Fields, (*fields, wire - payload, None, outer))
    elif end >= start:
        fields = (chain, family, pair, protocol, -1, -1, 0, 0, 0, start, end)
        return _new(Fields, (*fields, wire - start, None, outer))
    return _new(Fields, (chain, family, pair, protocol, -1, -1, 0, 0, 0, end, end, 0, None, outer))


def reassembled(fields: Fields, frame: bytes, total: int) -> Fields:
    """The fields of a datagram put together from its fragments.

    ``frame`` is the first fragment's frame up to its IP payload, followed by the
    payload of every fragment (as captured); ``total`` is the payload's length on the
    wire; ``fields`` are the first fragment's.
    """
    start = fields.fragment[3] if fields.fragment else 0
    wire = start + total
    end = len(frame) if len(frame) < wire else wire
    ip = (fields.chain, fields.family, fields.pair, fields.proto, fields.outer)
    return _transport(frame, ip, start, end, wire)
