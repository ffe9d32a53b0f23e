"""The scheduler service: every rule about tasks lives here, once.

The API, the worker's in-process mode and the CLI call this class; it calls a
:class:`~rota.backends.base.Backend`. It validates, fills defaults, decides the next state
(retry, dead letter, cancel) and wakes long-polling claimers.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from rota.backends.base import Backend
from rota.config import Settings
from rota.core import limits
from rota.core.clock import Clock, SystemClock
from rota.core.dedup import Unique
from rota.core.errors import (
    Conflict,
    DuplicateTask,
    IllegalTransition,
    NotFound,
    RotaError,
    StaleLease,
    ValidationError,
)
from rota.core.fairness import Share
from rota.core.ids import check_id, new_id
from rota.core.models import (
    API,
    SYSTEM,
    ClaimRequest,
    Event,
    Finish,
    Inserted,
    Job,
    JobSummary,
    Position,
    QueueCount,
    Task,
    TaskFilter,
    WorkerInfo,
    make_finish,
    worker_actor,
)
from rota.core.priority import PriorityInput, resolve_priority
from rota.core.retry import RetryPolicy
from rota.core.states import RETRYABLE_STATES, WAITING_STATES, TaskState, check_transition
from rota.service.audit import Audit
from rota.service.bulk import Bulk
from rota.service.controls import REFRESH_SECONDS, Controls
from rota.service.jobs import Jobs, Links
from rota.service.maintenance import Maintainer, default_services
from rota.service.notifier import Notifier
from rota.service.queues import Queues
from rota.service.rankers import RankContext, Rankers
from rota.service.retention import Retention
from rota.service.schedules import Schedules
from rota.service.tokens import StoredTokens
from rota.service.validation import (
    TaskSpec,
    build_task,
    check_filter,
    check_json,
    check_name,
    check_requires,
    run_time,
)
from rota.service.waiting import Handoff, Waiting

S = TaskState
#: a waiting claim of a rate-limited queue looks again when its next token is due, at most
#: this often (seconds): a look takes every token come meanwhile, so the rate holds
RATE_LOOK = 0.25
# Looked up once: an Enum member lookup costs 150 ns, and reports touch these per result.
_SUCCEEDED = S.SUCCEEDED


class Completion(NamedTuple):
    """A successful run. (NamedTuples here: one of each is built per reported result.)"""

    task_id: str
    lease_token: int
    result: Any = None


class Failure(NamedTuple):
    """A failed run. ``kind`` (the exception's class name) lets retry policies choose;
    ``retry_after`` asks for another run later without spending an attempt."""

    task_id: str
    lease_token: int
    error: str
    retryable: bool = True
    kind: str | None = None
    retry_after: float | None = None


class Outcome(NamedTuple):
    """The answer to one reported item: ``ok``, or the error that refused it."""

    task_id: str
    error: RotaError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Service:
    def __init__(
        self,
        backend: Backend,
        settings: Settings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.backend = backend
        self.settings = settings or Settings.load()
        self.clock = clock or SystemClock()
        self.notifier = Notifier()
        self.controls = Controls(backend, self.notifier.notify)
        self.audit = Audit(backend, self.clock)
        self.schedules = Schedules(self)
        self.bulk = Bulk(self)
        self.queues = Queues(self)
        self.jobs = Jobs(self)
        self.retention = Retention(self)
        self.rankers = Rankers()
        self._ready_queues: tuple[str, ...] = ()
        self._queues_read_at = float("-inf")
        self.tokens = StoredTokens(backend, self.clock.now)
        self.waiting = Waiting(backend, self.notifier, self.clock, self.settings.poll_interval)
        self.is_leader = False
        self.maintainer = Maintainer(self, default_services(self.settings.sweep_interval))
        self._seen: dict[str, datetime] = {}  # worker id -> when it was last touched
        self._listening = False
        self._listen_lock = asyncio.Lock()

    async def open(self) -> None:
        await self.backend.open()

    async def listen(self) -> None:
        """Hear other processes' inserts from now on; the first claim that may wait calls it.
        A process that only enqueues (a web app's) never does, so no insert signals it: a
        LISTEN session, a subscription or a socket of its own would be woken by every one,
        for nothing (each listener added a tenth of a millisecond or more to an idle
        enqueue on PostgreSQL)."""
        if self._listening:
            return
        async with self._listen_lock:
            if not self._listening:
                # Redis and SQLite return once subscribed; PostgreSQL wakes every waiting
                # claim once its LISTEN holds, so an insert in between is not missed.
                await self.backend.listen_inserts(self.notifier.notify)
                self._listening = True

    async def close(self) -> None:
        await self.waiting.close()
        await self.backend.close()

    # -- producing -----------------------------------------------------------------------

    async def enqueue(self, spec: TaskSpec) -> Task:
        return (await self.enqueue_many([spec]))[0]

    async def enqueue_many(self, specs: Sequence[TaskSpec], job: Job | None = None) -> list[Task]:
        return [r.task for r in await self.insert_many(specs, job)]

    async def insert_many(
        self, specs: Sequence[TaskSpec], job: Job | None = None
    ) -> list[Inserted]:
        """The batch stored all or nothing; each item the new task, or, when its unique
        key is held and its rule answers with the holder, the holder (``existing``)."""
        if len(specs) > limits.MAX_BATCH:
            raise ValidationError(
                f"{len(specs)} tasks in one batch; the limit is {limits.MAX_BATCH}"
            )
        ids = [s.id for s in specs if s.id is not None]  # the server's own ids never repeat
        if len(set(ids)) != len(ids):
            raise DuplicateTask("the batch names the same task id twice")
        now = self.clock.now()
        default = self.settings.default_max_attempts
        blocks = await self.controls.blocks()
        settings = self.controls.settings_now
        if settings:
            specs = self.queues.with_defaults(specs, settings)
        # Lazy on purpose: a backend may store the first tasks while later ones are checked;
        # one that fails its checks aborts the whole insert.
        tasks: Iterable[Task] = (
            build_task(s, now=now, default_max_attempts=default, job=job) for s in specs
        )
        uniques = shares = None
        graph = job is not None and bool(job.needs)
        if (blocks or self.controls.disabled_now or settings or graph
                or any(s.unique for s in specs)):  # fmt: skip
            tasks = list(tasks)  # intake blocked somewhere, queues have settings, or keys
            if job is not None and job.needs:
                tasks = self.jobs.block(tasks, job.needs)
            await self.controls.check_intake(tasks)
            if settings:
                await self.queues.admit(tasks, settings)
                shares = self.queues.shares(tasks, specs, settings)
            if any(s.unique for s in specs):
                uniques = self.queues.uniques(tasks, specs, settings)
        handoff = None
        if self.waiting.offered:  # a claim waits here: serve it in the insert's round trip
            tasks = list(tasks)
            handoff = self.waiting.take({t.queue for t in tasks if t.state is TaskState.QUEUED})
        if handoff is None:
            stored = await self.backend.task_insert_many(tasks, job, uniques, shares)
        else:
            stored, leased = await self._insert_for(handoff, tasks, job, uniques, shares)
            if _all_leased(stored, leased):
                return stored  # no news for the other claims waiting here: they sleep on
        ready = {
            r.task.queue for r in stored if not r.existing and r.task.state is TaskState.QUEUED
        }
        if ready and self.notifier.notify(ready):
            await self.waiting.let_woken_claim()
        return stored

    async def _insert_for(
        self,
        handoff: Handoff,
        tasks: Iterable[Task],
        job: Job | None,
        uniques: Sequence[Unique | None] | None,
        shares: Sequence[Share | None] | None,
    ) -> tuple[list[Inserted], list[Task]]:
        """Insert, and claim for the waiting claim ``handoff`` behind it: what was inserted,
        and what the claim leased, which goes to it even when the insert is refused (the
        refusal is raised after)."""
        leased: list[Task] = []
        try:
            request = await handoff.request()
            if request is None:  # its queues were paused since it began to wait
                return await self.backend.task_insert_many(tasks, job, uniques, shares), []
            done = await self.backend.task_insert_claim(tasks, job, uniques, shares, request)
            leased = done.claimed
            if done.error is not None:
                raise done.error
            return done.inserted, leased
        finally:
            handoff.hand(leased)

    def rank(
        self, ranker: dict[str, Any], spec: TaskSpec, *, last_run_at: datetime | None = None
    ) -> TaskSpec:
        """``spec`` with the priority (and the rank, when it gives one) its ranker gives;
        Conflict when the ranker declines (a repeat inside its grace period)."""
        now = self.clock.now()
        due = run_time(spec.run_at, spec.delay, now) if spec.run_at or spec.delay else now
        ctx = RankContext(spec.kind, spec.queue, spec.payload or {}, spec.tenant, now, due,
                          last_run_at)  # fmt: skip
        ranked = self.rankers.rank(ranker, ctx)
        if ranked is None:
            raise Conflict(f"ranker {ranker.get('name')!r} declined: not queued now")
        priority, rank = ranked
        if rank is None:
            return spec._replace(priority=priority)
        return spec._replace(priority=priority, rank=rank)

    async def submit_job(
        self,
        name: str,
        specs: Sequence[TaskSpec],
        tenant: str | None = None,
        links: Links | None = None,
    ) -> tuple[Job, list[Task]]:
        """A job of ``specs``, all or nothing; with ``links`` (per task: its name in the job
        and what it depends on) its tasks wait for each other (rota.service.jobs)."""
        if not specs:
            raise ValidationError("a job needs at least one task")
        needs: dict[str, tuple[str, ...]] = {}
        if links is not None and any(name is not None or refs for name, refs in links):
            specs, needs = self.jobs.plan(specs, links)
        job = Job(
            id=new_id(),
            name=check_name(name, "job name"),
            created_at=self.clock.now(),
            tenant=None if tenant is None else check_name(tenant, "tenant"),
            needs=needs,
        )
        return job, await self.enqueue_many(specs, job)

    # -- reading -------------------------------------------------------------------------

    async def get(self, task_id: str) -> Task:
        task = await self.backend.task_get(task_id)
        if task is None:
            raise NotFound(f"no task with id {task_id!r}")
        return task

    async def position(self, task_id: str) -> Position | None:
        return await self.backend.task_position(task_id)

    async def list_tasks(
        self, filter: TaskFilter, *, cursor: int | None = None, limit: int = 100
    ) -> tuple[list[Task], int | None]:
        """A page, newest first, and the cursor of the next page (``None`` at the end)."""
        if not 1 <= limit <= limits.MAX_LIST_LIMIT:
            raise ValidationError(f"limit must be 1..{limits.MAX_LIST_LIMIT}")
        filter = check_filter(filter)
        tasks = await self.backend.task_list(filter, after_seq=cursor, limit=limit + 1)
        more = len(tasks) > limit
        tasks = tasks[:limit]
        return tasks, (tasks[-1].seq if more else None)

    async def events(self, task_id: str) -> list[Event]:
        await self.get(task_id)
        return await self.backend.event_list(task_id)

    async def counts(self, tenant: str | None = None) -> list[QueueCount]:
        return await self.backend.task_count_by_queue(tenant)

    async def active_counts(self) -> list[QueueCount]:
        """Scheduled, queued and running tasks by queue, state and priority (/metrics),
        read from the store at a cost that follows the backlog, not the retained tasks."""
        return await self.backend.task_count_active()

    async def health(self) -> None:
        """Raise StoreError when the store does not answer a cheap read."""
        await self.backend.task_next_run_at()

    async def job(self, job_id: str) -> JobSummary:
        job = await self.backend.job_get(job_id)
        if job is None:
            raise NotFound(f"no job with id {job_id!r}")
        return JobSummary(job, await self.backend.job_count(job_id))

    # -- consuming -----------------------------------------------------------------------

    def _lease_until(self, now: datetime, seconds: float | None = None) -> datetime:
        """The one place a lease's end is decided; a run's timeout is the sweeper's.
        ``seconds``: a caller's own lease length (a compat router whose clients report only
        at the end), else the server's ``lease_seconds``."""
        if seconds is None:
            seconds = self.settings.lease_seconds
        elif not 0 < seconds <= limits.MAX_LEASE_SECONDS:
            raise ValidationError(f"a lease must be 0..{limits.MAX_LEASE_SECONDS:,} seconds")
        return now + timedelta(seconds=seconds)

    async def claim(
        self,
        worker_id: str,
        *,
        queues: Sequence[str] | None = None,
        limit: int = 1,
        wait: float = 0.0,
        capabilities: Sequence[str] = (),
        lease_seconds: float | None = None,
        task_ids: Sequence[str] = (),
    ) -> list[Task]:
        """Lease up to ``limit`` tasks (for ``lease_seconds``, default the server's); with
        ``wait`` > 0, long-poll until one is ready. Only tasks whose ``requires`` are among
        ``capabilities`` (routing).

        With ``task_ids``, lease exactly those of the given tasks that are ready (queued in
        ``queues``, not expired, tenant enabled, ``requires`` met), atomically, and no
        other: KAT's filtered pop picks its item by a read and then claims it, and loses
        nothing if another claim took it first. ``limit`` is then the number of ids. Such a
        claim bypasses the order, so it cannot be weighed against a queue's global limits:
        a claim of given tasks from a queue with concurrency or rate limits is refused
        (ValidationError) rather than over-admitting.
        """
        check_name(worker_id, "worker id")
        ids = tuple(dict.fromkeys(check_id(i, "task id") for i in task_ids))
        if ids:
            limit = len(ids)
        if not 1 <= limit <= limits.MAX_CLAIM:
            what = "task_ids" if ids else "max"
            raise ValidationError(f"{what} must be 1..{limits.MAX_CLAIM}")
        if not 0 <= wait <= limits.MAX_WAIT_SECONDS:
            raise ValidationError(f"wait must be 0..{limits.MAX_WAIT_SECONDS} seconds")
        qs = None if not queues else tuple(check_name(q, "queue") for q in queues)
        can = check_requires(tuple(capabilities)) if capabilities else ()
        await self._saw(worker_id)
        if wait > 0 and not self._listening:
            await self.listen()  # before the first look, so no insert after it goes unheard
        deadline = time.monotonic() + wait

        async def request() -> ClaimRequest | None:
            return await self._claim_request(worker_id, qs, limit, can, ids, lease_seconds)

        while True:
            ticket = self.notifier.ticket(qs)
            asked = await request()
            tasks = [] if asked is None else await self.backend.task_claim_many(asked)
            remaining = deadline - time.monotonic()
            if tasks or remaining <= 0 or self.waiting.count >= limits.MAX_WAITING_CLAIMS:
                return tasks
            # a claim of given tasks waits for those, not for whatever an insert brings
            served = self.backend.capabilities.insert_claim and not ids
            handoff = Handoff(qs, request) if served else None
            if asked is None:  # its queues are paused: a resume through another replica
                remaining = min(remaining, REFRESH_SECONDS)  # holds here within this time
            elif rates := [b.rate for b in asked.limits if b.rate is not None]:
                # a rate limit may hold ready tasks back, and nothing announces its tokens
                remaining = min(remaining, max(1.0 / max(rates), RATE_LOOK))
            tasks = await self.waiting.wait(ticket, remaining, handoff)
            if tasks:
                return tasks

    async def _claim_request(
        self,
        worker_id: str,
        queues: tuple[str, ...] | None,
        limit: int,
        capabilities: tuple[str, ...],
        ids: tuple[str, ...],
        lease_seconds: float | None,
    ) -> ClaimRequest | None:
        """One look's request to the store; None while every claimed queue is paused."""
        now = self.clock.now()
        open_queues = await self._unpaused(queues)
        if open_queues == ():
            return None
        bounds = self.queues.limits(open_queues)
        if ids and bounds:
            names = ", ".join(sorted({b.queue for b in bounds}))
            raise ValidationError(
                f"a claim of given tasks cannot respect global limits: queue {names}"
            )
        return ClaimRequest(
            worker_id, limit, now, self._lease_until(now, lease_seconds), open_queues,
            salt=secrets.randbits(32), skip_tenants=tuple(self.controls.disabled_now),
            capabilities=capabilities, limits=bounds, task_ids=ids,
        )  # fmt: skip

    async def _unpaused(self, queues: tuple[str, ...] | None) -> tuple[str, ...] | None:
        """The queues a claim may take from: paused ones left out. A claim of every queue
        becomes a claim of the queues with waiting tasks (read at most once a second) that
        are not paused; with no pause in force nothing changes and nothing is read."""
        paused = await self.controls.pauses()
        if not paused:
            return queues
        if queues is None:
            if time.monotonic() - self._queues_read_at > REFRESH_SECONDS:
                rows = await self.backend.task_count_by_queue()
                self._ready_queues = tuple(sorted({r.queue for r in rows if r.state == S.QUEUED}))
                self._queues_read_at = time.monotonic()
            queues = self._ready_queues
        return tuple(q for q in queues if q not in paused)

    async def _saw(self, worker_id: str | None) -> None:
        """Record that a worker was heard from, at most once a second per worker."""
        if worker_id is None:
            return
        now = self.clock.now()
        last = self._seen.get(worker_id)
        if last is not None and now - last < timedelta(seconds=1):
            return
        self._seen[worker_id] = now
        if len(self._seen) > 10_000:  # forget the oldest half of long-gone workers
            for old in sorted(self._seen, key=self._seen.__getitem__)[:5_000]:
                del self._seen[old]
        await self.backend.worker_touch([worker_id], now=now)

    async def heartbeat(
        self,
        task_id: str,
        lease_token: int,
        progress: Any = None,
        *,
        lease_seconds: float | None = None,
    ) -> Task:
        """Extend the lease (by ``lease_seconds``, default the server's; never past the
        run's timeout); store ``progress`` if given."""
        if progress is not None:
            check_json(progress, "progress", limits.MAX_RESULT_BYTES)
        now = self.clock.now()
        task = await self.backend.task_heartbeat(
            task_id,
            lease_token,
            now=now,
            lease_expires_at=self._lease_until(now, lease_seconds),
            progress=progress,
        )
        if task is None:
            raise await self._refusal(task_id, lease_token)
        await self._saw(task.worker_id)
        return task

    async def canceled_leases(
        self, worker_id: str, leases: Sequence[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        """Those of a worker's leases whose cancel was requested. Busy workers ask this
        every half second (rota/worker/cancels.py): one read, no write, no lease change."""
        check_name(worker_id, "worker id")
        if len(leases) > limits.MAX_BATCH:
            raise ValidationError(f"at most {limits.MAX_BATCH} leases per question")
        # An id no task can have names no cancel (and never reaches a store that chokes on it)
        asked = [lease for lease in leases if _is_task_id(lease[0])]
        return await self.backend.task_list_canceling(asked) if asked else []

    async def _refusal(
        self, task_id: str, lease_token: int, worker_id: str | None = None
    ) -> RotaError:
        task = await self.backend.task_get(task_id)
        if task is None:
            return NotFound(f"no task with id {task_id!r}")
        if worker_id is not None and task.state == S.RUNNING and task.worker_id != worker_id:
            return StaleLease(f"task {task_id} is not leased to worker {worker_id!r}")
        if task.lease_token != lease_token:
            # Never the live token: whoever holds a stale one must not learn the new one.
            return StaleLease(f"task {task_id} is not on the lease token sent (it is stale)")
        return IllegalTransition(f"task {task_id} is {task.state.value}, not running")

    async def complete(self, task_id: str, lease_token: int, result: Any = None) -> Task:
        (outcome,) = await self.report(completions=[Completion(task_id, lease_token, result)])
        if outcome.error is not None:
            raise outcome.error
        return await self.get(task_id)

    async def fail(
        self,
        task_id: str,
        lease_token: int,
        error: str,
        *,
        retryable: bool = True,
        kind: str | None = None,
        retry_after: float | None = None,
    ) -> Task:
        failure = Failure(task_id, lease_token, error, retryable, kind, retry_after)
        (outcome,) = await self.report(failures=[failure])
        if outcome.error is not None:
            raise outcome.error
        return await self.get(task_id)

    async def report(
        self,
        completions: Sequence[Completion] = (),
        failures: Sequence[Failure] = (),
        *,
        worker_id: str | None = None,
    ) -> list[Outcome]:
        """Apply many results at once; each gets its own outcome, in the order given.

        With ``worker_id``, a result applies only to a lease that worker holds.
        """
        if len(completions) + len(failures) > limits.MAX_BATCH:
            raise ValidationError(f"at most {limits.MAX_BATCH} items per report")
        if worker_id is not None:
            check_name(worker_id, "worker id")
        outcomes: list[Outcome | None] = [None] * (len(completions) + len(failures))
        finishes: list[tuple[int, Finish, bool]] = []  # (position, finish, is a failure)
        now = self.clock.now()
        actor = API if worker_id is None else worker_actor(worker_id)
        done = make_finish("", 0, _SUCCEEDED, now=now, worker_id=worker_id, actor=actor)
        for i, c in enumerate(completions):
            try:
                _reported_id(c.task_id)
                check_json(c.result, "result", limits.MAX_RESULT_BYTES)  # None returns at once
            except ValidationError as exc:
                outcomes[i] = Outcome(c.task_id, exc)
                continue
            ending = done._replace(task_id=c.task_id, lease_token=c.lease_token, result=c.result)
            finishes.append((i, ending, False))
        for i, f in enumerate(failures, start=len(completions)):
            try:
                _reported_id(f.task_id)
            except ValidationError as exc:
                outcomes[i] = Outcome(f.task_id, exc)
                continue
            task = await self.backend.task_get(f.task_id)
            if task is None or task.state != S.RUNNING or task.lease_token != f.lease_token:
                error = _error_text(f.error)  # refused below, or a repeat
                ending = make_finish(f.task_id, f.lease_token, S.FAILED, now=now, error=error)
                finishes.append((i, ending, True))
                continue
            ending = self._after_failure(task, f, now)._replace(worker_id=worker_id, actor=actor)
            finishes.append((i, ending, True))
        applied = await self.backend.task_finish_many([f for _, f, _ in finishes], now=now)
        requeued = False
        for (i, finish, failing), ok in zip(finishes, applied, strict=True):
            outcomes[i] = Outcome(finish.task_id) if ok else await self._explain(finish, failing)
            requeued = requeued or (ok and finish.state in WAITING_STATES)
        if requeued:
            self.notifier.notify()
        return [o for o in outcomes if o is not None]

    async def _explain(self, finish: Finish, failing: bool) -> Outcome:
        """Why a guarded finish did not apply; a repeat of the applied report is not an error."""
        task = await self.backend.task_get(finish.task_id)
        if task is not None and task.lease_token == finish.lease_token:
            if not failing and task.state == S.SUCCEEDED:
                return Outcome(finish.task_id)
            if failing and task.state != S.SUCCEEDED and task.error == finish.error:
                return Outcome(finish.task_id)
        refusal = await self._refusal(finish.task_id, finish.lease_token, finish.worker_id)
        return Outcome(finish.task_id, refusal)

    def _after_failure(self, task: Task, failure: Failure, now: datetime) -> Finish:
        """Policy: a requested cancel wins; "retry later" gives the attempt back; then retry
        with the task's (or its queue's) backoff while attempts remain and the error kind
        is one the policy retries; else the dead-letter state ``failed``."""
        error = _error_text(failure.error)
        token = task.lease_token
        if task.cancel_requested:
            return make_finish(task.id, token, S.CANCELED, now=now, error=error)
        if failure.retry_after is not None:
            run_at = now + timedelta(seconds=max(failure.retry_after, 0.0))
            return make_finish(
                task.id,
                token,
                S.SCHEDULED,
                now=now,
                error=error,
                run_at=run_at,
                attempt=max(task.attempt - 1, 0),
            )
        policy = self.policy(task)
        if failure.retryable and policy.retries(failure.kind) and task.attempt < task.max_attempts:
            delay = policy.seconds(task.attempt)
            state = S.SCHEDULED if delay > 0 else S.QUEUED
            run_at = now + timedelta(seconds=delay)
            return make_finish(task.id, token, state, now=now, error=error, run_at=run_at)
        return make_finish(task.id, token, S.FAILED, now=now, error=error)

    def policy(self, task: Task) -> RetryPolicy:
        """The task's own retry policy, else its queue's, else the deployment default."""
        if task.retry is not None:
            return RetryPolicy.from_json(task.retry)
        queue = self.settings.queue_retry.get(task.queue)
        if queue is not None:
            return RetryPolicy.from_json(queue)
        return RetryPolicy(
            delay=self.settings.retry_backoff, max_delay=self.settings.retry_backoff_max
        )

    def backoff(self, attempt: int) -> float:
        """The default delay after failed attempt ``attempt``."""
        default = RetryPolicy(
            delay=self.settings.retry_backoff, max_delay=self.settings.retry_backoff_max
        )
        return default.seconds(attempt)

    # -- operating -----------------------------------------------------------------------

    async def cancel(self, task_id: str, *, actor: str = API) -> Task:
        """A waiting task ends ``canceled`` at once; a running one is flagged, and its
        worker (or the sweeper) ends it."""
        for _ in range(3):  # the task may move between the read and the guarded write
            task = await self.get(task_id)
            now = self.clock.now()
            if task.state == S.RUNNING:
                changed = await self.backend.task_cancel_request(
                    task_id, task.lease_token, now=now, actor=actor
                )
            else:
                check_transition(task.state, S.CANCELED)
                changed = await self.backend.task_cancel(
                    task_id, expect=task.state, now=now, actor=actor
                )
            if changed is not None:
                return changed
        raise Conflict(f"task {task_id} kept changing while it was being canceled")

    async def set_priority(
        self, task_id: str, priority: PriorityInput, *, to_tail: bool = False, actor: str = API
    ) -> Task:
        value = resolve_priority(priority)
        for _ in range(3):
            task = await self.get(task_id)
            if task.state not in WAITING_STATES:
                raise IllegalTransition(
                    f"task {task_id} is {task.state.value}: "
                    "only a queued or scheduled task can change priority"
                )
            changed = await self.backend.task_set_priority(
                task_id, value, expect=task.state, to_tail=to_tail, now=self.clock.now(),
                actor=actor,
            )  # fmt: skip
            if changed is not None:
                return changed
        raise Conflict(f"task {task_id} kept changing while its priority was being set")

    async def move(
        self,
        task_id: str,
        *,
        run_at: datetime | None = None,
        delay: float | None = None,
        actor: str = API,
    ) -> Task:
        """A waiting task's new run time (Indico's ``move_task``); a time not in the future
        makes it ready now. It keeps its priority and its place among equals."""
        for _ in range(3):
            task = await self.get(task_id)
            if task.state not in WAITING_STATES:
                raise IllegalTransition(
                    f"task {task_id} is {task.state.value}: only a queued or scheduled task "
                    "can be moved"
                )
            now = self.clock.now()
            at = run_time(run_at, delay, now)
            state = S.SCHEDULED if at > now else S.QUEUED
            changed = await self.backend.task_move(
                task_id, at, state=state, expect=task.state, now=now, actor=actor
            )
            if changed is not None:
                if state == S.QUEUED:
                    self.notifier.notify((changed.queue,))
                return changed
        raise Conflict(f"task {task_id} kept changing while it was being moved")

    async def retry(self, task_id: str, *, actor: str = API) -> Task:
        task = await self.get(task_id)
        if task.state not in RETRYABLE_STATES:
            raise IllegalTransition(
                f"task {task_id} is {task.state.value}: "
                "only failed or canceled tasks can be retried"
            )
        changed = await self.requeue(task, actor)
        if changed is None:
            raise Conflict(f"task {task_id} changed while it was being retried")
        return changed

    async def sweep(self) -> int:
        """One round of every maintenance service, due or not; how many tasks it moved."""
        return await self.maintainer.run_all()

    async def fail_stale(self, lapsed: list[Task], overran: list[Task], now: datetime) -> int:
        """End attempts whose lease lapsed or whose run passed its timeout, as the retry
        policy says; a heartbeat that lands first keeps a lapsed lease alive."""
        finishes = []
        for t in overran:
            failure = Failure(
                t.id, t.lease_token, f"timeout: still running after {t.timeout}s", kind="timeout"
            )
            finishes.append(self._after_failure(t, failure, now)._replace(actor=SYSTEM))
        timed_out = {t.id for t in overran}
        for t in lapsed:
            if t.id in timed_out:
                continue
            failure = Failure(
                t.id,
                t.lease_token,
                f"lease expired (worker {t.worker_id} went silent)",
                kind="lease_expired",
            )
            ending = self._after_failure(t, failure, now)
            finishes.append(ending._replace(expired_before=now, actor=SYSTEM))
        if not finishes:
            return 0
        applied = await self.backend.task_finish_many(finishes, now=now)
        self.notifier.notify()
        return sum(applied)

    async def requeue(self, task: Task, actor: str) -> Task | None:
        """Put a failed or canceled task back in its queue (None when it moved meanwhile)."""
        changed = await self.backend.task_requeue(
            task.id, expect=task.state, now=self.clock.now(), actor=actor
        )
        if changed is not None:
            self.notifier.notify((changed.queue,))
        return changed

    async def run_maintenance(self, stop: asyncio.Event) -> None:
        """Run the leader services until ``stop`` (see :mod:`rota.service.maintenance`)."""
        await self.maintainer.run(stop)

    # -- workers ---------------------------------------------------------------------------

    async def register_worker(
        self,
        worker_id: str,
        *,
        name: str,
        host: str,
        queues: Sequence[str] | None,
        capabilities: Sequence[str] = (),
        concurrency: int,
        version: str,
    ) -> WorkerInfo:
        """Record a starting worker (again, if it restarts under the same id)."""
        now = self.clock.now()
        info = WorkerInfo(
            id=check_name(worker_id, "worker id"),
            name=check_name(name, "worker name"),
            host=check_name(host, "host"),
            queues=None if not queues else tuple(check_name(q, "queue") for q in queues),
            capabilities=tuple(check_name(c, "capability") for c in capabilities),
            concurrency=concurrency,
            version=check_name(version, "version"),
            started_at=now,
            last_seen_at=now,
        )
        if not 1 <= concurrency <= limits.MAX_CLAIM * 10:
            raise ValidationError(f"concurrency must be 1..{limits.MAX_CLAIM * 10}")
        await self.backend.worker_upsert(info)
        self._seen[info.id] = now
        return info

    async def unroutable(self) -> dict[str, int]:
        """Waiting tasks no live worker can run (it lacks a capability they require, or
        serves other queues), by queue."""
        cutoff = self.clock.now() - timedelta(seconds=self.settings.worker_silence)
        live = [w for w in await self.backend.worker_list() if w.last_seen_at >= cutoff]
        stuck: dict[str, int] = {}
        for queue, requires, count in await self.backend.task_count_requiring():
            if not any(
                (w.queues is None or queue in w.queues) and set(requires) <= set(w.capabilities)
                for w in live
            ):
                stuck[queue] = stuck.get(queue, 0) + count
        return stuck

    async def workers(self) -> list[tuple[WorkerInfo, list[Task]]]:
        """Workers heard from within ``worker_silence``, each with the tasks it runs."""
        cutoff = self.clock.now() - timedelta(seconds=self.settings.worker_silence)
        live = [w for w in await self.backend.worker_list() if w.last_seen_at >= cutoff]
        running = await self.backend.task_list(
            TaskFilter(state=S.RUNNING), after_seq=None, limit=limits.MAX_LIST_LIMIT
        )
        by_worker: dict[str, list[Task]] = {}
        for task in running:
            if task.worker_id is not None:
                by_worker.setdefault(task.worker_id, []).append(task)
        return [(w, by_worker.get(w.id, [])) for w in live]


def _is_task_id(task_id: str) -> bool:
    try:
        check_id(task_id, "task id")
    except ValidationError:
        return False
    return True


def _reported_id(task_id: str) -> None:
    """Every task id is ASCII: a report item naming another (a lone surrogate, say, which
    no store can even look up) is refused alone. Cheaper than the full pattern, per item."""
    if not task_id.isascii():
        check_id(task_id, "task id")


def _error_text(error: str) -> str:
    """Bounded, without NUL characters (PostgreSQL text cannot hold them) and with any lone
    surrogate replaced: a worker's error message is kept, whatever bytes it holds."""
    text = error[: limits.MAX_ERROR_CHARS].replace("\x00", "\ufffd")
    return text if text.isascii() else text.encode("utf-8", "replace").decode()


def _all_leased(stored: list[Inserted], leased: list[Task]) -> bool:
    """Whether the claim behind an insert leased every task the insert added: then a
    wake-up would send every other waiting claim to find nothing (the store stays silent
    too: wake_unclaimed on PostgreSQL and Redis)."""
    took = {task.id for task in leased}
    return all(
        item.existing or (item.task.state is TaskState.QUEUED and item.task.id in took)
        for item in stored
    )
