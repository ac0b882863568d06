"""The one header walker: a frame in, the layers and fields every part of livetap reads.

A frame is walked once, at struct level, from its link layer through VLAN tags,
tunnels and encapsulations (each decoded to the inner frame, the outer headers kept in
``outer``), IPv4/IPv6 with their extension headers and fragments, to TCP or UDP. The
result, :class:`Layers`, is a flat record: layer names as the protocol hierarchy of
``tshark -z io,phs`` writes them, addresses as bytes, ports, TCP flags and sequence
numbers, and the offsets where the innermost IP header, the transport header and the
payload lie, so a reader that needs more (a TTL, a window, a DNS name) reads it from
the bytes at the right place, only when asked (:mod:`engine.packet.model`).

Nothing here raises on any input: every read is bounds-checked, and a header cut short
ends the walk at the last layer that could be read (a hypothesis test feeds random
bytes for every link type). Tunnels nest at most :data:`MAX_TUNNEL_DEPTH` deep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, NamedTuple

from engine import linktypes
from engine.packet.structs import (
    ARPHRD_NETLINK,
    ETH_ARP,
    ETH_IPV4,
    ETH_IPV6,
    IP4,
    IP6,
    NULL_AF_INET6,
    SLL,
    TCP,
    U16,
    U16LE,
    U32,
    U32LE,
    UDP,
    VLAN_TAGS,
)

_new = tuple.__new__

MAX_TUNNEL_DEPTH: Final = 4
"""Tunnel headers followed at most: crafted input must not recurse without end."""


class Outer(NamedTuple):
    """An IP header around the innermost one (a tunnel's), with its UDP ports if any."""

    pair: bytes
    """Source then destination address (8 or 32 bytes)."""
    sport: int
    """The UDP source port when the tunnel rides on UDP (VXLAN, GENEVE, ...), else -1."""
    dport: int
    net: int
    """Where this IP header starts in the frame."""


class Layers(NamedTuple):
    """What one frame holds, read but not interpreted: the packet model's base record."""

    chain: tuple[str, ...]
    """Layer names down to the innermost network layer (``("eth", "ip")``, tunnels
    included: ``("eth", "ip", "udp", "vxlan", "eth", "ip")``); for a frame without IP,
    every layer that was recognised (``("eth", "arp")``)."""
    family: int
    """4 or 6 for a readable IP header, else 0."""
    pair: bytes
    """Source then destination address (8 or 32 bytes); empty without IP."""
    proto: int
    """The IP protocol number (6 TCP, 17 UDP, ...); -1 without IP, -2 when the chain
    already names everything above IP (a tunnel whose inside is not IP)."""
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
    when the frame was cut by the snap length); -1 for a UDP header over IPv4 whose
    length field is under 8 (tshark reads its ports, but counts no conversation)."""
    fragment: tuple[int, int, bool, int, int] | None
    """For an IP fragment: identification, offset in bytes, more fragments, where the
    fragment's IP payload starts in the frame, and its length on the wire."""
    outer: tuple[Outer, ...]
    """The tunnel headers around the innermost IP header, outermost first."""
    net: int
    """Where the innermost IP header starts; -1 without one."""
    l4: int
    """Where the transport header (TCP, UDP, ICMP, ...) starts; -1 without one."""


Raw = tuple[
    tuple[str, ...],
    int,
    bytes,
    int,
    int,
    int,
    int,
    int,
    int,
    int,
    int,
    int,
    tuple[int, int, bool, int, int] | None,
    tuple[Outer, ...],
    int,
    int,
]
"""A :class:`Layers` as a plain tuple, the same fields in the same order."""

_NOTHING: Final[tuple[Outer, ...]] = ()


def _only(chain: tuple[str, ...], net: int = -1) -> Raw:
    """A frame without a readable IP header: its layer names, and where the last one
    starts when that is known (an ARP header, an IP header that could not be read)."""
    return (chain, 0, b"", -1, -1, -1, 0, 0, 0, 0, 0, 0, None, _NOTHING, net, -1)


_CHAINS: Final[dict[tuple[tuple[str, ...], str], tuple[str, ...]]] = {}
_CHAIN_CACHE_SIZE: Final = 1024


def extend(chain: tuple[str, ...], name: str) -> tuple[str, ...]:
    """``chain + (name,)``, the same tuple object each time (they key the hierarchy)."""
    key = (chain, name)
    found = _CHAINS.get(key)
    if found is None:
        if len(_CHAINS) >= _CHAIN_CACHE_SIZE:
            _CHAINS.clear()
        found = _CHAINS[key] = (*chain, name)
    return found


ETH: Final[tuple[str, ...]] = ("eth",)
_ETH_IP_CHAIN: Final = extend(ETH, "ip")
_ETH_IPV6_CHAIN: Final = extend(ETH, "ipv6")

_ETH_LLC: Final = 0x8870
"""Jumbo LLC: an ethertype saying an 802.2 header follows."""
_ETH_MPLS: Final = frozenset({0x8847, 0x8848})
_ETH_PPPOE_SESSION: Final = 0x8864
_ETH_MACSEC: Final = 0x88E5
_ETH_NSH: Final = 0x894F
_ETH_TEB: Final = 0x6558
"""Transparent Ethernet bridging: an Ethernet frame inside GRE or GENEVE."""
_ETH_ERSPAN: Final = 0x88BE
_ETH_ERSPAN3: Final = 0x22EB
_ETHERTYPE_NAMES: Final = {
    ETH_ARP: "arp",
    0x8035: "arp",  # RARP: the same packet, read by tshark's ARP dissector (filter, hierarchy)
    0x88CC: "lldp",
    0x8863: "pppoed",
    0x888E: "eapol",
    0x88F7: "ptp",
}
_ETH_NAMED: Final = {ethertype: extend(ETH, name) for ethertype, name in _ETHERTYPE_NAMES.items()}
_ETH_DATA: Final = extend(ETH, "data")
_VLAN_NAMES: Final = {0x8100: "vlan", 0x88A8: "ieee8021ad", 0x9100: "vlan"}
_IPV6_EXTENSIONS: Final = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options
_IPV6_FRAGMENT: Final = 44
_PPP_PROTOCOLS: Final = {0x0021: ETH_IPV4, 0x0057: ETH_IPV6, 0x0281: 0x8847, 0x0283: 0x8848}
"""PPP protocol numbers livetap follows: IPv4, IPv6, MPLS unicast and multicast."""


def _be16(data: bytes, at: int) -> int:
    """A big-endian 16-bit field. Byte by byte, not struct: compiled (engine.native) this
    is a few C reads, where a struct call builds a tuple of objects."""
    return data[at] << 8 | data[at + 1]


