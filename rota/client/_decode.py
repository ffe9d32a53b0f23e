"""JSON answers back into domain objects, and error answers back into rota's exceptions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rota.core import errors
from rota.core.models import Event, Task
from rota.core.states import TaskState

_STATES = {state.value: state for state in TaskState}  # a dict lookup beats Enum()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def task_from_json(data: dict[str, Any]) -> Task:
    state = _STATES.get(data["state"]) or TaskState(data["state"])  # unknown: ValueError
    return Task(
        id=data["id"],
        queue=data["queue"],
        kind=data["kind"],
        payload=data["payload"],
        priority=data["priority"],
        state=state,
        run_at=datetime.fromisoformat(data["run_at"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        attempt=data["attempt"],
        max_attempts=data["max_attempts"],
        timeout=data.get("timeout"),
        tenant=data.get("tenant"),
        job_id=data.get("job_id"),
        started_at=_time(data.get("started_at")),
        finished_at=_time(data.get("finished_at")),
        worker_id=data.get("worker_id"),
        lease_token=data.get("lease_token", 0),
        lease_expires_at=_time(data.get("lease_expires_at")),
        cancel_requested=data.get("cancel_requested", False),
        result=data.get("result"),
        error=data.get("error"),
        retry=data.get("retry"),
        expires_at=_time(data.get("expires_at")),
        progress=data.get("progress"),
    )


def event_from_json(task_id: str, data: dict[str, Any]) -> Event:
    return Event(
        task_id=task_id,
        at=datetime.fromisoformat(data["at"]),
        kind=data["kind"],
        from_state=None if data["from_state"] is None else TaskState(data["from_state"]),
        to_state=None if data["to_state"] is None else TaskState(data["to_state"]),
        worker_id=data.get("worker_id"),
        message=data.get("message"),
    )


def error_from_json(status: int, data: Any) -> errors.RotaError:
    """The server's error name maps back to the same class, so ``except NotFound`` works."""
    name = data.get("error") if isinstance(data, dict) else None
    message = data.get("message", str(data)) if isinstance(data, dict) else str(data)
    cls = getattr(errors, name, None) if isinstance(name, str) else None
    if (
        isinstance(cls, type)
        and issubclass(cls, errors.RotaError)
        and not issubclass(cls, errors.ClientError)
    ):
        error: errors.RotaError = cls(message)
        return error
    return errors.ServerError(status, message)
