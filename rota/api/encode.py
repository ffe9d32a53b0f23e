"""Domain objects to JSON. Hand-written because claims and reports are the hot path."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.responses import JSONResponse

from rota.core.models import Event, JobSummary, Position, Task, WorkerInfo
from rota.core.priority import priority_name
from rota.core.states import WAITING_STATES, TaskState
from rota.service.schedules import parse_occurrence_id

_STATE_TEXT = {state: state.value for state in TaskState}


class FastJSON(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


class TimeTexts(dict[datetime, str]):
    """ISO texts of the times in one response: a claimed batch shares its ``started_at``
    and lease end, and usually its ``created_at``, so most are formatted once."""

    def __missing__(self, value: datetime) -> str:
        text = self[value] = value.isoformat()
        return text

    def of(self, value: datetime | None) -> str | None:
        return None if value is None else self[value]


def task_json(
    task: Task,
    *,
    position: Position | None = None,
    lease: bool = False,
    times: TimeTexts | None = None,
) -> dict[str, Any]:
    _time = (TimeTexts() if times is None else times).of
    out: dict[str, Any] = {
        "id": task.id,
        "queue": task.queue,
        "kind": task.kind,
        "payload": task.payload,
        "priority": task.priority,
        "priority_name": priority_name(task.priority),
        "state": _STATE_TEXT[task.state],
        "attempt": task.attempt,
        "max_attempts": task.max_attempts,
        "timeout": task.timeout,
        "run_at": _time(task.run_at),
        "created_at": _time(task.created_at),
        "started_at": _time(task.started_at),
        "finished_at": _time(task.finished_at),
        # the worker running it or that ran its last attempt; none while it waits again
        # (a requeued task no longer names the worker that lost it)
        "worker_id": None if task.state in WAITING_STATES else task.worker_id,
        "lease_expires_at": _time(task.lease_expires_at),
        "cancel_requested": task.cancel_requested,
        "result": task.result,
        "error": task.error,
        "tenant": task.tenant,
        "job_id": task.job_id,
        "retry": task.retry,
        "expires_at": _time(task.expires_at),
        "progress": task.progress,
        "requires": list(task.requires),
        "trace": task.trace,
        "schedule_id": None,
        "scheduled_for": None,
    }
    occurrence = parse_occurrence_id(task.id)
    if occurrence is not None:
        out["schedule_id"], out["scheduled_for"] = occurrence[0], _time(occurrence[1])
    if lease:
        out["lease_token"] = task.lease_token
    if position is not None:
        out["position"] = {"in_priority": position.in_priority, "in_queue": position.in_queue}
    return out


def event_json(event: Event) -> dict[str, Any]:
    return {
        "at": _time(event.at),
        "kind": event.kind,
        "from_state": None if event.from_state is None else event.from_state.value,
        "to_state": None if event.to_state is None else event.to_state.value,
        "worker_id": event.worker_id,
        "message": event.message,
        "actor": event.actor,
    }


def job_json(summary: JobSummary) -> dict[str, Any]:
    job = summary.job
    return {
        "id": job.id,
        "name": job.name,
        "tenant": job.tenant,
        "created_at": _time(job.created_at),
        "state": summary.state,
        "total": summary.total,
        "counts": {state.value: n for state, n in summary.counts.items()},
    }


def worker_json(worker: WorkerInfo, running: list[Task]) -> dict[str, Any]:
    return {
        "id": worker.id,
        "name": worker.name,
        "host": worker.host,
        "queues": None if worker.queues is None else list(worker.queues),
        "capabilities": list(worker.capabilities),
        "concurrency": worker.concurrency,
        "version": worker.version,
        "started_at": _time(worker.started_at),
        "last_seen_at": _time(worker.last_seen_at),
        "running": [
            {"id": t.id, "kind": t.kind, "queue": t.queue, "started_at": _time(t.started_at)}
            for t in running
        ],
    }
