"""DMS Scheduler's API at its own paths, so its frontend and submitter work unchanged.

Mounted with ``ROTA_COMPAT=dms``. It translates and decides nothing (DESIGN.md): a DMS task
is a rota task in queue ``dms`` of kind ``dms`` whose payload keeps DMS's fields; its
``high``/``mid``/``low`` are rota's named priorities; "dispatched" (handed to the
submitter by ``/submitter/next``) is a rota claim completed at once; DMS's block is rota's
intake block on queue ``dms``. DMS's access rules hold on these routes: anyone may submit at
``low``, read, cancel and pull; ``mid``/``high`` submits, priority changes and the admin
routes need the operator token (``X-DMS-Operator-Token`` equal to ``DMS_OPERATOR_TOKEN``,
or a rota operator bearer token).
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Header, Request
from pydantic import Field
from starlette.responses import Response

from rota.api.encode import FastJSON
from rota.api.outputs import COMMON, ErrorOut, HealthOut, Out, answers
from rota.api.routes.deps import Svc
from rota.api.schemas import Body, IdPath, JsonObject, TaskId
from rota.core.auth import Role
from rota.core.errors import BadRequest, Forbidden, IllegalTransition, NotFound
from rota.core.models import Task
from rota.core.priority import priority_name
from rota.core.states import TaskState
from rota.service import Service, TaskSpec

QUEUE = KIND = "dms"
WORKER = "dms-submitter"
#: how the audit log names whoever holds the DMS operator token
OPERATOR = "dms-operator"
LEVELS = ("high", "mid", "low")
Level = Literal["high", "mid", "low"]
_STATUS = {
    TaskState.SCHEDULED: "queued",
    TaskState.QUEUED: "queued",
    TaskState.RUNNING: "dispatched",
    TaskState.SUCCEEDED: "dispatched",
    TaskState.FAILED: "failed",
    TaskState.CANCELED: "canceled",
}

router = APIRouter(tags=["DMS compatibility"], responses=COMMON)


#: DMS keeps these in the payload, where no store takes a NUL character
NO_NUL = r"^[^\x00]*$"


class DmsTaskIn(Body):
    task_id: TaskId
    service: str = Field(min_length=1, max_length=128, pattern=NO_NUL)
    user_id: str = Field(min_length=1, max_length=128, pattern=NO_NUL)
    parameters: JsonObject = Field(default_factory=dict)
    priority: Level = "low"


class DmsCancelIn(Body):
    task_id: TaskId


class DmsPriorityIn(Body):
    task_id: TaskId
    priority: Level


class DmsBlockIn(Body):
    reason: str = Field("blocked by an operator", min_length=1, max_length=500)


class DmsRecordOut(Out):
    task_id: str
    service: Any
    user_id: Any
    parameters: Any
    priority: Level | None
    status: Literal["queued", "dispatched", "failed", "canceled"]
    created_at: str
    updated_at: str


class DmsPositionOut(Out):
    priority: Level | None
    position_in_priority: int = Field(ge=1)
    global_position: int = Field(ge=1)


class DmsOverviewOut(Out):
    total: int
    high: int
    mid: int
    low: int


class DmsTaskOut(Out):
    task: DmsRecordOut
    queue_position: DmsPositionOut | None = Field(description="null unless queued")
    overview: DmsOverviewOut


class DmsBlockOut(Out):
    blocked: bool
    reason: str | None
    updated_at: str | None


class DmsStatsOut(Out):
    queued: int = Field(description="every task ever enqueued")
    dispatched: int
    canceled: int
    last_updated: str
    queue_overview: DmsOverviewOut


def record(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.id,
        "service": task.payload.get("service"),
        "user_id": task.payload.get("user_id"),
        "parameters": task.payload.get("parameters", {}),
        "priority": priority_name(task.priority),
        "status": _STATUS[task.state],
        "created_at": task.created_at.isoformat(),
        "updated_at": (task.finished_at or task.started_at or task.created_at).isoformat(),
    }


_BLOCKED: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorOut, "description": "intake is blocked (POST /admin/block)"}
}


def _operator(request: Request, token: str | None) -> bool:
    """The DMS operator token, or a rota operator bearer token."""
    expected = request.app.state.service.settings.dms_operator_token
    if token and expected and hmac.compare_digest(token.encode(), expected.encode()):
        return True
    principal = getattr(request.state, "principal", None)
    return principal is not None and principal.role is Role.OPERATOR and principal.name != "open"


def _require_operator(request: Request, token: str | None) -> None:
    if not _operator(request, token):
        raise Forbidden("this needs the operator token (X-DMS-Operator-Token)")


async def _dms_task(service: Service, task_id: str) -> Task:
    task = await service.get(task_id)
    if task.queue != QUEUE:
        raise NotFound(f"no task with id {task_id!r}")
    return task


async def overview(service: Service) -> dict[str, int]:
    levels = dict.fromkeys(LEVELS, 0)
    for row in await service.counts():
        if row.queue == QUEUE and row.state == TaskState.QUEUED:
            name = priority_name(row.priority)
            if name is not None:
                levels[name] += row.count
    return {"total": sum(levels.values()), **levels}


@router.post(
    "/tasks",
    status_code=201,
    response_class=FastJSON,
    responses=answers(201, DmsRecordOut, 409, 429) | _BLOCKED,
)
async def submit(
    body: DmsTaskIn,
    request: Request,
    service: Svc,
    x_dms_operator_token: str | None = Header(None),
) -> Response:
    if body.priority != "low":
        _require_operator(request, x_dms_operator_token)
    payload = {"service": body.service, "user_id": body.user_id, "parameters": body.parameters}
    spec = TaskSpec(KIND, payload, queue=QUEUE, priority=body.priority, id=body.task_id)
    return FastJSON(record(await service.enqueue(spec)), status_code=201)


@router.post("/tasks/cancel", response_class=FastJSON, responses=answers(200, DmsRecordOut, 404))
async def cancel(body: DmsCancelIn, service: Svc) -> Response:
    """Idempotent: a task already canceled (or dispatched) is answered as it is."""
    task = await _dms_task(service, body.task_id)
    if task.state in (TaskState.QUEUED, TaskState.SCHEDULED):
        task = await service.cancel(task.id, actor="dms")
    return FastJSON(record(task))


@router.get("/tasks/{task_id}", response_class=FastJSON, responses=answers(200, DmsTaskOut, 404))
async def get_task(task_id: IdPath, service: Svc) -> Response:
    task = await _dms_task(service, task_id)
    position = None
    if task.state == TaskState.QUEUED:
        place = await service.position(task.id)
        if place is not None:
            position = {
                "priority": priority_name(task.priority),
                "position_in_priority": place.in_priority,
                "global_position": place.in_queue,
            }
    body = {"task": record(task), "queue_position": position, "overview": await overview(service)}
    return FastJSON(body)


@router.get("/queues/overview", response_class=FastJSON, responses=answers(200, DmsOverviewOut))
async def queues_overview(service: Svc) -> Response:
    return FastJSON(await overview(service))


@router.post(
    "/submitter/next",
    response_class=FastJSON,
    responses={**answers(200, DmsRecordOut), 204: {"description": "no task is queued"}},
)
async def submitter_next(service: Svc) -> Response:
    """The next task in strict priority order, FIFO within: dispatched; 204 when none."""
    tasks = await service.claim(WORKER, queues=[QUEUE], limit=1)
    if not tasks:
        return Response(status_code=204)
    (task,) = tasks
    return FastJSON(record(await service.complete(task.id, task.lease_token, None)))


@router.post("/admin/priority", response_class=FastJSON, responses=answers(200, DmsRecordOut, 404))
async def admin_priority(
    body: DmsPriorityIn,
    request: Request,
    service: Svc,
    x_dms_operator_token: str | None = Header(None),
) -> Response:
    """A queued task to the tail of its new level; any other state is 400."""
    _require_operator(request, x_dms_operator_token)
    task = await _dms_task(service, body.task_id)
    if task.state != TaskState.QUEUED:
        raise BadRequest(f"task {task.id} is {_STATUS[task.state]}: only a queued task moves")
    try:
        moved = await service.set_priority(task.id, body.priority, to_tail=True, actor="dms")
    except IllegalTransition as exc:
        raise BadRequest(str(exc)) from exc
    await service.audit.record(OPERATOR, "task.priority", task.id, priority=moved.priority)
    return FastJSON(record(moved))


@router.post("/admin/block", response_class=FastJSON, responses=answers(200, DmsBlockOut))
async def admin_block(
    request: Request,
    service: Svc,
    body: DmsBlockIn | None = None,
    x_dms_operator_token: str | None = Header(None),
) -> Response:
    _require_operator(request, x_dms_operator_token)
    reason = (body or DmsBlockIn()).reason
    block = await service.controls.block(
        "queue", QUEUE, reason=reason, by=OPERATOR, now=service.clock.now()
    )
    await service.audit.record(OPERATOR, "intake.block", QUEUE, reason=reason, scope="queue")
    return FastJSON({"blocked": True, "reason": block.reason, "updated_at": block.since})


@router.post("/admin/resume", response_class=FastJSON, responses=answers(200, DmsBlockOut))
async def admin_resume(
    request: Request, service: Svc, x_dms_operator_token: str | None = Header(None)
) -> Response:
    _require_operator(request, x_dms_operator_token)
    resumed = await service.controls.resume("queue", QUEUE)
    await service.audit.record(OPERATOR, "intake.resume", QUEUE, scope="queue", resumed=resumed)
    now = service.clock.now().isoformat()
    return FastJSON({"blocked": False, "reason": None, "updated_at": now})


@router.get("/admin/block", response_class=FastJSON, responses=answers(200, DmsBlockOut))
async def admin_block_state(
    request: Request, service: Svc, x_dms_operator_token: str | None = Header(None)
) -> Response:
    _require_operator(request, x_dms_operator_token)
    block = (await service.controls.blocks()).get(f"intake:queue:{QUEUE}")
    if block is None:
        return FastJSON({"blocked": False, "reason": None, "updated_at": None})
    return FastJSON({"blocked": True, "reason": block.reason, "updated_at": block.since})


@router.get("/stats", response_class=FastJSON, responses=answers(200, DmsStatsOut))
async def stats(service: Svc) -> Response:
    """``queued`` counts every task ever enqueued (DMS's counter), by state now."""
    counts = {"queued": 0, "dispatched": 0, "canceled": 0}
    for row in await service.counts():
        if row.queue == QUEUE:
            counts["queued"] += row.count
            status = _STATUS[row.state]
            if status in ("dispatched", "canceled"):
                counts[status] += row.count
    body = {**counts, "last_updated": datetime.now().astimezone().isoformat(),
            "queue_overview": await overview(service)}  # fmt: skip
    return FastJSON(body)


@router.get("/healthz", response_class=FastJSON, responses=answers(200, HealthOut))
async def healthz(service: Svc) -> Response:
    await service.health()
    return FastJSON({"status": "ok"})
