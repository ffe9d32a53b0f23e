"""mula's task routes: list (offset pagination), show, patch a status, stats, health."""

from __future__ import annotations

import heapq
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

import rota
from rota.api.encode import FastJSON
from rota.core.auth import Role
from rota.core.errors import IllegalTransition, NotFound, StoreError, ValidationError
from rota.core.models import Task, TaskFilter
from rota.core.states import TaskState
from rota.service.scope import Scope

from . import filters
from .access import PATCH_TASK, READ, KatError, caller
from .items import RUNNING_MARK, modified_at, status, task_json
from .queues import SCAN_CAP, read_json, router
from .schedulers import visible

STATUSES = ("pending", "queued", "dispatched", "running", "completed", "failed", "cancelled")
#: the rota state each KAT status is read from (dispatched and running: progress tells)
STATE_OF = {
    "pending": TaskState.SCHEDULED,
    "queued": None,
    "dispatched": TaskState.RUNNING,
    "running": TaskState.RUNNING,
    "completed": TaskState.SUCCEEDED,
    "failed": TaskState.FAILED,
    "cancelled": TaskState.CANCELED,
}
MAX_LIMIT = 1000
#: /tasks/stats reads tasks made in this window (a KAT run lasts at most its day of lease)
STATS_LOOKBACK = timedelta(hours=48)


def _when(value: str | None, name: str) -> datetime | None:
    """``2023-12-01 00:00:00`` (rocky's ``str(datetime)``) or ISO 8601; naive is UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "T", 1).replace("Z", "+00:00"))
    except ValueError:
        raise KatError(400, f"{name} {value[:40]!r} is not a date and time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def scan(
    scope: Scope,
    queues: list[str],
    *,
    kind: str | None = None,
    state: TaskState | None = None,
    since: datetime | None = None,
) -> list[Task]:
    """The tasks of ``queues``, newest first (at most :data:`SCAN_CAP`); with ``since``,
    only those made at or after it."""
    per_queue: list[list[Task]] = []
    for queue in queues:
        found: list[Task] = []
        cursor = None
        while len(found) < SCAN_CAP:
            page, cursor = await scope.list_tasks(
                TaskFilter(queue=queue, kind=kind, state=state), cursor=cursor, limit=1000
            )
            if since is not None:
                kept = [t for t in page if t.created_at >= since]
                found += kept
                if len(kept) < len(page):
                    break
            else:
                found += page
            if cursor is None:
                break
        per_queue.append(found)
    merged = heapq.merge(*per_queue, key=lambda t: t.seq, reverse=True)
    return list(merged)[:SCAN_CAP]


def _payload_of(task: Task) -> dict[str, Any]:
    return {"id": task.id, **task.payload}


def _matches(task: Task, input_ooi: str | None, plugin_id: str | None) -> bool:
    payload = task.payload
    if task.kind == "boefje":
        ooi = payload.get("input_ooi")
        plugin = (payload.get("boefje") or {}).get("id")
    else:
        ooi = ((payload.get("raw_data") or {}).get("boefje_meta") or {}).get("input_ooi")
        plugin = (payload.get("normalizer") or {}).get("id")
    if input_ooi is not None and ooi != input_ooi:
        return False
    return plugin_id is None or plugin == plugin_id


class TaskQuery(BaseModel):
    """The query of both task listings, in mula's names."""

    task_type: str | None = None
    type_: str | None = Field(None, alias="type", description="rocky's name for task_type")
    status: str | None = None
    offset: int = Field(0, ge=0)
    limit: int = Field(10, ge=0)
    min_created_at: str | None = None
    max_created_at: str | None = None
    input_ooi: str | None = None
    plugin_id: str | None = None
    boefje_name: str | None = None  # rocky sends it; mula ignores it, and so does rota


async def _page(
    request: Request, scope: Scope, scheduler_id: str | None, query: TaskQuery
) -> Response:
    status_, limit, offset = query.status, query.limit, query.offset
    task_type, input_ooi, plugin_id = (
        query.task_type or query.type_,
        query.input_ooi,
        query.plugin_id,
    )
    min_created_at, max_created_at = query.min_created_at, query.max_created_at
    if status_ is not None and status_ not in STATUSES:
        raise KatError(400, f"status {status_[:40]!r} is unknown: use {', '.join(STATUSES)}")
    if limit > MAX_LIMIT:
        raise KatError(400, f"limit must be 0..{MAX_LIMIT}")
    body = await read_json(request) if request.method == "POST" else None
    try:
        wanted = filters.parse(body)
    except filters.BadFilter as exc:
        raise KatError(400, str(exc)) from None
    low, high = _when(min_created_at, "min_created_at"), _when(max_created_at, "max_created_at")
    shown = visible(scope)
    queues = [q for q in shown if scheduler_id in (None, q)]
    if task_type is not None:
        queues = [q for q in queues if shown[q].kind == task_type]
    state = None if status_ in (None, "queued") else STATE_OF[status_]
    tasks = await scan(scope, queues, state=state, since=low)
    kept = [
        t for t in tasks
        if (status_ is None or status(t) == status_)
        and (high is None or t.created_at <= high)
        and _matches(t, input_ooi, plugin_id)
        and (wanted is None or wanted(_payload_of(t)))
    ]  # fmt: skip
    count = len(kept)
    results = kept[offset : offset + limit] if limit else []
    url = request.url.remove_query_params(["limit", "offset"])
    more = limit > 0 and offset + limit < count
    back = limit > 0 and offset > 0
    return FastJSON({
        "count": count,
        "next": str(url.include_query_params(limit=limit, offset=offset + limit)) if more else None,
        "previous": (
            str(url.include_query_params(limit=limit, offset=max(offset - limit, 0)))
            if back else None
        ),
        "results": [task_json(t) for t in results],
    })  # fmt: skip


