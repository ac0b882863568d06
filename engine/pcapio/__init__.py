"""Reading and writing pcap and pcapng, struct by struct, from files and pipes.

:mod:`.formats` holds the layouts and the record type, :mod:`.read` the reader,
:mod:`.write` the writers.

scapy's PcapReader builds a packet object per record (a few thousand records a
second here); this reader slices records out of a large buffer (several
hundred thousand a second) and works on a non-seekable pipe, such as
``tcpdump -U -w -`` over ssh. It never trusts a declared length: a record or
block longer than the bounds below ends the reading with a warning, and no
allocation ever follows a length read from the input.
"""

from engine.pcapio.formats import DEFAULT_SNAPLEN, MAX_RECORD, PcapRecord, nul_name_error
from engine.pcapio.read import PcapReader, _open_error, open_pcap
from engine.pcapio.write import PcapWriter, idb_block, write_pcap_file

__all__ = [
    "DEFAULT_SNAPLEN",
    "MAX_RECORD",
    "PcapReader",
    "PcapRecord",
    "PcapWriter",
    "_open_error",
    "idb_block",
    "nul_name_error",
    "open_pcap",
    "write_pcap_file",
]
