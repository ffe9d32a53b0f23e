"""The process executor: each run in a child process, so it can be stopped by force.

For CPU-bound work (no GIL shared with the worker) and for code the worker should not
trust with its own memory. A child is started from a fork server (clean and quick), runs
one handler call and sends back its result or its error. On a timeout or a cancel past
its grace, the child is killed, not abandoned.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from rota.worker.registry import RetryLater

_CONTEXT = multiprocessing.get_context("forkserver")


class ChildError(Exception):
    """An exception raised in the child, carried back as its kind and traceback."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


def _child(fn: Callable[..., Any], payload: dict[str, Any], conn: Connection) -> None:
    try:
        result = fn(**payload)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        conn.send(("ok", result))
    except RetryLater as later:
        conn.send(("later", later.delay, str(later)))
    except BaseException as exc:
        conn.send(("error", type(exc).__name__, "".join(traceback.format_exception(exc))))
    finally:
        conn.close()


async def run_in_process(fn: Callable[..., Any], payload: dict[str, Any]) -> Any:
    """Run ``fn(**payload)`` in a child process; cancelling this kills the child."""
    loop = asyncio.get_running_loop()
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_child, args=(fn, payload, sender), daemon=True)
    child.start()
    sender.close()
    answered: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not answered.done():
            answered.set_result(None)

    loop.add_reader(receiver.fileno(), readable)
    try:
        await answered
        try:
            message = receiver.recv()
        except EOFError:  # it died before answering
            message = ("died",)
    finally:
        loop.remove_reader(receiver.fileno())
        receiver.close()
        if child.is_alive():
            child.kill()
        await loop.run_in_executor(None, child.join)
    if message[0] == "ok":
        return message[1]
    if message[0] == "later":
        raise RetryLater(message[1], message[2])
    if message[0] == "died":
        raise ChildError("ChildDied", f"the child process died (exit code {child.exitcode})")
    raise ChildError(message[1], message[2])
