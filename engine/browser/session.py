"""The browser connection in its own thread: attach to every tab, keep requests, reconnect.

All tabs, popups, iframes and workers are followed with flattened auto-attach
(../shared/notes/cdp.md): each new target gets Network.enable, auto-attach and
"run" back to back, so nothing it requests at start is missed; a tab is
navigated only once its Network domain is on. The UI polls for changed records.
Response bodies are fetched as each response finishes (Chromium forgets them when
the page navigates away) and kept within a memory cap (:mod:`engine.browser.bodies`);
one not kept is asked for on demand through the session that saw the request. A
launched browser is reached over its DevTools pipes (it has no port), always
stopped, and relaunched on request with its ``--open`` URL; an attached one is
reached over its websocket and reconnected when it comes back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, TypeVar

import cdp

from engine.browser.bodies import DEFAULT_BODY_MEMORY, DEFAULT_MAX_BODY, BodyStore
from engine.browser.cdp import CdpConnection, CdpError, Command, CommandSteps
from engine.browser.launch import LaunchedBrowser
from engine.browser.network import NetworkTracker
from engine.browser.network_conditions import (
    BLOCK_REASON,
    NetworkControls,
    check_control_allowed,
    check_replay_allowed,
)
from engine.browser.records import (
    BrowserBatch,
    BrowserStatus,
    ConnectionState,
    RequestRecord,
    ResponseBody,
)
from engine.browser.resend import Resend, fetch_expression
from engine.browser.target import BrowserTarget, websocket_url
from engine.config import DEFAULT_MAX_REQUESTS
from engine.errors import LivetapError, NotFoundError, UnavailableError
from engine.tls_keylog import KeyLog

NETWORK_TARGETS = frozenset(
    {"page", "iframe", "worker", "shared_worker", "service_worker", "other"}
)
FRAME_TARGETS = frozenset({"page", "iframe"})
"""Targets with frames, where a replay runs in an isolated world (a worker has none)."""
REPLAY_WORLD = "livetap-replay"
"""The name of the isolated JavaScript world replays are sent from."""
NO_CONTEXT = "Cannot find context with specified id"
"""Chromium's answer to an evaluate in a world that is gone (nothing was run)."""
KEPT_WORLDS = 64
"""Isolated worlds remembered for replays (one per frame replayed from, the newest)."""
MAX_POST_DATA = 1 << 16
RECONNECT_INTERVAL = 2.0
NO_SANDBOX_WARNING = "Chromium's sandbox is off (--no-sandbox): open only pages you trust"
START_TIMEOUT = 20.0
"""Seconds a launched browser may take to answer its first command."""
INSTRUMENT_TIMEOUT = 10.0
"""Seconds to wait for a tab's Network.enable before opening the URL anyway."""
BODY_FETCHES = 4
"""Bodies asked for at once as responses finish (the rest wait their turn)."""
BODY_TIMEOUT = 10.0
"""Seconds the browser may take to hand over one body fetched as its response finished."""
REPLAY_TIMEOUT = 30.0
"""Seconds a replayed request may take to be answered (it is listed meanwhile)."""
RESET_TIMEOUT = 3.0
"""Seconds an attached browser may take to take back its own network settings on exit."""
T = TypeVar("T")


def auto_attach() -> CommandSteps[None]:
    """Target.setAutoAttach: every related target, paused until it is followed, flattened."""
    return cdp.target.set_auto_attach(
        auto_attach=True, wait_for_debugger_on_start=True, flatten=True
    )


