"""An in-process backend: one more implementation of the contract, for tests and embedding.

Not shared between processes and not durable. Each verb runs without awaiting in the
middle, so on one event loop every verb is atomic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from rota.core.errors import DuplicateTask
from rota.core.models import Event, Finish, Job, Position, QueueCount, Task, TaskFilter
from rota.core.ordering import claim_key
from rota.core.states import WAITING_STATES, TaskState

S = TaskState
_FINISH_KIND = {
    S.SUCCEEDED: "succeeded",
    S.FAILED: "failed",
    S.QUEUED: "retry",
    S.SCHEDULED: "retry",
    S.CANCELED: "canceled",
}


def _capped(lease: datetime, timeout: float | None, started: datetime, grace: float) -> datetime:
    """A lease never outlives the run's timeout (plus grace): the server's own enforcement."""
    if timeout is None:
        return lease
    return min(lease, started + timedelta(seconds=timeout + grace))


class MemoryBackend:
    shared = False

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        self._events: dict[str, list[Event]] = defaultdict(list)
        self._jobs: dict[str, Job] = {}
        self._seq = 0
        self._event_seq = 0

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # -- wake-ups and leadership: one process, so always the leader ------------------------

    async def listen_inserts(self, callback: Callable[[], None]) -> None:
        return None

    async def leader_attempt_elect(self) -> bool:
        return True

    async def leader_resign(self) -> None:
        return None

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _record(
        self,
        task: Task,
        kind: str,
        at: datetime,
        before: TaskState | None,
        message: str | None = None,
    ) -> None:
        self._event_seq += 1
        self._events[task.id].append(
            Event(task.id, at, kind, before, task.state, task.worker_id, message, self._event_seq)
        )

    def _put(self, old: Task, new: Task, kind: str, at: datetime, msg: str | None = None) -> Task:
        self._tasks[new.id] = new
        self._record(new, kind, at, old.state, msg)
        return new

    async def task_insert_many(self, tasks: Iterable[Task], job: Job | None = None) -> list[Task]:
        tasks = list(tasks)
        ids = [t.id for t in tasks]
        if len(set(ids)) != len(ids) or any(i in self._tasks for i in ids):
            taken = next(i for i in ids if i in self._tasks or ids.count(i) > 1)
            raise DuplicateTask(f"task id {taken!r} already exists")
        if job is not None and job.id in self._jobs:
            raise DuplicateTask(f"job id {job.id!r} already exists")
        if job is not None:
            self._jobs[job.id] = job
        out = []
        for task in tasks:
            stored = task.evolve(seq=self._next_seq())
            self._tasks[stored.id] = stored
            self._record(stored, "enqueued", stored.created_at, None)
            out.append(stored)
        return out

    async def task_get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    async def task_list(
        self, filter: TaskFilter, *, after_seq: int | None, limit: int
    ) -> list[Task]:
        rows = [
            t
            for t in self._tasks.values()
            if (filter.queue is None or t.queue == filter.queue)
            and (filter.state is None or t.state == filter.state)
            and (filter.kind is None or t.kind == filter.kind)
            and (filter.tenant is None or t.tenant == filter.tenant)
            and (filter.job_id is None or t.job_id == filter.job_id)
            and (after_seq is None or t.seq < after_seq)
        ]
        rows.sort(key=lambda t: t.seq, reverse=True)
        return rows[:limit]

    def _ready(self, task: Task, queues: Sequence[str] | None, now: datetime) -> bool:
        if queues is not None and task.queue not in queues:
            return False
        if task.expires_at is not None and task.expires_at <= now:
            return False
        return task.state == S.QUEUED or (task.state == S.SCHEDULED and task.run_at <= now)

    async def task_claim_many(
        self,
        *,
        queues: Sequence[str] | None,
        worker_id: str,
        limit: int,
        now: datetime,
        lease_expires_at: datetime,
        timeout_grace: float = 0.0,
    ) -> list[Task]:
        ready = sorted(
            (t for t in self._tasks.values() if self._ready(t, queues, now)), key=claim_key
        )
        claimed = []
        for task in ready[:limit]:
            if task.state == S.SCHEDULED:
                promoted = task.evolve(state=S.QUEUED)
                task = self._put(task, promoted, "promoted", now)
            running = task.evolve(
                state=S.RUNNING,
                attempt=task.attempt + 1,
                lease_token=task.lease_token + 1,
                lease_expires_at=_capped(lease_expires_at, task.timeout, now, timeout_grace),
                progress=None,
                worker_id=worker_id,
                started_at=now,
            )
            claimed.append(self._put(task, running, "claimed", now))
        return claimed

    def _live(self, task_id: str, token: int) -> Task | None:
        task = self._tasks.get(task_id)
        if task is None or task.state != S.RUNNING or task.lease_token != token:
            return None
        return task

    async def task_heartbeat(
        self,
        task_id: str,
        lease_token: int,
        *,
        now: datetime,
        lease_expires_at: datetime,
        progress: Any = None,
        timeout_grace: float = 0.0,
    ) -> Task | None:
        task = self._live(task_id, lease_token)
        if task is None:
            return None
        started = task.started_at or now
        new = task.evolve(
            lease_expires_at=_capped(lease_expires_at, task.timeout, started, timeout_grace),
            progress=task.progress if progress is None else progress,
        )
        self._tasks[task_id] = new
        return new

    async def task_finish_many(self, finishes: Sequence[Finish], *, now: datetime) -> list[bool]:
        applied = []
        for f in finishes:
            task = self._live(f.task_id, f.lease_token)
            lease_end = None if task is None else task.lease_expires_at
            if task is None or (
                f.expired_before is not None
                and (lease_end is None or lease_end >= f.expired_before)
            ):
                applied.append(False)
                continue
            final = f.state not in WAITING_STATES
            new = task.evolve(
                state=f.state,
                attempt=task.attempt if f.attempt is None else f.attempt,
                result=f.result,
                error=f.error,
                run_at=f.run_at or task.run_at,
                lease_expires_at=None,
                finished_at=now if final else None,
                cancel_requested=False,
            )
            self._put(task, new, _FINISH_KIND[f.state], now, f.error)
            applied.append(True)
        return applied

    async def task_cancel(self, task_id: str, *, now: datetime) -> Task | None:
        task = self._tasks.get(task_id)
        if task is None:
            return None
        if task.state in WAITING_STATES:
            return self._put(task, task.evolve(state=S.CANCELED, finished_at=now), "canceled", now)
        if task.state == S.RUNNING:
            return self._put(task, task.evolve(cancel_requested=True), "cancel_requested", now)
        return None

    async def task_set_priority(
        self, task_id: str, priority: int, *, to_tail: bool, now: datetime
    ) -> Task | None:
        task = self._tasks.get(task_id)
        if task is None or task.state not in WAITING_STATES:
            return None
        new = task.evolve(priority=priority, seq=self._next_seq() if to_tail else task.seq)
        return self._put(task, new, "priority_changed", now, f"priority {priority}")

    async def task_requeue(self, task_id: str, *, now: datetime) -> Task | None:
        task = self._tasks.get(task_id)
        if task is None or task.state not in (S.FAILED, S.CANCELED):
            return None
        new = task.evolve(
            state=S.QUEUED,
            attempt=0,
            run_at=now,
            finished_at=None,
            error=None,
            result=None,
            cancel_requested=False,
            seq=self._next_seq(),
        )
        return self._put(task, new, "requeued", now)

    async def task_expire_waiting(self, *, now: datetime, limit: int) -> int:
        expired = [
            t
            for t in self._tasks.values()
            if t.state in WAITING_STATES and t.expires_at is not None and t.expires_at <= now
        ][:limit]
        for task in expired:
            new = task.evolve(
                state=S.CANCELED, finished_at=now, error="expired: not started in time"
            )
            self._put(task, new, "expired", now, new.error)
        return len(expired)

    async def task_delete_many(self, task_ids: Sequence[str]) -> int:
        gone = [i for i in task_ids if self._tasks.pop(i, None) is not None]
        for task_id in gone:
            self._events.pop(task_id, None)
        return len(gone)

    async def task_list_expired(self, *, now: datetime, limit: int) -> list[Task]:
        rows = [
            t
            for t in self._tasks.values()
            if t.state == S.RUNNING and t.lease_expires_at is not None and t.lease_expires_at < now
        ]
        rows.sort(key=lambda t: (t.lease_expires_at, t.seq))
        return rows[:limit]

    async def task_position(self, task_id: str) -> Position | None:
        task = self._tasks.get(task_id)
        if task is None or task.state != S.QUEUED:
            return None
        mine = claim_key(task)
        peers = [t for t in self._tasks.values() if t.state == S.QUEUED and t.queue == task.queue]
        in_queue = sum(1 for t in peers if claim_key(t) < mine) + 1
        in_priority = sum(1 for t in peers if t.priority == task.priority and t.seq < task.seq) + 1
        return Position(in_priority=in_priority, in_queue=in_queue)

    async def task_count(self) -> list[QueueCount]:
        counts: dict[tuple[str, TaskState, int], int] = defaultdict(int)
        for t in self._tasks.values():
            counts[(t.queue, t.state, t.priority)] += 1
        return [QueueCount(q, s, p, n) for (q, s, p), n in sorted(counts.items())]

    async def task_next_run_at(self) -> datetime | None:
        times = [t.run_at for t in self._tasks.values() if t.state == S.SCHEDULED]
        return min(times, default=None)

    async def event_list(self, task_id: str) -> list[Event]:
        return list(self._events.get(task_id, []))

    async def job_get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    async def job_count(self, job_id: str) -> dict[TaskState, int]:
        counts: dict[TaskState, int] = defaultdict(int)
        for t in self._tasks.values():
            if t.job_id == job_id:
                counts[t.state] += 1
        return dict(counts)
