"""Wake-ups for long-polling claimers inside one process.

A claimer takes a ticket *before* it looks for work and waits on that ticket, so an enqueue
that lands between "nothing found" and "start waiting" still wakes it. Claims of the same
queues share a ticket; a wake-up that names queues (:mod:`rota.core.wakeups`) wakes only
the tickets of claims that take from one of them, any other wakes them all. Across
processes the store's ``listen_inserts`` calls :meth:`Notifier.notify` (NOTIFY, pub/sub, a
datagram on a shared SQLite file); ``waiting.py`` re-checks every ``poll_interval`` where
nothing pushes.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Collection
from typing import Any

#: a claim's queues, as its ticket is filed (None: every queue)
Claimed = tuple[str, ...] | None


class Notifier:
    def __init__(self) -> None:
        # a ticket lives while a claim holds it: one per set of claimed queues waiting now
        self._tickets: weakref.WeakValueDictionary[Claimed, asyncio.Future[None]] = (
            weakref.WeakValueDictionary()
        )

    def ticket(self, queues: Collection[str] | None = None) -> asyncio.Future[None]:
        """The ticket of a claim from ``queues`` (None: every queue)."""
        key = None if queues is None else tuple(sorted(set(queues)))
        future = self._tickets.get(key)
        if future is None or future.done():
            future = self._tickets[key] = asyncio.get_running_loop().create_future()
        return future

    def notify(self, queues: Collection[str] | None = None) -> bool:
        """Wake the claims that take from any of ``queues`` (None: every claim); whether
        any was waiting to be woken."""
        named = None if queues is None else set(queues)
        woke = False
        for key, future in list(self._tickets.items()):
            if future.done():
                continue
            if named is None or key is None or not named.isdisjoint(key):
                future.set_result(None)
                woke = True
        return woke

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