def _be32(data: bytes, at: int) -> int:
    """A big-endian 32-bit field (see :func:`_be16`)."""
    return data[at] << 24 | data[at + 1] << 16 | data[at + 2] << 8 | data[at + 3]


# -- link layers -----------------------------------------------------------------------


def walk(linktype: int, data: bytes) -> Layers:
    """The layers of one frame of the given pcap link type; never raises."""
    return _new(Layers, walk_raw(linktype, data))


def walk_ethernet(data: bytes) -> Layers:
    """The layers of an Ethernet frame (the most common link type: one call fewer)."""
    return _new(Layers, walk_ethernet_raw(data))


def walk_raw(linktype: int, data: bytes) -> Raw:
    """:func:`walk` as a plain tuple in :class:`Layers`' order, for the hottest readers.

    Python indexes and unpacks an exact tuple faster than a named one (its specialised
    instructions skip subclasses) and building the named one costs a second tuple: the
    Info column and the analysis read millions of these.
    """
    if linktype == linktypes.ETHERNET:
        return walk_ethernet_raw(data)
    link = _LINKS.get(linktypes.normalise(linktype))
    if link is None:
        return _only(unknown_link_chain(linktype))
    return link(data)


def unknown_link_chain(linktype: int) -> tuple[str, ...]:
    """How the hierarchy names a link type livetap does not read (tshark's user DLTs too)."""
    if 147 <= linktype <= 162:
        return ("user_dlt", "data")
    return (f"linktype-{linktype}",)


def walk_ethernet_raw(data: bytes) -> Raw:
    """Ethernet II; untagged IPv4 without options or fragments is read with one unpack."""
    size = len(data)
    if size >= 34:
        ethertype = _be16(data, 12)
        version_ihl, total = data[14], _be16(data, 16)
        fragment, protocol = _be16(data, 20), data[23]
        if ethertype == ETH_IPV4 and version_ihl == 0x45 and total >= 20 and not fragment & 0x3FFF:
            wire = 14 + total
            end = wire if wire < size else size
            if protocol == 6 and end >= 54:  # TCP, inlined: the most common frame of all
                sport, dport = _be16(data, 34), _be16(data, 36)
                seq = _be32(data, 38)
                ack = _be32(data, 42)
                data_offset, flags = data[46], data[47]
                payload = 34 + ((data_offset >> 4) << 2)
                if payload >= 54 and payload <= wire:
                    stop = end if end > payload else payload
                    return (_ETH_IP_CHAIN, 4, data[26:34], 6, sport, dport, flags, seq, ack,
                            payload, stop, wire - payload, None, _NOTHING, 14, 34)  # fmt: skip
            if protocol == 17 and end >= 42:  # UDP, inlined as _transport reads it
                sport, dport = _be16(data, 34), _be16(data, 36)
                length = _be16(data, 38)
                if 8 <= length <= total - 20 and dport not in _UDP_TUNNELS:
                    stop = 34 + length
                    return (_ETH_IP_CHAIN, 4, data[26:34], 17, sport, dport, 0, 0, 0, 42,
                            end if end < stop else stop, length - 8, None, _NOTHING,
                            14, 34)  # fmt: skip
            if protocol in _IP_TUNNELS:
                return _ipv4(data, 14, ETH, _NOTHING)
            return _transport(
                data, (_ETH_IP_CHAIN, 4, data[26:34], protocol, _NOTHING, 14), 34, end, wire
            )
        if ethertype == ETH_IPV6:
            if size >= 74:
                return _ethernet_ipv6(data, size)
            return _ipv6(data, 14, ETH, _NOTHING)
    elif size < 14:
        return _only(ETH)
    (ethertype,) = U16(data, 12)
    return _ethertype(data, 14, ethertype, ETH, _NOTHING)


def _ethernet_ipv6(data: bytes, size: int) -> Raw:
    """Untagged IPv6 straight to TCP or UDP (no extension header), read as :func:`_ipv6`
    and :func:`_transport` read it, without their general steps; anything else goes to them.
    """
    version, length, protocol = data[14], _be16(data, 18), data[20]
    if version >> 4 == 6 and length:
        wire = 54 + length
        end = wire if wire < size else size
        if protocol == 6:
            sport, dport = _be16(data, 54), _be16(data, 56)
            seq = _be32(data, 58)
            ack = _be32(data, 62)
            data_offset, flags = data[66], data[67]
            payload = 54 + ((data_offset >> 4) << 2)
            if end >= 74 and payload >= 74 and payload <= wire:
                return (_ETH_IPV6_CHAIN, 6, data[22:54], 6, sport, dport, flags, seq, ack,
                        payload, end if end > payload else payload, wire - payload, None,
                        _NOTHING, 14, 54)  # fmt: skip
        elif protocol == 17:
            sport, dport = _be16(data, 54), _be16(data, 56)
            udp_length = _be16(data, 58)
            if 8 <= udp_length <= length and dport not in _UDP_TUNNELS:
                stop = 54 + udp_length
                return (_ETH_IPV6_CHAIN, 6, data[22:54], 17, sport, dport, 0, 0, 0, 62,
                        end if end < stop else stop, udp_length - 8, None, _NOTHING,
                        14, 54)  # fmt: skip
    return _ipv6(data, 14, ETH, _NOTHING)


def _ethertype(
    data: bytes, offset: int, ethertype: int, chain: tuple[str, ...], outer: tuple[Outer, ...]
) -> Raw:
    """What an ethertype announces: VLAN tags, IP, an encapsulation, or a name only."""
    while ethertype in VLAN_TAGS:
        chain = extend(chain, _VLAN_NAMES[ethertype])
        if offset + 4 > len(data):
            return _only(chain)
        (ethertype,) = U16(data, offset + 2)
        offset += 4
    if ethertype == ETH_IPV4:
        return _ipv4(data, offset, chain, outer)
    if ethertype == ETH_IPV6:
        return _ipv6(data, offset, chain, outer)
    if ethertype in _ETH_MPLS:
        return _mpls(data, offset, chain, outer)
    if ethertype <= 1500 or ethertype == _ETH_LLC:
        if chain is ETH and data[:5] in _ISL_DESTINATIONS:  # Cisco ISL: 26 bytes, a frame
            return _inner_ethernet(data, 26, _ISL, outer)
        return _llc(data, offset, extend(chain, "llc"), outer)
    if ethertype == _ETH_PPPOE_SESSION:
        return _ppp(data, offset + 6, extend(chain, "pppoes"), outer)
    if ethertype == _ETH_MACSEC:
        return _macsec(data, offset, extend(chain, "macsec"), outer)
    if ethertype == _ETH_NSH:
        return _nsh(data, offset, extend(chain, "nsh"), outer)
    if ethertype == _ETH_ARISTA:
        return _arista(data, offset, extend(chain, "avsp"), outer)
    if chain is ETH:  # the usual case, without building the chain's cache key
        named = _ETH_NAMED.get(ethertype) or _ETH_DATA
        return (named, 0, b"", -1, -1, -1, 0, 0, 0, 0, 0, 0, None, _NOTHING, offset, -1)
    return _only(extend(chain, _ETHERTYPE_NAMES.get(ethertype, "data")), offset)


