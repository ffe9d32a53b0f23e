"""Retention: finished tasks and their history are deleted once they have been finished
for longer than their queue keeps them (``retention``, or ``queue_retention[queue]``).

A leader service, in bounded batches: each round reads the next page of each final state,
oldest first, and deletes the ones past their time. It walks on past tasks still kept (a
queue with a longer retention) and starts over at the end, so one queue's long retention
never holds up another's. Until then a task's result and history stay readable.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from rota.core.states import FINAL_STATES

if TYPE_CHECKING:
    from rota.service.service import Service

#: tasks one round reads at most, per final state
BATCH = 1000


class Retention:
    def __init__(self, service: Service) -> None:
        self.service = service
        self._after = dict.fromkeys(FINAL_STATES, 0)

    def keep_for(self, queue: str) -> timedelta:
        """The queue's own setting, else the server's per-queue one, else the default."""
        own = self.service.controls.settings_now.get(queue)
        if own is not None and own.retention is not None:
            return timedelta(seconds=own.retention)
        settings = self.service.settings
        return timedelta(seconds=settings.queue_retention.get(queue, settings.retention))

    async def prune(self) -> int:
        """One round; how many tasks were deleted."""
        backend, now = self.service.backend, self.service.clock.now()
        await self.service.controls.queue_settings()  # keep_for reads them as last read
        removed = 0
        for state in sorted(FINAL_STATES):
            page = await backend.task_list_final(
                state=state, after_seq=self._after[state], limit=BATCH
            )
            gone = [
                t.id
                for t in page
                if t.finished_at is not None and t.finished_at <= now - self.keep_for(t.queue)
            ]
            if gone:
                removed += await backend.task_delete_many(gone)
            self._after[state] = page[-1].seq if len(page) == BATCH else 0
        return removed
