"""Addresses as the reports write them, and the passive names the capture's DNS gave them.

Addresses travel through the analysis as the raw 4 or 16 bytes of the IP header (cheap
to slice, hash and compare); they become text only when a report is built.
"""

from __future__ import annotations

import ipaddress
from socket import AF_INET6, inet_ntoa, inet_ntop
from typing import Final

from mypy_extensions import mypyc_attr

_TEXT: Final[dict[bytes, str]] = {}
_TEXT_CACHE_SIZE: Final = 65536


def format_address(raw: bytes) -> str:
    """Four bytes dotted, sixteen compressed as Wireshark writes them, anything else as hex."""
    text = _TEXT.get(raw)
    if text is None:
        if len(raw) == 4:
            text = inet_ntoa(raw)
        elif len(raw) == 16:
            text = inet_ntop(AF_INET6, raw)
        else:
            text = raw.hex(":")
        if len(_TEXT) >= _TEXT_CACHE_SIZE:
            _TEXT.clear()
        _TEXT[raw] = text
    return text


def format_endpoint(raw: bytes, port: int | None) -> str:
    """``address:port`` (``[v6]:port`` for IPv6, as tshark's follow output writes it)."""
    text = format_address(raw)
    if port is None:
        return text
    return f"[{text}]:{port}" if len(raw) == 16 else f"{text}:{port}"


def parse_address(text: str) -> bytes | None:
    """The raw bytes of an IPv4 or IPv6 address written as text, or None if it is not one."""
    try:
        return _PARSED[text]
    except KeyError:
        pass
    try:
        raw: bytes | None = ipaddress.ip_address(text.strip().strip("[]")).packed
    except ValueError:
        raw = None
    if len(_PARSED) >= _TEXT_CACHE_SIZE:
        _PARSED.clear()
    _PARSED[text] = raw
    return raw


_PARSED: Final[dict[str, bytes | None]] = {}
"""Addresses as text -> their bytes (a report names the same few addresses on many rows)."""


@mypyc_attr(allow_interpreted_subclasses=True)  # engine.analysis.shards keeps frame numbers
class PassiveNames:
    """Names for addresses, learnt only from DNS answers in the traffic itself (no lookups)."""

    def __init__(self, limit: int = 200_000) -> None:
        self._names: dict[bytes, str] = {}
        self._limit = limit

    def learn(self, address: bytes, name: str) -> None:
        """Remember the first name an answer gave an address (stable across the report)."""
        if address not in self._names and len(self._names) < self._limit:
            self._names[address] = name

    def name(self, address: bytes) -> str | None:
        """The name the capture's DNS gave this address, if any."""
        return self._names.get(address)

    def name_of_text(self, text: str) -> str | None:
        """The name of an address written as text."""
        raw = parse_address(text)
        return None if raw is None else self._names.get(raw)

    def copy(self) -> PassiveNames:
        """An independent copy (snapshots must not share a dict the capture thread writes)."""
        other = PassiveNames(self._limit)
        other._names = dict(self._names)
        return other

    def items(self) -> list[tuple[str, str]]:
        """(address, name) pairs as text, in the order they were learnt."""
        return [(format_address(raw), name) for raw, name in self._names.items()]

    def __len__(self) -> int:
        return len(self._names)
