"""Small builders the contract tests share. Time is fixed: every call passes ``now``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rota.backends import Backend
from rota.core.models import ClaimRequest, Task, make_finish
from rota.core.priority import DEFAULT_PRIORITY
from rota.core.states import RETRYABLE_STATES, WAITING_STATES, TaskState

S = TaskState
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def at(seconds: float) -> datetime:
    """The fixed base time plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def make_task(
    task_id: str,
    *,
    queue: str = "default",
    kind: str = "work",
    priority: int = DEFAULT_PRIORITY,
    run_at: datetime | None = None,
    payload: dict[str, Any] | None = None,
    tenant: str | None = None,
    job_id: str | None = None,
    max_attempts: int = 3,
    timeout: float | None = None,
    created_at: datetime = T0,
) -> Task:
    """A task as the service would build it: scheduled when ``run_at`` is in the future."""
    run = created_at if run_at is None else run_at
    return Task(
        id=task_id,
        queue=queue,
        kind=kind,
        payload={} if payload is None else payload,
        priority=priority,
        state=S.SCHEDULED if run > created_at else S.QUEUED,
        run_at=run,
        created_at=created_at,
        max_attempts=max_attempts,
        timeout=timeout,
        tenant=tenant,
        job_id=job_id,
    )


async def insert(backend: Backend, *tasks: Task) -> list[Task]:
    return [r.task for r in await backend.task_insert_many(list(tasks))]


async def claim(
    backend: Backend,
    *,
    limit: int = 1,
    queues: Sequence[str] | None = None,
    now: datetime = T0,
    worker: str = "w1",
    lease: timedelta = LEASE,
    salt: int = 0,
) -> list[Task]:
    request = ClaimRequest(
        worker_id=worker,
        limit=limit,
        now=now,
        lease_expires_at=now + lease,
        queues=None if queues is None else tuple(queues),
        salt=salt,
    )
    return await backend.task_claim_many(request)


async def claim_one(backend: Backend, **kwargs: Any) -> Task:
    tasks = await claim(backend, limit=1, **kwargs)
    assert len(tasks) == 1, f"expected one ready task, got {[t.id for t in tasks]}"
    return tasks[0]


async def drain(backend: Backend, *, now: datetime = T0, **kwargs: Any) -> list[str]:
    """Claim one task at a time until none is ready; the ids in the order handed out."""
    ids: list[str] = []
    while tasks := await claim(backend, limit=1, now=now, **kwargs):
        ids.extend(t.id for t in tasks)
    return ids


async def finish(
    backend: Backend,
    task: Task,
    state: TaskState = S.SUCCEEDED,
    *,
    token: int | None = None,
    now: datetime = T0,
    **kwargs: Any,
) -> bool:
    """Finish ``task`` under its own lease token (or ``token``); whether it applied."""
    lease = task.lease_token if token is None else token
    ending = make_finish(task.id, lease, state, now=now, **kwargs)
    (applied,) = await backend.task_finish_many([ending], now=now)
    return applied


# The service decides what a cancel, a reprioritise or a retry does from the state it
# reads; these helpers make the same reading so the contract tests drive the guarded verbs.


async def cancel(backend: Backend, task_id: str, *, now: datetime = T0) -> Task | None:
    task = await backend.task_get(task_id)
    if task is None:
        return None
    if task.state is S.RUNNING:
        return await backend.task_cancel_request(task_id, task.lease_token, now=now, actor="op")
    if task.state in WAITING_STATES:
        return await backend.task_cancel(task_id, expect=task.state, now=now, actor="op")
    return None


async def set_priority(
    backend: Backend, task_id: str, priority: int, *, to_tail: bool, now: datetime = T0
) -> Task | None:
    task = await backend.task_get(task_id)
    if task is None or task.state not in WAITING_STATES:
        return None
    return await backend.task_set_priority(
        task_id, priority, expect=task.state, to_tail=to_tail, now=now, actor="op"
    )


async def requeue(backend: Backend, task_id: str, *, now: datetime = T0) -> Task | None:
    task = await backend.task_get(task_id)
    if task is None or task.state not in RETRYABLE_STATES:
        return None
    return await backend.task_requeue(task_id, expect=task.state, now=now, actor="op")