_ISL_DESTINATIONS: Final = frozenset({b"\x01\x00\x0c\x00\x00", b"\x0c\x00\x0c\x00\x00"})
"""The multicast addresses a Cisco ISL header starts with (what tshark recognises it by)."""
_ISL: Final = ("isl",)
_ETH_ARISTA: Final = 0xD28B
_ARISTA_TIMESTAMPS: Final = {0x0010: 8, 0x0110: 8, 0x0020: 6, 0x0120: 6}
"""Arista timestamp versions and their lengths: 64-bit and 48-bit, TAI and UTC."""


def _arista(data: bytes, offset: int, chain: tuple[str, ...], outer: tuple[Outer, ...]) -> Raw:
    """Arista's vendor-specific tag: subtype 1 (a timestamp) of a known version, then an
    ethertype; anything else ends here, as tshark reads it."""
    if offset + 4 > len(data):
        return _only(chain)
    subtype, version = U16(data, offset)[0], U16(data, offset + 2)[0]
    size = _ARISTA_TIMESTAMPS.get(version, -1)
    offset += 4 + size
    if subtype != 1 or size < 0 or offset + 2 > len(data):
        return _only(chain)
    (ethertype,) = U16(data, offset)
    return _ethertype(data, offset + 2, ethertype, chain, outer)


def _llc(data: bytes, offset: int, chain: tuple[str, ...], outer: tuple[Outer, ...]) -> Raw:
    """802.2 LLC: spanning tree by its SAP, SNAP's ethertype followed, the rest only named."""
    if offset + 3 > len(data):
        return _only(chain, offset)
    dsap = data[offset]
    if dsap == 0x42:
        return _only(extend(chain, "stp"), offset)
    if dsap == 0xAA and offset + 8 <= len(data):
        (ethertype,) = U16(data, offset + 6)
        return _ethertype(data, offset + 8, ethertype, chain, outer)
    return _only(chain, offset)


def _inner_ethernet(
    data: bytes, offset: int, chain: tuple[str, ...], outer: tuple[Outer, ...]
) -> Raw:
    """An Ethernet frame carried inside a tunnel (VXLAN, GENEVE, GRE bridging, ERSPAN)."""
    chain = extend(chain, "eth")
    if offset + 14 > len(data):
        return _only(chain)
    (ethertype,) = U16(data, offset + 12)
    return _ethertype(data, offset + 14, ethertype, chain, outer)


def _mpls(data: bytes, offset: int, chain: tuple[str, ...], outer: tuple[Outer, ...]) -> Raw:
    """An MPLS label stack (one ``mpls`` layer per label, as tshark counts them), then IP."""
    size = len(data)
    for _ in range(16):
        chain = extend(chain, "mpls")
        if offset + 4 > size:
            return _only(chain)
        bottom = data[offset + 2] & 1
        offset += 4
        if bottom:
            break
    else:
        return _only(chain)
    if offset >= size:
        return _only(chain)
    version = data[offset] >> 4
    if version == 4:
        return _ipv4(data, offset, chain, outer)
    if version == 6:
        return _ipv6(data, offset, chain, outer)
    return _only(extend(chain, "data"))


def _ppp(data: bytes, offset: int, chain: tuple[str, ...], outer: tuple[Outer, ...]) -> Raw:
    """PPP: the optional HDLC address and control bytes, a 1- or 2-byte protocol, IP."""
    chain = extend(chain, "ppp")
    size = len(data)
    if offset + 2 <= size and data[offset] == 0xFF and data[offset + 1] == 0x03:
        offset += 2
    if offset >= size:
        return _only(chain)
    if data[offset] & 1:  # protocol field compression: one byte
        protocol, offset = data[offset], offset + 1
    elif offset + 2 <= size:
        (protocol,) = U16(data, offset)
        offset += 2
    else:
        return _only(chain)
    ethertype = _PPP_PROTOCOLS.get(protocol)
    if ethertype == ETH_IPV4:
        return _ipv4(data, offset, chain, outer)
    if ethertype in _ETH_MPLS:
        return _mpls(data, offset, chain, outer)
    if ethertype == ETH_IPV6:
        return _ipv6(data, offset, chain, outer)
    return _only(chain)


def _macsec(data: bytes, offset: int, chain: tuple[str, ...], outer: tuple[Outer, ...]) -> Raw:
    """802.1AE: the SecTAG, then the ethertype when the frame is not encrypted."""
    if offset + 6 > len(data):
        return _only(chain)
    tci = data[offset]
    if tci & 0x0C:  # E: encrypted, or C: changed text (tshark reads neither)
        return _only(extend(chain, "data"))
    offset += 6 + (8 if tci & 0x20 else 0)  # SC: an explicit secure channel identifier
    if offset + 2 > len(data):
        return _only(chain)
    (ethertype,) = U16(data, offset)
    return _ethertype(data, offset + 2, ethertype, chain, outer)


_NSH_NEXT: Final = {1: ETH_IPV4, 2: ETH_IPV6}


def _nsh(data: bytes, offset: int, chain: tuple[str, ...], outer: tuple[Outer, ...]) -> Raw:
    """Network Service Header: its length in 4-byte words, then the next protocol."""
    if offset + 8 > len(data):
        return _only(chain)
    length = (data[offset + 1] & 0x3F) << 2
    following = data[offset + 3]
    if length < 8:
        return _only(chain)
    offset += length
    if following == 3:
        return _inner_ethernet(data, offset, chain, outer)
    ethertype = _NSH_NEXT.get(following)
    if ethertype == ETH_IPV4:
        return _ipv4(data, offset, chain, outer)
    if ethertype == ETH_IPV6:
        return _ipv6(data, offset, chain, outer)
    return _only(chain)


def _sll(data: bytes) -> Raw:
    """Linux cooked capture v1: 16 bytes, protocol at offset 14."""
    chain = ("sll",)
    if len(data) < 16:
        return _only(chain)
    hatype, _halen = SLL(data, 0)
    if hatype == ARPHRD_NETLINK:
        return _only(extend(chain, "netlink"))
    (protocol,) = U16(data, 14)
    return _ethertype(data, 16, protocol, chain, _NOTHING)


