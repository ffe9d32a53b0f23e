"""Long-polls that cost nothing while they wait.

Every waiting claim of a process sleeps on the process's one notifier. A single watcher loop
runs while any of them waits: every ``poll_interval`` it reads the earliest scheduled time
and, on a store with a change counter (an SQLite file's ``data_version``), that counter (one
cheap read each, however many claims wait), and wakes them all when a scheduled task is due
or another process changed the store. A store that pushes (PostgreSQL LISTEN, Redis pub/sub,
SQLite's datagrams once its socket is bound) wakes them itself within milliseconds; there a
waiting claim also looks again every ``PUSH_RECHECK`` polls by itself, in case a wake-up was
lost. On SQLite the counter is read even then: it is the safety net for a writer that could
not announce its tasks (no access to the wake-up directory, an older rota), as a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from rota.service.notifier import Notifier

if TYPE_CHECKING:
    from rota.backends import Backend
    from rota.core.clock import Clock

#: on a store that pushes, a waiting claim looks again by itself after this many polls
PUSH_RECHECK = 50


class Waiting:
    def __init__(
        self, backend: Backend, notifier: Notifier, clock: Clock, poll_interval: float
    ) -> None:
        self._backend = backend
        self._notifier = notifier
        self._clock = clock
        self._poll = poll_interval
        self._count = 0
        self._watcher: asyncio.Task[None] | None = None

    @property
    def count(self) -> int:
        return self._count

    async def wait(self, ticket: asyncio.Future[None], remaining: float) -> None:
        """Sleep until ``ticket`` is woken or ``remaining`` seconds pass."""
        caps = self._backend.capabilities
        cap = self._poll * PUSH_RECHECK if caps.push_wakeups else remaining
        self._count += 1
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.create_task(self._watch())
        try:
            await self._notifier.wait(ticket, min(remaining, cap))
        finally:
            self._count -= 1

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watcher

    async def _watch(self) -> None:
        version = await self._backend.store_version()
        while self._count > 0:
            pause = self._poll
            next_run = await self._backend.task_next_run_at()
            if next_run is not None:
                due_in = (next_run - self._clock.now()).total_seconds()
                if due_in <= 0:
                    self._notifier.notify()
                else:
                    pause = min(pause, due_in)
            await asyncio.sleep(pause)
            seen = await self._backend.store_version()
            if seen != version:
                version = seen
                self._notifier.notify()