class BrowserSession:
    """One browser (launched or attached) and the requests of all its targets."""

    def __init__(
        self,
        target: BrowserTarget,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        open_url: str | None = None,
        reconnect_interval: float = RECONNECT_INTERVAL,
        *,
        body_memory: int = DEFAULT_BODY_MEMORY,
        max_body: int = DEFAULT_MAX_BODY,
        controls: NetworkControls | None = None,
        allow_control: bool = False,
        key_log: KeyLog | None = None,
    ) -> None:
        check_control_allowed(target, controls, allow_control)  # before anything connects
        self.target = target
        self.key_log = key_log if target.launch else None
        """Where a launched browser writes its TLS secrets (the caller closes it)."""
        self._allow_control = allow_control
        self.controls = controls or NetworkControls()
        """Blocked URLs, throttling, cache: sent to every target as it is attached."""
        self.tracker = NetworkTracker(max_requests)
        self.bodies = BodyStore(body_memory, max_body)
        """Response bodies fetched as they finished, so b works after the page moved on."""
        self._body_tasks: set[asyncio.Task[None]] = set()
        self._body_slots = asyncio.Semaphore(BODY_FETCHES)
        self._open_url = open_url
        self._home_url = open_url
        self._interval = reconnect_interval
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._connection: CdpConnection | None = None
        self._browser: LaunchedBrowser | None = None
        self._state = ConnectionState.CONNECTING
        self._message = ""
        self._pages: list[str] = []
        self._attached: set[str] = set()
        self._kinds: dict[str, str] = {}
        """Session → its target's type (page, iframe, worker…): a replay's world depends on it."""
        self._worlds: dict[tuple[str, str], int] = {}
        """(session, frame) → livetap's isolated world there, made once and used again (a
        world lives as long as its document; a stale one is made afresh)."""
        self._attaching: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._start_error: LivetapError | None = None
        self._stopping = False
        self._wake: asyncio.Event | None = None
        self._relaunch = False
        self._malformed = 0
        self._replays = 0

    # -- lifecycle -----------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        """Connect (launching first if asked); raise the reason if that fails."""
        self._thread = threading.Thread(target=self._run, name="livetap-browser", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise UnavailableError(f"the browser did not connect within {timeout:.0f} s")
        if self._start_error is not None:
            self.stop()
            raise self._start_error

    def stop(self, timeout: float = 10.0) -> None:
        """Disconnect, stop a launched browser, end the thread; safe to call twice."""
        if not self._stopping and not self.target.launch and self.controls.active:
            self._give_back_network()
        self._stopping = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self._browser is not None:
            self._browser.stop()

    def _give_back_network(self) -> None:
        """An attached browser gets its own network back (a launched one just exits)."""
        with contextlib.suppress(LivetapError):
            self._send_to_targets(self.controls.reset_commands(), RESET_TIMEOUT)

    def set_controls(self, controls: NetworkControls, timeout: float = 5.0) -> None:
        """Change blocking, throttling and the cache now, on every target, and on those to come.

        The old settings are taken back first (a launched browser, or ``allow_control``).
        """
        check_control_allowed(self.target, controls, self._allow_control)
        old, self.controls = self.controls, controls
        if self._connection is not None:
            self._send_to_targets(old.reset_commands() + controls.commands(), timeout)

    def _send_to_targets(self, commands: list[tuple[str, dict[str, Any]]], timeout: float) -> None:
        """Send commands to every attached target and wait for the replies (from another thread).

        Targets without a Network or Fetch domain refuse them: what matters is that the
        others took them, so refusals are not errors; a browser that does not answer is.
        """
        if not commands:
            return

        async def send(connection: CdpConnection) -> None:
            replies = [
                await connection.send(method, params, session)
                for session in list(self._attached)
                for method, params in commands
            ]
            await asyncio.wait_for(asyncio.gather(*replies, return_exceptions=True), timeout)

        self._wait(send, commands[0][0], timeout)

    def relaunch(self) -> bool:
        """Start a new browser after a launched one exited; False if that does not apply."""
        if not self.target.launch or self._state is not ConnectionState.EXITED:
            return False
        self._relaunch = True
        self._poke()
        return True

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(wake.set)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            _end_tasks(loop)
            loop.close()
            self._ready.set()

    async def _main(self) -> None:
        """Connect, follow targets, and reconnect (attach) or wait for relaunch (launch)."""
        self._wake = asyncio.Event()
        first = True
        while not self._stopping:
            try:
                connection = await self._connect()
            except LivetapError as error:
                if first:
                    self._start_error = error
                    return
                self._set_state(ConnectionState.DISCONNECTED, f"{error.message}; retrying")
                await self._pause(self._interval)
                continue
            self._connection = connection
            self._set_state(ConnectionState.CONNECTED, self._connected_note())
            try:
                await connection.execute(cdp.target.set_discover_targets(discover=True))
                await connection.execute(auto_attach())
                await self._instrumented()
            except (CdpError, UnavailableError, TimeoutError) as error:
                self._set_state(
                    ConnectionState.DISCONNECTED,
                    f"the browser refused to share its targets: {error}",
                )
            if first:
                first = False
                self._ready.set()
            await self._wait_closed(connection)
            self._malformed += connection.malformed
            self._connection = None
            self._attached.clear()
            self._kinds.clear()
            self._worlds.clear()
            self._pages.clear()
            if not self._stopping:
                self._set_state(ConnectionState.DISCONNECTED, "the browser went away")
            await connection.close()
            if not self._stopping:
                await self._after_disconnect()
        self._ready.set()

    async def _connect(self) -> CdpConnection:
        """A fresh connection: launch a browser (launch mode) or discover the endpoint."""
        loop = asyncio.get_running_loop()
        if self.target.launch:
            return await self._launch()
        url = await loop.run_in_executor(None, websocket_url, self.target)
        return await CdpConnection.open(url, self._on_event)

    async def _launch(self) -> CdpConnection:
        """Start a browser of our own and talk to it over its DevTools pipes (no port)."""
        loop = asyncio.get_running_loop()
        if self._browser is not None:
            await loop.run_in_executor(None, self._browser.stop)
            self.tracker.new_browser()  # its request ids start again: keep the old apart
        browser = await loop.run_in_executor(
            None,
            LaunchedBrowser,
            self.target.chromium,
            self.target.headed,
            self.target.sandbox,
            self.key_log,
            self.target.extra_flags,
        )
        self._browser = browser
        connection = await CdpConnection.over_pipes(
            browser.commands, browser.replies, self._on_event
        )
        try:
            await connection.execute(cdp.browser.get_version(), timeout=START_TIMEOUT)
        except (CdpError, UnavailableError, TimeoutError):
            await connection.close()
            reason = await loop.run_in_executor(None, browser.failure)
            raise UnavailableError(reason) from None
        self._open_url = self._home_url  # a new browser opens the --open URL again
        return connection

    async def _wait_closed(self, connection: CdpConnection) -> None:
        """Until the socket closes or stop() is called."""
        assert self._wake is not None
        closed = asyncio.create_task(connection.closed.wait())
        while not closed.done() and not self._stopping:
            woken = asyncio.create_task(self._wake.wait())
            await asyncio.wait({closed, woken}, return_when=asyncio.FIRST_COMPLETED)
            self._wake.clear()
            woken.cancel()
        closed.cancel()

    async def _after_disconnect(self) -> None:
        """Say what happened; wait before reconnecting, or for a relaunch."""
        if self.target.launch and self._browser is not None and await self._browser_exited():
            self._set_state(ConnectionState.EXITED, "press R to launch it again")
            while not self._stopping and not self._relaunch:
                await self._pause(3600)
            self._relaunch = False
            return
        self._set_state(ConnectionState.DISCONNECTED, "the browser went away; reconnecting")
        await self._pause(self._interval)

    async def _browser_exited(self, grace: float = 3.0) -> bool:
        """Whether the launched browser died (its socket closes a moment before it is reaped)."""
        browser = self._browser
        if browser is None:
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while browser.running and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return not browser.running

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake for stop() or relaunch()."""
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    def _connected_note(self) -> str:
        """What the pane says while connected: a warning when the sandbox is off."""
        if self.target.launch and not self.target.sandbox:
            return NO_SANDBOX_WARNING
        return ""

    def _set_state(self, state: ConnectionState, message: str) -> None:
        self._state, self._message = state, message

    # -- events ----------------------------------------------------------------------

    def _on_event(self, method: str, params: Mapping[str, Any], session_id: str) -> None:
        """Called by the reader task for every event: must not wait for replies."""
        # Events stay plain JSON, not cdp.util.parse_json_event: the package (2020) fails on
        # some of what Chromium sends and drops newer fields (measured: engine/browser/cdp.py).
        if method.startswith("Network."):
            self.tracker.handle(method, params, session_id)
            if method == "Network.loadingFinished":
                self._keep_body(params, session_id)
        elif method == "Fetch.requestPaused":
            task = asyncio.get_running_loop().create_task(
                self._block_or_continue(params, session_id)
            )
            self._body_tasks.add(task)  # held so it is not collected mid-way
            task.add_done_callback(self._body_tasks.discard)
        elif method == "Target.attachedToTarget":
            task = asyncio.get_running_loop().create_task(self._attach(params))
            self._attaching.add(task)
            task.add_done_callback(self._attaching.discard)
        elif method == "Target.detachedFromTarget":
            detached = params.get("sessionId")
            self._attached.discard(str(detached))
            self._kinds.pop(str(detached), None)
            if detached in self._pages:
                self._pages.remove(str(detached))

    def _keep_body(self, params: Mapping[str, Any], session_id: str) -> None:
        """A response finished: fetch its body now, while the browser still has it."""
        cdp_id = params.get("requestId")
        connection = self._connection
        if not isinstance(cdp_id, str) or connection is None or self.bodies.memory <= 0:
            return
        record_id = self.tracker.record_id(cdp_id)
        record = self.tracker.get(record_id)
        if record is None or record.error or record.redirected_to:
            return
        if record.encoded_length is not None and record.encoded_length > self.bodies.max_body:
            self.bodies.refuse(record_id, record.encoded_length)  # not even asked for
            return
        task = asyncio.get_running_loop().create_task(
            self._fetch_and_keep(connection, record_id, cdp_id, session_id)
        )
        self._body_tasks.add(task)
        task.add_done_callback(self._body_tasks.discard)

    async def _fetch_and_keep(
        self, connection: CdpConnection, record_id: str, cdp_id: str, session_id: str
    ) -> None:
        """Ask for one body and keep it; a body the browser will not give is simply not kept."""
        async with self._body_slots:
            command = cdp.network.get_response_body(cdp.network.RequestId(cdp_id))
            try:
                body, encoded = await connection.execute(command, session_id, BODY_TIMEOUT)
            except (CdpError, UnavailableError, TimeoutError):
                return
        try:
            self.bodies.put(record_id, _body_bytes({"body": body, "base64Encoded": encoded}))
        except (ValueError, TypeError):  # base64 that is not: nothing to keep
            return

    async def _block_or_continue(self, params: Mapping[str, Any], session_id: str) -> None:
        """A request paused by a --block pattern: fail it if it really matches, else let it go."""
        connection = self._connection
        paused = params.get("requestId")
        request = params.get("request")
        if connection is None or not isinstance(paused, str):
            return
        url = str(request.get("url", "")) if isinstance(request, Mapping) else ""
        if self.controls.blocks(url):
            reply = {"requestId": paused, "errorReason": BLOCK_REASON}
            await connection.send("Fetch.failRequest", reply, session_id)
        else:
            await connection.send("Fetch.continueRequest", {"requestId": paused}, session_id)

    async def _attach(self, params: Mapping[str, Any]) -> None:
        """Follow a new target: enable Network, auto-attach below it, and let it run."""
        connection = self._connection
        session = params.get("sessionId")
        info = params.get("targetInfo")
        if connection is None or not isinstance(session, str) or not isinstance(info, Mapping):
            return
        kind = str(info.get("type", ""))
        self._attached.add(session)
        self._kinds[session] = kind
        if kind == "page":  # a tab's main frame has the tab's target id
            self.tracker.main_frames.add(str(info.get("targetId", "")))
        # Back to back, no waiting in between (awaiting Network.enable first hangs on popups).
        instrumented = []
        if kind in NETWORK_TARGETS:
            enable = cdp.network.enable(max_post_data_size=MAX_POST_DATA)
            instrumented.append(await connection.submit(enable, session))
            instrumented.append(await connection.submit(auto_attach(), session))
            for method, control in self.controls.commands():  # before the target runs
                await connection.send(method, control, session)
        await connection.submit(cdp.runtime.run_if_waiting_for_debugger(), session)
        if kind != "page":
            return
        # A tab is used (navigate, evaluate, --open) only once its Network domain is on:
        # a navigation sent before these replies raced them, and the page's first requests
        # were seen in part (a POST as a GET with another's status, a document with no size
        # or time).
        with contextlib.suppress(CdpError, UnavailableError, TimeoutError):
            await asyncio.wait_for(asyncio.gather(*instrumented), INSTRUMENT_TIMEOUT)
        if session not in self._attached or connection is not self._connection:
            return  # closed meanwhile
        self._pages.append(session)
        if self._open_url:
            url, self._open_url = self._open_url, None
            await connection.submit(cdp.page.navigate(url=url), session)

    async def _instrumented(self) -> None:
        """Until the targets that exist now are followed (a launched browser's first tab too)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + INSTRUMENT_TIMEOUT
        while loop.time() < deadline:
            if self._attaching:
                await asyncio.wait(set(self._attaching), timeout=deadline - loop.time())
            elif self._pages or not self.target.launch:
                return
            else:  # a launched browser always has its about:blank tab: wait for its event
                await asyncio.sleep(0.02)

    # -- the API the UI uses -----------------------------------------------------------

    def status(self) -> BrowserStatus:
        """The connection's state and counters now."""
        connection = self._connection
        malformed = self._malformed + (connection.malformed if connection else 0)
        return BrowserStatus(
            state=self._state,
            endpoint=self.target.description,
            message=self._message,
            requests=self.tracker.total,
            targets=len(self._attached),
            evicted=self.tracker.evicted,
            skipped_messages=self.tracker.skipped_messages + malformed,
            launched=self.target.launch,
            controls=self.controls.describe(),
        )

    def poll(self) -> BrowserBatch:
        """Records changed since the previous poll, with the status."""
        return self.tracker.drain(self.status())

    def get(self, request_id: str) -> RequestRecord | None:
        """The latest state of one request."""
        return self.tracker.get(request_id)

    def _execute(self, steps: CommandSteps[T], session: str, timeout: float) -> T:
        """Run one command of the cdp package from another thread; its typed result."""
        command = Command(steps)
        return self._wait(
            lambda connection: connection.execute(command, session, timeout),
            command.method,
            timeout,
        )

    def _call(
        self, method: str, params: Mapping[str, Any], session: str, timeout: float
    ) -> dict[str, Any]:
        """A command by name with JSON params, for what the cdp package (2020) does not know."""
        return self._wait(
            lambda connection: connection.call(method, params, session, timeout), method, timeout
        )

    def _wait(
        self,
        work: Callable[[CdpConnection], Coroutine[Any, Any, T]],
        method: str,
        timeout: float,
    ) -> T:
        """Run ``work`` on the connection's loop from another thread and wait for it."""
        connection, loop = self._connection, self._loop
        if connection is None or loop is None or loop.is_closed():
            raise UnavailableError("the browser is not connected")
        future = asyncio.run_coroutine_threadsafe(work(connection), loop)
        try:
            return future.result(timeout + 1)
        except (FutureTimeout, TimeoutError):
            raise UnavailableError(
                f"the browser did not answer {method} in {timeout:.0f} s"
            ) from None

    def fetch_body(self, request_id: str, timeout: float = 10.0) -> ResponseBody:
        """A response body: livetap's copy (kept as the response finished), else the browser's.

        The browser keeps a body only until the page navigates; when neither has it, the
        error says why livetap's copy is missing (dropped for room, or too large).
        """
        record = self.get(request_id)
        if record is None:
            raise NotFoundError(f"request {request_id} is no longer in the list")
        if record.redirected_to:
            raise NotFoundError("a redirect has no body to show")
        if not record.finished or record.error:
            raise NotFoundError("this request has no finished response, so no body")
        kept = self.bodies.get(request_id)
        if kept is not None:
            return ResponseBody(request_id, kept, record.mime_type)
        why = self.bodies.why_missing(request_id)
        known_as = self._browser_id(request_id, why)
        session = self.tracker.session_of(request_id) or ""
        command = cdp.network.get_response_body(cdp.network.RequestId(known_as))
        try:
            body, encoded = self._execute(command, session, timeout)
        except CdpError as error:
            if why:
                raise NotFoundError(f"{why}, and the browser no longer has it") from None
            raise NotFoundError(f"the browser no longer has this body ({error})") from None
        try:
            data = _body_bytes({"body": body, "base64Encoded": encoded})
        except (ValueError, TypeError) as error:
            raise NotFoundError(f"the browser sent an unreadable body ({error})") from None
        return ResponseBody(request_id, data, record.mime_type)

    def _browser_id(self, request_id: str, why: str | None = None) -> str:
        """The id the running browser knows a request by; NotFoundError if it died since."""
        known_as = self.tracker.browser_request_id(request_id)
        if known_as is None:
            if why:
                raise NotFoundError(f"{why}, and the browser that made it has exited since")
            raise NotFoundError(
                "this request came from a browser that has exited since; its body went with it"
            )
        return known_as

    def fetch_post_data(self, request_id: str, timeout: float = 10.0) -> str | None:
        """A request's body (POST data): from the event, or asked from the browser."""
        record = self.get(request_id)
        if record is None or not record.has_post_data:
            return None
        if record.post_data is not None:
            return record.post_data
        known_as = self.tracker.browser_request_id(request_id)
        if known_as is None:
            return None
        session = self.tracker.session_of(request_id) or ""
        command = cdp.network.get_request_post_data(cdp.network.RequestId(known_as))
        try:
            return self._execute(command, session, timeout)
        except CdpError:
            return None

    def navigate(self, url: str, timeout: float = 10.0) -> None:
        """Load ``url`` in the first tab (opening one if there is none)."""
        if self._pages:
            self._execute(cdp.page.navigate(url=url), self._pages[0], timeout)
            return
        self._open_url = url
        self._execute(cdp.target.create_target(url="about:blank"), "", timeout)

    def evaluate(self, expression: str, timeout: float = 10.0, user_gesture: bool = True) -> Any:
        """Run JavaScript in the first tab (as if the user did it); for demos and tests."""
        if not self._pages:
            raise UnavailableError("the browser has no tab")
        command = cdp.runtime.evaluate(expression, return_by_value=True, user_gesture=user_gesture)
        result, _ = self._execute(command, self._pages[0], timeout)
        return result.value

    def check_replay(self) -> None:
        """Raise PermissionDeniedError unless this browser may be made to replay requests."""
        check_replay_allowed(self.target, self._allow_control)

    def resend(self, resend: Resend, timeout: float = REPLAY_TIMEOUT) -> ReplayResult:
        """Send a request again from the frame (or worker) that made the original.

        In a frame it runs in livetap's isolated world there (:meth:`_send_replay`), so the
        page's own scripts (a replaced ``window.fetch``) neither see nor stop it. A launched
        browser, or an attached one with ``allow_control``. The new request is listed as a
        replay of the original; the result says how it went (a CORS or network failure is a
        result, not an error: the list shows the failed request too).
        """
        self.check_replay()
        original = self.get(resend.original)
        if original is None:
            raise NotFoundError(f"request {resend.original} is no longer in the list")
        self._replays += 1
        token = self._replays
        expression = fetch_expression(resend, token)  # a UsageError before anything is sent
        session = self.tracker.session_of(resend.original) or ""
        frame = original.frame
        if session not in self._attached or self.tracker.browser_request_id(original.id) is None:
            if not self._pages:
                raise UnavailableError("the page that made this request is gone, and no tab is")
            session, frame = self._pages[0], ""
        params = {
            "expression": expression,
            "awaitPromise": True,
            "returnByValue": True,
            "userGesture": True,
        }
        self.tracker.expect_replay(token, original.seq, resend.edited)
        try:
            reply = self._send_replay(params, session, frame, timeout)
        except CdpError as refused:  # the page went away meanwhile, or refused to run it
            raise UnavailableError(f"the page could not send the replay ({refused})") from None
        value = reply.get("result", {}).get("value")
        value = value if isinstance(value, Mapping) else {}
        error = str(value.get("error", ""))
        if not value and isinstance(reply.get("exceptionDetails"), Mapping):
            error = str(reply["exceptionDetails"].get("text", "the page refused the request"))
        status = value.get("status")
        return ReplayResult(
            request_id=self.tracker.replayed.get(token),
            status=status if isinstance(status, int) else None,
            error=error,
        )

    def _send_replay(
        self, params: Mapping[str, Any], session: str, frame: str, timeout: float
    ) -> dict[str, Any]:
        """Evaluate a replay in livetap's isolated world of ``frame`` (a worker: its own).

        The world is made at a frame's first replay and used again; one gone with its
        document (Chromium: nothing ran) is made afresh, and the replay sent once more.
        """
        if self._kinds.get(session, "page") not in FRAME_TARGETS:
            return self._call("Runtime.evaluate", params, session, timeout)
        key = (session, frame)
        world = self._worlds.get(key)
        context = world or self._isolated_world(session, frame)
        try:
            reply = self._call(
                "Runtime.evaluate", {**params, "contextId": context}, session, timeout
            )
        except CdpError as stale:
            if world is None or NO_CONTEXT not in str(stale):
                raise  # a world destroyed mid-fetch may have sent it: never twice
            context = self._isolated_world(session, frame)
            reply = self._call(
                "Runtime.evaluate", {**params, "contextId": context}, session, timeout
            )
        self._keep_world(key, context)
        return reply

    def _keep_world(self, key: tuple[str, str], context: int) -> None:
        """Remember the isolated world a replay ran in (the most recent few)."""
        self._worlds.pop(key, None)
        self._worlds[key] = context
        with contextlib.suppress(StopIteration, RuntimeError):  # cleared by a disconnect
            while len(self._worlds) > KEPT_WORLDS:
                self._worlds.pop(next(iter(self._worlds)))

    def _isolated_world(self, session: str, frame: str) -> int:
        """A JavaScript world of livetap's own in ``frame`` (else the target's main frame).

        It shares the frame's origin, cookies and network stack but not the page's
        globals, so a page that replaced ``window.fetch`` does not see (or stop) a replay.
        """
        timeout = INSTRUMENT_TIMEOUT
        failure = "no frame"
        for wanted in (frame, ""):
            try:
                frame_id = wanted
                if not frame_id:
                    tree = self._call("Page.getFrameTree", {}, session, timeout)
                    frame_id = str(tree["frameTree"]["frame"]["id"])
                params = {"frameId": frame_id, "worldName": REPLAY_WORLD}
                world = self._call("Page.createIsolatedWorld", params, session, timeout)
                return int(world["executionContextId"])
            except (CdpError, KeyError, TypeError, ValueError) as error:
                failure = str(error) or type(error).__name__
        raise UnavailableError(f"the page has no frame to send the replay from ({failure})")

    @property
    def browser_process(self) -> LaunchedBrowser | None:
        """The launched browser, if livetap launched one."""
        return self._browser


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What came of a replay: the new request's id (once listed), its status or failure."""

    request_id: str | None
    status: int | None
    error: str = ""


def _body_bytes(result: Mapping[str, Any]) -> bytes:
    """Network.getResponseBody's answer as bytes (ValueError for base64 that is not)."""
    body = result.get("body", "")
    if result.get("base64Encoded"):
        return base64.b64decode(str(body), validate=True)
    return str(body).encode("utf-8")


def _end_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what still runs on the session's loop (body fetches a stop cut short) and let
    it finish, as ``asyncio.run`` does: a task left pending on a closed loop is reported
    ("Task was destroyed but it is pending") when it is collected."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
