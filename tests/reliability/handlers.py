"""Handlers for the reliability suite; a worker loads them with
``--app tests.reliability.handlers:registry``.

Every run appends JSON lines to the file named by ``ROTA_RELIABILITY_RECORD`` (one
``write`` of one short line on an ``O_APPEND`` descriptor, so lines from many processes never
interleave): ``start`` when a run begins and ``end`` when it returns. The test counts handler
executions from this file, separately from what the store accepted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import orjson

from rota.worker import Registry, TaskContext

registry = Registry()


def record(ctx: TaskContext, phase: str, **extra: Any) -> None:
    path = os.environ.get("ROTA_RELIABILITY_RECORD")
    if not path:
        return
    task = ctx.task
    line = {
        "phase": phase,
        "task": task.id,
        "attempt": task.attempt,
        "token": task.lease_token,
        "worker": ctx.worker_id,
        "pid": os.getpid(),
        "at": time.time(),
        **extra,
    }
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, orjson.dumps(line) + b"\n")
    finally:
        os.close(fd)


@registry.task("work", pass_context=True)
def work(ctx: TaskContext, ms: float = 0.0, **_: Any) -> dict[str, Any]:
    """Sleep ``ms`` milliseconds in a thread: a run a kill can land in the middle of."""
    record(ctx, "start")
    if ms:
        time.sleep(ms / 1000)
    record(ctx, "end")
    return {"worker": ctx.worker_id, "attempt": ctx.task.attempt}


@registry.task("poison", pass_context=True)
def poison(ctx: TaskContext, **_: Any) -> None:
    """Kill the worker process that runs it, every time."""
    record(ctx, "start")
    os.kill(os.getpid(), signal.SIGKILL)


@registry.task("stubborn", pass_context=True)
async def stubborn(ctx: TaskContext, hold: float = 0.0, **_: Any) -> dict[str, Any]:
    """On its first attempt: run ``hold`` seconds and refuse to be cancelled, then return.

    This is the zombie's handler: it finishes its work even after the runtime gave up the
    lease, so the paused worker does send a late completion (which must be refused).
    Later attempts return at once.
    """
    record(ctx, "start")
    cancelled = False
    if ctx.task.attempt == 1 and hold > 0:
        deadline = time.monotonic() + hold
        while (left := deadline - time.monotonic()) > 0:
            try:
                await asyncio.sleep(min(left, 0.05))
            except asyncio.CancelledError:
                cancelled = True  # keep going: a handler that ignores cancellation
    record(ctx, "end", cancelled=cancelled)
    return {"worker": ctx.worker_id, "attempt": ctx.task.attempt}
