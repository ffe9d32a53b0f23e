"""Operators: API tokens over HTTP (what `rota token` does against the store), blocking or
resuming intake (everything, one queue, one tenant), and the audit log of what they did."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from rota.api.encode import FastJSON
from rota.api.outputs import (
    COMMON,
    AuditOut,
    BlockOut,
    BlocksOut,
    CanceledOut,
    DisabledListOut,
    DisableOut,
    EnabledOut,
    PauseOut,
    PausesOut,
    ReprioritizedOut,
    ResumedOut,
    TokenCreatedOut,
    TokenOut,
    TokensOut,
    answers,
)
from rota.api.routes import API_PREFIX
from rota.api.routes.deps import Scoped, Svc
from rota.api.schemas import (
    BlockIn,
    BulkPriorityIn,
    DisableIn,
    FilterIn,
    IntakeIn,
    NamePath,
    NameQuery,
    PauseIn,
    QueueIn,
    TenantIn,
    TokenIn,
)
from rota.core import limits
from rota.core.auth import TokenRecord
from rota.core.models import AuditEntry
from rota.service.controls import Block, Disabled, Pause

router = APIRouter(prefix=f"{API_PREFIX}/admin", tags=["admin"], responses=COMMON)


def token_json(token: TokenRecord) -> dict[str, Any]:
    def at(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "name": token.name,
        "role": token.role.value,
        "tenant": token.tenant,
        "created_at": at(token.created_at),
        "expires_at": at(token.expires_at),
        "revoked_at": at(token.revoked_at),
        "last_used_at": at(token.last_used_at),
    }


@router.post(
    "/tokens",
    status_code=201,
    response_class=FastJSON,
    responses=answers(201, TokenCreatedOut, 409),
)
async def create(body: TokenIn, scope: Scoped) -> Response:
    """A new stored token; its ``secret`` is in this answer only (rota keeps its digest)."""
    record, secret = await scope.service.tokens.create(
        role=body.role,
        name=body.name,
        tenant=body.tenant,
        expires_in=body.expires_in,
    )
    await scope.audit("token.create", record.name, role=record.role.value, tenant=record.tenant)
    return FastJSON({**token_json(record), "secret": secret}, status_code=201)


@router.get("/tokens", response_class=FastJSON, responses=answers(200, TokensOut))
async def list_tokens(service: Svc) -> Response:
    """Every stored token, without secrets or digests."""
    return FastJSON({"tokens": [token_json(t) for t in await service.tokens.all()]})


@router.post(
    "/tokens/{name}/revoke", response_class=FastJSON, responses=answers(200, TokenOut, 404)
)
async def revoke(name: NamePath, scope: Scoped) -> Response:
    revoked = await scope.service.tokens.revoke(name)
    await scope.audit("token.revoke", name)
    return FastJSON(token_json(revoked))


def block_json(block: Block) -> dict[str, Any]:
    return {"scope": block.scope, "name": block.name, "reason": block.reason,
            "since": block.since, "by": block.by}  # fmt: skip


@router.get("/intake", response_class=FastJSON, responses=answers(200, BlocksOut))
async def intake(service: Svc) -> Response:
    """The intake blocks in force."""
    blocks = await service.controls.blocks()
    return FastJSON({"blocks": [block_json(b) for b in blocks.values()]})


@router.post("/intake/block", response_class=FastJSON, responses=answers(200, BlockOut))
async def block(body: BlockIn, scope: Scoped) -> Response:
    """Refuse new submits (503 with ``Retry-After``, saying why) until resumed."""
    where, name = body.target()
    service = scope.service
    made = await service.controls.block(
        where, name, reason=body.reason, by=scope.actor, now=service.clock.now()
    )
    await service.audit.record(scope.actor, "intake.block", name, reason=body.reason, scope=where)
    return FastJSON(block_json(made))


@router.post("/intake/resume", response_class=FastJSON, responses=answers(200, ResumedOut))
async def resume(body: IntakeIn, scope: Scoped) -> Response:
    where, name = body.target()
    resumed = await scope.service.controls.resume(where, name)
    await scope.audit("intake.resume", name, scope=where, resumed=resumed)
    return FastJSON({"resumed": resumed})


def pause_json(pause: Pause) -> dict[str, Any]:
    return {"queue": pause.queue, "reason": pause.reason, "since": pause.since, "by": pause.by}


@router.get("/dispatch", response_class=FastJSON, responses=answers(200, PausesOut))
async def dispatch(service: Svc) -> Response:
    """The queues whose dispatch is paused."""
    pauses = await service.controls.pauses()
    return FastJSON({"paused": [pause_json(p) for p in pauses.values()]})


@router.post("/dispatch/pause", response_class=FastJSON, responses=answers(200, PauseOut))
async def pause(body: PauseIn, scope: Scoped) -> Response:
    """Hand out none of the queue's tasks until resumed; submits still go in."""
    service = scope.service
    made = await service.controls.pause(
        body.queue, reason=body.reason, by=scope.actor, now=service.clock.now()
    )
    await service.audit.record(scope.actor, "dispatch.pause", body.queue, reason=body.reason)
    return FastJSON(pause_json(made))


