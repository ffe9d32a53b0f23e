"""Handlers every worker has: ``noop``, ``echo``, ``sleep``; ``shell`` only when allowed."""

from __future__ import annotations

import asyncio
from typing import Any

from rota.worker.registry import Registry

OUTPUT_LIMIT = 64 * 1024


async def noop(**_: Any) -> None:
    return None


async def echo(**payload: Any) -> dict[str, Any]:
    return payload


async def sleep(seconds: float = 1.0, **_: Any) -> dict[str, float]:
    await asyncio.sleep(float(seconds))
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
