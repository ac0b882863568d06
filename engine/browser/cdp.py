"""One DevTools connection: commands answered through futures, events handed to a callback.

The connection runs over a transport (:mod:`engine.browser.transport`): the
websocket of a browser livetap attaches to, or the pipes of one it launched.
The reader runs as its own task, so a command's reply is never awaited from the
code that reads the transport (which would deadlock). Malformed or unexpected
messages are counted and skipped.

Commands are built and their results parsed by the ``chrome-devtools-protocol``
package (``import cdp``): each of its commands is a generator that yields the
request (``{"method", "params"}``) and, sent the reply's ``result``, returns the
typed result (``cdp.network.get_response_body(id)`` → ``(body, base64Encoded)``).
:class:`Command` and :meth:`CdpConnection.execute` run that protocol over this
connection, so it is the same for the websocket and the pipes.

Events stay plain JSON (``method`` string, ``params`` dict), not parsed by the
package, whose schema is from 2020. Measured with Chromium 156 loading the local
test site, popup and ``/early`` included (``benchmarks/cdp_events.py``, four
runs of 124 to 127 events), ``cdp.util.parse_json_event`` failed on 20, every
``Network.requestWillBeSentExtraInfo`` (17 of 17, ``KeyError: 'blockedCookies'``)
and every ``Network.policyUpdated`` (3 of 3, a method it does not know). The
ten other methods parsed, but without the fields added since 2020, among them
``hasExtraInfo`` of ``Network.responseReceived`` (which the request tracker
uses), ``statusCode`` of ``responseReceivedExtraInfo`` and
``request.postDataEntries``. (The shared notes also saw a CORS preflight's
``responseReceived`` fail on type ``Preflight``; the test site sends none.) So
the tracker keys on the method string and reads the raw params.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable, Generator, Mapping
from typing import Any, BinaryIO, Generic, TypeVar, cast

from engine.browser.transport import PipeTransport, Transport, TransportClosed, WebSocketTransport
from engine.errors import UnavailableError

EventHandler = Callable[[str, Mapping[str, Any], str], None]
T = TypeVar("T")
CommandSteps = Generator[dict[str, Any], dict[str, Any], T]
"""A command as the cdp package builds it (``cdp.page.navigate(url)``)."""


class CdpError(Exception):
    """The browser answered a command with an error."""

    def __init__(self, method: str, error: Mapping[str, Any]) -> None:
        super().__init__(f"{method}: {error.get('message', 'error')}")
        self.method = method
        self.code = error.get("code")


class Command(Generic[T]):
    """A command of the cdp package, started: its method and params, and its result parser."""

    __slots__ = ("_steps", "method", "params")

    def __init__(self, steps: CommandSteps[T]) -> None:
        self._steps = steps
        request = next(steps)
        self.method = str(request["method"])
        self.params: dict[str, Any] = dict(request.get("params", {}))  # none without arguments

    def parse(self, result: dict[str, Any]) -> T:
        """The typed result; a reply the package cannot read raises :class:`CdpError`."""
        try:
            self._steps.send(result)
        except StopIteration as finished:
            return cast(T, finished.value)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            problem = f"a reply livetap cannot read ({type(error).__name__}: {error})"
            raise CdpError(self.method, {"message": problem}) from None
        raise CdpError(self.method, {"message": "the command asked for a second reply"})


class CdpConnection:
    """A connected DevTools client; create it with :meth:`open` or :meth:`over_pipes`."""

    def __init__(self, transport: Transport, on_event: EventHandler) -> None:
        self._transport = transport
        self._on_event = on_event
        self._ids = itertools.count(1)
        self._waiting: dict[int, tuple[str, asyncio.Future[dict[str, Any]]]] = {}
        self.malformed = 0
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, on_event: EventHandler, timeout: float = 10.0) -> CdpConnection:
        """Connect to a browser or page endpoint over its websocket."""
        return cls(await WebSocketTransport.open(url, timeout), on_event)

    @classmethod
    async def over_pipes(
        cls, outbound: BinaryIO, inbound: BinaryIO, on_event: EventHandler
    ) -> CdpConnection:
        """Talk to a browser started with ``--remote-debugging-pipe`` (no port anywhere)."""
        return cls(await PipeTransport.open(outbound, inbound), on_event)

    async def send(
        self, method: str, params: Mapping[str, Any] | None = None, session_id: str = ""
    ) -> asyncio.Future[dict[str, Any]]:
        """Send a command by name now; the future completes with its JSON result.

        For what the cdp package does not know; livetap's own commands go through
        :meth:`submit` and :meth:`execute`.
        """
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": dict(params or {})}
        if session_id:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        # Commands sent without waiting for the reply must not log "exception never retrieved".
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        if self.closed.is_set():  # the reader is gone: nothing would ever answer
            future.set_exception(UnavailableError(f"the browser went away before {method}"))
            return future
        self._waiting[number] = (method, future)
        try:
            await self._transport.send(json.dumps(message))
        except TransportClosed as error:
            self._waiting.pop(number, None)
            if not future.done():  # the reader may have failed it already as the socket closed
                future.set_exception(UnavailableError(f"the browser connection closed ({error})"))
        return future

    async def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        session_id: str = "",
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """Send a command and wait for its result (never from inside an event handler)."""
        future = await self.send(method, params, session_id)
        return await asyncio.wait_for(future, timeout)

    async def submit(
        self, command: Command[T] | CommandSteps[T], session_id: str = ""
    ) -> asyncio.Future[T]:
        """Send a command of the cdp package now; the future completes with its typed result."""
        started = command if isinstance(command, Command) else Command(command)
        reply = await self.send(started.method, started.params, session_id)
        typed: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        typed.add_done_callback(lambda done: done.cancelled() or done.exception())

        def finish(done: asyncio.Future[dict[str, Any]]) -> None:
            if typed.done():  # given up on (a timeout)
                return
            if done.cancelled():
                typed.cancel()
            elif (error := done.exception()) is not None:
                typed.set_exception(error)
            else:
                try:
                    typed.set_result(started.parse(done.result()))
                except CdpError as unreadable:
                    typed.set_exception(unreadable)

        reply.add_done_callback(finish)
        return typed

    async def execute(
        self, command: Command[T] | CommandSteps[T], session_id: str = "", timeout: float = 10.0
    ) -> T:
        """Send a command of the cdp package and wait for its typed result (not from a handler)."""
        future = await self.submit(command, session_id)
        return await asyncio.wait_for(future, timeout)

    async def _read(self) -> None:
        """Dispatch every incoming message until the transport closes."""
        try:
            async for raw in self._transport.messages():
                self._dispatch(raw)
        finally:
            self.closed.set()
            for method, future in self._waiting.values():
                if not future.done():
                    future.set_exception(UnavailableError(f"the browser went away during {method}"))
            self._waiting.clear()

    def _dispatch(self, raw: str | bytes) -> None:
        """One message: a reply to a command, or an event."""
        try:
            message = json.loads(raw)
        except (ValueError, RecursionError):  # RecursionError: "[[[[..." nested too deep
            self.malformed += 1
            return
        if not isinstance(message, dict):
            self.malformed += 1
            return
        number = message.get("id")
        if isinstance(number, int):
            waiting = self._waiting.pop(number, None)
            if waiting is None or waiting[1].done():
                return
            command, future = waiting
            if isinstance(message.get("error"), Mapping):
                future.set_exception(CdpError(command, message["error"]))
            else:
                result = message.get("result")
                future.set_result(result if isinstance(result, dict) else {})
            return
        method, params = message.get("method"), message.get("params", {})
        if isinstance(method, str) and isinstance(params, Mapping):  # an event
            session = message.get("sessionId")
            try:
                self._on_event(method, params, session if isinstance(session, str) else "")
            except Exception:  # one bad event must not end the reader, and so the connection
                self.malformed += 1
        else:
            self.malformed += 1

    async def close(self) -> None:
        """Close the transport and stop the reader."""
        with contextlib.suppress(Exception):
            await self._transport.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