@router.post("/dispatch/resume", response_class=FastJSON, responses=answers(200, ResumedOut))
async def resume_dispatch(body: QueueIn, scope: Scoped) -> Response:
    resumed = await scope.service.controls.unpause(body.queue)
    await scope.audit("dispatch.resume", body.queue, resumed=resumed)
    return FastJSON({"resumed": resumed})


def disabled_json(off: Disabled) -> dict[str, Any]:
    return {"tenant": off.tenant, "reason": off.reason, "since": off.since, "by": off.by}


@router.get("/tenants", response_class=FastJSON, responses=answers(200, DisabledListOut))
async def tenants(service: Svc) -> Response:
    """The tenants whose scheduling is disabled."""
    disabled = await service.controls.disabled()
    return FastJSON({"disabled": [disabled_json(d) for d in disabled.values()]})


@router.post("/tenants/disable", response_class=FastJSON, responses=answers(200, DisableOut))
async def disable_tenant(body: DisableIn, scope: Scoped) -> Response:
    """Stop a tenant's scheduling: its submits get 503 with the reason, no claim hands out
    its waiting tasks (or, with ``cancel_waiting``, they are canceled); running ones run on."""
    made, canceled = await scope.disable_tenant(
        body.tenant, reason=body.reason, cancel_waiting=body.cancel_waiting
    )
    return FastJSON({**disabled_json(made), "canceled": canceled})


@router.post("/tenants/enable", response_class=FastJSON, responses=answers(200, EnabledOut))
async def enable_tenant(body: TenantIn, scope: Scoped) -> Response:
    return FastJSON({"enabled": await scope.enable_tenant(body.tenant)})


@router.post("/tasks/cancel", response_class=FastJSON, responses=answers(200, CanceledOut))
async def cancel_by_filter(body: FilterIn, scope: Scoped) -> Response:
    """Cancel the waiting (queued, scheduled) tasks that match: the newest ``limit``."""
    ids = await scope.cancel_waiting(body.filter(), limit=body.limit)
    return FastJSON({"canceled": ids, "count": len(ids)})


@router.post("/tasks/priority", response_class=FastJSON, responses=answers(200, ReprioritizedOut))
async def priority_by_filter(body: BulkPriorityIn, scope: Scoped) -> Response:
    """A new priority for the waiting tasks that match: the newest ``limit``."""
    ids = await scope.set_priority_waiting(
        body.filter(), body.priority, to_tail=body.to_tail, limit=body.limit
    )
    return FastJSON({"changed": ids, "count": len(ids)})


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "at": entry.at.isoformat(), "actor": entry.actor,
            "action": entry.action, "target": entry.target, "reason": entry.reason,
            "detail": orjson.loads(entry.detail)}  # fmt: skip


audit_router = APIRouter(prefix=API_PREFIX, tags=["admin"], responses=COMMON)


@audit_router.get("/audit", response_class=FastJSON, responses=answers(200, AuditOut))
async def audit(
    service: Svc,
    limit: Annotated[int, Query(ge=1, le=limits.MAX_LIST_LIMIT)] = 100,
    before: Annotated[int | None, Query(ge=1, le=limits.MAX_TOKEN)] = None,
    action: NameQuery = None,
    actor: NameQuery = None,
) -> Response:
    """Operator actions, newest first: who did what to what, when and why."""
    entries = await service.audit.entries(limit=limit, before=before, action=action, actor=actor)
    next_before = entries[-1].seq if len(entries) == limit else None
    return FastJSON({"entries": [audit_json(e) for e in entries], "next_before": next_before})
