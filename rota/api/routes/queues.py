"""One queue's settings: ``GET`` (anyone who may view) and ``PATCH`` (operators).

A PATCH names only what it changes; ``null`` puts a setting back to its default. A body
that breaks the schema is a 422; settings that fit the schema but not each other or their
ranges (an aging rate of 0, a weight over the limit) are a 400 that says what to fix, and
nothing of them is stored."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field, StrictFloat, StrictInt
from starlette.responses import Response

from rota.api.encode import FastJSON
from rota.api.outputs import COMMON, QueueSettingsOut, answers
from rota.api.routes import API_PREFIX
from rota.api.routes.deps import Scoped
from rota.api.schemas import Body, NamePath
from rota.core.errors import BadRequest, ValidationError
from rota.core.queues import MAX_WEIGHTS
from rota.core.states import WAITING_STATES
from rota.service.scope import Scope

router = APIRouter(prefix=API_PREFIX, tags=["queues"])

#: the reason a pause through the settings records, when the caller gives none
PAUSE_REASON = "paused through the queue's settings"


class AgingIn(Body):
    rate: StrictFloat | StrictInt = Field(description="priority points per minute of waiting")
    cap: StrictInt = Field(100, description="the priority aging stops at")


class QueueSettingsIn(Body):
    paused: bool | None = Field(None, description="hand out none of its tasks (submits go in)")
    pause_reason: str | None = Field(None, max_length=500, description="why, when pausing")
    max_size: StrictInt | None = Field(None, description="waiting tasks past which submits get 429")
    fairness: Literal["off", "round_robin", "weighted"] | None = None
    weights: dict[str, StrictInt] | None = Field(
        None, max_length=MAX_WEIGHTS, description="fairness key -> weight (weighted)"
    )
    aging: AgingIn | None = None
    max_attempts: StrictInt | None = Field(None, description="default for its tasks")
    timeout: StrictFloat | StrictInt | None = Field(None, description="default, seconds")
    retention: StrictFloat | StrictInt | None = Field(
        None, description="seconds its finished tasks are kept"
    )


async def queue_json(scope: Scope, name: str) -> dict[str, Any]:
    service = scope.service
    settings = await service.queues.get(name)
    paused = name in await service.controls.pauses()
    counts = await scope.counts()
    waiting = sum(c.count for c in counts if c.queue == name and c.state in WAITING_STATES)
    return {"name": name, "paused": paused, "waiting": waiting, **settings.to_json()}


@router.get(
    "/queues/{name}", response_class=FastJSON, responses=answers(200, QueueSettingsOut) | COMMON
)
async def queue(name: NamePath, scope: Scoped) -> Response:
    """A queue's settings, whether it is paused, and its waiting tasks (a queue nobody set
    up reads as the defaults)."""
    return FastJSON(await queue_json(scope, name))


@router.patch(
    "/queues/{name}", response_class=FastJSON, responses=answers(200, QueueSettingsOut) | COMMON
)
async def update_queue(name: NamePath, body: QueueSettingsIn, scope: Scoped) -> Response:
    """Change some of a queue's settings; ``null`` resets one to its default."""
    changes = body.model_dump(include=body.model_fields_set - {"paused", "pause_reason"})
    if not changes and body.paused is None:
        raise BadRequest("nothing to change: give at least one setting")
    service = scope.service
    if changes:
        try:
            await service.queues.update(name, changes, actor=scope.actor)
        except ValidationError as exc:
            raise BadRequest(str(exc)) from None
    if body.paused is True:
        reason = body.pause_reason or PAUSE_REASON
        await service.controls.pause(name, reason=reason, by=scope.actor, now=service.clock.now())
        await service.audit.record(scope.actor, "dispatch.pause", name, reason=reason)
    elif body.paused is False:
        resumed = await service.controls.unpause(name)
        await scope.audit("dispatch.resume", name, resumed=resumed)
    return FastJSON(await queue_json(scope, name))
