"""An in-process backend: one more implementation of the contract, for tests and embedding.

Not shared between processes and not durable. Each verb runs without awaiting in the
middle, so on one event loop every verb is atomic.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from rota.backends.base import Capabilities, insert_then_claim
from rota.core import dedup, fairness
from rota.core.admission import Admission
from rota.core.auth import TokenRecord
from rota.core.dedup import Unique
from rota.core.errors import DuplicateTask
from rota.core.fairness import Share
from rota.core.models import (
    BLOCKED_AT,
    SYSTEM,
    AuditEntry,
    ClaimRequest,
    Event,
    Finish,
    InsertClaim,
    Inserted,
    Job,
    Position,
    QueueCount,
    ScheduleRecord,
    Task,
    TaskFilter,
    WorkerInfo,
    next_lease_token,
)
from rota.core.ordering import claim_key
from rota.core.states import ACTIVE_STATES, FINAL_STATES, WAITING_STATES, TaskState
from rota.core.wakeups import Queues

S = TaskState


class MemoryBackend:
    capabilities = Capabilities(shared=False, push_wakeups=False)

    @classmethod
    def from_url(cls, url: str) -> MemoryBackend:
        return cls()

    def __init__(self) -> None:
        self._workers: dict[str, WorkerInfo] = {}
        self._tokens: dict[str, TokenRecord] = {}
        self._controls: dict[str, str] = {}
        self._audit: list[AuditEntry] = []
        self._schedules: dict[str, ScheduleRecord] = {}
        self._tasks: dict[str, Task] = {}
        self._events: dict[str, list[Event]] = defaultdict(list)
        self._jobs: dict[str, Job] = {}
        self._fair: dict[str, dict[str, float]] = {}  # queue -> fairness key -> pass
        self._buckets: dict[str, tuple[float, datetime]] = {}  # queue -> rate limit bucket
        #: unique key -> (holder's id, held while it runs, held until)
        self._uniques: dict[str, tuple[str, bool, datetime | None]] = {}
        self._seq = 0
        self._event_seq = 0

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # -- wake-ups and leadership: one process, so always the leader ------------------------

    async def listen_inserts(self, callback: Callable[[Queues], object]) -> None:
        return None

    async def store_version(self) -> int | None:
        return None

    async def leader_attempt_elect(self, *, hold: float) -> bool:
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
        actor: str | None,
        message: str | None = None,
    ) -> None:
        self._event_seq += 1
        self._events[task.id].append(
            Event(
                task.id, at, kind, before, task.state, task.worker_id, message, self._event_seq,
                actor,
            )
        )  # fmt: skip

    def _put(
        self, old: Task, new: Task, kind: str, at: datetime, actor: str | None, msg: str | None
    ) -> Task:
        self._tasks[new.id] = new
        self._record(new, kind, at, old.state, actor, msg)
        return new

    async def task_insert_many(
        self,
        tasks: Iterable[Task],
        job: Job | None = None,
        uniques: Sequence[Unique | None] | None = None,
        shares: Sequence[Share | None] | None = None,
    ) -> list[Inserted]:
        tasks = list(tasks)
        ids = [t.id for t in tasks]
        if len(set(ids)) != len(ids) or any(i in self._tasks for i in ids):
            taken = next(i for i in ids if i in self._tasks or ids.count(i) > 1)
            raise DuplicateTask(f"task id {taken!r} already exists")
        if job is not None and job.id in self._jobs:
            raise DuplicateTask(f"job id {job.id!r} already exists")
        steps = [dedup.Step("insert")] * len(tasks)
        if uniques and tasks:
            stored_keys = {
                u.key: self._held(u.key)
                for u in uniques
                if u is not None and u.key in self._uniques
            }
            steps = dedup.plan(tasks, uniques, stored_keys, tasks[0].created_at)
        if shares:  # the tasks that go in (not those answered with a holder) get places
            going = [s.holder is None or s.action == "replace" for s in steps]
            tasks = self._placed(
                tasks, [s if go else None for s, go in zip(shares, going, strict=True)]
            )
        if job is not None:
            self._jobs[job.id] = job
        out = []
        for i, (task, step) in enumerate(zip(tasks, steps, strict=True)):
            if step.holder is not None and step.action != "replace":
                out.append(Inserted(self._keep(step, task), existing=True))
                continue
            if step.holder is not None and step.holder.state in WAITING_STATES:
                holder = step.holder
                gone = holder.evolve(state=S.CANCELED, finished_at=task.created_at)
                self._put(holder, gone, "canceled", task.created_at, None, f"replaced by {task.id}")
            seq = self._next_seq()
            stored = task.evolve(seq=seq, place=float(seq) if task.place < 0 else task.place)
            self._tasks[stored.id] = stored
            self._record(stored, "enqueued", stored.created_at, None, None)
            unique = None if uniques is None else uniques[i]
            if unique is not None:
                self._uniques[unique.key] = (stored.id, unique.while_running, unique.until)
            out.append(Inserted(stored))
        return out

    def _placed(self, tasks: list[Task], shares: Sequence[Share | None]) -> list[Task]:
        """The tasks, those with a share at their fair places (rota.core.fairness)."""
        placed = list(tasks)
        for queue, members in fairness.by_queue([t.queue for t in tasks], shares):
            ready = [t for t in self._tasks.values() if t.queue == queue and t.state == S.QUEUED]
            head = min(ready, key=claim_key).place if ready else None
            counters = self._fair.setdefault(queue, {})
            given = fairness.places(counters, head, [share for _, share in members])
            for (i, _), place in zip(members, given, strict=True):
                placed[i] = tasks[i].evolve(place=place)
        return placed

    def _held(self, key: str) -> dedup.Held:
        task_id, while_running, until = self._uniques[key]
        return dedup.Held(self._tasks.get(task_id), while_running, until)

    def _keep(self, step: dedup.Step, task: Task) -> Task:
        """The holder an insert answers with, changed as its step says."""
        holder = step.holder
        assert holder is not None
        at = task.created_at
        if step.action == "update_payload":
            return self._put(holder, holder.evolve(payload=task.payload), "payload_updated",
                             at, None, None)  # fmt: skip
        if step.action == "raise_priority" and task.priority > holder.priority:
            new = holder.evolve(priority=task.priority)
            return self._put(holder, new, "priority_changed", at, None, f"priority {task.priority}")
        change = step.change
        if change is not None:
            if change.payload is not None:
                new = holder.evolve(payload=change.payload)
                holder = self._put(holder, new, "payload_updated", at, None, None)
            if change.priority is not None or change.place is not None:
                new = holder.evolve(
                    priority=holder.priority if change.priority is None else change.priority,
                    place=holder.place if change.place is None else change.place,
                )
                message = change.message(holder)
                holder = self._put(holder, new, "priority_changed", at, None, message)
        return holder

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

    def _ready(
        self, task: Task, queues: Sequence[str] | None, now: datetime, can: frozenset[str]
    ) -> bool:
        if queues is not None and task.queue not in queues:
            return False
        if task.requires and not can.issuperset(task.requires):
            return False
        if task.expires_at is not None and task.expires_at <= now:
            return False
        return task.state == S.QUEUED or (task.state == S.SCHEDULED and task.run_at <= now)

    async def task_insert_claim(
        self,
        tasks: Iterable[Task],
        job: Job | None,
        uniques: Sequence[Unique | None] | None,
        shares: Sequence[Share | None] | None,
        request: ClaimRequest,
    ) -> InsertClaim:
        return await insert_then_claim(self, tasks, job, uniques, shares, request)

    async def task_claim_many(self, request: ClaimRequest) -> list[Task]:
        now, queues = request.now, request.queues
        skip, can = set(request.skip_tenants), frozenset(request.capabilities)
        looked_at: Iterable[Task] = self._tasks.values()
        if request.task_ids:  # a claim of given tasks looks at those only
            looked_at = filter(None, (self._tasks.get(i) for i in request.task_ids))
        ready = sorted(
            (
                t
                for t in looked_at
                if self._ready(t, queues, now, can) and (t.tenant is None or t.tenant not in skip)
            ),
            key=claim_key,
        )
        if request.limits:
            admission, admitted = self._admission(request), list[Task]()
            for task in ready:
                if len(admitted) == request.limit:
                    break
                if admission.admit(task.queue, task.tenant):
                    admitted.append(task)
            ready = admitted
            self._buckets.update(admission.buckets())
        claimed = []
        for task in ready[: request.limit]:
            if task.state == S.SCHEDULED:
                promoted = task.evolve(state=S.QUEUED)
                task = self._put(task, promoted, "promoted", now, SYSTEM, None)
            running = task.evolve(
                state=S.RUNNING,
                attempt=task.attempt + 1,
                lease_token=next_lease_token(task.lease_token, request.salt),
                lease_expires_at=request.lease_expires_at,
                progress=None,
                worker_id=request.worker_id,
                started_at=now,
            )
            claimed.append(self._put(task, running, "claimed", now, request.actor, None))
        return claimed

    def _admission(self, request: ClaimRequest) -> Admission:
        limited = {limit.queue: limit for limit in request.limits}
        running: Counter[str] = Counter()
        tenants: Counter[tuple[str, str]] = Counter()
        for t in self._tasks.values():
            if t.state == S.RUNNING and t.queue in limited:
                running[t.queue] += 1
                if t.tenant is not None:
                    tenants[(t.queue, t.tenant)] += 1
        return Admission(limited, running, tenants, self._buckets, request.now)

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
    ) -> Task | None:
        task = self._live(task_id, lease_token)
        if task is None:
            return None
        new = task.evolve(
            lease_expires_at=lease_expires_at,
            progress=task.progress if progress is None else progress,
        )
        self._tasks[task_id] = new
        return new

    async def task_finish_many(self, finishes: Sequence[Finish], *, now: datetime) -> list[bool]:
        applied = []
        for f in finishes:
            task = self._live(f.task_id, f.lease_token)
            lease_end = None if task is None else task.lease_expires_at
            if (
                task is None
                or (f.worker_id is not None and task.worker_id != f.worker_id)
                or (
                    f.expired_before is not None
                    and (lease_end is None or lease_end >= f.expired_before)
                )
            ):
                applied.append(False)
                continue
            new = task.evolve(
                state=f.state,
                attempt=task.attempt if f.attempt is None else f.attempt,
                result=f.result,
                error=f.error,
                run_at=f.run_at or task.run_at,
                lease_expires_at=None,
                finished_at=f.finished_at,
                cancel_requested=False,
            )
            self._put(task, new, f.event, now, f.actor, f.error)
            applied.append(True)
        return applied

    def _in(self, task_id: str, state: TaskState) -> Task | None:
        task = self._tasks.get(task_id)
        return task if task is not None and task.state == state else None

    async def task_cancel(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        task = self._in(task_id, expect)
        if task is None:
            return None
        new = task.evolve(state=S.CANCELED, finished_at=now)
        return self._put(task, new, "canceled", now, actor, None)

    async def task_list_canceling(self, leases: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
        return [
            (task_id, token)
            for task_id, token in leases
            if (task := self._live(task_id, token)) is not None and task.cancel_requested
        ]

    async def task_cancel_request(
        self, task_id: str, lease_token: int, *, now: datetime, actor: str
    ) -> Task | None:
        task = self._live(task_id, lease_token)
        if task is None:
            return None
        new = task.evolve(cancel_requested=True)
        return self._put(task, new, "cancel_requested", now, actor, None)

    async def task_set_priority(
        self,
        task_id: str,
        priority: int,
        *,
        expect: TaskState,
        to_tail: bool,
        now: datetime,
        actor: str,
    ) -> Task | None:
        task = self._in(task_id, expect)
        if task is None:
            return None
        if to_tail:
            seq = self._next_seq()
            new = task.evolve(priority=priority, seq=seq, place=float(seq))
        else:
            new = task.evolve(priority=priority)
        return self._put(task, new, "priority_changed", now, actor, f"priority {priority}")

    async def task_move(
        self,
        task_id: str,
        run_at: datetime,
        *,
        state: TaskState,
        expect: TaskState,
        now: datetime,
        actor: str,
    ) -> Task | None:
        task = self._in(task_id, expect)
        if task is None:
            return None
        new = task.evolve(run_at=run_at, state=state)
        return self._put(task, new, "moved", now, actor, f"run at {run_at.isoformat()}")

    async def task_requeue(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        task = self._in(task_id, expect)
        if task is None:
            return None
        new = task.evolve(
            state=S.QUEUED,
            attempt=0,
            run_at=now,
            finished_at=None,
            error=None,
            result=None,
            cancel_requested=False,
            seq=(seq := self._next_seq()),
            place=float(seq),
        )
        return self._put(task, new, "requeued", now, actor, None)

    async def task_promote_due(self, *, now: datetime, limit: int) -> int:
        due = [t for t in self._tasks.values() if t.state == S.SCHEDULED and t.run_at <= now]
        due.sort(key=lambda t: (t.run_at, t.seq))
        for task in due[:limit]:
            self._put(task, task.evolve(state=S.QUEUED), "promoted", now, SYSTEM, None)
        return len(due[:limit])

    async def task_expire_waiting(self, *, now: datetime, limit: int, error: str) -> int:
        expired = [
            t
            for t in self._tasks.values()
            if t.state in WAITING_STATES and t.expires_at is not None and t.expires_at <= now
        ][:limit]
        for task in expired:
            new = task.evolve(state=S.CANCELED, finished_at=now, error=error)
            self._put(task, new, "expired", now, SYSTEM, error)
        return len(expired)

    async def task_delete_many(self, task_ids: Sequence[str]) -> int:
        gone = [i for i in task_ids if i in self._tasks and self._tasks[i].state in FINAL_STATES]
        for task_id in gone:
            del self._tasks[task_id]
        for task_id in gone:
            self._events.pop(task_id, None)
        return len(gone)

    async def task_list_lapsed(self, *, now: datetime, limit: int) -> list[Task]:
        rows = [
            t
            for t in self._tasks.values()
            if t.state == S.RUNNING and t.lease_expires_at is not None and t.lease_expires_at < now
        ]
        rows.sort(key=lambda t: (t.lease_expires_at, t.seq))
        return rows[:limit]

    async def task_list_final(self, *, state: TaskState, after_seq: int, limit: int) -> list[Task]:
        rows = [t for t in self._tasks.values() if t.state == state and t.seq > after_seq]
        return sorted(rows, key=lambda t: t.seq)[:limit]

    async def task_list_timed(self, *, limit: int) -> list[Task]:
        rows = [t for t in self._tasks.values() if t.state == S.RUNNING and t.timeout is not None]
        rows.sort(key=lambda t: (t.started_at, t.seq))
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

    async def task_count_by_queue(self, tenant: str | None = None) -> list[QueueCount]:
        counts: dict[tuple[str, TaskState, int], int] = defaultdict(int)
        for t in self._tasks.values():
            if tenant is not None and t.tenant != tenant:
                continue
            counts[(t.queue, t.state, t.priority)] += 1
        return [QueueCount(q, s, p, n) for (q, s, p), n in sorted(counts.items())]

    async def task_count_active(self) -> list[QueueCount]:
        return [c for c in await self.task_count_by_queue() if c.state in ACTIVE_STATES]

    async def task_list_blocked(self, *, limit: int) -> list[Task]:
        blocked = [
            t for t in self._tasks.values() if t.state == S.SCHEDULED and t.run_at >= BLOCKED_AT
        ]
        return sorted(blocked, key=lambda t: t.seq)[:limit]

    async def task_count_requiring(self) -> list[tuple[str, tuple[str, ...], int]]:
        counts: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
        for t in self._tasks.values():
            if t.requires and t.state in WAITING_STATES:
                counts[(t.queue, t.requires)] += 1
        return [(q, r, n) for (q, r), n in sorted(counts.items())]

    async def task_count_waiting(self, queue: str) -> int:
        tasks = self._tasks.values()
        return sum(1 for t in tasks if t.queue == queue and t.state in WAITING_STATES)

    async def task_age(self, queue: str, *, cap: int, ready_before: datetime) -> int:
        aged = [
            t
            for t in self._tasks.values()
            if t.queue == queue and t.state == S.QUEUED and t.priority < cap
            and t.run_at <= ready_before
        ]  # fmt: skip
        for task in aged:
            self._tasks[task.id] = task.evolve(priority=task.priority + 1)
        return len(aged)

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

    async def worker_upsert(self, worker: WorkerInfo) -> None:
        self._workers[worker.id] = worker

    async def worker_touch(self, worker_ids: Sequence[str], *, now: datetime) -> None:
        for worker_id in worker_ids:
            worker = self._workers.get(worker_id)
            if worker is not None:
                self._workers[worker_id] = replace(worker, last_seen_at=now)

    async def worker_list(self) -> list[WorkerInfo]:
        return sorted(self._workers.values(), key=lambda w: (w.started_at, w.id))

    async def worker_delete_silent(self, *, before: datetime) -> int:
        silent = [w.id for w in self._workers.values() if w.last_seen_at < before]
        for worker_id in silent:
            del self._workers[worker_id]
        return len(silent)

    async def token_insert(self, token: TokenRecord) -> bool:
        if token.name in self._tokens or any(
            t.digest == token.digest for t in self._tokens.values()
        ):
            return False
        self._tokens[token.name] = token
        return True

    async def token_get(self, digest: str) -> TokenRecord | None:
        return next((t for t in self._tokens.values() if t.digest == digest), None)

    async def token_list(self) -> list[TokenRecord]:
        return sorted(self._tokens.values(), key=lambda t: (t.created_at, t.name))

    async def token_revoke(self, name: str, *, now: datetime) -> bool:
        token = self._tokens.get(name)
        if token is None or token.revoked_at is not None:
            return False
        self._tokens[name] = replace(token, revoked_at=now)
        return True

    async def token_touch(self, name: str, *, now: datetime) -> None:
        token = self._tokens.get(name)
        if token is not None:
            self._tokens[name] = replace(token, last_used_at=now)

    async def control_list(self) -> dict[str, str]:
        return dict(self._controls)

    async def control_set(self, key: str, value: str | None) -> None:
        if value is None:
            self._controls.pop(key, None)
        else:
            self._controls[key] = value

    async def audit_append(self, entry: AuditEntry) -> None:
        self._audit.append(replace(entry, seq=len(self._audit) + 1))

    async def audit_list(
        self, *, limit: int, before: int | None, action: str | None, actor: str | None
    ) -> list[AuditEntry]:
        found = [
            e
            for e in reversed(self._audit)
            if (before is None or e.seq < before)
            and (action is None or e.action == action)
            and (actor is None or e.actor == actor)
        ]
        return found[:limit]

    # -- schedules -----------------------------------------------------------------------

    def _name_taken(self, schedule: ScheduleRecord) -> bool:
        return any(
            s.name == schedule.name and s.id != schedule.id for s in self._schedules.values()
        )

    async def schedule_insert(self, schedule: ScheduleRecord) -> bool:
        if schedule.id in self._schedules or self._name_taken(schedule):
            return False
        self._schedules[schedule.id] = schedule
        return True

    async def schedule_update(self, schedule: ScheduleRecord, *, expect_version: int) -> bool:
        stored = self._schedules.get(schedule.id)
        if stored is None or stored.version != expect_version or self._name_taken(schedule):
            return False
        self._schedules[schedule.id] = schedule
        return True

    async def schedule_get(self, schedule_id: str) -> ScheduleRecord | None:
        return self._schedules.get(schedule_id)

    async def schedule_list(self) -> list[ScheduleRecord]:
        return sorted(self._schedules.values(), key=lambda s: s.name)

    async def schedule_list_due(self, *, now: datetime, limit: int) -> list[ScheduleRecord]:
        due = [
            s
            for s in self._schedules.values()
            if s.enabled and s.next_run_at is not None and s.next_run_at <= now
        ]
        return sorted(due, key=lambda s: (s.next_run_at, s.id))[:limit]

    async def schedule_delete(self, schedule_id: str) -> bool:
        return self._schedules.pop(schedule_id, None) is not None
