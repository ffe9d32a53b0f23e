"""The cd scheduler's API at its own paths (``ROTA_COMPAT=cd``), so its workers and clients
work unchanged.

It translates and decides nothing: a cd job is a rota task in queue ``cd`` whose kind is the
``job_type``; its priority 1-10 is rota's priority (higher first); cd's reliability rules
are the task's own settings: ``max_attempts`` 2 (retry once), a timeout of
``SCHEDULER_TIMEOUT_SECONDS`` (30; the sweeper ends an overrun ``ROTA_TIMEOUT_GRACE`` later)
and an immediate retry. States: PENDING is queued (or waiting to retry), RUNNING running,
COMPLETED succeeded, FAILED failed or canceled. cd's workers send no lease token: a
completion applies to the run the job holds now, as cd itself does. Its routes keep cd's
access (none) unless rota tokens are configured, then they need a token as usual.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from rota.api.encode import FastJSON
from rota.api.outputs import COMMON, Out, answers
from rota.api.routes.deps import Scoped, Svc
from rota.api.schemas import NAME_SCHEMA, Body, IdPath, JsonObject, Name
from rota.core.errors import IllegalTransition, NotFound
from rota.core.models import Task
from rota.core.states import TaskState
from rota.service import Service, TaskSpec
from rota.service.scope import Scope

QUEUE = "cd"
MAX_ATTEMPTS = 2
_STATE = {
    TaskState.SCHEDULED: "PENDING",
    TaskState.QUEUED: "PENDING",
    TaskState.RUNNING: "RUNNING",
    TaskState.SUCCEEDED: "COMPLETED",
    TaskState.FAILED: "FAILED",
    TaskState.CANCELED: "FAILED",
}

router = APIRouter(tags=["cd compatibility"], responses=COMMON)


class CdJobIn(Body):
    job_type: Name
    payload: JsonObject = Field(default_factory=dict)
    priority: int = Field(5, ge=1, le=10, description="1..10, higher first")


class CdCompleteIn(Body):
    success: bool
    error_message: str | None = Field(None, max_length=16 * 1024)


class CdJobOut(Out):
    id: str
    job_type: str
    payload: dict[str, Any]
    priority: int
    state: Literal["PENDING", "RUNNING", "COMPLETED", "FAILED"]
    attempts: int
    max_attempts: int
    assigned_worker_id: str | None
    created_at: str
    started_at: str | None
    completed_at: str | None
    last_error: str | None


def job_json(task: Task) -> dict[str, Any]:
    def at(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": task.id,
        "job_type": task.kind,
        "payload": task.payload,
        "priority": task.priority,
        "state": _STATE[task.state],
        "attempts": task.attempt,
        "max_attempts": task.max_attempts,
        "assigned_worker_id": task.worker_id,
        "created_at": at(task.created_at),
        "started_at": at(task.started_at),
        "completed_at": at(task.finished_at),
        "last_error": task.error,
    }


async def _job(service: Service | Scope, job_id: str) -> Task:
    task = await service.get(job_id)
    if task.queue != QUEUE:
        raise NotFound(f"no job with id {job_id!r}")
    return task


@router.post(
    "/jobs", status_code=201, response_class=FastJSON, responses=answers(201, CdJobOut, 429)
)
async def create_job(body: CdJobIn, scope: Scoped) -> Response:
    service = scope.service
    spec = TaskSpec(
        body.job_type,
        body.payload,
        queue=QUEUE,
        priority=body.priority,
        max_attempts=MAX_ATTEMPTS,
        timeout=service.settings.cd_timeout_seconds,
        retry={"backoff": "fixed", "delay": 0},
    )
    return FastJSON(job_json(await scope.enqueue(spec)), status_code=201)


@router.get("/jobs/{job_id}", response_class=FastJSON, responses=answers(200, CdJobOut, 404))
async def get_job(job_id: IdPath, scope: Scoped) -> Response:
    return FastJSON(job_json(await _job(scope, job_id)))  # a tenant's token reads its own


@router.get(
    "/next-job",
    response_class=FastJSON,
    responses={**answers(200, CdJobOut), 204: {"description": "no job is pending"}},
)
async def next_job(
    service: Svc, worker_id: Annotated[str, Query(json_schema_extra=NAME_SCHEMA)]
) -> Response:
    """The next PENDING job, now RUNNING for ``worker_id``; 204 when none."""
    tasks = await service.claim(worker_id, queues=[QUEUE], limit=1)
    return FastJSON(job_json(tasks[0])) if tasks else Response(status_code=204)


@router.post(
    "/jobs/{job_id}/complete",
    response_class=FastJSON,
    responses=answers(200, CdJobOut, 404, 409),
)
async def complete(job_id: IdPath, body: CdCompleteIn, service: Svc) -> Response:
    """Success: COMPLETED. Failure: PENDING again while an attempt is left, else FAILED."""
    task = await _job(service, job_id)
    if task.state != TaskState.RUNNING:
        raise IllegalTransition(f"job {job_id} is {_STATE[task.state]}, not RUNNING")
    if body.success:
        done = await service.complete(task.id, task.lease_token, None)
    else:
        error = body.error_message or "the worker reported a failure"
        done = await service.fail(task.id, task.lease_token, error)
    return FastJSON(job_json(done))
