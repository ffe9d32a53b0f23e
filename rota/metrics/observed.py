"""A store seen through the metrics: the service's backend, with its transitions counted.

The service decides and the backend applies (docs/architecture.md); what was applied is
what the backend returns, so counting there counts what really happened, once, whatever
path (API, in-process worker, leader services) asked for it. Every verb not named here is
the wrapped backend's own, untouched.

A finish names its task and lease, not the task's queue: the queue and the start of a run
are remembered from the claims (and the sweeper's reads) this process handled, for a
bounded number of live leases. A finish reported to another replica than its claim is
still counted, with an empty ``queue`` label, and gives no run time.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from rota.backends.base import Backend
from rota.core.dedup import Unique
from rota.core.fairness import Share
from rota.core.models import ClaimRequest, Finish, InsertClaim, Inserted, Job, Task
from rota.core.states import WAITING_STATES, TaskState
from rota.metrics.process import ProcessMetrics

S = TaskState
#: live leases remembered (queue, start): a claim's entry goes with its finish; entries of
#: leases finished elsewhere are dropped oldest first past this many
REMEMBERED = 100_000


class ObservedBackend:
    """Delegates to ``inner``; counts inserts, claims, finishes, cancels and expiries."""

    def __init__(self, inner: Backend, metrics: ProcessMetrics) -> None:
        self._inner = inner
        self._m = metrics
        self._leases: dict[tuple[str, int], tuple[str, datetime | None]] = {}
        # each queue's histogram child, looked up once: ``labels()`` costs as much again as
        # the observation, paid per claimed and per finished task
        self._wait: dict[str, Any] = {}
        self._run: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def inner(self) -> Backend:
        return self._inner

    async def task_insert_many(
        self,
        tasks: Iterable[Task],
        job: Job | None = None,
        uniques: Sequence[Unique | None] | None = None,
        shares: Sequence[Share | None] | None = None,
    ) -> list[Inserted]:
        inserted = await self._inner.task_insert_many(tasks, job, uniques, shares)
        self._inserted(inserted)
        return inserted

    async def task_insert_claim(
        self,
        tasks: Iterable[Task],
        job: Job | None,
        uniques: Sequence[Unique | None] | None,
        shares: Sequence[Share | None] | None,
        request: ClaimRequest,
    ) -> InsertClaim:
        done = await self._inner.task_insert_claim(tasks, job, uniques, shares, request)
        self._inserted(done.inserted)
        self._claimed(done.claimed, request.now)
        return done

    async def task_claim_many(self, request: ClaimRequest) -> list[Task]:
        tasks = await self._inner.task_claim_many(request)
        self._claimed(tasks, request.now)
        return tasks

    def _inserted(self, inserted: list[Inserted]) -> None:
        _add(self._m.enqueued, Tally(i.task.queue for i in inserted if not i.existing))

    def _claimed(self, tasks: list[Task], now: datetime) -> None:
        if tasks:
            for task in tasks:
                self._remember(task)
                self._child(self._wait, self._m.wait, task.queue).observe(
                    max((now - task.run_at).total_seconds(), 0.0)
                )
            _add(self._m.claimed, Tally(t.queue for t in tasks))

    async def task_list_lapsed(self, *, now: datetime, limit: int) -> list[Task]:
        tasks = await self._inner.task_list_lapsed(now=now, limit=limit)
        for task in tasks:  # the sweeper ends them next: keep their queue and start
            self._remember(task)
        return tasks

    async def task_list_timed(self, *, limit: int) -> list[Task]:
        tasks = await self._inner.task_list_timed(limit=limit)
        for task in tasks:
            self._remember(task)
        return tasks

    async def task_finish_many(self, finishes: Sequence[Finish], *, now: datetime) -> list[bool]:
        applied = await self._inner.task_finish_many(finishes, now=now)
        m = self._m
        ends: Tally[tuple[Any, str]] = Tally()  # (counter, queue): counted once per batch
        for finish, ok in zip(finishes, applied, strict=True):
            if not ok:
                continue
            queue, started = self._leases.pop((finish.task_id, finish.lease_token), ("", None))
            state = finish.state
            if state is S.SUCCEEDED:
                ends[m.succeeded, queue] += 1
            elif state is S.FAILED:
                ends[m.failed, queue] += 1
            elif state is S.CANCELED:
                ends[m.canceled, queue] += 1
            elif state in WAITING_STATES:
                ends[m.retried, queue] += 1
            if finish.expired_before is not None:
                ends[m.lapsed, queue] += 1
            if started is not None:
                run = self._child(self._run, m.run, queue)
                run.observe(max((now - started).total_seconds(), 0.0))
        for (counter, queue), n in ends.items():
            counter.labels(queue).inc(n)
        return applied

    async def task_cancel(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        task = await self._inner.task_cancel(task_id, expect=expect, now=now, actor=actor)
        if task is not None:
            self._m.canceled.labels(task.queue).inc()
        return task

    async def task_expire_waiting(self, *, now: datetime, limit: int, error: str) -> int:
        expired = await self._inner.task_expire_waiting(now=now, limit=limit, error=error)
        if expired:
            self._m.expired.inc(expired)
        return expired

    @staticmethod
    def _child(children: dict[str, Any], histogram: Any, queue: str) -> Any:
        child = children.get(queue)
        if child is None:
            child = children[queue] = histogram.labels(queue)
        return child

    def _remember(self, task: Task) -> None:
        leases = self._leases
        leases[(task.id, task.lease_token)] = (task.queue, task.started_at)
        if len(leases) > REMEMBERED:
            for key in list(leases)[: REMEMBERED // 10]:  # the oldest tenth
                del leases[key]


def _add(counter: Any, tally: Tally[str]) -> None:
    """One ``inc`` per queue per batch: a claim of 100 tasks costs a few, not 100."""
    for queue, n in tally.items():
        counter.labels(queue).inc(n)
