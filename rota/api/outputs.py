"""The shapes the API answers with, for its OpenAPI document.

Responses are encoded by hand (``rota.api.encode``: claims and reports are the hot path);
these models only describe them. ``tests/api/test_openapi.py`` validates real answers
against them, so the document cannot drift from what the server sends.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

State = Literal["scheduled", "queued", "running", "succeeded", "failed", "canceled"]


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(Out):
    """Every error: what went wrong (a class name) and what to fix."""

    error: str = Field(examples=["ValidationError"])
    message: str = Field(examples=["priority 'HIGH' is unknown: use an integer 0..100 ..."])


class PositionOut(Out):
    in_priority: int = Field(description="1-based, among queued tasks of its queue and priority")
    in_queue: int = Field(description="1-based, among all queued tasks of its queue")


class TaskOut(Out):
    id: str
    queue: str
    kind: str
    payload: dict[str, Any]
    priority: int
    priority_name: Literal["low", "mid", "high"] | None
    state: State
    attempt: int
    max_attempts: int
    timeout: float | None
    run_at: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    worker_id: str | None
    lease_expires_at: str | None
    cancel_requested: bool
    result: Any
    error: str | None
    tenant: str | None
    job_id: str | None
    retry: dict[str, Any] | None
    expires_at: str | None
    progress: Any
    requires: list[str] = Field(description="capabilities a worker needs to claim it")
    trace: str | None = Field(
        None,
        description="the W3C traceparent its run continues (the submit's, or rota's "
        "enqueue span's), or null",
    )
    schedule_id: str | None = Field(description="the schedule that made it")
    scheduled_for: str | None = Field(description="the occurrence it was made for")
    position: PositionOut | None = Field(None, description="GET /tasks/{id} while queued")


class LeasedTaskOut(TaskOut):
    lease_token: int = Field(description="send it with every heartbeat and report")


class TaskPageOut(Out):
    tasks: list[TaskOut]
    next_cursor: int | None = Field(description="pass as ?cursor= for the next page")


class TaskBatchOut(Out):
    tasks: list[TaskOut]
    existing: list[str] = Field(
        description="ids of the tasks that answered items whose unique key they hold"
    )


class EventOut(Out):
    at: str
    kind: str
    from_state: State | None
    to_state: State | None
    worker_id: str | None
    message: str | None
    actor: str | None


class EventsOut(Out):
    events: list[EventOut]


class JobOut(Out):
    id: str
    name: str
    tenant: str | None
    created_at: str
    state: str
    total: int
    counts: dict[str, int]


class JobWithTasksOut(JobOut):
    tasks: list[TaskOut]


class RunningOut(Out):
    id: str
    kind: str
    queue: str
    started_at: str | None


class WorkerOut(Out):
    id: str
    name: str
    host: str
    queues: list[str] | None
    capabilities: list[str]
    concurrency: int
    version: str
    started_at: str
    last_seen_at: str
    running: list[RunningOut]


class WorkersOut(Out):
    workers: list[WorkerOut]


class ItemResultOut(Out):
    """One report item's outcome: status 200, or an error status with its message."""

    id: str
    status: int
    error: str | None = None
    message: str | None = None


class ClaimOut(Out):
    tasks: list[LeasedTaskOut]
    results: list[ItemResultOut] | None = Field(None, description="when results rode along")


class ReportOut(Out):
    results: list[ItemResultOut]


class LeaseRefOut(Out):
    id: str
    lease_token: int


class CancelRequestsOut(Out):
    cancel_requested: list[LeaseRefOut]


class LeaseOut(Out):
    lease_expires_at: str | None
    cancel_requested: bool


class RetriedOut(Out):
    retried: list[str]
    count: int


class DiscardedOut(Out):
    discarded: int


class CanceledOut(Out):
    canceled: list[str]
    count: int


class ReprioritizedOut(Out):
    changed: list[str]
    count: int


class QueueOut(Out):
    name: str
    states: dict[str, int]
    queued_by_priority: dict[str, int]


class QueuesOut(Out):
    queues: list[QueueOut]


class AgingOut(Out):
    rate: float = Field(description="priority points per minute of waiting")
    cap: int


