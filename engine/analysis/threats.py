"""Threat check: the capture's addresses, host names and URLs against a local blocklist.

A blocklist is a URLhaus CSV export (``"id","dateadded","url",...``, ``#`` comments) or
a plain list with one entry a line: an IP address, a CIDR network, a domain (which also
matches its subdomains), a URL, or a hosts-file line (``0.0.0.0 evil.example``).
Nothing is looked up on the network. Host names come from the traffic itself: DNS
queries, HTTP Host headers and TLS server names (SNI).
"""

from __future__ import annotations

import csv
import errno
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from engine.analysis.addresses import format_address
from engine.errors import (
    BadInputError,
    LivetapError,
    NotFoundError,
    PermissionDeniedError,
    from_os_error,
)

MAX_BLOCKLIST_BYTES: Final = 512 * 1024 * 1024
MAX_CLIENTS: Final = 5
"""Client addresses kept per host name seen (enough to say who asked)."""
_SINKHOLES: Final = frozenset({"0.0.0.0", "127.0.0.1", "::", "::1"})


def normalise_host(host: str) -> str:
    """Lower case, no trailing dot, no port, no brackets."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host


def normalise_url(url: str) -> str | None:
    """A URL with scheme and host in lower case and no default port, or None if it is none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{host}{path}{query}"


# -- what the capture showed -----------------------------------------------------------


@dataclass(slots=True)
class HostSeen:
    """A host name the traffic mentioned: where, by whom, when first."""

    first: float
    count: int = 0
    sources: set[str] = field(default_factory=set)
    clients: list[bytes] = field(default_factory=list)
    """Raw addresses (formatted when a report is written)."""


@dataclass(slots=True)
class UrlSeen:
    """An HTTP URL requested in the capture."""

    first: float
    client: bytes
    """The raw address of the first client (formatted when a report is written)."""
    count: int = 0


class Sightings:
    """Host names and URLs seen, bounded (they feed the threat check and the reports)."""

    def __init__(self, limit: int) -> None:
        self.hosts: dict[str, HostSeen] = {}
        self.urls: dict[str, UrlSeen] = {}
        self.limit = limit
        self.active = True
        """Whether anything is kept (readers skip the work of a sighting when not)."""

    def host(self, name: str, source: str, client: bytes, time: float) -> None:
        """A host name seen in DNS, HTTP or TLS."""
        name = normalise_host(name)
        if not name:
            return
        seen = self.hosts.get(name)
        if seen is None:
            if len(self.hosts) >= self.limit:
                return
            seen = self.hosts[name] = HostSeen(time)
        seen.count += 1
        seen.sources.add(source)
        if client not in seen.clients and len(seen.clients) < MAX_CLIENTS:
            seen.clients.append(client)

    def url(self, url: str, client: bytes, time: float) -> None:
        """An HTTP URL requested."""
        seen = self.urls.get(url)
        if seen is None:
            if len(self.urls) >= self.limit:
                return
            seen = self.urls[url] = UrlSeen(time, client)
        seen.count += 1


# -- the blocklist ---------------------------------------------------------------------


