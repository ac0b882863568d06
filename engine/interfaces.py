"""The machine's network interfaces, listed like ``tcpdump -D``, and the default one."""

from __future__ import annotations

import array
import fcntl
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from engine import linktypes
from engine.live import ARPHRD_ETHERNET_LIKE, ARPHRD_RAW_IP, interface_hardware_type

IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_RUNNING = 0x40

SIOCGIFFLAGS = 0x8913
SIOCETHTOOL = 0x8946
ETHTOOL_GLINK = 0x0000000A
ARPHRD_LOOPBACK = 772
IFREQ_SIZE = 40  # struct ifreq on Linux: a 16-byte name and a 24-byte union

ANY = "any"
ANY_DESCRIPTION = "Pseudo-device that captures on all interfaces"


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
    connected: bool | None = None
    """The link's carrier as the driver reports it; None where that does not apply."""
    description: str = ""

    def flags(self) -> list[str]:
        """The flags as words, as tcpdump -D prints them, e.g. ["Up", "Running", "Connected"]."""
        words = [("Up", self.up), ("Running", self.running), ("Loopback", self.loopback)]
        result = [word for word, on in words if on]
        if self.connected is not None:
            result.append("Connected" if self.connected else "Disconnected")
        return result


def _ioctl_flags(name: str) -> int | None:
    """The flags SIOCGIFFLAGS returns, as libpcap reads them (None if it fails).

    Only the ioctl has IFF_RUNNING: the kernel computes it from the operational state,
    and /sys/class/net/NAME/flags leaves it out.
    """
    request = struct.pack(f"16s{IFREQ_SIZE - 16}x", name.encode()[:15])
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            reply = fcntl.ioctl(sock, SIOCGIFFLAGS, request)
    except OSError:
        return None
    flags: int = struct.unpack_from("H", reply, 16)[0]
    return flags


def _sysfs_flags(name: str) -> int:
    """The IFF_* flags from sysfs, IFF_RUNNING worked out as the kernel does (0 if unreadable)."""
    base = Path(f"/sys/class/net/{name}")
    try:
        flags = int((base / "flags").read_text().strip(), 16)
    except (OSError, ValueError):
        return 0
    try:
        operstate = (base / "operstate").read_text().strip()
    except OSError:
        operstate = ""
    if flags & IFF_UP and operstate in ("up", "unknown"):
        flags |= IFF_RUNNING
    return flags


def _flags(name: str) -> int:
    """The interface's IFF_* flags: the ioctl's, or sysfs's if the ioctl fails."""
    flags = _ioctl_flags(name)
    return _sysfs_flags(name) if flags is None else flags


def _connected(name: str, flags: int) -> bool | None:
    """Whether the link is connected, asked with ETHTOOL_GLINK as libpcap asks.

    None for a loopback and for a driver that cannot tell (libpcap's "not applicable").
    """
    if flags & IFF_LOOPBACK or interface_hardware_type(name) == ARPHRD_LOOPBACK:
        return None
    value = array.array("I", [ETHTOOL_GLINK, 0])
    address, _ = value.buffer_info()
    request = bytearray(struct.pack(f"16sP{IFREQ_SIZE - 24}x", name.encode()[:15], address))
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            fcntl.ioctl(sock, SIOCETHTOOL, request, True)
    except OSError:  # EOPNOTSUPP/EINVAL: the driver cannot tell; ENODEV: gone meanwhile
        return None
    return bool(value[1])


def _linktype(name: str) -> int:
    """The link type livetap captures this interface with."""
    hatype = interface_hardware_type(name)
    if hatype in ARPHRD_ETHERNET_LIKE:
        return linktypes.ETHERNET
    return linktypes.RAW if hatype in ARPHRD_RAW_IP else linktypes.LINUX_SLL


def list_interfaces() -> list[Interface]:
    """Every interface with its addresses and flags, by index, after "any" (index 0).

    "any" is listed as tcpdump -D lists it, since ``-i any`` captures on every interface.
    """
    import psutil

    addresses = psutil.net_if_addrs()
    result = [
        Interface(
            index=0,
            name=ANY,
            addresses=(),
            up=True,
            running=True,
            loopback=False,
            linktype=linktypes.LINUX_SLL,
            description=ANY_DESCRIPTION,
        )
    ]
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
                connected=_connected(name, flags),
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
        if interface.name != ANY and interface.up and interface.running and not interface.loopback:
            return interface.name
    return "lo"
