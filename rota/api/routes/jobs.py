"""Jobs: a named batch of tasks whose state is derived from theirs."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from rota.api.encode import FastJSON, job_json, task_json
from rota.api.outputs import (
    COMMON,
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
    specs = [ranked(t, scope) for t in body.tasks]
    job, tasks = await scope.submit_job(body.name, specs, body.tenant)
    summary = await scope.job(job.id)
    return FastJSON({**job_json(summary), "tasks": [task_json(t) for t in tasks]}, status_code=201)


@router.get(
    "/jobs/{job_id}",
    response_class=FastJSON,
    responses=answers(200, JobOut, 404),
)
async def get_job(job_id: IdPath, scope: Scoped) -> Response:
    return FastJSON(job_json(await scope.job(job_id)))
