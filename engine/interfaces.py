"""The machine's network interfaces, listed like ``tcpdump -D``, and the default one."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from engine import linktypes
from engine.live import ARPHRD_ETHERNET_LIKE, ARPHRD_RAW_IP, interface_hardware_type

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40


@dataclass(frozen=True, slots=True)
class Interface:
    """One interface: what ``livetap interfaces`` prints for it."""

    index: int
    name: str
    addresses: tuple[str, ...]
    up: bool
    running: bool
    loopback: bool
    linktype: int

    def flags(self) -> list[str]:
        """The flags as words, e.g. ["Up", "Running", "Loopback"]."""
        words = [("Up", self.up), ("Running", self.running), ("Loopback", self.loopback)]
        return [word for word, on in words if on]


def _flags(name: str) -> int:
    """The IFF_* flags from sysfs (0 if unreadable)."""
    try:
        return int(Path(f"/sys/class/net/{name}/flags").read_text().strip(), 16)
    except (OSError, ValueError):
        return 0


def _linktype(name: str) -> int:
    """The link type livetap captures this interface with."""
    hatype = interface_hardware_type(name)
    if hatype in ARPHRD_ETHERNET_LIKE:
        return linktypes.ETHERNET
    return linktypes.RAW if hatype in ARPHRD_RAW_IP else linktypes.LINUX_SLL


def list_interfaces() -> list[Interface]:
    """Every interface with its addresses and flags, by index."""
    import psutil

    addresses = psutil.net_if_addrs()
    result = []
    for index, name in sorted(socket.if_nameindex()):
        flags = _flags(name)
        addrs = tuple(
            a.address.split("%")[0]
            for a in addresses.get(name, [])
            if a.family in (socket.AF_INET, socket.AF_INET6)
        )
        result.append(
            Interface(
                index=index,
                name=name,
                addresses=addrs,
                up=bool(flags & IFF_UP),
                running=bool(flags & IFF_RUNNING),
                loopback=bool(flags & IFF_LOOPBACK),
                linktype=_linktype(name),
            )
        )
    return result


def default_route_interface(route_table: Path = Path("/proc/net/route")) -> str | None:
    """The interface of the IPv4 default route, if there is one."""
    try:
        lines = route_table.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 2 and fields[1] == "00000000":
            return fields[0]
    return None


def default_interface() -> str:
    """What ``livetap`` captures on when no interface is named: as tcpdump would pick."""
    route = default_route_interface()
    if route:
        return route
    for interface in list_interfaces():
        if interface.up and interface.running and not interface.loopback:
            return interface.name
    return "lo"
