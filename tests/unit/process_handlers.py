"""Handlers for the process-executor tests: importable by a fresh child process."""

from __future__ import annotations

import os
import time
from typing import Any

from rota.worker import Registry, RetryLater

registry = Registry()


@registry.task("whoami", executor="process")
def whoami() -> int:
    return os.getpid()


@registry.task("hang", executor="process")
def hang(pid_file: str) -> None:
    with open(pid_file, "w") as out:
        out.write(str(os.getpid()))
    time.sleep(60)


@registry.task("crash", executor="process")
def crash() -> None:
    os._exit(3)


@registry.task("boom", executor="process")
def boom() -> None:
    raise ZeroDivisionError("in the child")


@registry.task("not_now", executor="process")
def not_now() -> None:
    raise RetryLater(10, "come back later")


@registry.ranker("by_size")
def by_size(ctx: Any) -> int:
    """A ranker for `rota serve --app` tests: bigger payloads first."""
    return min(100, 10 * len(ctx.payload.get("items", [])))