def _sll2(data: bytes) -> Raw:
    """Linux cooked capture v2: 20 bytes, protocol at offset 0 (tshark calls it sll too)."""
    chain = ("sll",)
    if len(data) < 20:
        return _only(chain)
    (hatype,) = U16(data, 8)
    if hatype == ARPHRD_NETLINK:
        return _only(extend(chain, "netlink"))
    (protocol,) = U16(data, 0)
    return _ethertype(data, 20, protocol, chain, _NOTHING)


def _null(data: bytes) -> Raw:
    """BSD loopback: the address family in either byte order."""
    chain = ("null",)
    if len(data) < 4:
        return _only(chain)
    (little,) = U32LE(data, 0)
    (big,) = U32(data, 0)
    if little == 2 or big == 2:
        return _ipv4(data, 4, chain, _NOTHING)
    if little in NULL_AF_INET6 or big in NULL_AF_INET6:
        return _ipv6(data, 4, chain, _NOTHING)
    return _only(extend(chain, "data"))


def _loop(data: bytes) -> Raw:
    """OpenBSD loopback: the address family in network byte order (tshark: null)."""
    chain = ("null",)
    if len(data) < 4:
        return _only(chain)
    (family,) = U32(data, 0)
    if family == 2:
        return _ipv4(data, 4, chain, _NOTHING)
    if family in NULL_AF_INET6:
        return _ipv6(data, 4, chain, _NOTHING)
    return _only(extend(chain, "data"))


def _raw(data: bytes) -> Raw:
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


IP_DISPATCH: Final = "ip.dispatch"
"""tshark's IP entry point where a link type says only "IP" (raw IPv4, Linux ATM CLIP): it
hands version 6 to IPv6 before adding an IPv4 tree, so ``frame.protocols`` names it ``ip``
but ``-Y ip`` and the protocol hierarchy do not see it."""


def _raw_ipv4(data: bytes) -> Raw:
    """LINKTYPE_IPV4: an IPv4 packet (an IPv6 one inside is handed on, as tshark does)."""
    if data and data[0] >> 4 == 6:
        return _ipv6(data, 0, _DISPATCH, _NOTHING)
    return _ipv4(data, 0, (), _NOTHING)


def _atm_clip(data: bytes) -> Raw:
    """Linux Classical IP over ATM: an IP packet, read as tshark reads it (``clip``, then
    its IP dissector, which hands version 6 on)."""
    if data and data[0] >> 4 == 6:
        return _ipv6(data, 0, _CLIP_DISPATCH, _NOTHING)
    return _ipv4(data, 0, _CLIP, _NOTHING)


_DISPATCH: Final = (IP_DISPATCH,)
_CLIP: Final = ("clip",)
_CLIP_DISPATCH: Final = ("clip", IP_DISPATCH)


def _raw_ipv6(data: bytes) -> Raw:
    """LINKTYPE_IPV6: an IPv6 packet and nothing else."""
    return _ipv6(data, 0, (), _NOTHING)


def _ppp_link(data: bytes) -> Raw:
    """LINKTYPE_PPP and LINKTYPE_PPP_HDLC: a PPP frame."""
    return _ppp(data, 0, (), _NOTHING)


def _cisco_hdlc(data: bytes) -> Raw:
    """Cisco HDLC: address, control, then an ethertype (0x8035 is Cisco's SLARP there, not
    RARP: tshark's ``arp`` does not match it)."""
    chain = ("chdlc",)
    if len(data) < 4:
        return _only(chain)
    (protocol,) = U16(data, 2)
    if protocol == _CISCO_SLARP:
        return _only(_SLARP_CHAIN, 4)
    return _ethertype(data, 4, protocol, chain, _NOTHING)


_CISCO_SLARP: Final = 0x8035
_SLARP_CHAIN: Final = ("chdlc", "slarp")


_FR_NLPID: Final = {0xCC: ETH_IPV4, 0x8E: ETH_IPV6}
_CISCO_HDLC_TYPES: Final = frozenset(
    {0x0111, 0x0600, 0x0800, 0x2000, 0x4242, 0x6003, 0x6558, 0x8035, 0x8038, 0x809B, 0x80F3}
    | {0x8137, 0x86DD, 0x8847, 0x8848, 0xFEFE}
)
"""The types tshark 4.0's Cisco HDLC table knows. After a Frame Relay address any other
value is taken for the start of an Ethernet frame, when that frame's type is one tshark
knows (:func:`_ethernet_like`)."""
_FR_KNOWN_NLPIDS: Final = frozenset(
    {0x00, 0x08, 0x09, 0x80, 0x81, 0x82, 0x83, 0x8E, 0xB0, 0xCC, 0xCF}
)
"""NLPIDs tshark 4.0 has a Frame Relay or OSI dissector for (``tshark -G decodes``), and SNAP."""
_CISCO_HDLC_READ: Final = frozenset({ETH_IPV4, ETH_IPV6, *_ETH_MPLS})
"""The Cisco HDLC types the packet model follows after a Frame Relay address."""
_ETHERNET_TYPES: Final = frozenset(
    {ETH_IPV4, ETH_IPV6, ETH_ARP, 0x8035, 0x0600, _ETH_LLC, 0x8863, _ETH_PPPOE_SESSION}
    | {_ETH_MACSEC, _ETH_NSH, 0x88CC, 0x888E, 0x88F7, _ETH_TEB, _ETH_ARISTA}
    | VLAN_TAGS
    | _ETH_MPLS
)
"""Ethernet types the packet model reads or names, and XNS IDP (all in tshark's ethertype
table)."""


def _ethernet_like(data: bytes, offset: int) -> bool:
    """Whether an Ethernet header at ``offset`` has a length or a known type in its type
    field: how tshark tells a Cisco Frame Relay payload that is a bridged Ethernet frame."""
    if offset + 14 > len(data):
        return False
    (kind,) = U16(data, offset + 12)
    return kind <= 1500 or kind in _ETHERNET_TYPES


