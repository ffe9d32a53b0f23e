"""Jobs: a named batch of tasks whose state is derived from theirs."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from rota.api.encode import FastJSON, job_json, task_json
from rota.api.routes.deps import Svc
from rota.api.schemas import JobIn

router = APIRouter(tags=["jobs"])


@router.post("/jobs", status_code=201, response_class=FastJSON)
async def submit_job(body: JobIn, service: Svc) -> Response:
    job, tasks = await service.submit_job(body.name, [t.spec() for t in body.tasks], body.tenant)
    summary = await service.job(job.id)
    return FastJSON({**job_json(summary), "tasks": [task_json(t) for t in tasks]}, status_code=201)


@router.get("/jobs/{job_id}", response_class=FastJSON)
async def get_job(job_id: str, service: Svc) -> Response:
    return FastJSON(job_json(await service.job(job_id)))
