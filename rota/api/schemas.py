"""Request bodies of the native API. Unknown fields are refused, so typos fail loudly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from rota.core import limits
from rota.service import Completion, Failure, TaskSpec


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TaskIn(Body):
    kind: str = Field(description="the handler's name", examples=["echo"])
    payload: dict[str, Any] = Field(default_factory=dict, description="a JSON object")
    queue: str = "default"
    priority: StrictInt | StrictStr | None = Field(
        None, description="0..100, higher runs first, or high (80) / mid (50) / low (20)"
    )
    id: str | None = Field(None, description="your own id; a duplicate is 409")
    run_at: datetime | None = Field(None, description="run no earlier than this (with offset)")
    delay: float | None = Field(None, description="or: run no earlier than this many seconds")
    max_attempts: int | None = None
    timeout: float | None = Field(None, description="seconds a run may take")
    tenant: str | None = None

    @field_validator("run_at", mode="before")
    @classmethod
    def _iso_only(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, str):
            raise ValueError("run_at must be an ISO 8601 string with offset")
        return value

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
        )


class BatchIn(Body):
    tasks: list[TaskIn] = Field(max_length=limits.MAX_BATCH)


class JobIn(Body):
    name: str
    tenant: str | None = None
    tasks: list[TaskIn] = Field(min_length=1, max_length=limits.MAX_BATCH)


class PriorityIn(Body):
    priority: StrictInt | StrictStr
    to_tail: bool = Field(
        False, description="true: go to the tail of the new level; false: keep enqueue order"
    )


class ClaimIn(Body):
    queues: list[str] | None = None
    max: int = Field(1, ge=1, le=limits.MAX_CLAIM)
    wait: float = Field(0.0, ge=0, le=limits.MAX_WAIT_SECONDS, description="long-poll seconds")


class LeaseIn(Body):
    lease_token: int = Field(ge=0, le=limits.MAX_TOKEN)


class CompleteIn(LeaseIn):
    result: Any = None


class FailIn(LeaseIn):
    error: str = Field(max_length=limits.MAX_ERROR_CHARS * 4)
    retryable: bool = True


class CompletionIn(CompleteIn):
    id: str

    def item(self) -> Completion:
        return Completion(self.id, self.lease_token, self.result)


class FailureIn(FailIn):
    id: str

    def item(self) -> Failure:
        return Failure(self.id, self.lease_token, self.error, self.retryable)


class ReportIn(Body):
    completions: list[CompletionIn] = Field(default_factory=list, max_length=limits.MAX_BATCH)
    failures: list[FailureIn] = Field(default_factory=list, max_length=limits.MAX_BATCH)
