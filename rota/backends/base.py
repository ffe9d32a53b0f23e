"""The Backend protocol: storage primitives named entity + verb.

Backends are primitives; the service decides. The service owns validation, defaults,
retry policy, the next state, the event kind, the lease deadline and whether a cancel
ends a task or flags it; a backend applies what it is told *atomically*, with guards
(expected state, live lease token, lease holder) evaluated inside the same transaction
or script as the write. No backend holds an ``if`` about policy.

Every verb that changes a task's state also appends one :class:`~rota.core.models.Event`
per changed task in that same transaction, with the actor it was given, so history can
never disagree with state.

Times are passed in by the caller (the service's clock), never read by the backend, so
tests control time and every backend sees the same clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from rota.core.auth import TokenRecord
from rota.core.dedup import Unique
from rota.core.fairness import Share
from rota.core.models import (
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
)
from rota.core.states import TaskState
from rota.core.wakeups import Queues


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a store can do; the service adapts to it instead of each backend pretending."""

    #: several processes may open the store (an SQLite file, PostgreSQL, Redis)
    shared: bool
    #: ``listen_inserts`` hears other processes' inserts (LISTEN/NOTIFY, Redis pub/sub, a
    #: datagram on SQLite, True there only once its socket is bound: read it after
    #: ``listen_inserts``); without it a long-poll on a shared store re-checks every
    #: ``poll_interval``
    push_wakeups: bool
    #: ``task_insert_claim`` sends the insert and the claim in one round trip, so a claim
    #: waiting in the inserting process is served by the insert (``rota.service.waiting``);
    #: where it is two calls the waiting claim is woken to send its own instead, and the
    #: insert's caller does not wait for a claim
    insert_claim: bool = False


