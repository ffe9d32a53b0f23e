"""Frozen value objects: what a task, an event and a job are.

A task never holds a reference to its store; a change is a new object returned by the
service. ``seq`` is the enqueue order the backend assigned: with ``priority`` it is the whole
ordering contract (see :mod:`rota.core.ordering`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from rota.core.states import FINISH_EVENTS, WAITING_STATES, TaskState

if TYPE_CHECKING:
    from rota.core.admission import QueueLimit

JSON = Any
JSONObject = dict[str, Any]

#: the place of a task not yet stored that was given none (no rank): the store gives it its
#: ``seq`` (or its fair place); every place a store holds is >= 0
UNPLACED = -1.0


class Task(NamedTuple):
    """Immutable; a NamedTuple because a task is built per row on every claim, and a
    tuple builds several times faster than a frozen dataclass."""

    id: str
    queue: str
    kind: str
    payload: JSONObject
    priority: int
    state: TaskState
    run_at: datetime
    created_at: datetime
    attempt: int = 0
    max_attempts: int = 3
    timeout: float | None = None
    tenant: str | None = None
    job_id: str | None = None
    seq: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker_id: str | None = None
    lease_token: int = 0
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False
    result: JSON = None
    error: str | None = None
    #: the task's own retry policy (``RetryPolicy.to_json``), or None for the defaults
    retry: JSONObject | None = None
    #: not started by then: never run (it ends ``canceled``, error "expired")
    expires_at: datetime | None = None
    #: the last progress the running attempt reported
    progress: JSON = None
    #: the W3C ``traceparent`` of the submit that made it (rota.tracing), or None
    trace: str | None = None
    #: the place in line among its priority (:mod:`rota.core.fairness`): its ``seq``,
    #: unless it was given a rank or its queue has fairness on; UNPLACED until stored
    #: (a rank is given as the place: 0 is a rank like any other)
    place: float = UNPLACED
    #: the capabilities a worker needs to claim it, sorted (empty: any worker)
    requires: tuple[str, ...] = ()

    def evolve(self, **changes: Any) -> Task:
        return self._replace(**changes)


_tuple_new = tuple.__new__


def new_task(
    id: str,
    queue: str,
    kind: str,
    payload: JSONObject,
    priority: int,
    state: TaskState,
    run_at: datetime,
    created_at: datetime,
    max_attempts: int,
    timeout: float | None,
    tenant: str | None,
    job_id: str | None,
    retry: JSONObject | None,
    expires_at: datetime | None,
    place: float = UNPLACED,
    requires: tuple[str, ...] = (),
    trace: str | None = None,
) -> Task:
    """A task as enqueued (never run, no seq yet): ``Task(...)`` with every other field at
    its default, three times faster (a batch builds a thousand)."""
    return _tuple_new(
        Task,
        (id, queue, kind, payload, priority, state, run_at, created_at, 0, max_attempts,
         timeout, tenant, job_id, 0, None, None, None, 0, None, False, None, None, retry,
         expires_at, None, trace, place, requires),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Event:
    """One append-only history record: a state change or an operator action."""

    task_id: str
    at: datetime
    kind: str
    from_state: TaskState | None
    to_state: TaskState | None
    worker_id: str | None = None
    message: str | None = None
    seq: int = 0
    #: who made the change: ``worker:<id>``, ``system`` (maintenance), or the caller of the
    #: API (``api`` until tokens name their holders)
    actor: str | None = None


#: The actor of every change that maintenance makes (sweeps, promotion, expiry).
SYSTEM = "system"
#: The actor of API calls whose caller names no holder.
API = "api"
#: The error of a task canceled because it did not start before its ``expires_at``.
EXPIRED_ERROR = "expired: not started in time"


def worker_actor(worker_id: str) -> str:
    return f"worker:{worker_id}"


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    name: str
    created_at: datetime
    tenant: str | None = None
    #: task id -> the ids of the job's tasks it waits for (rota.service.jobs)
    needs: dict[str, tuple[str, ...]] = field(default_factory=dict)


#: the run_at of a task that waits for dependencies: past any time a submit may name
BLOCKED_AT = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """Conjunctive filters for listing; ``None`` means any."""

    queue: str | None = None
    state: TaskState | None = None
    kind: str | None = None
    tenant: str | None = None
    job_id: str | None = None


class Finish(NamedTuple):
    """A guarded end of a running attempt: applied only if ``lease_token`` is still live.

    ``state`` is decided by the service (success, retry, dead letter, cancel); the
    backend only applies it atomically. A NamedTuple, like Task: one is built per
    reported result, and a frozen dataclass builds four times slower.
    """

    task_id: str
    lease_token: int
    state: TaskState
    result: JSON = None
    error: str | None = None
    run_at: datetime | None = None
    #: the sweeper's guard: apply only if the lease still ends before this time, so a
    #: heartbeat that lands between the sweeper's read and its write wins.
    expired_before: datetime | None = None
    #: set the attempt counter (a "retry later" gives back the attempt it used)
    attempt: int | None = None
    #: the history event to record (``FINISH_EVENTS``), decided with ``state``
    event: str = "succeeded"
    #: when the task ended; None when it goes back to waiting
    finished_at: datetime | None = None
    #: apply only if the lease is held by this worker (None: any holder of the token)
    worker_id: str | None = None
    actor: str | None = None


def make_finish(
    task_id: str, lease_token: int, state: TaskState, *, now: datetime, **fields: Any
) -> Finish:
    """A finish with the event it records and its end time decided from ``state``: the one
    place that says a retry is event ``retry`` and leaves ``finished_at`` empty."""
    finished_at = None if state in WAITING_STATES else now
    return Finish(
        task_id,
        lease_token,
        state,
        event=FINISH_EVENTS[state],
        finished_at=finished_at,
        **fields,
    )


CLAIM_UNIT = 1 << 32
"""One claim in a lease token: the high bits count a task's claims, the low 32 are random."""