def _frame_relay(data: bytes) -> Raw:
    """Frame Relay: the Q.922 address, then RFC 2427 (UI control, NLPID or SNAP) or, as
    Cisco routers send it, a Cisco HDLC type right after the address; told apart as tshark
    4.0 does (:func:`_frame_relay_other`)."""
    chain = ("fr",)
    if len(data) < 4:
        return _only(chain)
    offset = 1 if data[0] & 1 else 2  # tshark reads a 1-octet address (bogus) as DLCI 0
    while offset < len(data) and not data[offset - 1] & 1:  # the address's last octet has EA
        offset += 1
    if offset + 2 > len(data):
        return _only(chain)
    if data[offset] != 0x03:  # no UI control
        if offset == 1 or data[offset] == 0xAF or _fr_dlci_zero(data[:offset]):
            return _only(extend(chain, "data"))  # LAPF on DLCI 0, or an XID frame
        offset = _frame_relay_other(data, offset)
        if offset < 0:
            return _frame_relay_cisco(data, -offset - 1)
    else:
        offset += 1
    if offset >= len(data):
        return _only(chain)
    if data[offset] == 0x00:  # padding before the NLPID
        offset += 1
    if offset >= len(data):
        return _only(chain)
    nlpid = data[offset]
    if nlpid == 0x80 and offset + 6 <= len(data):  # SNAP: OUI, then an ethertype
        (ethertype,) = U16(data, offset + 4)
        return _ethertype(data, offset + 6, ethertype, chain, _NOTHING)
    ethertype = _FR_NLPID.get(nlpid)
    if ethertype == ETH_IPV4:
        return _ipv4(data, offset + 1, chain, _NOTHING)
    if ethertype == ETH_IPV6:
        return _ipv6(data, offset + 1, chain, _NOTHING)
    return _only(chain)


def _fr_dlci_zero(address: bytes) -> bool:
    """Whether a Q.922 address of 2 to 4 octets (more are bogus) says DLCI 0."""
    if address[0] & 0xFC or address[1] & 0xF0:
        return False
    if len(address) == 2:
        return True
    if len(address) > 3 and address[2] & 0xFE:
        return False
    last = address[-1]
    return bool(last & 0x02) or not last & 0xFC  # DC set: DL-CORE control, not DLCI bits


def _frame_relay_other(data: bytes, offset: int) -> int:
    """After an address (not DLCI 0) without UI control, what tshark 4.0 reads: a type in
    its Cisco HDLC table is Cisco's encapsulation; an NLPID it knows after an HDLC control
    field (padded or not) is RFC 2427; anything else is an Ethernet frame when it looks like
    one, or data. The NLPID's offset after the control field, or ``-1 - offset`` for a
    Cisco or Ethernet payload (:func:`_frame_relay_cisco`)."""
    control = data[offset]
    if U16(data, offset)[0] not in _CISCO_HDLC_TYPES:
        probe = offset + 1 if control == 0 else offset
        if probe < len(data):
            probe += 1 if data[probe] & 3 == 3 else 2  # U frames: 1 octet; I and S: 2
            if probe < len(data) and data[probe] in _FR_KNOWN_NLPIDS:
                return offset + (1 if control & 3 == 3 else 2)
    return -1 - offset


def _frame_relay_cisco(data: bytes, offset: int) -> Raw:
    """Cisco's Frame Relay encapsulation (a Cisco HDLC type), or an Ethernet frame that
    tshark 4.0 recognises by its type or length field, or data."""
    chain = ("fr",)
    (kind,) = U16(data, offset)
    if kind in _CISCO_HDLC_READ:
        return _ethertype(data, offset + 2, kind, chain, _NOTHING)
    if kind == _ETH_TEB:
        return _inner_ethernet(data, offset + 2, chain, _NOTHING)
    if kind not in _CISCO_HDLC_TYPES and _ethernet_like(data, offset):
        return _inner_ethernet(data, offset, chain, _NOTHING)
    return _only(extend(chain, "data"))


_NFLOG_PAYLOAD: Final = 9


def _nflog(data: bytes) -> Raw:
    """Linux NFLOG: a family byte, then TLVs (host byte order); type 9 holds the packet."""
    chain = ("nflog",)
    size = len(data)
    if size < 4:
        return _only(chain)
    family = data[0]
    offset = 4
    for _ in range(64):
        if offset + 4 > size:
            break
        length, kind = U16LE(data, offset)[0], U16LE(data, offset + 2)[0]
        if length < 4:
            break
        if kind == _NFLOG_PAYLOAD:
            inner = data[: offset + length]
            if family == 2:
                return _ipv4(inner, offset + 4, chain, _NOTHING)
            if family == 10:
                return _ipv6(inner, offset + 4, chain, _NOTHING)
            return _only(chain)
        offset += (length + 3) & ~3
    return _only(chain)


def _pktap(data: bytes) -> Raw:
    """Apple's PKTAP: a header saying its length and the link type of the frame after it."""
    chain = ("pktap",)
    if len(data) < 12:
        return _only(chain)
    (length,) = U32LE(data, 0)
    (inner_type,) = U32LE(data, 8)
    if length < 12 or length > len(data) or inner_type == PKTAP:
        return _only(chain)
    inner = walk_raw(inner_type, data[length:])
    shift = length
    family, start, end, net, l4 = inner[1], inner[9], inner[10], inner[14], inner[15]
    return (
        (*chain, *inner[0]),
        *inner[1:9],
        start + shift if family else start,
        end + shift if family else end,
        inner[11],
        _shifted(inner[12], shift),
        inner[13],
        net + shift if net >= 0 else -1,
        l4 + shift if l4 >= 0 else -1,
    )


def _user2_pktap(data: bytes) -> Raw:
    """LINKTYPE_USER2 (149): macOS writes PKTAP under it, and tshark reads it so."""
    found = _pktap(data)
    return (("user_dlt", *found[0]), *found[1:])


def _shifted(
    fragment: tuple[int, int, bool, int, int] | None, shift: int
) -> tuple[int, int, bool, int, int] | None:
    """A fragment's payload position moved by ``shift`` bytes."""
    if fragment is None:
        return None
    ident, offset, more, start, length = fragment
    return ident, offset, more, start + shift, length


_ARCNET_TYPES: Final = {
    0xF0: ETH_IPV4,
    0xF1: ETH_ARP,
    0xD4: ETH_IPV4,
    0xD5: ETH_ARP,
    0xC4: ETH_IPV6,
}
"""ARCNET protocol IDs: RFC 1051 (0xF0 IP, 0xF1 ARP) and RFC 1201 (0xD4 IP, 0xD5 ARP, ...)."""
_ARCNET_RFC1051: Final = frozenset({0xF0, 0xF1})


def _arcnet_linux(data: bytes) -> Raw:
    """Linux ARCNET: source, destination, a 2-byte offset, the protocol ID; RFC 1201 frames
    then have a split flag and a sequence number (Linux has no exception frames, as
    Wireshark reads it)."""
    chain = ("arcnet",)
    if len(data) < 5:
        return _only(chain)
    protocol = data[4]
    offset = 5 if protocol in _ARCNET_RFC1051 else 8
    ethertype = _ARCNET_TYPES.get(protocol)
    if ethertype is None or offset > len(data):
        return _only(chain)
    return _ethertype(data, offset, ethertype, chain, _NOTHING)


def _ipnet(data: bytes) -> Raw:
    """Solaris IPNET: a 24-byte header whose family byte says IPv4 (2) or IPv6 (26)."""
    chain = ("ipnet",)
    if len(data) < 24:
        return _only(chain)
    family = data[1]
    if family == 2:
        return _ipv4(data, 24, chain, _NOTHING)
    if family == 26:
        return _ipv6(data, 24, chain, _NOTHING)
    return _only(chain)


