"""Producers and operators: submit, read, list, cancel, re-prioritise, retry."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from rota import tracing
from rota.api.encode import FastJSON, event_json, task_json
from rota.api.outputs import (
    COMMON,
    DiscardedOut,
    EventsOut,
    RetriedOut,
    TaskBatchOut,
    TaskOut,
    TaskPageOut,
    answers,
)
from rota.api.routes import API_PREFIX
from rota.api.routes.deps import Scoped
from rota.api.schemas import (
    BatchIn,
    DeadLetterIn,
    IdPath,
    IdQuery,
    MoveIn,
    NameQuery,
    PriorityIn,
    TaskIn,
)
from rota.core import limits
from rota.core.errors import ValidationError
from rota.core.models import TaskFilter
from rota.core.states import TaskState
from rota.service.scope import Scope
from rota.service.validation import TaskSpec

router = APIRouter(prefix=API_PREFIX, tags=["tasks"], responses=COMMON)
#: a submit answered with the equal task that holds its unique key
HELD: dict[int | str, dict[str, Any]] = {
    200: {"model": TaskOut, "description": "an equal task holds the unique key: it"}
}


@router.post(
    "/tasks",
    status_code=201,
    response_class=FastJSON,
    responses=answers(201, TaskOut, 400, 409, 429) | HELD,
)
async def submit(body: TaskIn, scope: Scoped, request: Request) -> Response:
    """201 with the new task; 200 with the equal task that holds its unique key, when its
    ``on_conflict`` answers with it (existing, update_payload, raise_priority,
    update_priority, update). A W3C ``traceparent`` header is kept with the task; its run
    continues that trace."""
    parent = tracing.parse(request.headers.get("traceparent"))
    with tracing.span("rota.enqueue", parent, queue=body.queue, kind=body.kind) as trace:
        (done,) = await scope.insert_many([ranked(body, scope)._replace(trace=trace)])
    return FastJSON(task_json(done.task), status_code=200 if done.existing else 201)


@router.post(
    "/tasks/batch",
    status_code=201,
    response_class=FastJSON,
    responses=answers(201, TaskBatchOut, 400, 409, 429),
)
async def submit_batch(body: BatchIn, scope: Scoped, request: Request) -> Response:
    """Submit up to 1,000 tasks atomically: all are stored or none. An item whose unique
    key an equal task holds is answered with that task, and its id listed in
    ``existing``. A ``traceparent`` header is kept with every task of the batch."""
    parent = tracing.parse(request.headers.get("traceparent"))
    with tracing.span("rota.enqueue", parent, batch=len(body.tasks)) as trace:
        specs = [ranked(t, scope) for t in body.tasks]
        if trace is not None:
            specs = [spec._replace(trace=trace) for spec in specs]
        done = await scope.insert_many(specs)
    existing = [d.task.id for d in done if d.existing]
    body_out = {"tasks": [task_json(d.task) for d in done], "existing": existing}
    return FastJSON(body_out, status_code=201)


def ranked(body: TaskIn, scope: Scope) -> TaskSpec:
    """The task's spec, its priority computed by its ranker when it names one."""
    spec = body.spec()
    if body.ranker is None:
        return spec
    if body.priority is not None:
        raise ValidationError("give priority or ranker, not both")
    return scope.service.rank(body.ranker, spec)


@router.get(
    "/tasks/{task_id}",
    response_class=FastJSON,
    responses=answers(200, TaskOut, 404),
)
async def get_task(task_id: IdPath, scope: Scoped) -> Response:
    """The task; while queued it carries its 1-based ``position``."""
    task = await scope.get(task_id)
    position = await scope.service.position(task_id) if task.state == TaskState.QUEUED else None
    return FastJSON(task_json(task, position=position))


@router.get("/tasks", response_class=FastJSON, responses=answers(200, TaskPageOut))
async def list_tasks(
    scope: Scoped,
    queue: NameQuery = None,
    state: TaskState | None = None,
    kind: NameQuery = None,
    tenant: NameQuery = None,
    job_id: IdQuery = None,
    cursor: int | None = Query(
        None, ge=0, le=limits.MAX_TOKEN, description="next_cursor of the previous page"
    ),
    limit: int = Query(100, ge=1, le=limits.MAX_LIST_LIMIT),
) -> Response:
    """Newest first; follow ``next_cursor`` until it is null."""
    filter = TaskFilter(queue=queue, state=state, kind=kind, tenant=tenant, job_id=job_id)
    tasks, next_cursor = await scope.list_tasks(filter, cursor=cursor, limit=limit)
    body: dict[str, Any] = {"tasks": [task_json(t) for t in tasks], "next_cursor": next_cursor}
    return FastJSON(body)


@router.get(
    "/tasks/{task_id}/events",
    response_class=FastJSON,
    responses=answers(200, EventsOut, 404),
)
async def task_events(task_id: IdPath, scope: Scoped) -> Response:
    return FastJSON({"events": [event_json(e) for e in await scope.events(task_id)]})


@router.post(
    "/tasks/{task_id}/cancel",
    response_class=FastJSON,
    responses=answers(200, TaskOut, 404, 409),
)
async def cancel(task_id: IdPath, scope: Scoped) -> Response:
    """Waiting tasks end ``canceled``; a running one gets ``cancel_requested``."""
    return FastJSON(task_json(await scope.cancel(task_id)))


@router.post(
    "/tasks/{task_id}/priority",
    response_class=FastJSON,
    responses=answers(200, TaskOut, 404, 409),
)
async def set_priority(task_id: IdPath, body: PriorityIn, scope: Scoped) -> Response:
    task = await scope.set_priority(task_id, body.priority, to_tail=body.to_tail)
    return FastJSON(task_json(task))


@router.post(
    "/tasks/{task_id}/move",
    response_class=FastJSON,
    responses=answers(200, TaskOut, 404, 409),
)
async def move(task_id: IdPath, body: MoveIn, scope: Scoped) -> Response:
    """A waiting task's new run time (Indico's ``move_task``); it keeps its priority."""
    task = await scope.move(task_id, run_at=body.run_at, delay=body.delay)
    return FastJSON(task_json(task))


@router.post(
    "/dead-letter/retry",
    response_class=FastJSON,
    tags=["dead letter"],
    responses=answers(200, RetriedOut),
)
async def retry_dead(body: DeadLetterIn, scope: Scoped) -> Response:
    """Requeue the failed tasks that match (attempts reset); their ids."""
    ids = await scope.retry_failed(body.filter(), limit=body.limit)
    return FastJSON({"retried": ids, "count": len(ids)})


@router.post(
    "/dead-letter/discard",
    response_class=FastJSON,
    tags=["dead letter"],
    responses=answers(200, DiscardedOut),
)
async def discard_dead(body: DeadLetterIn, scope: Scoped) -> Response:
    """Delete the failed tasks that match, with their history."""
    return FastJSON({"discarded": await scope.discard_failed(body.filter(), limit=body.limit)})


@router.post(
    "/tasks/{task_id}/retry",
    response_class=FastJSON,
    responses=answers(200, TaskOut, 404, 409),
)
async def retry(task_id: IdPath, scope: Scoped) -> Response:
    """Operator retry of a failed or canceled task: back to ``queued``, attempts reset."""
    return FastJSON(task_json(await scope.retry(task_id)))
