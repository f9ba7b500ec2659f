"""Stopping background tasks (stream workers, the automation engine, the custom-event evaluator, the SMS
callback dispatcher) the same way everywhere: cancel, then wait until the task has really ended, so
nothing it owns is closed under it. Whatever the task raised on the way out was already logged by it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def stop_task(task: asyncio.Task[Any] | None) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
