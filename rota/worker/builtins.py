"""Handlers every worker has: ``noop``, ``echo``, ``sleep``; ``shell`` only when allowed.

``sleep`` and ``shell`` take the TaskContext so that a cancel stops them at once (``shell``
asks its command to stop with SIGTERM, then kills it): the task ends ``canceled`` within
the worker's cancel check, not after its cancel grace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

from rota.worker.registry import Canceled, Registry, TaskContext

OUTPUT_LIMIT = 64 * 1024
#: the longest ``sleep`` the built-in handler takes (an hour)
MAX_SLEEP_SECONDS = 3600.0
#: how long a canceled ``shell`` command has between SIGTERM and SIGKILL
SHELL_STOP_GRACE = 3.0


async def noop(**_: Any) -> None:
    return None


async def echo(**payload: Any) -> dict[str, Any]:
    return payload


async def sleep(ctx: TaskContext, seconds: float = 1.0, **_: Any) -> dict[str, float]:
    # "inf", NaN or a string would hold a slot for ever (or crash deep in asyncio)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"seconds must be a number, not {type(seconds).__name__}")
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:
        raise ValueError(f"seconds must be between 0 and {MAX_SLEEP_SECONDS:.0f}")
    try:
        await asyncio.wait_for(ctx.cancel_requested.wait(), seconds)
    except TimeoutError:
        return {"slept": float(seconds)}
    raise Canceled("sleep stopped: its cancel was requested")


class ShellError(RuntimeError):
    """The command exited with a non-zero status; the message carries its stderr."""


async def shell(ctx: TaskContext, cmd: str, **_: Any) -> dict[str, Any]:
    """Run ``cmd`` in a shell (its own process group); a non-zero exit is a failure
    carrying stderr; a cancel stops the whole group."""
    proc = await asyncio.create_subprocess_shell(
        cmd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    talking = asyncio.ensure_future(proc.communicate())
    asked = asyncio.ensure_future(ctx.cancel_requested.wait())
    try:
        await asyncio.wait([talking, asked], return_when=asyncio.FIRST_COMPLETED)
        if not talking.done():
            _signal_group(proc, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(talking), SHELL_STOP_GRACE)
            except TimeoutError:
                _signal_group(proc, signal.SIGKILL)
                await talking
            raise Canceled(f"shell stopped on its cancel request (status {proc.returncode})")
        out, err = talking.result()
    except asyncio.CancelledError:  # stopped by force: leave nothing running
        _signal_group(proc, signal.SIGKILL)
        await proc.wait()
        raise
    finally:
        asked.cancel()
        talking.cancel()
    stderr = err[-OUTPUT_LIMIT:].decode(errors="replace")
    if proc.returncode != 0:
        raise ShellError(f"exit status {proc.returncode}: {stderr[-2000:]}")
    stdout = out[-OUTPUT_LIMIT:].decode(errors="replace")
    return {"returncode": proc.returncode, "stdout": stdout, "stderr": stderr}


def _signal_group(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def builtin_registry(*, allow_shell: bool = False) -> Registry:
    registry = Registry()
    registry.add("noop", noop)
    registry.add("echo", echo)
    registry.add("sleep", sleep, pass_context=True)
    if allow_shell:
        registry.add("shell", shell, pass_context=True)
    return registry