def _ipoib(data: bytes) -> Raw:
    """IP over InfiniBand (Linux): a 40-byte address pseudo-header, then a type and 2 bytes."""
    chain = ("ipoib",)
    if len(data) < 44:
        return _only(chain)
    (ethertype,) = U16(data, 40)
    return _ethertype(data, 44, ethertype, chain, _NOTHING)


_JUNIPER_MAGIC: Final = b"MGC"


def _juniper_ether(data: bytes) -> Raw:
    """Juniper Ethernet: "MGC", flags, extensions (a 2-byte length first) when flagged, then
    Ethernet."""
    chain = ("juniper",)
    if len(data) < 4 or data[:3] != _JUNIPER_MAGIC:
        return _only(chain)
    offset = 4
    if data[3] & 0x80:
        if offset + 2 > len(data):
            return _only(chain)
        offset += 2 + U16(data, offset)[0]
    if offset + 14 > len(data):
        return _only(extend(chain, "eth"))
    (ethertype,) = U16(data, offset + 12)
    return _ethertype(data, offset + 14, ethertype, ("juniper", "eth"), _NOTHING)


IEEE802_11: Final = 105
LINUX_ATM_CLIP: Final = 106
IEEE802_11_RADIOTAP: Final = 127
ARCNET_LINUX: Final = 129
USER2: Final = 149
JUNIPER_ETHER: Final = 178
IPNET: Final = 226
IPOIB: Final = 242
PPP: Final = 9
PPP_HDLC: Final = 50
CISCO_HDLC: Final = 104
FRAME_RELAY: Final = 107
NFLOG: Final = 239
PKTAP: Final = 258
_WLAN: Final = ("wlan",)
_RADIOTAP: Final = ("radiotap", "wlan_radio", "wlan")


def _radiotap(data: bytes) -> Raw:
    """A radiotap header (its length says where the 802.11 frame starts), then 802.11."""
    if len(data) < 8:
        return _only(("radiotap",))
    (length,) = U16LE(data, 2)
    if length < 8 or length > len(data):
        return _only(("radiotap",))
    return _wlan(data, length, _RADIOTAP)


def _ieee802_11(data: bytes) -> Raw:
    """A bare 802.11 frame."""
    return _wlan(data, 0, _WLAN)


def _wlan(data: bytes, offset: int, chain: tuple[str, ...]) -> Raw:
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
        (ethertype,) = U16(data, start + 6)
        return _ethertype(data, start + 8, ethertype, extend(chain, "llc"), _NOTHING)
    return _only(extend(chain, "data"))


_LINKS: Final[dict[int, Callable[[bytes], Raw]]] = {
    linktypes.ETHERNET: walk_ethernet_raw,
    linktypes.LINUX_SLL: _sll,
    linktypes.LINUX_SLL2: _sll2,
    linktypes.RAW: _raw,
    linktypes.IPV4: _raw_ipv4,
    linktypes.IPV6: _raw_ipv6,
    linktypes.NULL: _null,
    linktypes.LOOP: _loop,
    IEEE802_11: _ieee802_11,
    IEEE802_11_RADIOTAP: _radiotap,
    PPP: _ppp_link,
    PPP_HDLC: _ppp_link,
    CISCO_HDLC: _cisco_hdlc,
    FRAME_RELAY: _frame_relay,
    NFLOG: _nflog,
    PKTAP: _pktap,
    USER2: _user2_pktap,
    ARCNET_LINUX: _arcnet_linux,
    JUNIPER_ETHER: _juniper_ether,
    IPNET: _ipnet,
    IPOIB: _ipoib,
    LINUX_ATM_CLIP: _atm_clip,
}

KNOWN_LINKTYPES: Final = frozenset(_LINKS)
"""The link types whose frames are read down to IP (others are only counted)."""


# -- network layer ---------------------------------------------------------------------

_Ip = tuple[tuple[str, ...], int, bytes, int, tuple[Outer, ...], int]
"""An IP header's findings: layer names, family, address pair, protocol, tunnels, offset."""
_Span = tuple[int, int, int]
"""Where a payload lies: start, end of the captured bytes, end on the wire."""


def _ipv4(data: bytes, offset: int, chain: tuple[str, ...], outer: tuple[Outer, ...]) -> Raw:
    """IPv4: addresses, fragments, tunnels, then the transport within the total length."""
    chain = _ETH_IP_CHAIN if chain is ETH else extend(chain, "ip")
    size = len(data)
    if size - offset < 20:
        return _only(chain, offset)
    version_ihl, total, fragment, protocol = IP4(data, offset)
    if version_ihl >> 4 == 6:  # tshark's IPv4 dissector hands version 6 to IPv6
        return _ipv6(data, offset, chain, outer)
    header = (version_ihl & 15) << 2
    if version_ihl >> 4 != 4 or header < 20 or 0 < total < header or offset + header > size:
        return _only(chain, offset)
    ip = (chain, 4, data[offset + 12 : offset + 20], protocol, outer, offset)
    wire = offset + total if total else size  # TSO captures may say 0
    start = offset + header
    end = wire if wire < size else size
    # A first fragment cut by the snap length cannot be reassembled: tshark reads the
    # transport header it can see, as from an unfragmented packet, and so does livetap.
    if fragment & 0x3FFF and (fragment & 0x1FFF or end >= wire):
        (ident,) = U16(data, offset + 4)
        where = (ident, (fragment & 0x1FFF) << 3, bool(fragment & 0x2000), start, wire - start)
        return _fragment(data, ip, (start, end, wire), where)
    if protocol in _IP_TUNNELS and len(outer) < MAX_TUNNEL_DEPTH:
        return _tunnel(data, ip, start, end)
    return _transport(data, ip, start, end, wire)