class QueueSettingsOut(Out):
    name: str
    paused: bool
    waiting: int = Field(description="queued and scheduled tasks (the caller's tenant's)")
    unroutable: int | None = Field(
        description="waiting tasks that require capabilities no live worker of the queue has "
        "(null for a token bound to a tenant)"
    )
    max_size: int | None
    fairness: str
    weights: dict[str, int]
    aging: AgingOut | None
    on_conflict: str = Field(description="the rule of a submit whose unique key is held")
    concurrency_limit: int | None
    tenant_concurrency_limit: int | None
    rate_limit: float | None
    max_attempts: int | None
    retry: dict[str, Any] | None
    timeout: float | None
    retention: float | None


class StatsOut(Out):
    total: int
    states: dict[str, int]
    queues: int
    unroutable: int | None = Field(
        description="waiting tasks no live worker can run (null for a token bound to a tenant)"
    )


class TokenOut(Out):
    name: str
    role: Literal["producer", "worker", "viewer", "operator"]
    tenant: str | None
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    last_used_at: str | None


class TokenCreatedOut(TokenOut):
    secret: str = Field(description="shown in this answer only")


class TokensOut(Out):
    tokens: list[TokenOut]


class BlockOut(Out):
    scope: Literal["all", "queue", "tenant"]
    name: str | None
    reason: str
    since: str
    by: str


class BlocksOut(Out):
    blocks: list[BlockOut]


class PauseOut(Out):
    queue: str
    reason: str
    since: str
    by: str


class PausesOut(Out):
    paused: list[PauseOut]


class DisabledOut(Out):
    tenant: str
    reason: str
    since: str
    by: str


class DisabledListOut(Out):
    disabled: list[DisabledOut]


class DisableOut(DisabledOut):
    canceled: int = Field(description="waiting tasks canceled (with cancel_waiting)")


class EnabledOut(Out):
    enabled: bool = Field(description="whether the tenant was disabled")


class AuditEntryOut(Out):
    seq: int = Field(description="the store's order; page with before=<the last seq>")
    at: str
    actor: str = Field(description="who: token:<name>, api (no tokens configured), ...")
    action: str = Field(examples=["intake.block", "task.cancel", "dead_letter.discard"])
    target: str | None = Field(description="a task id, token name, queue, ...")
    reason: str | None = Field(description="why: X-Rota-Reason, or the action's own reason")
    detail: dict[str, Any]


class AuditOut(Out):
    entries: list[AuditEntryOut]
    next_before: int | None = Field(description="pass as before for older entries")


class ResumedOut(Out):
    resumed: bool = Field(description="false: there was no such block")


class HealthOut(Out):
    status: Literal["ok", "unavailable"]
    leader: bool | None = None
    detail: str | None = None


_DESCRIPTIONS = {
    400: "the body is not JSON (or not UTF-8)",
    401: "no token, or one that is malformed, unknown, expired or revoked",
    403: "the token's role or tenant does not reach this",
    404: "no such task or job (or one of another tenant)",
    409: "the request contradicts the stored state (a duplicate id, a stale lease, ...)",
    413: "the body or a payload is over its limit (docs/limits.md)",
    422: "bad input: the message says what to fix",
    429: "the queue holds its max_size of waiting tasks: try after Retry-After seconds",
    503: "the store is unavailable; nothing was changed",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error statuses, all with the one error shape."""
    return {code: {"model": ErrorOut, "description": _DESCRIPTIONS[code]} for code in codes}


def answers(status: int, model: type[Out], *error_codes: int) -> dict[int | str, dict[str, Any]]:
    """A route's success shape and the error statuses it may add to ``COMMON``."""
    return {status: {"model": model}, **errors(*error_codes)}


#: what any guarded route may answer besides its own statuses
COMMON = errors(400, 401, 403, 413, 422, 503)


class ScheduleOut(Out):
    id: str
    name: str
    cron: str | None
    rrule: str | None
    interval: float | None
    at: str | None
    timezone: str
    task: dict[str, Any]
    catch_up: str
    overlap: str
    deadline: float | None
    enabled: bool
    paused: bool
    next_run_at: str | None
    last_run_at: str | None
    last_task_id: str | None
    created_at: str
    updated_at: str


class SchedulesOut(Out):
    schedules: list[ScheduleOut]
