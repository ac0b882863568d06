"""One frame as every reader sees it: the walked layers, and the rest read on demand.

:class:`Packet` wraps a frame's bytes. The first question walks the headers once
(:func:`engine.packet.walk.walk`); a field beyond the walk (a TTL, a window, an ICMP
type, the DNS question, the HTTP start line, the TLS server name) is read from the
bytes at the offsets the walk found, only when someone asks, so a list that shows
five columns pays for five columns.

Wireshark's rules where they differ from a naive reading:

- Transport fields (``tcp``, ``udp``, ports, flags, payload) belong to a frame that is
  not an IP fragment. tshark gives them to the frame that completes a datagram; a
  frame-by-frame reader cannot, so no fragment has them (the analysis, which
  reassembles, counts the datagram where tshark does, and the file filter asks it:
  :class:`engine.filter_file.FramePaths`).
- Addresses are every IP layer's: a tunnelled frame has the outer and the inner
  ``ip.src``, as Wireshark's multi-occurrence fields do; header fields such as
  ``ip.ttl`` are the innermost header's.
- An ICMP error quoting an IP header and its TCP/UDP header has their fields as
  further occurrences (``ip.src``, ``udp.port``, ``udp`` itself), as Wireshark
  dissects them; the frame's transport (its ports, payload, the flow key) stays ICMP,
  and the statistics do not count the quoted header (Wireshark's taps skip it).
"""

from __future__ import annotations

from engine import linktypes
from engine.packet.app import (
    DNS_KINDS,
    DNS_SEEN,
    HTTP_FIRST_BYTES,
    HTTP_STARTS,
    Malformed,
    client_hello_sni,
    dns_heuristic,
    dns_name,
    http_line,
    skip_dns_name,
)
from engine.packet.ports import udp_label
from engine.packet.structs import DNS, DNS_ANSWER, TLS_RECORD, TWO_U16, U16, U32, VLAN_TAGS
from engine.packet.walk import Layers, walk

VLAN_TPIDS = frozenset({0x8100, 0x9100})
"""Wireshark's ``vlan``: 802.1Q and the older QinQ TPID (0x88A8 is ``ieee8021ad``)."""
SERVICE_TPIDS = frozenset({0x88A8})
"""802.1ad service tags: ``ieee8021ad`` in Wireshark, not ``vlan``."""
_TYPE_FIELDS = {"eth": 12, "sll": 14}
_ARP_HARDWARE_ATM = 19
"""Where the type field of the link layers that have one is (Ethernet, Linux cooked v1)."""
_DNS_ANSWERS_READ = 64
_PLAIN_HANDSHAKES = frozenset({0, 1, 2, 4, 8, 11, 12, 13, 14, 15, 16, 20})
"""Handshake types a readable (not encrypted) record starts with."""
_DHCP_COOKIE = b"\x63\x82\x53\x63"
_ICMP_ERRORS = frozenset({3, 4, 5, 11, 12})
"""ICMP types that quote the datagram they answer (unreachable, quench, redirect, ...)."""
_ICMPV6_ERRORS = frozenset({1, 2, 3, 4})
MAX_HTTP_HEADERS = 16384
"""How much of a payload is searched for HTTP header lines."""


