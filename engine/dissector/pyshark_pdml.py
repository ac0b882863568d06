"""A small capture decoded by Wireshark's dissectors through pyshark, packet by packet as PDML.

For the detail pane: the selected packet (``d``) and the packet re-decoded by an
exported Lua dissector, one packet at a time. pyshark starts tshark
(``-l -n -T pdml``, a Lua script through ``custom_parameters``), reads its
output in an asyncio subprocess and cuts it into ``<packet>`` elements.

What pyshark 0.6 does not do as livetap needs, and how it is met here:

- Its :class:`pyshark.packet.packet.Packet` flattens every layer into a dict of
  fields by name: the nesting Wireshark shows (flags under their byte, a Lua
  dissector's structures), the order of repeated fields and the layer's own label
  are gone, and the detail pane shows exactly those. So the output parser hands
  out each ``<packet>`` element as tshark wrote it, and livetap builds its
  :class:`engine.dissect.FieldNode` trees from it as before.
- It keeps only the last line of tshark's stderr (decoded as strict UTF-8): Lua
  load errors span several lines, so every byte is kept.
- It reads tshark's exit status only if the process has already been reaped
  when the output ends, and kills it otherwise: here it is waited for.
- It runs the program named ``tshark`` in the folder of ``tshark_path`` (or the
  one of a ``config.ini`` in the working directory): here the path livetap found
  (``--tshark``, PATH) is run as is.
- It cannot start tshark through a wrapper. A tshark that runs Lua only as user
  nobody (through ``setpriv``, see :mod:`engine.dissector.tshark`) is therefore
  run directly by :func:`run_pdml`, with the same arguments, and its output cut
  into the same packets.

pyshark drives tshark from an asyncio event loop. It always runs here in a
thread of its own, with a fresh loop that is closed afterwards: it never meets
Textual's loop (or a caller's), whatever thread calls, and pyshark never installs
its main-thread child watcher (the loop is given to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.dissector.tshark import Tshark
from engine.errors import UnavailableError, from_os_error

MAX_STDERR = 1 << 20
"""Bytes of tshark's stderr kept (a broken script can print a lot for every frame)."""
_PACKET = re.compile(rb"<packet>.*?</packet>", re.DOTALL)


@dataclass(frozen=True, slots=True)
class PdmlRun:
    """What tshark made of a capture: each packet's PDML text, its stderr, its exit status."""

    packets: tuple[bytes, ...]
    """Each ``<packet>...</packet>``, as tshark wrote it (see :func:`pdml.parse_packet`)."""
    stderr: str
    returncode: int


def run_pdml(tool: Tshark, capture: Path, args: Sequence[str] = (), *, timeout: float) -> PdmlRun:
    """Decode ``capture`` with tshark plus ``args`` (``-X lua_script:...``); any thread.

    Raises :class:`UnavailableError` when tshark does not finish within
    ``timeout`` seconds, and the error of :func:`from_os_error` when it cannot
    be started. A non-zero exit status is returned, not raised.
    """
    if tool.as_nobody:
        return _run_directly(tool, capture, args, timeout)
    result: list[PdmlRun] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            result.append(asyncio.run(_decode(tool.path, capture, args, timeout)))
        except BaseException as error:  # handed to the caller's thread
            failure.append(error)

    thread = threading.Thread(target=work, name="livetap-pyshark", daemon=True)
    thread.start()
    thread.join(timeout + 10)  # the loop enforces ``timeout``; this is the backstop
    if failure:
        error = failure[0]
        if isinstance(error, TimeoutError):
            raise UnavailableError(f"tshark did not finish within {timeout:.0f} s") from None
        if isinstance(error, OSError):
            raise from_os_error(error, f"run {tool.path}") from None
        raise error
    if not result:
        raise UnavailableError(f"tshark did not finish within {timeout:.0f} s")
    return result[0]


async def _decode(tshark: str, capture: Path, args: Sequence[str], timeout: float) -> PdmlRun:
    """pyshark's run of tshark over the capture, in the running (private) loop."""
    reader = _capture_class()(capture, tshark, args, asyncio.get_running_loop())
    packets: list[bytes] = []
    await asyncio.wait_for(reader.packets_from_tshark(packets.append), timeout)
    stderr = bytes(reader.stderr).decode("utf-8", "replace")
    returncode = reader.returncode if reader.returncode is not None else -1
    return PdmlRun(tuple(packets), stderr, returncode)


@functools.cache
def _capture_class() -> type[Any]:
    """pyshark's FileCapture with the hooks of the module's docstring, made on first use.

    pyshark (with lxml) takes tens of milliseconds to import, and most runs never decode.
    """
    from pyshark import FileCapture
    from pyshark.tshark.output_parser.tshark_xml import TsharkXmlParser

    class PacketTexts(TsharkXmlParser):  # type: ignore[misc]  # pyshark has no type hints
        """pyshark's PDML reader, handing out each packet's XML instead of a flattened Packet."""

        def _parse_single_packet(self, packet: bytes) -> bytes:
            return packet

    class PdmlCapture(FileCapture):  # type: ignore[misc]  # pyshark has no type hints
        def __init__(
            self, capture: Path, tshark: str, args: Sequence[str], loop: asyncio.AbstractEventLoop
        ) -> None:
            super().__init__(
                str(capture),
                keep_packets=False,
                tshark_path=tshark,
                custom_parameters=list(args),
                eventloop=loop,
            )
            self.stderr = bytearray()
            self.returncode: int | None = None

        def _get_tshark_path(self) -> str:
            return str(self.tshark_path)

        def _setup_tshark_output_parser(self) -> PacketTexts:
            return PacketTexts()

        async def _handle_process_stderr_forever(self, stderr: asyncio.StreamReader) -> None:
            while chunk := await stderr.read(1 << 16):
                if len(self.stderr) < MAX_STDERR:
                    self.stderr += chunk[: MAX_STDERR - len(self.stderr)]

        async def _cleanup_subprocess(self, process: Any) -> None:
            """At the end of the output wait for tshark's exit status; kill it if cut short."""
            if process.returncode is None and not self._eof_reached:
                _kill(process)
            try:
                self.returncode = await process.wait()
            except asyncio.CancelledError:  # the time ran out while it was finishing
                _kill(process)
                raise

    return PdmlCapture


def _kill(process: Any) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _run_directly(tool: Tshark, capture: Path, args: Sequence[str], timeout: float) -> PdmlRun:
    """The same decode without pyshark, for a tshark started through setpriv."""
    command = tool.command(["-l", "-n", "-T", "pdml", *args, "-r", str(capture)])
    try:
        result = subprocess.run(
            command, capture_output=True, stdin=subprocess.DEVNULL, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise UnavailableError(f"tshark did not finish within {timeout:.0f} s") from None
    except OSError as error:
        raise from_os_error(error, f"run {tool.path}") from None
    return PdmlRun(
        tuple(match.group(0) for match in _PACKET.finditer(result.stdout)),
        result.stderr[:MAX_STDERR].decode("utf-8", "replace"),
        result.returncode,
    )
