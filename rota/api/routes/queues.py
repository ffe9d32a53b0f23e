"""One queue's settings: ``GET`` (anyone who may view) and ``PATCH`` (operators).

A PATCH names only what it changes; ``null`` puts a setting back to its default. A body
that breaks the schema is a 422; settings that fit the schema but not each other or their
ranges are a 400 that says what to fix, and nothing of them is stored."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import Field, StrictInt, WithJsonSchema, field_validator
from starlette.responses import Response

from rota.api.encode import FastJSON
from rota.api.outputs import COMMON, QueueSettingsOut, answers
from rota.api.routes import API_PREFIX
from rota.api.routes.deps import Scoped
from rota.api.schemas import NAME_SCHEMA, NULL, RETRY_SCHEMA, Body, NamePath
from rota.core import limits
from rota.core.dedup import Rule
from rota.core.errors import BadRequest, ValidationError
from rota.core.priority import PRIORITY_MAX, PRIORITY_MIN
from rota.core.queues import (
    MAX_AGING_RATE,
    MAX_CONCURRENCY,
    MAX_RATE,
    MAX_SECONDS,
    MAX_SIZE_LIMIT,
    MAX_WEIGHT,
    MAX_WEIGHTS,
    MIN_AGING_RATE,
    MIN_RATE,
)
from rota.core.states import WAITING_STATES
from rota.service.scope import Scope
from rota.service.validation import check_name

router = APIRouter(prefix=API_PREFIX, tags=["queues"])

#: the reason a pause through the settings records, when the caller gives none
PAUSE_REASON = "paused through the queue's settings"


class AgingIn(Body):
    rate: float = Field(
        ge=MIN_AGING_RATE, le=MAX_AGING_RATE, description="priority points per minute of waiting"
    )
    cap: StrictInt = Field(PRIORITY_MAX, ge=PRIORITY_MIN, le=PRIORITY_MAX,
                           description="the priority aging stops at")  # fmt: skip


Weight = Annotated[StrictInt, Field(ge=1, le=MAX_WEIGHT)]
WEIGHTS_SCHEMA = {
    "anyOf": [
        {
            "type": "object",
            "maxProperties": MAX_WEIGHTS,
            "propertyNames": NAME_SCHEMA,
            "additionalProperties": {"type": "integer", "minimum": 1, "maximum": MAX_WEIGHT},
        },
        NULL,
    ]
}
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS)]
RunSeconds = Annotated[float, Field(gt=0, le=limits.MAX_TIMEOUT_SECONDS)]


class QueueSettingsIn(Body):
    paused: bool | None = Field(None, description="hand out none of its tasks (submits go in)")
    pause_reason: str | None = Field(
        None, min_length=1, max_length=500, description="why, when pausing"
    )
    max_size: StrictInt | None = Field(
        None, ge=0, le=MAX_SIZE_LIMIT, description="waiting tasks past which submits get 429"
    )
    fairness: Literal["off", "round_robin", "weighted"] | None = None
    weights: Annotated[dict[str, Weight] | None, WithJsonSchema(WEIGHTS_SCHEMA)] = Field(
        None, max_length=MAX_WEIGHTS, description="fairness key -> weight (weighted)"
    )

    @field_validator("weights")
    @classmethod
    def _keys(cls, value: dict[str, int] | None) -> dict[str, int] | None:
        for key in value or {}:
            try:
                check_name(key, "weights key")
            except ValidationError as exc:  # as a schema error: 422, like the document's
                raise ValueError(str(exc)) from None
        return value

    aging: AgingIn | None = None
    on_conflict: Rule | None = Field(
        None, description="what a submit whose unique key an equal task holds meets"
    )
    concurrency_limit: StrictInt | None = Field(
        None, ge=1, le=MAX_CONCURRENCY, description="its running tasks, across every worker"
    )
    tenant_concurrency_limit: StrictInt | None = Field(
        None, ge=1, le=MAX_CONCURRENCY, description="one tenant's running tasks in it"
    )
    rate_limit: float | None = Field(
        None, ge=MIN_RATE, le=MAX_RATE, description="tasks started a second, across workers"
    )
    max_attempts: StrictInt | None = Field(
        None, ge=1, le=limits.MAX_ATTEMPTS, description="default for its tasks"
    )
    retry: Annotated[dict[str, Any] | None, WithJsonSchema({"anyOf": [RETRY_SCHEMA, NULL]})] = (
        Field(None, description="default retry policy, as a task's retry")
    )
    timeout: RunSeconds | None = Field(None, description="default, seconds")
    retention: Seconds | None = Field(None, description="seconds its finished tasks are kept")


async def queue_json(scope: Scope, name: str) -> dict[str, Any]:
    service = scope.service
    settings = await service.queues.get(name)
    paused = name in await service.controls.pauses()
    counts = await scope.counts()
    waiting = sum(c.count for c in counts if c.queue == name and c.state in WAITING_STATES)
    # counted over every tenant: a token bound to one does not see it
    stuck = None if scope.tenant is not None else (await service.unroutable()).get(name, 0)
    return {"name": name, "paused": paused, "waiting": waiting, "unroutable": stuck,
            **settings.to_json()}  # fmt: skip


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
    """Change some of a queue's settings; ``null`` resets one to its default (an empty
    body changes nothing and answers the settings)."""
    changes = body.model_dump(include=body.model_fields_set - {"paused", "pause_reason"})
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
