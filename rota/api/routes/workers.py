"""Workers: claim with long-poll, heartbeat, and report results (one or many)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from rota import tracing
from rota.api.encode import FastJSON, TimeTexts, task_json, worker_json
from rota.api.errors import error_body
from rota.api.outputs import (
    COMMON,
    CancelRequestsOut,
    ClaimOut,
    LeaseOut,
    ReportOut,
    TaskOut,
    WorkerOut,
    WorkersOut,
    answers,
)
from rota.api.routes import API_PREFIX
from rota.api.routes.deps import Scoped, Svc
from rota.api.schemas import (
    ClaimIn,
    CompleteIn,
    FailIn,
    IdPath,
    LeaseIn,
    LeasesIn,
    NamePath,
    ProgressIn,
    ReportIn,
    WorkerIn,
)
from rota.service import Outcome

router = APIRouter(prefix=API_PREFIX, tags=["workers"], responses=COMMON)


@router.put("/workers/{worker_id}", response_class=FastJSON, responses=answers(200, WorkerOut))
async def register(worker_id: NamePath, body: WorkerIn, service: Svc) -> Response:
    """Announce a starting worker (again after a restart: the entry is replaced)."""
    info = await service.register_worker(
        worker_id,
        name=body.name,
        host=body.host,
        queues=body.queues,
        capabilities=body.capabilities,
        concurrency=body.concurrency,
        version=body.version,
    )
    return FastJSON(worker_json(info, []))


@router.get("/workers", response_class=FastJSON, responses=answers(200, WorkersOut))
async def list_workers(scope: Scoped) -> Response:
    """Workers heard from within ``ROTA_WORKER_SILENCE`` seconds (60 by default), each with
    its running tasks and last contact (any claim, heartbeat or registration); a token
    bound to a tenant sees only its tenant's running tasks."""
    return FastJSON({"workers": [worker_json(w, running) for w, running in await scope.workers()]})


@router.post(
    "/workers/{worker_id}/claim",
    response_class=FastJSON,
    responses={
        200: {"model": ClaimOut},
        204: {"description": "no task became ready within `wait` seconds"},
    },
)
async def claim(worker_id: NamePath, body: ClaimIn, service: Svc) -> Response:
    """Lease up to ``max`` tasks in priority order; each carries its ``lease_token``.

    Results may ride along (``completions``, ``failures``, as in ``/report``): they are
    applied while the claim runs, and the answer carries their ``results``.
    """
    claiming = service.claim(
        worker_id,
        queues=body.queues,
        limit=body.max,
        wait=body.wait,
        capabilities=body.capabilities,
    )
    results = None
    if body.completions or body.failures:
        reporting = service.report(
            [c.item() for c in body.completions],
            [f.item() for f in body.failures],
            worker_id=worker_id,
        )
        outcomes, tasks = await asyncio.gather(reporting, claiming)
        results = _results(outcomes)
    else:
        tasks = await claiming
    if tasks:
        tracing.linked("rota.claim", [t.trace for t in tasks], worker=worker_id, tasks=len(tasks))
    if not tasks and results is None:
        return Response(status_code=204)
    times = TimeTexts()
    answer: dict[str, Any] = {"tasks": [task_json(t, lease=True, times=times) for t in tasks]}
    if results is not None:
        answer["results"] = results
    return FastJSON(answer)


@router.post(
    "/tasks/{task_id}/heartbeat",
    response_class=FastJSON,
    responses=answers(200, LeaseOut, 404, 409),
)
async def heartbeat(task_id: IdPath, body: LeaseIn, service: Svc) -> Response:
    """Extend the lease; the answer says whether a cancel was requested."""
    task = await service.heartbeat(task_id, body.lease_token)
    expires = None if task.lease_expires_at is None else task.lease_expires_at.isoformat()
    return FastJSON({"lease_expires_at": expires, "cancel_requested": task.cancel_requested})


@router.post(
    "/workers/{worker_id}/canceled",
    response_class=FastJSON,
    responses=answers(200, CancelRequestsOut),
)
async def canceled(worker_id: NamePath, body: LeasesIn, service: Svc) -> Response:
    """Which of these running leases have a cancel requested: a read that busy workers send
    every half second, so a cancel reaches a running task within about a second."""
    leases = [(lease.id, lease.lease_token) for lease in body.leases]
    found = await service.canceled_leases(worker_id, leases)
    return FastJSON({"cancel_requested": [{"id": i, "lease_token": t} for i, t in found]})


@router.post(
    "/tasks/{task_id}/progress",
    response_class=FastJSON,
    responses=answers(200, LeaseOut, 404, 409),
)
async def progress(task_id: IdPath, body: ProgressIn, service: Svc) -> Response:
    """Record progress (and extend the lease, as a heartbeat does)."""
    task = await service.heartbeat(task_id, body.lease_token, progress=body.progress)
    expires = None if task.lease_expires_at is None else task.lease_expires_at.isoformat()
    return FastJSON({"lease_expires_at": expires, "cancel_requested": task.cancel_requested})


@router.post(
    "/tasks/{task_id}/complete",
    response_class=FastJSON,
    responses=answers(200, TaskOut, 404, 409),
)
async def complete(task_id: IdPath, body: CompleteIn, service: Svc) -> Response:
    return FastJSON(task_json(await service.complete(task_id, body.lease_token, body.result)))


@router.post(
    "/tasks/{task_id}/fail",
    response_class=FastJSON,
    responses=answers(200, TaskOut, 404, 409),
)
async def fail(task_id: IdPath, body: FailIn, service: Svc) -> Response:
    """Retried with backoff while attempts remain, else ``failed``."""
    task = await service.fail(
        task_id,
        body.lease_token,
        body.error,
        retryable=body.retryable,
        kind=body.error_kind,
        retry_after=body.retry_after,
    )
    return FastJSON(task_json(task))


@router.post(
    "/workers/{worker_id}/report",
    response_class=FastJSON,
    responses=answers(200, ReportOut),
)
async def report(worker_id: NamePath, body: ReportIn, service: Svc) -> Response:
    """Many completions and failures at once; each item gets its own status."""
    outcomes = await service.report(
        [c.item() for c in body.completions],
        [f.item() for f in body.failures],
        worker_id=worker_id,
    )
    return FastJSON({"results": _results(outcomes)})


def _results(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.error is None:
            results.append({"id": outcome.task_id, "status": 200})
        else:
            status, payload = error_body(outcome.error)
            # an id refused for a lone surrogate is echoed with it replaced, as JSON must
            task_id = outcome.task_id.encode("utf-8", "replace").decode()
            results.append({"id": task_id, "status": status, **payload})
    return results
