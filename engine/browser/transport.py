"""How CDP messages travel: a websocket (an attached browser) or a pipe pair (a launched one).

Both carry one JSON text per message. The CDP connection above only sends
texts and iterates over what arrives, so it does not care which transport it
has. A launched Chromium speaks over ``--remote-debugging-pipe`` (it reads
commands on its fd 3 and writes on its fd 4, each message ending in a NUL byte),
so it opens no TCP port at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import BinaryIO, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from engine.errors import UnavailableError

MAX_MESSAGE = 64 << 20
"""Large enough for a response body; a bigger message closes the connection."""
SEPARATOR = b"\0"


class TransportClosed(Exception):
    """A message could not be sent: the other end is gone."""


class Transport(Protocol):
    """What a CDP connection needs from the channel under it."""

    async def send(self, message: str) -> None:
        """Send one message (raises TransportClosed when the channel is gone)."""
        ...

    def messages(self) -> AsyncIterator[str | bytes]:
        """Every message received, until the channel closes or breaks."""
        ...

    async def close(self) -> None:
        """Close the channel; safe to call twice."""
        ...


class WebSocketTransport:
    """A DevTools websocket (``ws://host:port/devtools/browser/...``)."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket

    @classmethod
    async def open(cls, url: str, timeout: float = 10.0) -> WebSocketTransport:
        """Connect to a browser or page endpoint."""
        try:
            socket = await connect(
                url, max_size=MAX_MESSAGE, open_timeout=timeout, close_timeout=1, ping_interval=None
            )
        except (OSError, WebSocketException, TimeoutError) as error:
            raise UnavailableError(
                f"could not open the DevTools connection {url}: {error}"
            ) from None
        return cls(socket)

    async def send(self, message: str) -> None:
        """Send one text frame."""
        try:
            await self._socket.send(message)
        except WebSocketException as error:
            raise TransportClosed(str(error)) from None

    async def messages(self) -> AsyncIterator[str | bytes]:
        """Frames until the socket closes (an oversized one closes it)."""
        with contextlib.suppress(WebSocketException):
            async for raw in self._socket:
                yield raw

    async def close(self) -> None:
        """Close the socket."""
        with contextlib.suppress(Exception):
            await self._socket.close()


class PipeTransport:
    """The two pipes of ``--remote-debugging-pipe``: NUL-terminated JSON each way."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        reading: asyncio.ReadTransport,
        writer: asyncio.WriteTransport,
    ) -> None:
        self._reader = reader
        self._reading = reading
        self._writer = writer

    @classmethod
    async def open(cls, outbound: BinaryIO, inbound: BinaryIO) -> PipeTransport:
        """Wrap the pipe ends: ``outbound`` feeds the browser's fd 3, ``inbound`` reads its fd 4."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=MAX_MESSAGE)
        reading, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), inbound
        )
        writer, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, outbound)
        return cls(reader, reading, writer)

    async def send(self, message: str) -> None:
        """Queue one message and its terminator (commands are small: no flow control)."""
        if self._writer.is_closing():
            raise TransportClosed("the browser's command pipe is closed")
        self._writer.write(message.encode("utf-8") + SEPARATOR)

    async def messages(self) -> AsyncIterator[bytes]:
        """Messages until the browser closes its end (or sends one too large)."""
        while True:
            try:
                raw = await self._reader.readuntil(SEPARATOR)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                return
            yield raw[:-1]

    async def close(self) -> None:
        """Close both pipe ends (each transport closes its file)."""
        self._writer.close()
        self._reading.close()
