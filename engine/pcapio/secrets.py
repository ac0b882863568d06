"""The pcapng Decryption Secrets Block: TLS keys inside a capture file.

A DSB (block type 0x0000000A) carrying secrets of type ``TLSK`` (0x544C534B,
an NSS key log) makes Wireshark and tshark decrypt the TLS in the file with no
key log of their own, as ``editcap --inject-secrets tls,KEYS`` writes it. It
must come before the packets it decrypts. Whoever gets such a file reads the
traffic, so livetap writes one only when asked (``--embed-secrets``).
"""

from __future__ import annotations

import struct

BLOCK_DSB = 0x0000000A
SECRETS_TLS = 0x544C534B
"""'TLSK': the secrets are an NSS key log (SSLKEYLOGFILE format)."""


def dsb_block(secrets: bytes) -> bytes:
    """A little-endian Decryption Secrets Block holding ``secrets`` (TLS key log lines)."""
    padded = secrets + b"\x00" * (-len(secrets) % 4)
    total = 12 + 8 + len(padded)
    return (
        struct.pack("<IIII", BLOCK_DSB, total, SECRETS_TLS, len(secrets))
        + padded
        + struct.pack("<I", total)
    )
