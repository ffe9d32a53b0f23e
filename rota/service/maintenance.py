"""Maintenance: a list of small leader services, run by whichever replica leads.

Each service is one job with its own interval (River's maintenance services: the job
rescuer, the scheduler, the cleaner). Correctness never depends on there being exactly one
leader: every write a service makes is guarded (a lease token, an expected state), so two
leaders for a moment do no harm; leadership only saves duplicate work.

A new job (schedules, aging, retention) is one more :class:`LeaderService` in
:func:`default_services`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from rota.core.errors import RotaError
from rota.core.models import EXPIRED_ERROR, Task
from rota.service.schedules import FOLLOWER_LAG

if TYPE_CHECKING:
    from rota.service.service import Service

log = logging.getLogger("rota.maintenance")
#: Seconds between two looks for due schedule occurrences (at most).
SCHEDULE_INTERVAL = 0.25
#: How many rows one round of one service touches at most.
BATCH = 1000
#: Rounds a leadership that lapses by time (Redis) outlives its last renewal: a dead
#: leader is replaced within this many ``sweep_interval``s.
LEADER_ROUNDS = 5


@dataclass(frozen=True, slots=True)
class LeaderService:
    name: str
    #: seconds between two rounds (a round may also run sooner: see ``Maintainer``)
    interval: float
    #: one round; returns how many things it changed
    run: Callable[[Service], Awaitable[int]]


async def sweep_leases(service: Service) -> int:
    """Attempts whose lease lapsed (the worker went silent) or whose run passed its
    timeout plus ``timeout_grace``: each fails as the retry policy says."""
    now = service.clock.now()
    lapsed = await service.backend.task_list_lapsed(now=now, limit=BATCH)
    grace = timedelta(seconds=service.settings.timeout_grace)
    running = await service.backend.task_list_timed(limit=BATCH)
    timed = [t for t in running if _overran(t, now, grace)]
    return await service.fail_stale(lapsed, timed, now)


def _overran(task: Task, now: datetime, grace: timedelta) -> bool:
    """The run's own deadline, decided here once: start + timeout + grace."""
    if task.timeout is None or task.started_at is None:
        return False
    return now >= task.started_at + timedelta(seconds=task.timeout) + grace


async def promote_due(service: Service) -> int:
    """Scheduled tasks whose time came become queued even while no claim runs (claims
    promote on their way too), so listings and counts show them as ready."""
    moved = await service.backend.task_promote_due(now=service.clock.now(), limit=BATCH)
    if moved:
        service.notifier.notify()
    return moved


async def expire_waiting(service: Service) -> int:
    """Waiting tasks past their ``expires_at`` are canceled, never run."""
    return await service.backend.task_expire_waiting(
        now=service.clock.now(), limit=BATCH, error=EXPIRED_ERROR
    )


async def forget_silent_workers(service: Service) -> int:
    """Workers unheard of for ``worker_silence`` seconds leave the registry."""
    before = service.clock.now() - timedelta(seconds=service.settings.worker_silence)
    return await service.backend.worker_delete_silent(before=before)


async def fire_schedules(service: Service) -> int:
    """The tasks of the schedules' due occurrences (see :mod:`rota.service.schedules`)."""
    return await service.schedules.fire_due()


async def prune_finished(service: Service) -> int:
    """Finished tasks past their queue's retention go (see :mod:`rota.service.retention`)."""
    return await service.retention.prune()


async def release_dependents(service: Service) -> int:
    """Tasks whose dependencies are done start; those below a failure are canceled."""
    return await service.jobs.release()


async def age_waiting(service: Service) -> int:
    """Aging queues take their due steps (see :mod:`rota.core.aging`)."""
    return await service.queues.age()


#: how often the aging service looks for queues whose step is due, seconds
AGING_INTERVAL = 1.0


def default_services(sweep_interval: float) -> list[LeaderService]:
    return [
        # a second: an aging step comes at most that late (part of the documented bound)
        LeaderService("aging", min(sweep_interval, AGING_INTERVAL), age_waiting),
        LeaderService("retention", max(sweep_interval, 10.0), prune_finished),
        # a quarter second: a due occurrence's task is made within that of its time
        LeaderService("schedules", min(sweep_interval, SCHEDULE_INTERVAL), fire_schedules),
        # as often as schedules: each level of a job's graph starts within that
        LeaderService("dependencies", min(sweep_interval, SCHEDULE_INTERVAL), release_dependents),
        LeaderService("expiry", sweep_interval, expire_waiting),
        LeaderService("lease-sweeper", sweep_interval, sweep_leases),
        LeaderService("promotion", sweep_interval, promote_due),
        LeaderService("worker-reaper", max(sweep_interval, 10.0), forget_silent_workers),
    ]


class Maintainer:
    """Every ``tick`` (the shortest service interval: a quarter second, for schedules):
    stay or become the leader, and if so, run each service whose interval has passed.
    When the leader dies its leadership lapses and another replica takes over at its next
    round."""

    def __init__(self, service: Service, services: list[LeaderService]) -> None:
        self.service = service
        self.services = services
        self._last: dict[str, float] = {}
        #: the loop's period: the shortest interval of its services
        self.tick = min([service.settings.sweep_interval, *(s.interval for s in services)])

    async def run_all(self) -> int:
        """One round of every service, due or not (tests and ``Service.sweep``)."""
        total = 0
        for job in self.services:
            total += await job.run(self.service)
            self._last[job.name] = time.monotonic()
        return total

    async def _round(self) -> None:
        now = time.monotonic()
        for job in self.services:
            if now - self._last.get(job.name, float("-inf")) >= job.interval:
                self._last[job.name] = now
                try:
                    await job.run(self.service)
                except RotaError as exc:  # one service's failure never stops the others
                    log.warning("maintenance %s: %s", job.name, exc)

    async def run(self, stop: asyncio.Event) -> None:
        service = self.service
        try:
            while not stop.is_set():
                with contextlib.suppress(RotaError):  # the store is down: try next round
                    hold = LEADER_ROUNDS * service.settings.sweep_interval
                    service.is_leader = await service.backend.leader_attempt_elect(hold=hold)
                    if service.is_leader:
                        await self._round()
                    else:  # the backstop while a dead leader's leadership lapses
                        await service.schedules.fire_due(lag=FOLLOWER_LAG)
                try:
                    await asyncio.wait_for(stop.wait(), self.tick)
                except TimeoutError:
                    continue
        finally:
            service.is_leader = False
            with contextlib.suppress(RotaError):
                await service.backend.leader_resign()