def _ipv6(data: bytes, offset: int, chain: tuple[str, ...], outer: tuple[Outer, ...]) -> Raw:
    """IPv6: addresses, extension headers walked (a fragment header noted), the transport."""
    chain = _ETH_IPV6_CHAIN if chain is ETH else extend(chain, "ipv6")
    size = len(data)
    if size - offset < 40:
        return _only(chain, offset)
    version, length, protocol = IP6(data, offset)
    if version >> 4 != 6:
        return _only(chain, offset)
    pair = data[offset + 8 : offset + 40]
    start = offset + 40
    wire = start + length if length else size  # 0: jumbogram or TSO
    end = wire if wire < size else size
    where: tuple[int, int, bool, int, int] | None = None
    while protocol in _IPV6_EXTENSIONS or protocol == _IPV6_FRAGMENT:
        if start + 8 > end:  # each pass moves on by 8 bytes or more
            return _transport(data, (chain, 6, pair, -2, outer, offset), start, end, wire)
        if protocol == _IPV6_FRAGMENT:
            (word,) = U16(data, start + 2)
            if word & 0xFFF9:
                (ident,) = U32(data, start + 4)
                where = (ident, word & 0xFFF8, bool(word & 1), start + 8, wire - start - 8)
            protocol = data[start]
            start += 8
        else:
            protocol = data[start]
            start += (data[start + 1] + 1) << 3
    ip = (chain, 6, pair, protocol, outer, offset)
    if start > end:
        return _transport(data, (chain, 6, pair, -2, outer, offset), end, end, wire)
    if where is not None:
        return _fragment(data, ip, (start, end, wire), where)
    if protocol in _IP_TUNNELS and len(outer) < MAX_TUNNEL_DEPTH:
        return _tunnel(data, ip, start, end)
    return _transport(data, ip, start, end, wire)


_IP_TUNNELS: Final = frozenset({4, 41, 47, 103, 143})
"""IPv4-in-IP, IPv6-in-IP, GRE, PIM (its Register messages carry an IP packet) and
Ethernet (143, as segment routing over IPv6 carries it)."""
_GRE_ERSPAN_II_HEADER: Final = 8
_GRE_ERSPAN_III_HEADER: Final = 12


def _tunnel(data: bytes, ip: _Ip, start: int, end: int) -> Raw:
    """The packet inside IP-in-IP, GRE or a PIM Register; the outer header goes to ``outer``."""
    chain, _family, pair, protocol, outer, _net = ip
    outer = (*outer, Outer(pair, -1, -1, ip[5]))
    inner = data[:end]  # the inner packet may not read past the outer one
    if protocol == 4:
        return _inside(_ipv4(inner, start, chain, outer), outer)
    if protocol == 41:
        return _inside(_ipv6(inner, start, chain, outer), outer)
    if protocol == 103:
        return _pim(inner, ip, start, outer)
    if protocol == 143:
        return _inside(_inner_ethernet(inner, start, chain, outer), outer)
    return _inside(_gre(inner, extend(chain, "gre"), start, outer), outer)


def _pim(data: bytes, ip: _Ip, start: int, outer: tuple[Outer, ...]) -> Raw:
    """PIM: a Register message (type 1) carries an IP packet after 8 bytes (a null
    Register, N set, the header of one: tshark reads it too); others end here."""
    chain, family, pair, _protocol, _outer, net = ip
    if start + 8 > len(data) or data[start] & 0x0F != 1:
        end = len(data)
        return _transport(data, (chain, family, pair, 103, outer[:-1], net), start, end, end)
    chain = extend(chain, "pim")
    version = data[start + 8] >> 4 if start + 8 < len(data) else 0
    if version == 4:
        return _inside(_ipv4(data, start + 8, chain, outer), outer)
    if version == 6:
        return _inside(_ipv6(data, start + 8, chain, outer), outer)
    return _inside(_only(extend(chain, "data")), outer)


def _gre(data: bytes, chain: tuple[str, ...], start: int, outer: tuple[Outer, ...]) -> Raw:
    """GRE (RFC 2784/2890 and PPTP's enhanced GRE): what its protocol type announces."""
    end = len(data)
    if start + 4 > end:
        return _only(chain)
    (flags,) = U16(data, start)
    (ethertype,) = U16(data, start + 2)
    version = flags & 0x0007
    if version == 1:  # enhanced GRE (PPTP): key always, sequence and acknowledgement optional
        start += 8 + (4 if flags & 0x1000 else 0) + (4 if flags & 0x0080 else 0)
        if ethertype != 0x880B or start >= end:
            return _only(chain)
        return _ppp(data, start, chain, outer)
    if version:
        return _only(chain)
    sequenced = flags & 0x1000
    start += 4 + 4 * ((flags >> 15 & 1) + (flags >> 13 & 1) + (sequenced >> 12))
    return _carried(data, start, ethertype, chain, outer, sequenced=bool(sequenced))


def _carried(
    data: bytes,
    start: int,
    ethertype: int,
    chain: tuple[str, ...],
    outer: tuple[Outer, ...],
    *,
    sequenced: bool = False,
) -> Raw:
    """What a tunnel header's protocol type announces (GRE, GENEVE, GRE-in-UDP)."""
    if ethertype == ETH_IPV4:
        return _ipv4(data, start, chain, outer)
    if ethertype == ETH_IPV6:
        return _ipv6(data, start, chain, outer)
    if ethertype == _ETH_TEB:
        return _inner_ethernet(data, start, chain, outer)
    if ethertype in _ETH_MPLS:
        return _mpls(data, start, chain, outer)
    if ethertype == _ETH_ERSPAN:  # type II when sequenced, else type I without a header
        chain = extend(chain, "erspan")
        return _inner_ethernet(
            data, start + (_GRE_ERSPAN_II_HEADER if sequenced else 0), chain, outer
        )
    if ethertype == _ETH_ERSPAN3:
        header = _GRE_ERSPAN_III_HEADER
        if start + header <= len(data) and data[start + 11] & 1:  # O: a platform subheader
            header += 8
        return _inner_ethernet(data, start + header, extend(chain, "erspan"), outer)
    if ethertype == _ETH_WCCP:  # WCCPv2's 4-byte redirect header, unless IPv4 follows at once
        if start < len(data) and data[start] >> 4 != 4:
            start += 4
        return _ipv4(data, start, chain, outer)
    if ethertype == _ETH_CISCO_METADATA:  # in GRE: the ethertype, version, length, options, SGT
        chain = extend(chain, "cmd")
        if start + 8 > len(data):
            return _only(chain)
        (inner,) = U16(data, start)
        return _carried(data, start + 8, inner, chain, outer)
    return _only(extend(chain, "data"))


_ETH_WCCP: Final = 0x883E
_ETH_CISCO_METADATA: Final = 0x8909


def _inside(layers: Raw, outer: tuple[Outer, ...]) -> Raw:
    """A tunnel's inside; when it holds no readable IP, the tunnel's own header stands in.

    The frame then keeps the last IP header's addresses (and its UDP ports when the
    tunnel rides on UDP) with protocol -2: its layers are all named in the chain.
    """
    if layers[1]:
        return layers
    last = outer[-1]
    family = 4 if len(last.pair) == 8 else 6
    fields = (layers[0], family, last.pair, -2, last.sport, last.dport, 0, 0, 0, 0, 0, 0)
    return (*fields, None, outer[:-1], last.net, -1)


