"""Operators: API tokens over HTTP (what `rota token` does against the store), and blocking
or resuming intake (everything, one queue, one tenant)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from rota.api.encode import FastJSON
from rota.api.outputs import (
    COMMON,
    BlockOut,
    BlocksOut,
    ResumedOut,
    TokenCreatedOut,
    TokenOut,
    TokensOut,
    answers,
)
from rota.api.routes import API_PREFIX
from rota.api.routes.deps import Svc
from rota.api.schemas import BlockIn, IntakeIn, NamePath, TokenIn
from rota.core.auth import Principal, TokenRecord
from rota.service.controls import Block

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
async def create(body: TokenIn, service: Svc) -> Response:
    """A new stored token; its ``secret`` is in this answer only (rota keeps its digest)."""
    record, secret = await service.tokens.create(
        role=body.role,
        name=body.name,
        tenant=body.tenant,
        expires_in=body.expires_in,
    )
    return FastJSON({**token_json(record), "secret": secret}, status_code=201)


@router.get("/tokens", response_class=FastJSON, responses=answers(200, TokensOut))
async def list_tokens(service: Svc) -> Response:
    """Every stored token, without secrets or digests."""
    return FastJSON({"tokens": [token_json(t) for t in await service.tokens.all()]})


@router.post(
    "/tokens/{name}/revoke", response_class=FastJSON, responses=answers(200, TokenOut, 404)
)
async def revoke(name: NamePath, service: Svc) -> Response:
    return FastJSON(token_json(await service.tokens.revoke(name)))


def block_json(block: Block) -> dict[str, Any]:
    return {"scope": block.scope, "name": block.name, "reason": block.reason,
            "since": block.since, "by": block.by}  # fmt: skip


@router.get("/intake", response_class=FastJSON, responses=answers(200, BlocksOut))
async def intake(service: Svc) -> Response:
    """The intake blocks in force."""
    blocks = await service.controls.blocks()
    return FastJSON({"blocks": [block_json(b) for b in blocks.values()]})


@router.post("/intake/block", response_class=FastJSON, responses=answers(200, BlockOut))
async def block(body: BlockIn, request: Request, service: Svc) -> Response:
    """Refuse new submits (503 with ``Retry-After``, saying why) until resumed."""
    scope, name = body.target()
    principal: Principal = request.state.principal
    made = await service.controls.block(
        scope, name, reason=body.reason, by=principal.actor, now=service.clock.now()
    )
    return FastJSON(block_json(made))


@router.post("/intake/resume", response_class=FastJSON, responses=answers(200, ResumedOut))
async def resume(body: IntakeIn, service: Svc) -> Response:
    scope, name = body.target()
    return FastJSON({"resumed": await service.controls.resume(scope, name)})
