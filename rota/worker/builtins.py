"""Handlers every worker has: ``noop``, ``echo``, ``sleep``; ``shell`` only when allowed."""

from __future__ import annotations

import asyncio
from typing import Any

from rota.worker.registry import Registry

OUTPUT_LIMIT = 64 * 1024
#: the longest ``sleep`` the built-in handler takes (an hour)
MAX_SLEEP_SECONDS = 3600.0


async def noop(**_: Any) -> None:
    return None


async def echo(**payload: Any) -> dict[str, Any]:
    return payload


async def sleep(seconds: float = 1.0, **_: Any) -> dict[str, float]:
    # "inf", NaN or a string would hold a slot for ever (or crash deep in asyncio)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise TypeError(f"seconds must be a number, not {type(seconds).__name__}")
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:
        raise ValueError(f"seconds must be between 0 and {MAX_SLEEP_SECONDS:.0f}")
    await asyncio.sleep(seconds)
    return {"slept": float(seconds)}


class ShellError(RuntimeError):
    """The command exited with a non-zero status; the message carries its stderr."""


async def shell(cmd: str, **_: Any) -> dict[str, Any]:
    """Run ``cmd`` in a shell; a non-zero exit is a failure carrying stderr."""
    proc = await asyncio.create_subprocess_shell(
        cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:
        proc.kill()
        await proc.wait()
        raise
    stderr = err[-OUTPUT_LIMIT:].decode(errors="replace")
    if proc.returncode != 0:
        raise ShellError(f"exit status {proc.returncode}: {stderr[-2000:]}")
    stdout = out[-OUTPUT_LIMIT:].decode(errors="replace")
    return {"returncode": proc.returncode, "stdout": stdout, "stderr": stderr}


def builtin_registry(*, allow_shell: bool = False) -> Registry:
    registry = Registry()
    for fn in (noop, echo, sleep):
        registry.add(fn.__name__, fn)
    if allow_shell:
        registry.add("shell", shell)
    return registry
