"""mula's schedulers and queues: list, show, patch, push and pop."""

from __future__ import annotations

import re
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from rota.api.encode import FastJSON
from rota.core.dedup import DuplicateKey
from rota.core.errors import DuplicateTask, IntakeBlocked, NotFound, QueueFull, ValidationError
from rota.core.models import Task, TaskFilter
from rota.core.states import TaskState
from rota.service import Service, TaskSpec
from rota.service.rankers import kat_priority
from rota.service.scope import Scope
from rota.service.validation import UniqueSpec

from . import filters, schedulers
from .access import ADMIN, READ, SUBMIT, WORK, KatError, KatRoute, caller
from .items import (
    ITEM_TYPES,
    KAT_PRIORITY_MAX,
    Malformed,
    Scheduler,
    identity_hash,
    item_json,
    kat_priority_of,
    organisation,
    validated,
)
from .schedulers import FLAG_NAMES, configured, scheduler_json, visible, waiting_counts

router = APIRouter(tags=["KAT compatibility"], route_class=KatRoute)

#: the worker id a KAT pop claims as (KAT's runners do not register with rota)
WORKER = "kat-runner"
#: GET /queues/{id} shows at most this many of the queue's items, in pop order
PQ_CAP = 1000
#: what a queue read looks through at most, to find the items in pop order
SCAN_CAP = 100_000
RETRY_AFTER = {"Retry-After": "60"}
_REPLACE = (
    "Item already on queue, we're not allowed to replace the item that is already on the queue."
)
_CHANGED = (
    "Item already on queue, and item changed, we're not allowed to update the item that is "
    "already on the queue."
)
_PRIORITY = (
    "Item already on queue, and priority changed, we're not allowed to update the priority "
    "of the item that is already on the queue."
)


def scheduler_or_404(scope: Scope, scheduler_id: str, detail: str) -> Scheduler:
    found = visible(scope).get(scheduler_id)
    if found is None:
        raise KatError(404, detail)
    return found


async def read_json(request: Request, empty: Any = None) -> Any:
    """The body as JSON whatever its Content-Type says (rocky sends none)."""
    raw = await request.body()
    if not raw.strip():
        return empty
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise KatError(400, "the body is not JSON") from None


# -- schedulers ---------------------------------------------------------------------------


@router.get("/schedulers")
async def list_schedulers(request: Request) -> Response:
    scope = await caller(request, READ)
    sizes = await waiting_counts(scope)
    shown = [await scheduler_json(scope, s, sizes) for s in visible(scope).values()]
    return FastJSON(shown)


@router.get("/schedulers/{scheduler_id}")
async def get_scheduler(scheduler_id: str, request: Request) -> Response:
    scope = await caller(request, READ)
    scheduler = scheduler_or_404(scope, scheduler_id, "scheduler not found")
    return FastJSON(await scheduler_json(scope, scheduler))


@router.patch("/schedulers/{scheduler_id}")
async def patch_scheduler(scheduler_id: str, request: Request) -> Response:
    """``enabled`` and ``priority_queue``'s ``maxsize`` and flags; ``id`` and
    ``last_activity`` are accepted and ignored, as mula ignores them."""
    scope = await caller(request, ADMIN)
    scheduler = scheduler_or_404(scope, scheduler_id, "scheduler not found")
    body = await read_json(request, {})
    if not isinstance(body, dict):
        raise KatError(400, "the body must be a scheduler object")
    patch = {k: body[k] for k in ("id", "enabled", "priority_queue", "last_activity") if k in body}
    if not patch:
        raise KatError(400, "no data to patch")
    enabled = patch.get("enabled")
    if "enabled" in patch and not isinstance(enabled, bool):
        raise KatError(400, "enabled must be true or false")
    changes = _queue_changes(patch.get("priority_queue"))
    if changes:
        current = await scope.service.queues.get(scheduler.id)
        flags = dict(zip(FLAG_NAMES, schedulers.flags(current), strict=True))
        asked = {k: changes.pop(k) for k in FLAG_NAMES if k in changes}
        if asked:
            merged = {**flags, **asked}
            changes["on_conflict"] = schedulers.rule_of(tuple(merged[k] for k in FLAG_NAMES))
        if changes:
            await scope.service.queues.update(scheduler.id, changes, actor=scope.actor)
    if isinstance(enabled, bool):
        await schedulers.set_enabled(scope, scheduler, enabled)
    return FastJSON(await scheduler_json(scope, scheduler))


def _queue_changes(pq: Any) -> dict[str, Any]:
    if pq is None:
        return {}
    if not isinstance(pq, dict):
        raise KatError(400, "priority_queue must be an object")
    changes: dict[str, Any] = {}
    if "maxsize" in pq:
        size = pq["maxsize"]
        if type(size) is not int or size < 0:
            raise KatError(400, "priority_queue.maxsize must be an integer >= 0 (0: no limit)")
        changes["max_size"] = size or None
    for name in FLAG_NAMES:
        if name in pq:
            if not isinstance(pq[name], bool):
                raise KatError(400, f"priority_queue.{name} must be true or false")
            changes[name] = pq[name]
    return changes


# -- queues -------------------------------------------------------------------------------


async def queue_json(scope: Scope, scheduler: Scheduler, size: int) -> dict[str, Any]:
    settings = await scope.service.queues.get(scheduler.id)
    replace, updates, priority = schedulers.flags(settings)
    return {
        "id": scheduler.id,
        "size": size,
        "maxsize": settings.max_size or 0,
        "item_type": ITEM_TYPES[scheduler.kind],
        "allow_replace": replace,
        "allow_updates": updates,
        "allow_priority_updates": priority,
    }


