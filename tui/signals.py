"""Leaving cleanly on SIGTERM and SIGHUP, however the terminal is doing."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from typing import Any

from engine.errors import ExitCode

EXIT_GRACE = 3.0
"""Seconds a signalled exit may take before livetap ends itself the hard way."""


def install_exit_signals(app: Any, session: Any, browser: Any) -> None:
    """SIGTERM and SIGHUP (an SSH session that ended) leave like q does.

    The capture and the browser are stopped at once from a helper thread, the app is
    asked to exit (restoring the terminal), and if that hangs (a terminal that is gone
    can keep the UI from finishing) the process ends after ``EXIT_GRACE`` seconds.
    """
    signalled = threading.Event()

    def clean_up_then_leave() -> None:
        for source in (session, browser):
            if source is not None:
                with contextlib.suppress(Exception):
                    source.stop()
        time.sleep(EXIT_GRACE)
        os._exit(ExitCode.INTERRUPTED)

    def handler(_number: int, _frame: object) -> None:
        if not signalled.is_set():
            signalled.set()
            threading.Thread(target=clean_up_then_leave, daemon=True).start()
        app.exit(return_code=ExitCode.INTERRUPTED)

    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, handler)