class Blocklist:
    """Addresses, networks, domains and URLs to look for, from one or more local files."""

    def __init__(self) -> None:
        self.addresses: dict[bytes, str] = {}
        """Raw address -> the entry that listed it."""
        self.networks: dict[int, dict[tuple[int, int], str]] = {}
        """Prefix length -> {(version, network as int): entry}."""
        self.domains: dict[str, str] = {}
        self.url_hosts: dict[str, str] = {}
        """Hosts of listed URLs: a weaker sign than the URL itself."""
        self.urls: dict[str, str] = {}
        self.files: list[str] = []
        self.ignored = 0
        self.ignored_examples: list[str] = []

    @classmethod
    def load(cls, *paths: str | os.PathLike[str]) -> Blocklist:
        """Read blocklist files; a missing, unreadable or meaningless file is a typed error."""
        blocklist = cls()
        for path in paths:
            blocklist.add_file(Path(path))
        return blocklist

    @property
    def size(self) -> int:
        """How many entries were understood."""
        networks = sum(len(group) for group in self.networks.values())
        return len(self.addresses) + networks + len(self.domains) + len(self.urls)

    def add_file(self, path: Path) -> None:
        """Add one file's entries (URLhaus CSV or one entry a line)."""
        try:
            if path.is_dir():
                raise BadInputError(f"the blocklist {path} is a directory, not a file")
            if path.stat().st_size > MAX_BLOCKLIST_BYTES:
                raise BadInputError(f"the blocklist {path} is larger than 512 MiB")
            text = path.read_bytes().decode("utf-8", "replace")
        except LivetapError:
            raise
        except OSError as error:
            raise _open_error(error, path) from None
        before = self.size
        self.files.append(str(path))
        lines = text.splitlines()
        if any(line.startswith('"') and '","' in line for line in lines[:200]):
            self._add_csv(lines)
        else:
            for line in lines:
                self._add_line(line)
        if self.size == before and any(
            line.strip() and not line.lstrip().startswith("#") for line in lines
        ):
            raise BadInputError(
                f"the blocklist {path} holds no address, network, domain or URL livetap can "
                "read: give a URLhaus CSV file or one entry a line"
            )

    def _add_csv(self, lines: list[str]) -> None:
        """URLhaus CSV: every cell that is a URL (the ``url`` column)."""
        rows = csv.reader(line for line in lines if line.strip() and not line.startswith("#"))
        for row in rows:
            urls = [cell for cell in row if "://" in cell]
            if not urls:
                self._ignore(",".join(row))
            for url in urls[:1]:
                self._add_url(url)

    def _add_line(self, line: str) -> None:
        """One entry of a plain list; ``#`` starts a comment."""
        entry = line.split("#", 1)[0].strip()
        if not entry:
            return
        words = entry.split()
        if len(words) == 2 and words[0] in _SINKHOLES:  # hosts-file format
            entry = words[1]
        elif len(words) != 1:
            self._ignore(entry)
            return
        if "://" in entry:
            self._add_url(entry)
            return
        try:
            network = ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            network = None
        if network is not None:
            if network.prefixlen == network.max_prefixlen:
                self.addresses[network.network_address.packed] = entry
            else:
                group = self.networks.setdefault(network.prefixlen, {})
                group[(network.version, int(network.network_address))] = entry
            return
        host = normalise_host(entry.removeprefix("*."))
        if _looks_like_domain(host):
            self.domains[host] = entry
        else:
            self._ignore(entry)

    def _add_url(self, url: str) -> None:
        normal = normalise_url(url)
        if normal is None:
            self._ignore(url)
            return
        self.urls[normal] = url
        host = normalise_host(urlsplit(normal).hostname or "")
        try:
            self.addresses.setdefault(ipaddress.ip_address(host).packed, url)
        except ValueError:
            if host:
                self.url_hosts.setdefault(host, url)

    def _ignore(self, entry: str) -> None:
        self.ignored += 1
        if len(self.ignored_examples) < 3:
            self.ignored_examples.append(entry[:80])

    # -- matching --------------------------------------------------------------------

    def match_address(self, raw: bytes) -> str | None:
        """The entry listing this address or a network holding it."""
        entry = self.addresses.get(raw)
        if entry is not None or not self.networks:
            return entry
        version = 4 if len(raw) == 4 else 6
        value = int.from_bytes(raw, "big")
        bits = len(raw) * 8
        for prefix, group in self.networks.items():
            if prefix > bits:
                continue
            masked = value >> (bits - prefix) << (bits - prefix)
            entry = group.get((version, masked))
            if entry is not None:
                return entry
        return None

    def match_host(self, host: str) -> tuple[str, str] | None:
        """(entry, "domain" or "url host") for a host listed itself or by a parent domain."""
        labels = host.split(".")
        for start in range(len(labels) - 1):
            entry = self.domains.get(".".join(labels[start:]))
            if entry is not None:
                return entry, "domain"
        entry = self.url_hosts.get(host)
        return (entry, "url host") if entry is not None else None

    def match_url(self, url: str) -> str | None:
        """The entry listing exactly this URL."""
        return self.urls.get(url)

    def describe(self) -> dict[str, Any]:
        """What was loaded, for the report."""
        return {
            "files": list(self.files),
            "entries": self.size,
            "addresses": len(self.addresses),
            "networks": sum(len(group) for group in self.networks.values()),
            "domains": len(self.domains),
            "urls": len(self.urls),
            "ignored_lines": self.ignored,
        }


def _looks_like_domain(host: str) -> bool:
    """Letters, digits, hyphens and underscores in dot-separated labels, with one dot at least."""
    if "." not in host or len(host) > 253:
        return False
    return all(
        label and len(label) <= 63 and all(c.isalnum() or c in "-_" for c in label)
        for label in host.split(".")
    )


def _open_error(error: OSError, path: Path) -> LivetapError:
    """The typed error for a blocklist that cannot be read."""
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotFoundError(f"the blocklist {path} does not exist: check its path")
    if error.errno in (errno.EACCES, errno.EPERM):
        return PermissionDeniedError(f"the blocklist {path} cannot be read: permission denied")
    return from_os_error(error, f"read the blocklist {path}")


def find_threats(
    blocklist: Blocklist, endpoints: list[Any], sightings: Sightings
) -> list[dict[str, Any]]:
    """Every address, host name and URL of the capture that the blocklist names.

    ``endpoints`` are :class:`engine.analysis.talkers.Endpoint` rows; an address also
    matches when the capture's own DNS named it with a listed host.
    """
    matches: list[dict[str, Any]] = []
    for endpoint in endpoints:
        entry = blocklist.addresses.get(endpoint.raw)
        reason = "listed address"
        if entry is None:
            entry = blocklist.match_address(endpoint.raw)
            reason = "in a listed network"
        if entry is None and endpoint.name:
            by_name = blocklist.match_host(normalise_host(endpoint.name))
            if by_name is not None:
                entry, reason = by_name[0], f"its DNS name {endpoint.name} is listed"
        if entry is None:
            continue
        matches.append(
            {
                "kind": "address",
                "indicator": endpoint.address,
                "name": endpoint.name,
                "entry": entry,
                "reason": reason,
                "seen_in": ["ip"],
                "packets": endpoint.packets,
                "bytes": endpoint.bytes,
            }
        )
    for host, seen in sightings.hosts.items():
        listed = blocklist.match_host(host)
        if listed is None:
            continue
        host_entry, how = listed
        matches.append(
            {
                "kind": "host",
                "indicator": host,
                "entry": host_entry,
                "reason": "listed domain" if how == "domain" else "host of a listed URL",
                "seen_in": sorted(seen.sources),
                "clients": [format_address(raw) for raw in seen.clients],
                "first_time": seen.first,
                "count": seen.count,
            }
        )
    for url, seen_url in sightings.urls.items():
        url_entry = blocklist.match_url(url)
        if url_entry is None:
            continue
        matches.append(
            {
                "kind": "url",
                "indicator": url,
                "entry": url_entry,
                "reason": "listed URL",
                "seen_in": ["http"],
                "clients": [format_address(seen_url.client)],
                "first_time": seen_url.first,
                "count": seen_url.count,
            }
        )
    return matches