async def queued_in_order(scope: Scope, queue: str) -> list[Task]:
    """The queue's queued tasks in the order pops take them (priority, rank, enqueue)."""
    found: list[Task] = []
    cursor = None
    while len(found) < SCAN_CAP:
        page, cursor = await scope.list_tasks(
            TaskFilter(queue=queue, state=TaskState.QUEUED), cursor=cursor, limit=1000
        )
        found += page
        if cursor is None:
            break
    return sorted(found, key=lambda t: (-t.priority, t.place, t.seq))


@router.get("/queues")
async def list_queues(request: Request) -> Response:
    scope = await caller(request, READ)
    sizes = await waiting_counts(scope)
    shown = [await queue_json(scope, s, sizes.get(s.id, 0)) for s in visible(scope).values()]
    return FastJSON(shown)


@router.get("/queues/{queue_id}")
async def get_queue(queue_id: str, request: Request) -> Response:
    """With ``pq``: its queued items in pop order, the first :data:`PQ_CAP`."""
    scope = await caller(request, READ)
    scheduler = scheduler_or_404(scope, queue_id, "queue not found")
    sizes = await waiting_counts(scope)
    shown = await queue_json(scope, scheduler, sizes.get(scheduler.id, 0))
    shown["pq"] = [item_json(t) for t in (await queued_in_order(scope, scheduler.id))[:PQ_CAP]]
    return FastJSON(shown)


@router.post("/queues/{queue_id}/push", status_code=201)
async def push(queue_id: str, request: Request) -> Response:
    scope = await caller(request, SUBMIT)
    scheduler = scheduler_or_404(scope, queue_id, "queue not found")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise KatError(400, "malformed item")
    priority = body.get("priority")
    if type(priority) is not int or not 1 <= priority <= KAT_PRIORITY_MAX:
        raise KatError(400, "malformed item")
    try:
        task_id, payload = validated(scheduler.kind, body.get("data"))
    except Malformed:
        raise KatError(400, "malformed item") from None
    if organisation(scheduler.kind, payload) != scheduler.org:
        raise KatError(400, "malformed item")
    rota_priority, rank = kat_priority(priority)
    spec = TaskSpec(
        scheduler.kind, payload, queue=scheduler.id, priority=rota_priority, id=task_id,
        tenant=scheduler.org, max_attempts=1, rank=rank,
        unique=UniqueSpec(key=identity_hash(scheduler.kind, payload)),
    )  # fmt: skip
    try:
        (inserted,) = await scope.insert_many([spec])
    except QueueFull:
        raise KatError(429, "queue is full") from None
    except IntakeBlocked as exc:
        disabled = not await schedulers.enabled(scope.service, scheduler.id)
        raise KatError(409, schedulers.DISABLED if disabled else str(exc), RETRY_AFTER) from None
    except DuplicateKey as exc:
        detail = await _refusal(scope, str(exc), payload, priority)
        raise KatError(409, detail, RETRY_AFTER) from None
    except DuplicateTask:
        raise KatError(409, f"a task with id {task_id} exists already", RETRY_AFTER) from None
    except ValidationError:
        raise KatError(400, "malformed item") from None
    task = inserted.task
    if inserted.existing:  # the holder, as the rule left it
        task = await scope.service.get(task.id)
    return FastJSON(item_json(task), status_code=201)


_HOLDER = re.compile(r"held by task '([^']+)'")


async def _refusal(scope: Scope, message: str, payload: dict[str, Any], priority: int) -> str:
    """mula's words for a refused duplicate: what differs from the item on the queue."""
    found = _HOLDER.search(message)
    if found is None:
        return _REPLACE
    try:
        holder = await scope.service.get(found.group(1))
    except NotFound:
        return _REPLACE
    if kat_priority_of(holder) != priority:
        return _PRIORITY
    if holder.payload != payload:
        return _CHANGED
    return _REPLACE


async def _claim(service: Service, queue: str, task_id: str | None = None) -> Task | None:
    """The queue's head, or with ``task_id`` exactly that task if it is still queued."""
    tasks = await service.claim(
        WORKER, queues=[queue], limit=1, lease_seconds=service.settings.kat_lease_seconds,
        task_ids=() if task_id is None else (task_id,),
    )  # fmt: skip
    return tasks[0] if tasks else None


#: a filtered pop's searches: a second one when another pop took the first one's match
FILTERED_TRIES = 2


@router.post("/queues/{queue_id}/pop")
@router.get("/queues/{queue_id}/pop", operation_id="pop_get")
async def pop(queue_id: str, request: Request) -> Response:
    """The first item in KAT's order (priority 1 first, then the lower number, FIFO
    within), dispatched; ``null`` at once when none is queued. With filters, the first
    item in that order that matches them (404 when none does, as mula)."""
    scope = await caller(request, WORK)
    scheduler = scheduler_or_404(scope, queue_id, "queue not found")
    try:
        wanted = filters.parse(await read_json(request))
    except filters.BadFilter as exc:
        raise KatError(400, str(exc)) from None
    if wanted is None:
        task = await _claim(scope.service, scheduler.id)
        return FastJSON(None if task is None else item_json(task))
    for _ in range(FILTERED_TRIES):
        queued = await queued_in_order(scope, scheduler.id)
        if not queued:
            return FastJSON(None)  # mula: an empty queue pops nothing, filters or not
        match = next((t for t in queued if wanted({"id": t.id, **t.payload})), None)
        if match is None:
            raise KatError(404, "could not pop item from queue, check your filters")
        try:
            task = await _claim(scope.service, scheduler.id, match.id)
        except ValidationError as exc:  # a queue with global limits (Service.claim)
            raise KatError(409, f"a filtered pop cannot be served here: {exc}") from None
        if task is not None:
            return FastJSON(item_json(task))
    return FastJSON(None)  # another pop took the match each time: none for this one now


__all__ = ["configured", "router"]
