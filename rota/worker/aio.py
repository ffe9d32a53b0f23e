"""Small asyncio pieces of the worker runtime: drive an eagerly started coroutine, stop a
task and wait for it, wait for the first of several awaitables."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Coroutine
from typing import Any


async def resume(coro: Coroutine[Any, Any, Any], waiting_on: Any) -> Any:
    """Drive a coroutine that was started eagerly, from the point where it first waited.

    It waits on what the coroutine yielded (a future, or None for a bare yield) the way a
    Task would, then sends the outcome back in; cancelling the driver cancels that future,
    and the coroutine receives the CancelledError.
    """
    while True:
        try:
            if waiting_on is None:
                await asyncio.sleep(0)
            else:
                waiting_on._asyncio_future_blocking = False  # as Task.__step does
                await waiting_on
        except BaseException as exc:
            try:
                waiting_on = coro.throw(exc)
            except StopIteration as done:
                return done.value
            continue
        try:
            waiting_on = coro.send(None)
        except StopIteration as done:
            return done.value


async def halt(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has stopped."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def first(*aws: Awaitable[Any]) -> None:
    """Wait until the first of ``aws`` is done; cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
