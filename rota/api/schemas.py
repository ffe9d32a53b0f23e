"""Request bodies of the native API. Unknown fields are refused, so typos fail loudly, and
types are strict: no string or float where an integer belongs, no string for a number or a
boolean, no Infinity or NaN."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from rota.core import limits
from rota.core.dedup import KEY_PATTERN, MAX_KEY_CHARS, MAX_UNIQUE_FOR, Rule
from rota.core.errors import ValidationError
from rota.core.models import TaskFilter
from rota.service import Completion, Failure, TaskSpec
from rota.service.validation import UniqueSpec

# What the service accepts, written into the OpenAPI document so that a client (or a fuzzer)
# knows it; the service checks it, with messages that say what to fix (docs/limits.md).
NAME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": limits.MAX_NAME_LENGTH,
    "pattern": "^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
}
ID_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": limits.MAX_ID_LENGTH,
    "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]*$",
}
NULL: dict[str, Any] = {"type": "null"}


# Any JSON but NUL characters, which PostgreSQL's JSON cannot hold (refused on every store
# so that every store agrees); a component of the document, as it refers to itself.
_NO_NUL = {"pattern": "^[^\\x00]*$"}
_JSON_REF = {"$ref": "#/components/schemas/JsonValue"}
JSON_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "propertyNames": _NO_NUL,
    "additionalProperties": _JSON_REF,
}
COMPONENTS: dict[str, Any] = {
    "JsonValue": {
        "description": "any JSON value without NUL characters, nested at most "
        f"{limits.MAX_JSON_DEPTH} levels",
        "anyOf": [
            NULL,
            {"type": "boolean"},
            # integers (1.0 included, as JSON Schema counts it) fit 64 bits, as stores keep them
            {"type": "integer", "minimum": -(2**63), "maximum": 2**64 - 1},
            {"type": "number", "not": {"type": "integer"}},
            {"type": "string", **_NO_NUL},
            {"type": "array", "items": _JSON_REF},
            JSON_OBJECT_SCHEMA,
        ],
    }
}
_ANY_REF = {"$ref": "#/components/schemas/AnyJson"}
COMPONENTS["AnyJson"] = {
    "description": "any JSON value",
    "anyOf": [
        NULL,
        {"type": "boolean"},
        {"type": "number"},
        {"type": "string"},
        {"type": "array", "items": _ANY_REF},
        {"type": "object", "additionalProperties": _ANY_REF},
    ],
}
JsonObject = Annotated[dict[str, Any], WithJsonSchema(JSON_OBJECT_SCHEMA)]
JsonValue = Annotated[Any, WithJsonSchema({"allOf": [_JSON_REF]})]


_KEY_GIVEN = {
    "anyOf": [
        {"required": ["unique_key"], "properties": {"unique_key": {"type": "string"}}},
        {"required": ["unique"], "properties": {"unique": {"type": "string"}}},
    ]
}


def needs_key(field: str, given: dict[str, Any]) -> dict[str, Any]:
    """The schema of "``field`` given (as ``given`` says) only with a unique key"."""
    return {"not": {"required": [field], "properties": {field: given}, "not": _KEY_GIVEN}}


def not_both(first: str, second: str, **types: dict[str, Any]) -> dict[str, Any]:
    """The schema of "not both fields given" (null counts as not given), so that a client
    or a fuzzer knows a rule the service enforces across fields."""
    return {"not": {"required": [first, second], "properties": types}}


Name = Annotated[str, WithJsonSchema(NAME_SCHEMA)]
#: path and query parameters, documented alike
NamePath = Annotated[str, Path(json_schema_extra=NAME_SCHEMA)]
IdPath = Annotated[str, Path(json_schema_extra=ID_SCHEMA)]
NameQuery = Annotated[str | None, Query(json_schema_extra=NAME_SCHEMA)]
IdQuery = Annotated[str | None, Query(json_schema_extra=ID_SCHEMA)]
OptName = Annotated[str | None, WithJsonSchema({"anyOf": [NAME_SCHEMA, NULL]})]
TaskId = Annotated[str, WithJsonSchema(ID_SCHEMA)]
#: a reported item's id is checked item by item: a bad one gets its own 404 or 422 among
#: the results, and the rest of the report still applies
ReportedId = Annotated[
    str, WithJsonSchema({"type": "string", "description": "the task's id (checked per item)"})
]
OptId = Annotated[str | None, WithJsonSchema({"anyOf": [ID_SCHEMA, NULL]})]
_SECONDS = {"type": "number", "minimum": 0, "maximum": 7 * 24 * 3600}
RETRY_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "backoff": {"enum": ["exponential", "fixed", "list"]},
                "delay": _SECONDS,
                "max_delay": _SECONDS,
                "jitter": {"type": "boolean"},
                "delays": {"type": "array", "items": _SECONDS, "minItems": 1, "maxItems": 100},
                "retry_on": {
                    "anyOf": [
                        {
                            "type": "array",
                            "maxItems": 100,
                            "items": {
                                "type": "string",
                                "pattern": "^[A-Za-z_][A-Za-z0-9_.]{0,127}$",
                            },
                        },
                        NULL,
                    ]
                },
            },
            # a list backoff needs its delays
            "if": {"required": ["backoff"], "properties": {"backoff": {"const": "list"}}},
            "then": {"required": ["delays"]},
        },
        NULL,
    ]
}
PRIORITY_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 0, "maximum": 100},
        {"enum": ["low", "mid", "high"]},
    ]
}


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _short_lists(cls, data: Any) -> Any:
        """Refuse an oversized list before its items are validated one by one: a batch of a
        million items is refused in milliseconds, not after a million validations."""
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(value, list) and len(value) > limits.MAX_BATCH:
                    raise ValueError(
                        f"{key}: at most {limits.MAX_BATCH} items per request, not {len(value)}"
                    )
        return data


MAX_RANKER_PARAM = 1e12
RANKER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": NAME_SCHEMA},
    "additionalProperties": {"type": "number", "minimum": 0, "maximum": MAX_RANKER_PARAM},
    "maxProperties": 16,
}


def check_ranker(value: Any) -> Any:
    """A ranker's shape, as RANKER_SCHEMA says: a name and up to 15 numbers."""
    if value is None:
        return value
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise ValueError('a ranker is {"name": ..., <number parameters>}')
    if len(value) > 16:
        raise ValueError("a ranker takes at most 15 parameters")
    for key, number in value.items():
        if key != "name" and (
            isinstance(number, bool)
            or not isinstance(number, int | float)
            or not 0 <= number <= MAX_RANKER_PARAM
        ):
            raise ValueError(
                f"ranker parameter {key!r} must be a number in 0..{MAX_RANKER_PARAM:g}"
            )
    return value


class TaskIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                not_both("run_at", "delay", run_at={"type": "string"}, delay={"type": "number"}),
                not_both(
                    "expires_at",
                    "expires_in",
                    expires_at={"type": "string"},
                    expires_in={"type": "number"},
                ),
                not_both("priority", "ranker", priority={}, ranker={"type": "object"}),
                not_both(
                    "unique_key", "unique", unique_key={"type": "string"}, unique={"type": "string"}
                ),
                needs_key("on_conflict", {"type": "string"}),
                needs_key("unique_for", {"type": "number"}),
                needs_key("unique_while_running", {"const": True}),
            ]
        }
    )

    kind: Name = Field(description="the handler's name", examples=["echo"])
    payload: JsonObject = Field(default_factory=dict, description="a JSON object")
    queue: Name = "default"
    priority: Annotated[
        StrictInt | StrictStr | None, WithJsonSchema({"anyOf": [*PRIORITY_SCHEMA["anyOf"], NULL]})
    ] = Field(None, description="0..100, higher runs first, or high (80) / mid (50) / low (20)")
    id: OptId = Field(None, description="your own id; a duplicate is 409")
    run_at: datetime | None = Field(
        None, strict=False, description="run no earlier than this (ISO 8601, with offset)"
    )
    delay: float | None = Field(
        None,
        description="or: run this many seconds from now",
        json_schema_extra={"minimum": 0, "maximum": limits.MAX_DELAY_SECONDS},
    )
    max_attempts: int | None = Field(
        None, json_schema_extra={"minimum": 1, "maximum": limits.MAX_ATTEMPTS}
    )
    timeout: float | None = Field(
        None,
        description="seconds a run may take",
        json_schema_extra={"exclusiveMinimum": 0, "maximum": limits.MAX_TIMEOUT_SECONDS},
    )
    tenant: OptName = None
    fairness_key: OptName = Field(
        None, description="what a queue with fairness shares by (default: the tenant)"
    )
    unique_key: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_KEY_CHARS,
        pattern=KEY_PATTERN,
        description="at most one waiting task of the queue and tenant holds this key "
        "(printable ASCII)",
    )
    unique: Literal["content"] | None = Field(
        None, description='or: "content", a key made of kind, payload and tenant'
    )
    on_conflict: Rule | None = Field(
        None,
        description="when an equal task holds the key: reject (409), existing, replace, "
        "update_payload, raise_priority, update_priority (priority and rank; 409 when both "
        "are the same) or update (payload, priority and rank; 409 when none differs) "
        "(default: the queue's on_conflict, else reject)",
    )
    unique_for: float | None = Field(
        None,
        description="the key stays held this many seconds from the submit, whatever the state",
        json_schema_extra={"exclusiveMinimum": 0, "maximum": MAX_UNIQUE_FOR},
    )
    unique_while_running: bool = Field(False, description="the key stays held while it runs")
    requires: list[Name] | None = Field(
        None,
        max_length=limits.MAX_CAPABILITIES,
        description="capabilities a worker needs to run it (rota worker --capability)",
    )
    retry: Annotated[dict[str, Any] | None, WithJsonSchema(RETRY_SCHEMA)] = Field(
        None,
        description='e.g. {"backoff": "exponential", "delay": 1, "max_delay": 300, '
        '"jitter": true} or {"backoff": "list", "delays": [1, 10, 60]}; '
        '"retry_on": ["TimeoutError"] retries only those error kinds',
    )
    expires_at: datetime | None = Field(
        None, strict=False, description="not started by then: never run (ISO 8601, with offset)"
    )
    expires_in: float | None = Field(
        None,
        description="or: seconds from now",
        json_schema_extra={"exclusiveMinimum": 0, "maximum": limits.MAX_DELAY_SECONDS},
    )
    rank: float | None = Field(
        None,
        description="its place in line within its priority: lower first, equal ranks in "
        "enqueue order; without one a task stands at its enqueue order. Finite, "
        "0 <= rank < 2^44; not on a queue with fairness",
        json_schema_extra={"minimum": 0, "exclusiveMaximum": limits.MAX_RANK},
    )
    ranker: Annotated[dict[str, Any] | None, WithJsonSchema({"anyOf": [RANKER_SCHEMA, NULL]})] = (
        Field(None, description='or: a ranker computes it, e.g. {"name": "time", "window": 600}')
    )

    @field_validator("run_at", "expires_at", mode="before")
    @classmethod
    def _iso_only(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError("times must be ISO 8601 strings with an offset")
        return value

    @field_validator("ranker")
    @classmethod
    def _ranker(cls, value: Any) -> Any:
        return check_ranker(value)

    def spec(self) -> TaskSpec:
        return TaskSpec(
            kind=self.kind,
            payload=self.payload,
            queue=self.queue,
            priority=self.priority,
            id=self.id,
            run_at=self.run_at,
            delay=self.delay,
            max_attempts=self.max_attempts,
            timeout=self.timeout,
            tenant=self.tenant,
            retry=self.retry,
            expires_at=self.expires_at,
            expires_in=self.expires_in,
            fairness_key=self.fairness_key,
            unique=self._unique(),
            requires=self.requires,
            rank=self.rank,
        )

    def _unique(self) -> UniqueSpec | None:
        if self.unique_key is None and self.unique is None:
            if self.on_conflict or self.unique_for is not None or self.unique_while_running:
                raise ValidationError("on_conflict, unique_for and unique_while_running need "
                                      'a unique_key or unique: "content"')  # fmt: skip
            return None
        if self.unique_key is not None and self.unique is not None:
            raise ValidationError('give unique_key or unique: "content", not both')
        return UniqueSpec(
            self.unique_key, self.on_conflict, self.unique_for, self.unique_while_running
        )


class BatchIn(Body):
    tasks: list[TaskIn] = Field(max_length=limits.MAX_BATCH)


class JobTaskIn(TaskIn):
    name: OptName = Field(None, description="its name in the job, for depends_on")
    depends_on: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="names or ids of the job's tasks it waits for: it starts when they all "
        "succeeded, and is canceled when one fails or is canceled",
    )


