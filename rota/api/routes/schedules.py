"""Schedules: tasks made from a template at the times a cron expression, an RFC 5545 rule,
an interval or one time names (rota/service/schedules.py holds the rules).

A body that breaks the schema is a 422 like everywhere; a definition that fits the schema
but cannot be made (a rule its parser cannot read, two rules, an unknown zone, a time in
the past) is a 400 whose message says what to fix: a schema can say "a string", not "a
cron expression"."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter
from pydantic import Field, StrictInt, StrictStr, WithJsonSchema, field_validator
from starlette.responses import Response

from rota.api.encode import FastJSON
from rota.api.outputs import COMMON, ScheduleOut, SchedulesOut, answers, errors
from rota.api.routes import API_PREFIX
from rota.api.routes.deps import Scoped
from rota.api.schemas import (
    NULL,
    PRIORITY_SCHEMA,
    RANKER_SCHEMA,
    RETRY_SCHEMA,
    Body,
    IdPath,
    JsonObject,
    Name,
    OptName,
    check_ranker,
)
from rota.core import limits
from rota.core.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge, ValidationError
from rota.core.models import ScheduleRecord
from rota.service.schedules import TEMPLATE_FIELDS
from rota.service.scope import Scope

router = APIRouter(prefix=API_PREFIX, tags=["schedules"], responses=COMMON)
RULES = ("cron", "rrule", "interval", "at")
_TEXT = {"type": "string", "minLength": 1, "maxLength": 1000}


class TemplateIn(Body):
    """The task each occurrence makes (its id, time and expiry are the occurrence's)."""

    kind: Name
    payload: JsonObject | None = None
    queue: Name = "default"
    priority: Annotated[
        StrictInt | StrictStr | None, WithJsonSchema({"anyOf": [*PRIORITY_SCHEMA["anyOf"], NULL]})
    ] = None
    max_attempts: int | None = Field(
        None, json_schema_extra={"minimum": 1, "maximum": limits.MAX_ATTEMPTS}
    )
    timeout: float | None = Field(
        None, json_schema_extra={"exclusiveMinimum": 0, "maximum": limits.MAX_TIMEOUT_SECONDS}
    )
    tenant: OptName = None
    retry: Annotated[dict[str, Any] | None, WithJsonSchema(RETRY_SCHEMA)] = None
    ranker: Annotated[dict[str, Any] | None, WithJsonSchema({"anyOf": [RANKER_SCHEMA, NULL]})] = (
        Field(None, description="or: a ranker computes each occurrence's priority")
    )

    @field_validator("ranker")
    @classmethod
    def _ranker(cls, value: Any) -> Any:
        return check_ranker(value)


class ScheduleFields(Body):
    cron: Annotated[str | None, WithJsonSchema({"anyOf": [_TEXT, NULL]})] = Field(
        None, description="five fields, or six with a leading seconds field"
    )
    rrule: Annotated[str | None, WithJsonSchema({"anyOf": [_TEXT, NULL]})] = Field(
        None, description="an RFC 5545 rule, e.g. FREQ=MINUTELY;BYSECOND=40 (DTSTART optional)"
    )
    interval: float | None = Field(
        None, description="seconds", json_schema_extra={"minimum": 1, "maximum": 31_622_400}
    )
    at: Annotated[str | None, WithJsonSchema({"anyOf": [_TEXT, NULL]})] = Field(
        None, description="one time, ISO 8601 (without an offset: in the schedule's zone)"
    )
    timezone: Annotated[str | None, WithJsonSchema({"anyOf": [_TEXT, NULL]})] = Field(
        None, description="an IANA zone for cron, rrule and a local 'at' (default UTC)"
    )
    catch_up: Literal["skip", "once", "all"] | None = None
    overlap: Literal["allow", "skip", "replace"] | None = None
    deadline: float | None = Field(
        None,
        description="seconds after its time an occurrence may still start",
        json_schema_extra={"exclusiveMinimum": 0, "maximum": 31_622_400},
    )
    enabled: bool | None = Field(None, description="false: no tasks; enabling counts from now")
    paused: bool | None = Field(
        None, description="true: no tasks; resuming catches up as catch_up says"
    )

    def rule(self) -> dict[str, Any] | None:
        given = [(k, getattr(self, k)) for k in RULES if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValidationError("give one of cron, rrule, interval or at")
        return {"kind": given[0][0], "expr": given[0][1]} if given else None


class ScheduleIn(ScheduleFields):
    name: Name
    task: TemplateIn
    identity: Literal["name", "template"] = Field(
        "name",
        description="template: the id is a hash of the task template (KAT's rule): "
        "a second schedule of the same task is 409",
    )


class SchedulePatch(ScheduleFields):
    name: OptName = None
    task: TemplateIn | None = None


def schedule_json(record: ScheduleRecord) -> dict[str, Any]:
    d = orjson.loads(record.definition)
    at = {k: None for k in RULES} | {d["rule"]["kind"]: d["rule"]["expr"]}

    def time(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {"id": record.id, "name": record.name, **at, "timezone": d["timezone"],
            "task": d["task"], "catch_up": d["catch_up"], "overlap": d["overlap"],
            "deadline": d.get("deadline"), "enabled": d.get("enabled", record.enabled),
            "paused": d.get("paused", False),
            "next_run_at": time(record.next_run_at), "last_run_at": time(record.last_run_at),
            "last_task_id": record.last_task_id, "created_at": time(record.created_at),
            "updated_at": time(record.updated_at)}  # fmt: skip


@contextlib.contextmanager
def _definition_errors() -> Iterator[None]:
    try:
        yield
    except (BadRequest, PayloadTooLarge):
        raise
    except ValidationError as exc:
        raise BadRequest(str(exc)) from None


def _template(task: TemplateIn, scope: Scope) -> dict[str, Any]:
    template = {k: getattr(task, k) for k in TEMPLATE_FIELDS if getattr(task, k) is not None}
    if scope.tenant is not None and template.setdefault("tenant", scope.tenant) != scope.tenant:
        raise Forbidden(f"this token schedules for tenant {scope.tenant!r} only")
    return template


def _mine(record: ScheduleRecord, scope: Scope) -> ScheduleRecord:
    """A tenant's token reaches the schedules that make its tenant's tasks only."""
    if scope.tenant is not None:
        tenant = orjson.loads(record.definition)["task"].get("tenant")
        if tenant != scope.tenant:
            raise NotFound(f"no schedule with id {record.id!r}")
    return record


@router.post(
    "/schedules",
    status_code=201,
    response_class=FastJSON,
    responses=answers(201, ScheduleOut, 400, 409),
)
async def create(body: ScheduleIn, scope: Scoped) -> Response:
    """A new schedule; its first run is the rule's first time after now."""
    with _definition_errors():
        rule = body.rule()
        if rule is None:
            raise ValidationError("give one of cron, rrule, interval or at")
        definition = {"rule": rule, "timezone": body.timezone or "UTC",
                      "task": _template(body.task, scope), "catch_up": body.catch_up or "skip",
                      "overlap": body.overlap or "allow", "deadline": body.deadline}  # fmt: skip
        enabled = True if body.enabled is None else body.enabled
        record = await scope.service.schedules.create(
            body.name, definition, enabled=enabled, by_template=body.identity == "template"
        )
    await scope.audit("schedule.create", record.id, name=record.name)
    return FastJSON(schedule_json(record), status_code=201)


@router.get("/schedules", response_class=FastJSON, responses=answers(200, SchedulesOut))
async def list_schedules(scope: Scoped) -> Response:
    records = await scope.service.schedules.all()
    if scope.tenant is not None:
        records = [r for r in records if _reaches(r, scope)]
    return FastJSON({"schedules": [schedule_json(r) for r in records]})


def _reaches(record: ScheduleRecord, scope: Scope) -> bool:
    return bool(orjson.loads(record.definition)["task"].get("tenant") == scope.tenant)


@router.get(
    "/schedules/{schedule_id}", response_class=FastJSON, responses=answers(200, ScheduleOut, 404)
)
async def get(schedule_id: IdPath, scope: Scoped) -> Response:
    return FastJSON(schedule_json(_mine(await scope.service.schedules.get(schedule_id), scope)))


@router.patch(
    "/schedules/{schedule_id}",
    response_class=FastJSON,
    responses=answers(200, ScheduleOut, 400, 404, 409),
)
async def patch(schedule_id: IdPath, body: SchedulePatch, scope: Scoped) -> Response:
    """Change what is given; a new rule, zone or re-enabling counts from now."""
    schedules = scope.service.schedules
    record = _mine(await schedules.get(schedule_id), scope)
    definition: dict[str, Any] | None = None
    changes = body.model_dump(exclude_none=True, exclude={"name", "enabled", "paused", *RULES})
    with _definition_errors():
        rule = body.rule()
        if rule is not None or changes:
            definition = orjson.loads(record.definition)
            if rule is not None:
                definition["rule"] = rule
            if body.task is not None:
                changes["task"] = _template(body.task, scope)
            definition.update(changes)
        changed = await schedules.update(
            schedule_id, name=body.name, definition=definition, enabled=body.enabled,
            paused=body.paused,
        )  # fmt: skip
    await scope.audit("schedule.update", schedule_id, name=changed.name)
    return FastJSON(schedule_json(changed))


@router.delete(
    "/schedules/{schedule_id}",
    status_code=204,
    responses={204: {"description": "deleted"}, **errors(404)},
)
async def delete(schedule_id: IdPath, scope: Scoped) -> Response:
    schedules = scope.service.schedules
    _mine(await schedules.get(schedule_id), scope)
    await schedules.delete(schedule_id)
    await scope.audit("schedule.delete", schedule_id)
    return Response(status_code=204)