def _fragment(data: bytes, ip: _Ip, span: _Span, where: tuple[int, int, bool, int, int]) -> Raw:
    """An IP fragment: the first one's transport header is read, the others carry data.

    The first fragment's transport header is read as if the datagram went on (its
    lengths describe the whole datagram); :func:`reassembled` reads it again once
    every fragment has arrived.
    """
    start, end, wire = span
    if where[1] == 0:
        whole = _transport(data, ip, start, end, start + 0xFFFF)
        return (*whole[:12], where, *whole[13:])
    chain, family, pair, protocol, outer, net = ip
    fields = (chain, family, pair, protocol, -1, -1, 0, 0, 0, start, end, wire - start)
    return (*fields, where, outer, net, -1)


# -- transport layer -------------------------------------------------------------------

_UDP_TUNNELS: Final[dict[int, str]] = {
    4789: "vxlan",
    4790: "vxlan-gpe",
    6081: "geneve",
    6635: "mpls",
    4754: "gre",
}
UDP_TUNNEL_PORTS: Final = frozenset(_UDP_TUNNELS)
"""Destination ports whose UDP payload the walk reads as a tunnelled frame."""
"""UDP ports whose payload tshark decodes as a tunnel by default."""


def _transport(data: bytes, ip: _Ip, start: int, end: int, wire: int) -> Raw:
    """TCP or UDP header fields, or only where the payload of another protocol lies."""
    chain, family, pair, protocol, outer, net = ip
    if protocol == 6:
        if end - start >= 20:
            sport, dport, seq, ack, data_offset, flags, _window = TCP(data, start)
            payload = start + ((data_offset >> 4) << 2)
            if payload >= start + 20 and payload <= wire:
                stop = end if end > payload else payload
                seglen = wire - payload
                return (chain, family, pair, 6, sport, dport, flags, seq, ack, payload, stop,
                        seglen, None, outer, net, start)  # fmt: skip
    elif protocol == 17:
        if end - start >= 8:
            sport, dport, length = UDP(data, start)
            payload = start + 8
            if 8 <= length <= wire - start:
                stop = start + length
                end = end if end < stop else stop
                if dport in _UDP_TUNNELS and len(outer) < MAX_TUNNEL_DEPTH:
                    tunnel = _udp_tunnel(data[:end], ip, (sport, dport), payload)
                    if tunnel is not None:
                        return tunnel
                seglen = length - 8
            elif length < 8 and family == 4:  # tshark: a bad length, the ports but no more
                seglen = -1  # (its UDP dissector stops before its taps: no conversation)
            else:  # a length of 0 (IPv6 jumbograms, offloaded captures) or past the IP
                # payload: tshark keeps the ports and reads up to the end of the IP payload
                seglen = wire - payload if wire > payload else 0
            return (chain, family, pair, 17, sport, dport, 0, 0, 0, payload, end, seglen,
                    None, outer, net, start)  # fmt: skip
    elif end >= start:
        return (chain, family, pair, protocol, -1, -1, 0, 0, 0, start, end, wire - start,
                None, outer, net, start)  # fmt: skip
    l4 = start if start <= end else -1
    return (chain, family, pair, protocol, -1, -1, 0, 0, 0, end, end, 0, None, outer, net, l4)


def _udp_tunnel(data: bytes, ip: _Ip, ports: tuple[int, int], start: int) -> Raw | None:
    """VXLAN, GENEVE, MPLS or GRE inside UDP; None when the header does not fit."""
    chain, _family, pair, _protocol, outer, _net = ip
    sport, dport = ports
    name = _UDP_TUNNELS[dport]
    outer = (*outer, Outer(pair, sport, dport, ip[5]))
    chain = extend(chain, "udp")
    end = len(data)
    if name == "vxlan":
        if start + 8 > end:
            return None
        inner = _inner_ethernet(data, start + 8, extend(chain, "vxlan"), outer)
    elif name == "geneve":
        if start + 8 > end:
            return None
        options = (data[start] & 0x3F) << 2
        (ethertype,) = U16(data, start + 2)
        inner = _carried(data, start + 8 + options, ethertype, extend(chain, "geneve"), outer)
    elif name == "vxlan-gpe":  # flags, reserved, the next protocol, VNI
        if start + 8 > end:
            return None
        following = data[start + 3]
        chain = extend(chain, "vxlan")  # (tshark's hierarchy says vxlan; frame.protocols omits it)
        if following == 4:
            inner = _nsh(data, start + 8, extend(chain, "nsh"), outer)
        elif following == 3:
            inner = _inner_ethernet(data, start + 8, chain, outer)
        elif following in (1, 2):
            ethertype = ETH_IPV4 if following == 1 else ETH_IPV6
            inner = _carried(data, start + 8, ethertype, chain, outer)
        else:
            return None
    elif name == "mpls":
        inner = _mpls(data, start, chain, outer)
    else:
        inner = _gre(data, extend(chain, "gre"), start, outer)
    return _inside(inner, outer)


_ROUTED_FIRST: Final = frozenset({0, 43, 60})
"""Next headers that may lead to a routing header (hop-by-hop, routing, destination)."""


def routed_pair(data: bytes, net: int) -> bytes | None:
    """The source and final destination of the IPv6 packet at ``net`` when a routing
    header with segments left names it (type 0: its last address; 2: the home address;
    4, segment routing: segment 0), else None. tshark's transport conversations are
    keyed by it (its routing header dissector sets the destination to it)."""
    if net < 0 or net + 40 > len(data) or data[net + 6] not in _ROUTED_FIRST:
        return None
    protocol = data[net + 6]
    start = net + 40
    for _ in range(8):
        if start + 8 > len(data):
            return None
        if protocol == 43:
            kind, left = data[start + 2], data[start + 3]
            if not left:
                return None
            if kind == 0:
                count = data[start + 1] >> 1
                if not count:
                    return None
                where = start + 8 + (count - 1) * 16
            elif kind in (2, 4):
                where = start + 8
            else:
                return None
            if where + 16 > len(data):
                return None
            return data[net + 8 : net + 24] + data[where : where + 16]
        if protocol not in _ROUTED_FIRST:
            return None
        protocol = data[start]
        start += (data[start + 1] + 1) << 3
    return None


def reassembled(fields: Layers, frame: bytes, total: int) -> Layers:
    """The fields of a datagram put together from its fragments.

    ``frame`` is the first fragment's frame up to its IP payload, followed by the
    payload of every fragment (as captured); ``total`` is the payload's length on the
    wire; ``fields`` are the first fragment's.
    """
    start = fields.fragment[3] if fields.fragment else 0
    wire = start + total
    end = len(frame) if len(frame) < wire else wire
    ip = (fields.chain, fields.family, fields.pair, fields.proto, fields.outer, fields.net)
    return _new(Layers, _transport(frame, ip, start, end, wire))