def next_lease_token(previous: int, salt: int) -> int:
    """The token a new claim of a task holding ``previous`` gets. Counting claims keeps tokens
    growing; the random low bits (drawn by the service for each claim) make a token
    unguessable from the claim count, and make a claim that a store crash undid come back
    with a different token, so the worker still running the lost claim stays fenced off.
    The SQL and Lua claims compute the same expression."""
    return ((previous >> 32) + 1) * CLAIM_UNIT | salt


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """What one claim asks of the store. New claim options (capabilities, tenants, limits)
    arrive as fields here, so that no backend signature changes for them.

    The service fills every field: the backends apply ``lease_expires_at`` as it is.
    """

    worker_id: str
    limit: int
    now: datetime
    lease_expires_at: datetime
    #: None: every queue
    queues: tuple[str, ...] | None = None
    #: The low 32 bits of every lease token this claim hands out (see :func:`next_lease_token`).
    salt: int = 0
    #: tenants whose tasks this claim leaves waiting (their scheduling is disabled)
    skip_tenants: tuple[str, ...] = ()
    #: what the claiming worker can run: it gets only tasks whose ``requires`` are among
    #: them (a worker with none gets only tasks that require nothing)
    capabilities: tuple[str, ...] = ()
    #: the global limits of the claimed queues that have any (rota.core.admission)
    limits: tuple[QueueLimit, ...] = ()
    #: a claim of given tasks: only these ids, each if it is ready by every rule above (in
    #: the claim's queues, not expired, tenant open, capabilities met); empty: the normal
    #: claim of the best ready tasks. The service never sets it together with ``limits``.
    task_ids: tuple[str, ...] = ()

    @property
    def actor(self) -> str:
        return worker_actor(self.worker_id)


class Inserted(NamedTuple):
    """One item of an insert: the stored task, and whether the store found it already there
    (a uniqueness the store enforces answers with the existing task instead of a new one)."""

    task: Task
    existing: bool = False


@dataclass(frozen=True, slots=True)
class InsertClaim:
    """What an insert with a claim behind it did (``Backend.task_insert_claim``): the
    claim ran even when the insert was refused, so its tasks are leased either way and
    ``error``, when set, is the insert's refusal, to raise once they are handed over."""

    inserted: list[Inserted]
    claimed: list[Task]
    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker process as registered, and when it was last heard from."""

    id: str
    name: str
    host: str
    queues: tuple[str, ...] | None
    capabilities: tuple[str, ...]
    concurrency: int
    version: str
    started_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True, slots=True)
class QueueCount:
    queue: str
    state: TaskState
    priority: int
    count: int


@dataclass(frozen=True, slots=True)
class Position:
    """1-based place of a queued task: among its own priority, and in its whole queue."""

    in_priority: int
    in_queue: int


@dataclass(frozen=True, slots=True)
class JobSummary:
    job: Job
    counts: dict[TaskState, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def state(self) -> str:
        """Derived: ``queued`` until any task starts, ``running`` while any is active,
        then the worst final outcome (failed, then canceled, then succeeded)."""
        c = self.counts
        active = sum(c.get(s, 0) for s in (TaskState.QUEUED, TaskState.SCHEDULED))
        if c.get(TaskState.RUNNING, 0) or (active and active < self.total):
            return "running"
        if active:
            return "queued"
        for outcome in (TaskState.FAILED, TaskState.CANCELED):
            if c.get(outcome, 0):
                return outcome.value
        return "succeeded"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One operator action: who did what to what, when and why. ``seq`` is the store's
    (0 until stored); ``detail`` is a JSON text of what else the action took."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str | None
    reason: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    """A schedule as stored. ``definition`` is a JSON text only the service reads (the rule,
    its time zone, the task template and the policies); the store indexes ``next_run_at``
    of the enabled ones, so finding the due schedules costs what is due. ``version`` grows
    by one with each change: an update names the version it read (compare-and-set)."""

    id: str
    name: str
    definition: str
    enabled: bool
    #: None: the schedule fires no more
    next_run_at: datetime | None
    last_run_at: datetime | None
    #: the task of the last occurrence (the overlap policy looks at it)
    last_task_id: str | None
    version: int
    created_at: datetime
    updated_at: datetime