class Backend(Protocol):
    capabilities: Capabilities

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    # -- wake-ups and leadership ---------------------------------------------------------

    async def listen_inserts(self, callback: Callable[[Queues], object]) -> None:
        """Call ``callback`` when another process makes tasks claimable: inserts them, or
        puts them back in the queue (no-op where not supported), with the queues the
        wake-up names, or None for any queue (:mod:`rota.core.wakeups`)."""
        ...

    async def store_version(self) -> int | None:
        """A number that changes when another process commits to the store, read cheaply
        (SQLite's ``data_version``, read even where SQLite pushes: the safety net for a
        writer that does not announce); None where the store has none and pushes instead."""
        ...

    async def leader_attempt_elect(self, *, hold: float) -> bool:
        """Become or stay the one maintenance leader; False while another process is.

        Where leadership lapses by time (Redis), it lasts ``hold`` seconds unless renewed;
        where it ends with the holder's connection (PostgreSQL), ``hold`` is not needed."""
        ...

    async def leader_resign(self) -> None: ...

    # -- tasks ---------------------------------------------------------------------------

    async def task_insert_many(
        self,
        tasks: Iterable[Task],
        job: Job | None = None,
        uniques: Sequence[Unique | None] | None = None,
        shares: Sequence[Share | None] | None = None,
    ) -> list[Inserted]:
        """Insert all or nothing (with ``job`` when given); one result per task, in order,
        each with ``seq`` set.

        ``tasks`` may be lazy: the service validates each task as it is drawn, so a backend
        can send the first rows while later ones are still being checked. If drawing raises,
        the error propagates and nothing is inserted. Raises DuplicateTask if any id exists,
        and then inserts none.

        ``uniques`` (one per task, None for a task without a key) asks the store to hold
        each key for its task, atomically with the insert (:mod:`rota.core.dedup`): a
        task whose key is held follows :func:`rota.core.dedup.plan`'s step (DuplicateKey
        for ``reject``, and then nothing is stored; the holder, changed as its step says,
        as an ``existing`` result; ``replace`` cancels a waiting holder, event
        ``canceled`` with message ``replaced by <id>``). ``now`` is the tasks' created_at.

        ``shares`` (one per task, None for a task of a queue without fairness) asks the
        store to give each task it inserts its fair place, in the same transaction or
        script: per queue, under a lock on its fairness counters, the place of its ready
        head and its keys' passes are read and moved on by
        :func:`rota.core.fairness.places`, over the inserted tasks only (a task answered
        with a unique key's holder, or a refused batch, moves no pass). A task without a
        share takes its ``seq`` as its place, unless it comes with one.
        """
        ...

    async def task_get(self, task_id: str) -> Task | None: ...

    async def task_list(
        self, filter: TaskFilter, *, after_seq: int | None, limit: int
    ) -> list[Task]:
        """Newest first (``seq`` descending); ``after_seq`` is the cursor of the last page."""
        ...

    async def task_claim_many(self, request: ClaimRequest) -> list[Task]:
        """Lease up to ``request.limit`` ready tasks in contract order; never one task to
        two callers.

        Only tasks whose ``requires`` are among ``request.capabilities`` (routing).
        Ready means ``queued``, or ``scheduled`` with ``run_at <= now`` (promoted on the
        way), not past ``expires_at``, and not of a tenant in ``request.skip_tenants``.
        Each claimed task gets ``attempt + 1``, a new, larger ``lease_token``,
        ``request.lease_expires_at`` and the request's worker.

        With ``request.task_ids``, the claim looks at those tasks only (by id, never a scan):
        it leases each of them that is ready by the same rules, and the unknown, the
        running, finished or scheduled for later, the expired, a disabled tenant's, those of
        other queues or needing more capabilities are left as they are. Never with
        ``request.limits`` (the service refuses that pair).
        """
        ...

    async def task_insert_claim(
        self,
        tasks: Iterable[Task],
        job: Job | None,
        uniques: Sequence[Unique | None] | None,
        shares: Sequence[Share | None] | None,
        request: ClaimRequest,
    ) -> InsertClaim:
        """``task_insert_many``, then ``task_claim_many(request)``, which sees the insert:
        for a claim waiting in this process that the insert can serve. A store with
        ``capabilities.insert_claim`` sends both in one round trip (Redis pipelines the two
        scripts; PostgreSQL sends one task's insert and the claim in one transaction); the
        others call :func:`insert_then_claim`. A refused insert may come back
        as ``error`` beside the tasks the claim leased, or raise before any claim ran."""
        ...

    async def task_heartbeat(
        self,
        task_id: str,
        lease_token: int,
        *,
        now: datetime,
        lease_expires_at: datetime,
        progress: Any = None,
    ) -> Task | None:
        """Set a live lease's end (and store ``progress`` if given); ``None`` when the token
        is not live, and then nothing changes."""
        ...

    async def task_finish_many(self, finishes: Sequence[Finish], *, now: datetime) -> list[bool]:
        """Apply each finish only if its task is running under that token (held by
        ``worker_id`` when given, with a lease ending before ``expired_before`` when given);
        say which applied. Record ``finish.event``."""
        ...

    async def task_cancel(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        """End a task that is still in state ``expect`` as ``canceled``; else ``None``."""
        ...

    async def task_cancel_request(
        self, task_id: str, lease_token: int, *, now: datetime, actor: str
    ) -> Task | None:
        """Flag a running task's live lease for cancellation; ``None`` if not live."""
        ...

    async def task_list_canceling(self, leases: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
        """Of ``leases`` (task id, lease token), those still running on that token whose
        cancel was requested. A read by primary key, asked often by busy workers."""
        ...

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
        """Re-rank a task still in state ``expect``; ``to_tail`` gives it a fresh ``seq``
        (and that as its ``place``)."""
        ...

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
        """A new ``run_at`` (and ``state``: queued or scheduled, the service decides) for a
        task still in state ``expect``; event ``moved``. Its place among equals is kept."""
        ...

    async def task_requeue(
        self, task_id: str, *, expect: TaskState, now: datetime, actor: str
    ) -> Task | None:
        """Operator retry: a task still in state ``expect`` back to queued, attempts reset,
        at the tail of its priority (a fresh ``seq``, and that as its ``place``)."""
        ...

    async def task_promote_due(self, *, now: datetime, limit: int) -> int:
        """Move scheduled tasks whose ``run_at <= now`` to queued (event ``promoted``)."""
        ...

    async def task_expire_waiting(self, *, now: datetime, limit: int, error: str) -> int:
        """Cancel waiting tasks past ``expires_at`` with ``error`` (event ``expired``, the
        error its message); how many."""
        ...

    async def task_delete_many(self, task_ids: Sequence[str]) -> int:
        """Remove finished tasks and their history for good (dead-letter discard,
        retention); a task not in a final state is left; how many went."""
        ...

    async def task_list_lapsed(self, *, now: datetime, limit: int) -> list[Task]:
        """Running tasks whose lease ended before ``now`` (the sweeper's input)."""
        ...

    async def task_list_final(self, *, state: TaskState, after_seq: int, limit: int) -> list[Task]:
        """Tasks in the final ``state`` with ``seq > after_seq``, oldest (by ``seq``) first:
        the retention service's input, read page by page."""
        ...

    async def task_list_timed(self, *, limit: int) -> list[Task]:
        """Running tasks that have a ``timeout``, earliest start first (the timeout
        sweeper's input; the running set is bounded by the workers' concurrency)."""
        ...

    async def task_position(self, task_id: str) -> Position | None: ...

    async def task_count_by_queue(self, tenant: str | None = None) -> list[QueueCount]:
        """Tasks by queue, state and priority; only ``tenant``'s when given."""
        ...

    async def task_count_active(self) -> list[QueueCount]:
        """Scheduled, queued and running tasks by queue, state and priority (the metrics'
        depth). Read from those states' own indexes or counters, so its cost follows the
        backlog, never the finished tasks kept for retention."""
        ...

    async def task_list_blocked(self, *, limit: int) -> list[Task]:
        """Tasks waiting for dependencies (scheduled at ``BLOCKED_AT``), oldest first."""
        ...

    async def task_count_requiring(self) -> list[tuple[str, tuple[str, ...], int]]:
        """Waiting tasks that require capabilities, by queue and ``requires``."""
        ...

    async def task_count_waiting(self, queue: str) -> int:
        """Queued and scheduled tasks of ``queue`` (its size, as ``max_size`` counts it)."""
        ...

    async def task_age(self, queue: str, *, cap: int, ready_before: datetime) -> int:
        """One aging step (:mod:`rota.core.aging`): every queued task of ``queue`` with
        ``run_at <= ready_before`` and ``priority < cap`` gains one point, once; how many."""
        ...

    async def task_next_run_at(self) -> datetime | None:
        """Earliest ``run_at`` among scheduled tasks: lets claimers sleep exactly that long."""
        ...

    # -- events and jobs -----------------------------------------------------------------

    async def event_list(self, task_id: str) -> list[Event]: ...

    async def job_get(self, job_id: str) -> Job | None: ...

    async def job_count(self, job_id: str) -> dict[TaskState, int]: ...

    # -- workers -------------------------------------------------------------------------

    async def worker_upsert(self, worker: WorkerInfo) -> None:
        """Register a worker, or refresh every field of one already registered."""
        ...

    async def worker_touch(self, worker_ids: Sequence[str], *, now: datetime) -> None:
        """Set ``last_seen_at`` of the registered workers among ``worker_ids``."""
        ...

    async def worker_list(self) -> list[WorkerInfo]: ...

    async def worker_delete_silent(self, *, before: datetime) -> int:
        """Forget workers last seen before ``before``; how many."""
        ...

    # -- API tokens (stored hashed; the service resolves and checks them) ----------------

    async def token_insert(self, token: TokenRecord) -> bool:
        """Store a new token; False (nothing stored) when its name or digest is taken."""
        ...

    async def token_get(self, digest: str) -> TokenRecord | None: ...

    async def token_list(self) -> list[TokenRecord]:
        """Every stored token, revoked and expired ones included, by creation."""
        ...

    async def token_revoke(self, name: str, *, now: datetime) -> bool:
        """Set ``revoked_at`` of a token not revoked yet; False if none such."""
        ...

    async def token_touch(self, name: str, *, now: datetime) -> None:
        """Set ``last_used_at``."""
        ...

    # -- operator controls (intake blocks): small JSON texts by key ----------------------

    async def control_list(self) -> dict[str, str]: ...

    async def control_set(self, key: str, value: str | None) -> None:
        """Store ``value`` under ``key``; None removes the key."""
        ...

    # -- the audit log: operator actions, newest first -------------------------------------

    async def audit_append(self, entry: AuditEntry) -> None:
        """Store ``entry`` (its ``seq`` is ignored: the store numbers entries in order)."""
        ...

    async def audit_list(
        self, *, limit: int, before: int | None, action: str | None, actor: str | None
    ) -> list[AuditEntry]:
        """Newest first, ``seq < before`` when given; ``action``/``actor`` match exactly."""
        ...

    # -- schedules (the service reads their definitions; the store indexes due times) ----

    async def schedule_insert(self, schedule: ScheduleRecord) -> bool:
        """Store a new schedule; False (nothing stored) when its id or name is taken."""
        ...

    async def schedule_update(self, schedule: ScheduleRecord, *, expect_version: int) -> bool:
        """Replace the stored schedule of that id if its version is still
        ``expect_version``; False (nothing changed) otherwise, or when the name is taken."""
        ...

    async def schedule_get(self, schedule_id: str) -> ScheduleRecord | None: ...

    async def schedule_list(self) -> list[ScheduleRecord]:
        """Every schedule, by name."""
        ...

    async def schedule_list_due(self, *, now: datetime, limit: int) -> list[ScheduleRecord]:
        """Enabled schedules whose ``next_run_at <= now``, earliest first."""
        ...

    async def schedule_delete(self, schedule_id: str) -> bool: ...


async def insert_then_claim(
    backend: Backend,
    tasks: Iterable[Task],
    job: Job | None,
    uniques: Sequence[Unique | None] | None,
    shares: Sequence[Share | None] | None,
    request: ClaimRequest,
) -> InsertClaim:
    """``task_insert_claim`` as two calls, for a store that gains nothing by sending them
    together: a refused insert raises, and no claim runs."""
    inserted = await backend.task_insert_many(tasks, job, uniques, shares)
    return InsertClaim(inserted, await backend.task_claim_many(request))
