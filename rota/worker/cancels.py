"""How a cancel request reaches a running task within about a second.

A cancel of a running task only flags it in the store; the worker has to ask. Heartbeats
(every ``heartbeat_interval``, 10 s) carry the flag, but that is too slow, and heartbeating
more often would write to the store for every running task. So a worker that runs tasks
asks one cheap question every ``cancel_check_interval`` (0.5 s): "which of these leases
has a cancel requested?" One read request per worker, not per task, no write; never while
the worker is idle, and only about runs already ``interval`` old, so a worker draining short
tasks asks nothing at all. A request made just after a run started is seen within two
intervals, plus one round trip.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from rota.core.errors import ClientError, ServerError, StoreError
from rota.worker.sources import Source

log = logging.getLogger("rota.worker")
Lease = tuple[str, int]


class CancelWatch:
    def __init__(self, source: Source, worker_id: str, interval: float) -> None:
        self.source = source
        self.worker_id = worker_id
        self.interval = interval

    async def run(
        self, watched: Callable[[float], list[Lease]], canceled: Callable[[Lease], None]
    ) -> None:
        """Until cancelled: ask about ``watched(min_age)`` and call ``canceled`` for each
        lease the store says has a cancel request."""
        failing = False
        while True:
            await asyncio.sleep(self.interval)
            leases = watched(self.interval)
            if not leases:
                continue
            try:
                found = await self.source.canceled(self.worker_id, leases)
            except ServerError as exc:
                if exc.status_code in (404, 405):  # a server older than the question
                    log.warning(
                        "the server does not answer cancel checks; cancels of "
                        "running tasks arrive with heartbeats only"
                    )
                    return
                failing = _once(failing, exc)
                continue
            except (ClientError, StoreError) as exc:
                failing = _once(failing, exc)
                continue
            failing = False
            for lease in found:
                canceled(lease)


def _once(failing: bool, exc: Exception) -> bool:
    """Say that checks fail once per outage (heartbeats still carry cancels meanwhile)."""
    if not failing:
        log.warning("cancel check failed (%s); retrying", exc)
    return True