class Packet:
    """A frame of a given link type, its fields read lazily and kept."""

    __slots__ = ("_http", "_layers", "data", "linktype")

    def __init__(self, linktype: int, data: bytes) -> None:
        self.linktype = linktype
        self.data = data
        self._layers: Layers | None = None
        self._http: dict[str, str] | None = None

    @property
    def layers(self) -> Layers:
        """The walk of the frame's headers (done on first use)."""
        if self._layers is None:
            self._layers = walk(self.linktype, self.data)
        return self._layers

    def has(self, name: str) -> bool:
        """Whether a layer of this name is in the frame (``ip``, ``vlan``, ``gre``, ...)."""
        return name in self.layers.chain

    # -- link ----------------------------------------------------------------------------

    def ethernet(self) -> tuple[bytes, bytes] | None:
        """The outermost Ethernet header's source and destination addresses."""
        data = self.data
        if self.layers.chain[:1] != ("eth",) or len(data) < 14:
            return None
        return data[6:12], data[0:6]

    def _link_types(self) -> tuple[int, int, list[int]]:
        """Where the outermost link's type field is after its VLAN tags, where its payload
        starts, and where each tag's TPID is; (-1, -1, []) without such a link."""
        chain = self.layers.chain
        first = chain[0] if chain else ""
        if first == "sll" and self.linktype == linktypes.LINUX_SLL2:
            return 0, 20, []
        position = _TYPE_FIELDS.get(first, -1)
        if position < 0:
            return -1, -1, []
        data = self.data
        tags: list[int] = []
        for _ in range(8):
            if position + 2 > len(data):
                return -1, -1, tags
            (ethertype,) = U16(data, position)
            if ethertype not in VLAN_TAGS:
                return position, position + 2, tags
            tags.append(position)
            position += 4
        return -1, -1, tags

    def link_fields(self) -> tuple[int, int, list[int]]:
        """Where the outermost link's type field, its payload and each VLAN tag's TPID lie
        ((-1, -1, []) without such a link): the byte spans of the detail's link fields."""
        return self._link_types()

    def eth_type(self) -> int | None:
        """Wireshark's ``eth.type``: the outermost Ethernet header's own type field (0x8100
        on a tagged frame; :meth:`ether_type` is what follows the tags)."""
        if self.layers.chain[:1] != ("eth",) or len(self.data) < 14:
            return None
        ethertype: int = U16(self.data, 12)[0]
        return ethertype

    def vlan_etypes(self) -> tuple[int, ...]:
        """Wireshark's ``vlan.etype``: the type after each 802.1Q tag (0x8100, 0x9100), outermost
        first; an 802.1ad service tag has none (its next type is the inner tag's TPID)."""
        _position, _payload, tags = self._link_types()
        data = self.data
        return tuple(
            U16(data, tag + 4)[0]
            for tag in tags
            if tag + 6 <= len(data) and U16(data, tag)[0] in VLAN_TPIDS
        )

    def ether_type(self) -> int | None:
        """The outermost Ethernet's type field after its VLAN tags."""
        if self.layers.chain[:1] != ("eth",):
            return None
        position, _payload, _tags = self._link_types()
        return U16(self.data, position)[0] if position >= 0 else None

    def vlan_ids(self, tpids: frozenset[int] = VLAN_TPIDS) -> tuple[int, ...]:
        """The identifiers of the outermost tag stack's tags with these TPIDs, outermost first.

        Wireshark's ``vlan`` is 802.1Q (0x8100, and the older QinQ 0x9100); an 802.1ad
        service tag (0x88A8) is ``ieee8021ad``.
        """
        _position, _payload, tags = self._link_types()
        data = self.data
        return tuple(
            U16(data, tag + 2)[0] & 0x0FFF
            for tag in tags
            if tag + 4 <= len(data) and U16(data, tag)[0] in tpids
        )

    def arp_dissected(self) -> bool:
        """Whether the frame is ARP on its link as far as tshark's ``arp`` goes: its ATMARP
        dissector (hardware type 19) stops before adding ``arp`` unless the whole packet
        its six length fields announce was captured (found on tcpdump's arp-oobr.pcap)."""
        if not self.has("arp"):
            return False
        _position, start, _tags = self._link_types()
        data = self.data
        if start < 0 or start + 2 > len(data) or U16(data, start)[0] != _ARP_HARDWARE_ATM:
            return True
        if start + 12 > len(data):
            return False
        addresses = (data[start + 4] & 63) + (data[start + 5] & 63) + data[start + 8]
        addresses += (data[start + 9] & 63) + (data[start + 10] & 63) + data[start + 11]
        return start + 12 + addresses <= len(data)

    def arp_opcode(self) -> int | None:
        """The ARP operation (1 request, 2 reply) of a frame that is ARP on its link."""
        if not self.arp_dissected():
            return None
        _position, start, _tags = self._link_types()
        if start < 0 or start + 8 > len(self.data):
            return None
        opcode: int = U16(self.data, start + 6)[0]
        return opcode

    # -- network -------------------------------------------------------------------------

    def quoted(self) -> tuple[int, int, bytes, int, int] | None:
        """The IP header an ICMP or ICMPv6 error quotes: (family, where it starts, source
        and destination, protocol, where its transport header starts), if captured.

        Wireshark dissects it as the frame's inner ``ip``/``ipv6`` and ``tcp``/``udp``
        (their fields are further occurrences; its taps, so the statistics, skip it).
        """
        layers = self.layers
        proto = layers.proto
        start = layers.l4
        data = self.data
        if layers.fragment is not None or start < 0 or start + 8 > len(data):
            return None
        kind = data[start]
        if not ((proto == 1 and kind in _ICMP_ERRORS) or (proto == 58 and kind in _ICMPV6_ERRORS)):
            return None
        net = start + 8
        if proto == 1:
            if net + 20 > len(data) or data[net] >> 4 != 4 or data[net] & 15 < 5:
                return None
            return 4, net, data[net + 12 : net + 20], data[net + 9], net + (data[net] & 15) * 4
        if net + 40 > len(data) or data[net] >> 4 != 6:
            return None
        return 6, net, data[net + 8 : net + 40], data[net + 6], net + 40

    def addresses(self, family: int, which: str) -> tuple[int, ...]:
        """Every IP layer's source, destination or both (``which``) as integers (an ICMP
        error's quoted header last)."""
        layers = self.layers
        size = 4 if family == 4 else 16
        pairs = [outer.pair for outer in layers.outer]
        if layers.family:
            pairs.append(layers.pair)
        elif family == 4 and layers.chain[-1:] == ("ip",) and layers.net >= 0:
            return self._cut_ipv4_addresses(layers.net, which)
        quoted = self.quoted()
        if quoted is not None:
            pairs.append(quoted[2])
        values: list[int] = []
        for pair in pairs:
            if len(pair) != 2 * size:
                continue
            if which != "dst":
                values.append(int.from_bytes(pair[:size], "big"))
            if which != "src":
                values.append(int.from_bytes(pair[size:], "big"))
        return tuple(values)

    def _cut_ipv4_addresses(self, start: int, which: str) -> tuple[int, ...]:
        """The addresses of an IPv4 header cut short, as far as they were captured: tshark
        reads the header field by field until the bytes end (tcpdump's
        ipv4_invalid_length.pcap, ip_printroute_asan.pcap), after a version of 4, a header
        length of 20 or more and a total length not below it."""
        data = self.data
        if start + 4 > len(data) or data[start] >> 4 != 4 or data[start] & 15 < 5:
            return ()
        (total,) = U16(data, start + 2)
        if 0 < total < (data[start] & 15) * 4:
            return ()
        values: list[int] = []
        if which != "dst" and start + 16 <= len(data):
            values.append(int.from_bytes(data[start + 12 : start + 16], "big"))
        header = (data[start] & 15) * 4
        # with options, tshark looks through them for a source route's final destination
        # first: it gets there when they were captured or end at once (EOL)
        options_read = (
            header == 20 or start + header <= len(data) or data[start + 20 :][:1] == b"\0"
        )
        if which != "src" and start + 20 <= len(data) and options_read:
            values.append(int.from_bytes(data[start + 16 : start + 20], "big"))
        return tuple(values)

    def ip_headers(self, family: int) -> tuple[int, ...]:
        """Where every IP header of this family starts, outermost first (an ICMP error's
        quoted header last)."""
        layers = self.layers
        size = 8 if family == 4 else 32
        found = [outer.net for outer in layers.outer if len(outer.pair) == size]
        if layers.family == family and layers.net >= 0:
            found.append(layers.net)
        quoted = self.quoted()
        if quoted is not None and quoted[0] == family:
            found.append(quoted[1])
        return tuple(found)

    def ipv4_bytes(self, offset: int) -> tuple[int, ...]:
        """One byte of each IPv4 header (8: TTL, 9: protocol)."""
        data = self.data
        return tuple(data[start + offset] for start in self.ip_headers(4))

    def ipv4_words(self, offset: int) -> tuple[int, ...]:
        """A 16-bit field of each IPv4 header (2: total length, 4: identification)."""
        data = self.data
        return tuple(U16(data, start + offset)[0] for start in self.ip_headers(4))

    def ipv6_fields(self, offset: int) -> tuple[int, ...]:
        """The payload length (4, 16 bits), next header (6) or hop limit (7) of each IPv6."""
        data = self.data
        if offset == 4:
            return tuple(U16(data, start + 4)[0] for start in self.ip_headers(6))
        return tuple(data[start + offset] for start in self.ip_headers(6))

    # -- transport -----------------------------------------------------------------------

    def transport(self) -> int:
        """The IP protocol number of a frame's transport header, -1 for none or a fragment."""
        layers = self.layers
        if layers.family == 0 or layers.fragment is not None or layers.proto < 0:
            return -1
        return layers.proto

    def carries(self, protocol: int) -> bool:
        """Whether any layer is this transport (a VXLAN frame is UDP as well as inner TCP;
        an ICMP error quoting a UDP header is ICMP and UDP, as in Wireshark)."""
        if self.transport() == protocol:
            return True
        if protocol == 17 and self._tunnel_ports():
            return True
        quoted = self.quoted()
        return quoted is not None and quoted[3] == protocol

    def _tunnel_ports(self) -> list[tuple[int, int]]:
        """The UDP ports of the tunnel headers (VXLAN & co), outermost first."""
        layers = self.layers
        found = [(o.sport, o.dport) for o in layers.outer if o.sport >= 0]
        if layers.proto == -2 and layers.sport >= 0:  # a UDP tunnel with no IP inside
            found.append((layers.sport, layers.dport))
        return found

    def all_ports(self, protocol: int) -> tuple[tuple[int, int], ...]:
        """(source, destination) of every header of this transport, outermost first."""
        found = self._tunnel_ports() if protocol == 17 else []
        ports = self.ports()
        if ports is not None and self.transport() == protocol:
            found.append(ports)
        quoted = self.quoted()
        if quoted is not None and quoted[3] == protocol and quoted[4] + 4 <= len(self.data):
            source, destination = TWO_U16(self.data, quoted[4])
            found.append((source, destination))
        return tuple(found)

    def ports(self) -> tuple[int, int] | None:
        """The innermost TCP or UDP header's source and destination ports."""
        layers = self.layers
        if self.transport() in (6, 17) and layers.sport >= 0:
            return layers.sport, layers.dport
        return None

    def tcp_header(self) -> int:
        """Where a readable TCP header starts; -1 otherwise."""
        layers = self.layers
        if self.transport() == 6 and layers.sport >= 0:
            return layers.l4
        return -1

    def tcp_word(self, offset: int) -> int | None:
        """A 16-bit TCP header field (14: window)."""
        start = self.tcp_header()
        return U16(self.data, start + offset)[0] if start >= 0 else None

    def udp_word(self, offset: int) -> int | None:
        """A 16-bit field of the innermost UDP header (4: length, 6: checksum)."""
        layers = self.layers
        if self.transport() != 17 or layers.sport < 0:
            return None
        word: int = U16(self.data, layers.l4 + offset)[0]
        return word

    def icmp(self) -> tuple[int, int] | None:
        """ICMP or ICMPv6 type and code."""
        layers = self.layers
        start = layers.l4
        if self.transport() not in (1, 58) or start < 0 or start + 2 > len(self.data):
            return None
        return self.data[start], self.data[start + 1]

    def payload(self) -> bytes:
        """The TCP or UDP payload as captured (empty for anything else)."""
        layers = self.layers
        if self.ports() is None:
            return b""
        return self.data[layers.start : layers.end]

    # -- applications --------------------------------------------------------------------

    def on_port(self, ports: frozenset[int]) -> bool:
        """A TCP or UDP payload to or from one of these ports (how tshark picks DNS & co)."""
        found = self.ports()
        if found is None or not self.payload():
            return False
        return found[0] in ports or found[1] in ports

    def dns_kind(self) -> str | None:
        """Which of tshark's DNS dissectors reads the payload: ``dns``, ``mdns``, ``llmnr``.

        Over TCP by port (53, 5353, 5355; DNS first), any payload. Over UDP by the port
        tshark tries first (the lower one) when it is a DNS port and the payload holds the
        4 bytes tshark reads before adding the protocol; on ports tshark registers for
        nothing livetap knows, DNS when the payload passes tshark's heuristic
        (:func:`~engine.packet.app.dns_heuristic`). None otherwise (a fragment included:
        its datagram is DNS where it completes, which the reassembling readers decide).
        """
        found = self.ports()
        if found is None:
            return None
        layers = self.layers
        start, end = layers.start, layers.end
        if start >= end:
            return None
        sport, dport = found
        if self.transport() == 6:
            if sport == 53 or dport == 53:
                return "dns"
            if sport == 5353 or dport == 5353:
                return "mdns"
            return "llmnr" if sport == 5355 or dport == 5355 else None
        label = udp_label(sport, dport)
        if label is None:
            return "dns" if dns_heuristic(self.data, start, end) else None
        return label if label in DNS_KINDS and end - start >= DNS_SEEN else None

    def is_tls(self) -> bool:
        """A TCP payload that starts with a TLS record header."""
        payload = self.payload()
        return (
            self.transport() == 6
            and len(payload) >= 5
            and 20 <= payload[0] <= 23
            and payload[1] == 3
            and payload[2] <= 4
        )

    def dns_question(self) -> tuple[int, int, str, int] | None:
        """(id, response flag, first question name, its type) of a DNS message, or None.

        The id and flags need 4 bytes, as tshark reads them; the name and type are there
        only when the whole question (name, type and class) was captured: tshark adds
        neither from a header or a question cut short ("", -1 then).
        """
        payload = self.payload()
        if self.transport() == 6:
            payload = payload[2:]
        if len(payload) < 12:
            if len(payload) < 4:
                return None
            ident, flags = TWO_U16(payload, 0)
            return ident, flags >> 15, "", -1
        ident, flags, questions, _answers = DNS(payload, 0)
        name, qtype = "", -1
        if questions:
            try:
                name, position = dns_name(payload, 12, 0, len(payload))
            except Malformed:
                return ident, flags >> 15, "", -1
            if position + 4 > len(payload):
                return ident, flags >> 15, "", -1
            qtype = U16(payload, position)[0]
        return ident, flags >> 15, name, qtype

    def http_start_line(self) -> tuple[str, str, str] | None:
        """(method, target, version) of a request or ("", status, version) of a response."""
        layers = self.layers
        data = self.data
        start, end = layers.start, layers.end
        if self.transport() != 6 or start >= end or data[start] not in HTTP_FIRST_BYTES:
            return None
        if not data.startswith(HTTP_STARTS, start):
            return None
        line = http_line(data, start, end)
        if line is None:
            return None
        if line.startswith("HTTP/"):
            version, _, rest = line.partition(" ")
            return "", rest[:3], version
        method, _, rest = line.partition(" ")
        target, _, version = rest.rpartition(" ")
        return method, target, version

    def http_headers(self) -> dict[str, str]:
        """The request's or response's header lines, lower-cased names (first value wins)."""
        if self._http is None:
            self._http = {}
            if self.http_start_line() is not None:
                block = self.payload()[:MAX_HTTP_HEADERS]
                end = block.find(b"\r\n\r\n")
                for line in (block if end < 0 else block[:end]).split(b"\r\n")[1:]:
                    name, colon, value = line.partition(b":")
                    if colon:
                        key = name.strip().lower().decode("latin-1")
                        self._http.setdefault(key, value.strip().decode("latin-1"))
        return self._http

    def tls_server_name(self) -> str | None:
        """The server name a TLS ClientHello at the start of the TCP payload asks for."""
        layers = self.layers
        data = self.data
        start, end = layers.start, layers.end
        if self.transport() != 6 or start + 9 > end:
            return None
        content, major, _minor, length = TLS_RECORD(data, start)
        if content != 22 or major != 3 or data[start + 5] != 1:
            return None
        (word,) = U32(data, start + 5)
        message_end = min(start + 9 + (word & 0xFFFFFF), start + 5 + length, end)
        return client_hello_sni(data, start + 9, message_end)

    def dns_header(self) -> tuple[int, int, int, int] | None:
        """(id, flags, questions, answers) of a DNS message on a DNS port."""
        payload = self._dns_payload()
        if len(payload) < 12:
            return None
        ident, flags, questions, answers = DNS(payload, 0)
        return ident, flags, questions, answers

    def _dns_payload(self) -> bytes:
        payload = self.payload()
        return payload[2:] if self.transport() == 6 else payload

    def dns_answers(self) -> list[tuple[int, int, bytes]]:
        """(type, TTL, rdata) of each answer record, in order (at most 64), as captured."""
        payload = self._dns_payload()
        header = self.dns_header()
        if header is None:
            return []
        _ident, _flags, questions, answers = header
        end = len(payload)
        found: list[tuple[int, int, bytes]] = []
        try:
            position = 12
            for _ in range(min(questions, _DNS_ANSWERS_READ)):
                position = skip_dns_name(payload, position, end) + 4
            for _ in range(min(answers, _DNS_ANSWERS_READ)):
                position = skip_dns_name(payload, position, end)
                if position + 10 > end:
                    break
                kind, _klass, ttl, length = DNS_ANSWER(payload, position)
                rdata = position + 10
                position = rdata + length
                if position > end:
                    break
                found.append((kind, ttl, payload[rdata:position]))
        except Malformed:
            pass
        return found

    def tls_handshakes(self) -> list[tuple[int, int, int]]:
        """(handshake type, where its body starts, where it ends) in the segment's records."""
        layers = self.layers
        data = self.data
        if self.transport() != 6:
            return []
        position, end = layers.start, layers.end
        found: list[tuple[int, int, int]] = []
        for _ in range(16):
            if position + 5 > end:
                break
            content, major, _minor, length = TLS_RECORD(data, position)
            if major != 3 or not 20 <= content <= 23:
                break
            body, record_end = position + 5, min(position + 5 + length, end)
            if content == 22 and body + 4 <= record_end:
                (word,) = U32(data, body)
                kind = word >> 24
                if kind in _PLAIN_HANDSHAKES:
                    found.append((kind, body + 4, min(body + 4 + (word & 0xFFFFFF), record_end)))
            position = position + 5 + length
        return found

    def tls_cipher_suites(self) -> tuple[int, ...]:
        """The suites a ClientHello offers, or the one a ServerHello chose."""
        data = self.data
        for kind, start, end in self.tls_handshakes():
            position = start + 34  # version and random
            if position + 1 > end:
                continue
            position += 1 + data[position]  # session id
            if position + 2 > end:
                continue
            if kind == 2:
                return (U16(data, position)[0],)
            if kind == 1:
                length = U16(data, position)[0]
                stop = min(position + 2 + length, end)
                return tuple(U16(data, p)[0] for p in range(position + 2, stop - 1, 2))
        return ()

    def quic_long_header(self) -> tuple[int, bytes, bytes] | None:
        """(version, destination and source connection ids) of a QUIC long header on 443."""
        ports = self.ports()
        payload = self.payload()
        if self.transport() != 17 or ports is None or 443 not in ports or len(payload) < 7:
            return None
        if not payload[0] & 0x80:
            return None
        (version,) = U32(payload, 1)
        position = 5
        dcid_length = payload[position]
        dcid = payload[position + 1 : position + 1 + dcid_length]
        position += 1 + dcid_length
        if position >= len(payload):
            return None
        scid = payload[position + 1 : position + 1 + payload[position]]
        return version, dcid, scid

    def arp_addresses(self) -> tuple[bytes, int, bytes, int] | None:
        """(sender MAC, sender IPv4, target MAC, target IPv4) of Ethernet/IPv4 ARP."""
        if not self.has("arp"):
            return None
        _position, start, _tags = self._link_types()
        data = self.data
        if (
            start < 0
            or start + 28 > len(data)
            or data[start : start + 6] != b"\x00\x01\x08\x00\x06\x04"
        ):
            return None
        sender = int.from_bytes(data[start + 14 : start + 18], "big")
        target = int.from_bytes(data[start + 24 : start + 28], "big")
        return data[start + 8 : start + 14], sender, data[start + 18 : start + 24], target

    def dhcp(self) -> tuple[int | None, bytes] | None:
        """(message type from option 53, client MAC) of DHCP/BOOTP on ports 67/68."""
        ports = self.ports()
        payload = self.payload()
        if self.transport() != 17 or ports is None or not ({67, 68} & set(ports)):
            return None
        if len(payload) < 240 or payload[236:240] != _DHCP_COOKIE:
            return None
        message: int | None = None
        position = 240
        while position < len(payload):
            option = payload[position]
            if option == 255:
                break
            if option == 0:
                position += 1
                continue
            if position + 2 > len(payload):
                break
            length = payload[position + 1]
            if option == 53 and length >= 1 and position + 2 < len(payload):
                message = payload[position + 2]
            position += 2 + length
        return message, payload[28:34]

    def ntp(self) -> tuple[int, int, int] | None:
        """(version, mode, stratum) of NTP on port 123."""
        ports = self.ports()
        payload = self.payload()
        if self.transport() != 17 or ports is None or 123 not in ports or len(payload) < 48:
            return None
        return (payload[0] >> 3) & 7, payload[0] & 7, payload[1]
