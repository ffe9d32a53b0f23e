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


class Times(dict[str, datetime]):
    """Parsed times of one answer: a claimed batch repeats the same few."""

    def __missing__(self, text: str) -> datetime:
        value = self[text] = datetime.fromisoformat(text)
        return value

    def of(self, text: str | None) -> datetime | None:
        return None if text is None else self[text]


def task_from_json(data: dict[str, Any], times: Times | None = None) -> Task:
    times = Times() if times is None else times
    time = times.of
    state = _STATES.get(data["state"]) or TaskState(data["state"])  # unknown: ValueError
    get = data.get
    return Task(  # positional, in field order: this runs once per claimed task
        data["id"],
        data["queue"],
        data["kind"],
        data["payload"],
        data["priority"],
        state,
        times[data["run_at"]],
        times[data["created_at"]],
        data["attempt"],
        data["max_attempts"],
        get("timeout"),
        get("tenant"),
        get("job_id"),
        0,
        time(get("started_at")),
        time(get("finished_at")),
        get("worker_id"),
        get("lease_token", 0),
        time(get("lease_expires_at")),
        get("cancel_requested", False),
        get("result"),
        get("error"),
        get("retry"),
        time(get("expires_at")),
        get("progress"),
        get("trace"),
        0.0,
        tuple(get("requires") or ()),
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
        actor=data.get("actor"),
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