Listing = Annotated[TaskQuery, Query()]


@router.post("/tasks", operation_id="list_tasks_post")
@router.get("/tasks")
async def list_tasks(request: Request, query: Listing, scheduler_id: str | None = None) -> Response:
    """Newest first; ``count`` is the total, ``next``/``previous`` absolute URLs."""
    return await _page(request, await caller(request, READ), scheduler_id, query)


@router.post("/schedulers/{scheduler_id}/tasks", operation_id="list_scheduler_tasks_post")
@router.get("/schedulers/{scheduler_id}/tasks")
async def list_scheduler_tasks(request: Request, scheduler_id: str, query: Listing) -> Response:
    scope = await caller(request, READ)
    if scheduler_id not in visible(scope):
        raise KatError(404, "scheduler not found")
    return await _page(request, scope, scheduler_id, query)


async def _stats(scope: Scope, queues: list[str]) -> dict[str, dict[str, int]]:
    now = scope.service.clock.now()
    since = now - timedelta(hours=24)
    buckets: dict[datetime, dict[str, int]] = {}
    for task in await scan(scope, queues, since=now - STATS_LOOKBACK):
        moment = modified_at(task)
        if moment < since:
            continue
        hour = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        bucket = buckets.setdefault(hour, dict.fromkeys((*STATUSES, "total"), 0))
        bucket[status(task)] += 1
        bucket["total"] += 1
    return {hour.isoformat(): buckets[hour] for hour in sorted(buckets)}


@router.get("/tasks/stats")
async def stats(request: Request) -> Response:
    """Per hour of the last 24 (by when each task last changed): every status and total."""
    scope = await caller(request, READ)
    return FastJSON(await _stats(scope, list(visible(scope))))


@router.get("/tasks/stats/{scheduler_id}")
async def scheduler_stats(scheduler_id: str, request: Request) -> Response:
    scope = await caller(request, READ)
    queues = [scheduler_id] if scheduler_id in visible(scope) else []
    return FastJSON(await _stats(scope, queues))


async def kat_task(scope: Scope, task_id: str) -> Task:
    try:
        task = await scope.get(task_id)
    except (NotFound, ValidationError):
        raise KatError(404, "task not found") from None
    if task.queue not in visible(scope):
        raise KatError(404, "task not found")
    return task


@router.get("/tasks/{task_id}")
async def get_task(task_id: str, request: Request) -> Response:
    scope = await caller(request, READ)
    return FastJSON(task_json(await kat_task(scope, task_id)))


@router.patch("/tasks/{task_id}")
async def patch_task(task_id: str, request: Request) -> Response:
    """A status report: ``running`` (the runner started: kept in the task's progress),
    ``completed``, ``failed``, ``cancelled``. Other fields are not patched on rota."""
    scope = await caller(request, PATCH_TASK)
    body = await read_json(request, {})
    if not isinstance(body, dict):
        raise KatError(400, "the body must be a task object")
    if not body:
        raise KatError(400, "no data to patch")
    task = await kat_task(scope, task_id)
    wanted = body.get("status")
    if "status" not in body or set(body) - {"status", "id", "modified_at"}:
        raise KatError(400, "rota patches a task's status only")
    if wanted not in ("running", "completed", "failed", "cancelled"):
        raise KatError(400, "status: a runner reports running, completed, failed or cancelled")
    if wanted != "cancelled" and not scope.principal.has(Role.WORKER):
        raise KatError(403, "only a worker token reports a run's status")
    service = scope.service
    try:
        if status(task) == wanted:
            pass  # a repeated report
        elif wanted == "cancelled":
            task = await scope.cancel(task.id)
            if task.state is TaskState.RUNNING:  # a KAT runner is never told: end it now
                await service.fail(task.id, task.lease_token, "cancelled", retryable=False)
        elif task.state is not TaskState.RUNNING:
            raise KatError(409, f"task is {status(task)}: it was not popped")
        elif wanted == "running":
            await service.heartbeat(
                task.id, task.lease_token, RUNNING_MARK,
                lease_seconds=service.settings.kat_lease_seconds,
            )  # fmt: skip
        elif wanted == "completed":
            await service.complete(task.id, task.lease_token)
        else:
            await service.fail(task.id, task.lease_token, "failed (KAT runner)", retryable=False)
    except IllegalTransition:
        raise KatError(409, f"task is {status(await kat_task(scope, task_id))}") from None
    return FastJSON(task_json(await kat_task(scope, task_id)))


@router.get("/health")
async def health(request: Request, externals: bool = False) -> Response:
    """mula's shape; rota has no external services to probe (``externals`` is ``{}``)."""
    service = request.app.state.service
    try:
        await service.health()
        healthy = True
    except StoreError:
        healthy = False
    return FastJSON({
        "service": "scheduler", "healthy": healthy, "version": rota.__version__,
        "additional": None, "results": [], "externals": {},
    })  # fmt: skip
