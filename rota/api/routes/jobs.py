"""Jobs: a named batch of tasks whose state is derived from theirs."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from rota.api.encode import FastJSON, job_json, task_json
from rota.api.outputs import (
    COMMON,
    CanceledOut,
    JobOut,
    JobWithTasksOut,
    answers,
)
from rota.api.routes import API_PREFIX
from rota.api.routes.deps import Scoped
from rota.api.routes.tasks import ranked
from rota.api.schemas import IdPath, JobIn

router = APIRouter(prefix=API_PREFIX, tags=["jobs"], responses=COMMON)


@router.post(
    "/jobs",
    status_code=201,
    response_class=FastJSON,
    responses=answers(201, JobWithTasksOut, 400, 409, 429),
)
async def submit_job(body: JobIn, scope: Scoped) -> Response:
    """A named batch of tasks, stored all or nothing. A task may name others of the job it
    waits for (``depends_on``, by their ``name`` or id): a cycle or an unknown name is 422."""
    specs = [ranked(t, scope) for t in body.tasks]
    job, tasks = await scope.submit_job(body.name, specs, body.tenant, body.links())
    summary = await scope.job(job.id)
    return FastJSON({**job_json(summary), "tasks": [task_json(t) for t in tasks]}, status_code=201)


@router.get(
    "/jobs/{job_id}",
    response_class=FastJSON,
    responses=answers(200, JobOut, 404),
)
async def get_job(job_id: IdPath, scope: Scoped) -> Response:
    return FastJSON(job_json(await scope.job(job_id)))


@router.post(
    "/jobs/{job_id}/cancel",
    response_class=FastJSON,
    responses=answers(200, CanceledOut, 404),
)
async def cancel_job(job_id: IdPath, scope: Scoped) -> Response:
    """Cancel the job's unfinished tasks: waiting ones end ``canceled``, running ones get a
    cancel request."""
    done = await scope.cancel_job(job_id)
    return FastJSON({"canceled": done, "count": len(done)})
