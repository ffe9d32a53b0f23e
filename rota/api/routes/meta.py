"""Queues overview, statistics and health."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from rota.api.encode import FastJSON
from rota.api.outputs import (
    COMMON,
    HealthOut,
    QueuesOut,
    StatsOut,
    answers,
    errors,
)
from rota.api.routes import API_PREFIX
from rota.api.routes.deps import Scoped, Svc
from rota.core.errors import StoreError

router = APIRouter(prefix=API_PREFIX, tags=["meta"])


@router.get("/queues", response_class=FastJSON, responses=answers(200, QueuesOut) | COMMON)
async def queues(scope: Scoped) -> Response:
    """Per queue: tasks per state, and waiting (queued) tasks per priority."""
    overview: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"states": defaultdict(int), "queued_by_priority": defaultdict(int)}
    )
    for row in await scope.counts():
        entry = overview[row.queue]
        entry["states"][row.state.value] += row.count
        if row.state.value == "queued":
            entry["queued_by_priority"][str(row.priority)] += row.count
    return FastJSON({"queues": [{"name": name, **entry} for name, entry in overview.items()]})


@router.get("/stats", response_class=FastJSON, responses=answers(200, StatsOut) | COMMON)
async def stats(scope: Scoped) -> Response:
    states: dict[str, int] = defaultdict(int)
    names = set()
    for row in await scope.counts():
        states[row.state.value] += row.count
        names.add(row.queue)
    stuck = None
    if scope.tenant is None:  # counted over every tenant
        stuck = sum((await scope.service.unroutable()).values())
    return FastJSON({"total": sum(states.values()), "states": states, "queues": len(names),
                     "unroutable": stuck})  # fmt: skip


@router.get(
    "/health",
    response_class=FastJSON,
    responses={200: {"model": HealthOut}, 503: {"model": HealthOut}, **errors(422)},
)
async def health(service: Svc) -> Response:
    try:
        await service.health()
    except StoreError as exc:
        return FastJSON({"status": "unavailable", "detail": str(exc)}, status_code=503)
    return FastJSON({"status": "ok", "leader": service.is_leader})
