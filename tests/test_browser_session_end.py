"""A browser session's loop ends with nothing pending (body fetches a stop cut short)."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from engine.browser import session


def test_tasks_left_running_are_cancelled_before_the_loop_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.new_event_loop()
    never: asyncio.Future[None] = loop.create_future()
    cleaned: list[str] = []

    async def fetch() -> None:  # as a body fetch waits on the browser's answer
        try:
            await never
        finally:
            cleaned.append("fetch")

    task = loop.create_task(fetch())
    loop.run_until_complete(asyncio.sleep(0))  # the task is now waiting
    session._end_tasks(loop)
    loop.close()
    assert task.cancelled() and cleaned == ["fetch"]
    del task
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        gc.collect()
    assert "Task was destroyed but it is pending" not in caplog.text