class JobIn(Body):
    name: Name
    tenant: OptName = None
    tasks: list[JobTaskIn] = Field(min_length=1, max_length=limits.MAX_BATCH)

    def links(self) -> list[tuple[str | None, list[str]]]:
        return [(t.name, t.depends_on) for t in self.tasks]


class PriorityIn(Body):
    priority: Annotated[StrictInt | StrictStr, WithJsonSchema(PRIORITY_SCHEMA)]
    to_tail: bool = Field(
        False, description="true: go to the tail of the new level; false: keep enqueue order"
    )


_DATE_TIME = {"type": "string", "format": "date-time"}


class MoveIn(Body):
    """A new run time: ``run_at`` or ``delay``, one of them (a past time means now)."""

    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["run_at"]}, {"required": ["delay"]}]}
    )

    run_at: Annotated[
        datetime | None, WithJsonSchema({"type": "string", "format": "date-time"})
    ] = Field(None, strict=False, description="ISO 8601, with an offset")
    delay: Annotated[
        float | None,
        WithJsonSchema({"type": "number", "minimum": 0, "maximum": limits.MAX_DELAY_SECONDS}),
    ] = Field(None, description="or: seconds from now")

    @field_validator("run_at", mode="before")
    @classmethod
    def _iso_only(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError("times must be ISO 8601 strings with an offset")
        return value


class LeaseIn(Body):
    lease_token: int = Field(ge=0, le=limits.MAX_TOKEN)


class CompleteIn(LeaseIn):
    result: JsonValue = None


class ProgressIn(LeaseIn):
    progress: JsonValue = Field(description="any JSON; the latest replaces the previous")


class FailIn(LeaseIn):
    error: str = Field(max_length=limits.MAX_ERROR_CHARS * 4)
    retryable: bool = True
    error_kind: str | None = Field(
        None, max_length=limits.MAX_NAME_LENGTH, description="e.g. the exception class name"
    )
    retry_after: float | None = Field(
        None, ge=0, le=limits.MAX_TIMEOUT_SECONDS, description="run again later, attempt kept"
    )


class CompletionIn(CompleteIn):
    id: ReportedId
    #: checked per item, as the id is: a bad result gets its own 422 among the results
    result: Annotated[Any, WithJsonSchema({"allOf": [_ANY_REF]})] = None

    def item(self) -> Completion:
        return Completion(self.id, self.lease_token, self.result)


class FailureIn(FailIn):
    id: ReportedId

    def item(self) -> Failure:
        return Failure(
            self.id,
            self.lease_token,
            self.error,
            self.retryable,
            self.error_kind,
            self.retry_after,
        )


class FilterIn(Body):
    """Which tasks: every field narrows the set; none means all of them."""

    queue: OptName = None
    kind: OptName = None
    tenant: OptName = None
    job_id: OptId = None
    limit: int = Field(1000, ge=1, le=limits.MAX_LIST_LIMIT)

    def filter(self) -> TaskFilter:
        return TaskFilter(queue=self.queue, kind=self.kind, tenant=self.tenant, job_id=self.job_id)


class DeadLetterIn(FilterIn):
    """Which failed tasks: every field narrows the set; none means all of them."""


class BulkPriorityIn(FilterIn):
    """Which waiting tasks, and their new priority."""

    priority: Annotated[StrictInt | StrictStr, WithJsonSchema(PRIORITY_SCHEMA)]
    to_tail: bool = Field(False, description="true: each goes to the tail of the new level")


class WorkerIn(Body):
    name: Name = Field(max_length=limits.MAX_NAME_LENGTH, description="e.g. host-pid")
    host: Name = Field(max_length=limits.MAX_NAME_LENGTH)
    queues: list[Name] | None = Field(None, max_length=100, description="null: every queue")
    capabilities: list[Name] = Field(default_factory=list, max_length=100)
    concurrency: int = Field(ge=1, le=limits.MAX_CLAIM * 10)
    version: Name = Field(max_length=limits.MAX_NAME_LENGTH)


class ReportIn(Body):
    completions: list[CompletionIn] = Field(default_factory=list, max_length=limits.MAX_BATCH)
    failures: list[FailureIn] = Field(default_factory=list, max_length=limits.MAX_BATCH)


class LeaseRef(LeaseIn):
    id: ReportedId


class LeasesIn(Body):
    leases: list[LeaseRef] = Field(max_length=limits.MAX_BATCH)


class ClaimIn(Body):
    queues: list[Name] | None = Field(None, max_length=100, description="null: every queue")
    capabilities: list[Name] = Field(
        default_factory=list,
        max_length=limits.MAX_CAPABILITIES,
        description="what this worker can run: it gets only tasks whose requires are among "
        "them (none: only tasks that require nothing)",
    )
    max: int = Field(1, ge=1, le=limits.MAX_CLAIM)
    wait: float = Field(0.0, ge=0, le=limits.MAX_WAIT_SECONDS, description="long-poll seconds")
    completions: list[CompletionIn] = Field(
        default_factory=list,
        max_length=limits.MAX_BATCH,
        description="results to report with this claim (saves a request per batch)",
    )
    failures: list[FailureIn] = Field(default_factory=list, max_length=limits.MAX_BATCH)


class TokenIn(Body):
    model_config = ConfigDict(
        json_schema_extra=not_both(
            "role", "tenant", role={"enum": ["worker", "operator"]}, tenant={"type": "string"}
        )
    )

    role: str = Field(
        description="producer, worker, viewer or operator",
        json_schema_extra={"enum": ["producer", "worker", "viewer", "operator"]},
    )
    name: OptName = Field(None, description="unique; default: <role>-<n>")
    tenant: OptName = Field(None, description="bind a producer or viewer token to a tenant")
    expires_in: float | None = Field(
        None,
        description="seconds the token stays valid; null: until revoked",
        json_schema_extra={"exclusiveMinimum": 0, "maximum": 10 * 365 * 86400},
    )


class IntakeIn(Body):
    """Which intake: a queue, a tenant, or neither for all of it."""

    model_config = ConfigDict(
        json_schema_extra=not_both(
            "queue", "tenant", queue={"type": "string"}, tenant={"type": "string"}
        )
    )

    queue: OptName = None
    tenant: OptName = None

    def target(self) -> tuple[Literal["all", "queue", "tenant"], str | None]:
        if self.queue is not None and self.tenant is not None:
            raise ValidationError("give a queue or a tenant, not both")
        if self.queue is not None:
            return "queue", self.queue
        if self.tenant is not None:
            return "tenant", self.tenant
        return "all", None


class QueueIn(Body):
    queue: Name


class PauseIn(QueueIn):
    reason: str = Field(description="why; kept with the pause", min_length=1, max_length=500)


class TenantIn(Body):
    tenant: Name


class DisableIn(TenantIn):
    reason: str = Field(
        description="why; shown to the tenant's refused submitters", min_length=1, max_length=500
    )
    cancel_waiting: bool = Field(
        False, description="also cancel the tenant's waiting (queued, scheduled) tasks"
    )


class BlockIn(IntakeIn):
    reason: str = Field(
        description="why; shown to every refused submitter", min_length=1, max_length=500
    )
