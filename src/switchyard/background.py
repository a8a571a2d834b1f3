"""A process's background loops (the Stripe meter, the alert evaluator, the invalidation listener): stopping one.

Stopping cancels the task and waits for it to unwind, so its `finally` blocks run before the stores it uses close;
the cancellation it was stopped with is not an error. A task that had already failed re-raises its error here.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def stop(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` (None: nothing was started) and wait until it has finished."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
