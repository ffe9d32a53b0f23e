"""Wake-ups for long-polling claimers inside one process.

A claimer takes a ticket *before* it looks for work and waits on that ticket, so an enqueue
that lands between "nothing found" and "start waiting" still wakes it. Across processes the
store's ``listen_inserts`` calls :meth:`Notifier.notify` (NOTIFY, pub/sub, a datagram on a
shared SQLite file); ``waiting.py`` re-checks every ``poll_interval`` where nothing pushes.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Notifier:
    def __init__(self) -> None:
        self._future: asyncio.Future[None] | None = None

    def ticket(self) -> asyncio.Future[None]:
        if self._future is None or self._future.done():
            self._future = asyncio.get_running_loop().create_future()
        return self._future

    def notify(self) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_result(None)

    @staticmethod
    async def wait(
        ticket: asyncio.Future[None], seconds: float, mine: asyncio.Future[Any] | None = None
    ) -> None:
        """Until ``ticket`` is woken, ``mine`` (the waiter's own future) is done, or
        ``seconds`` pass."""
        if seconds <= 0:
            return
        # Unlike wait_for, wait leaves the shared ticket alone when the time is up (no
        # shield), and the waiter resumes one step of the loop sooner when it is woken.
        waited = (ticket,) if mine is None else (ticket, mine)
        await asyncio.wait(waited, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
