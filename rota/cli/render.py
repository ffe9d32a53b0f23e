"""Tables and details for the terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.table import Column, Table

from rota.core.models import Event, Task
from rota.core.priority import priority_name

STATE_STYLE = {
    "queued": "cyan",
    "scheduled": "blue",
    "running": "yellow",
    "succeeded": "green",
    "failed": "red",
    "canceled": "magenta",
}


def _time(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _priority(value: int) -> str:
    name = priority_name(value)
    return f"{value} ({name})" if name else str(value)


def _state(value: str) -> str:
    return f"[{STATE_STYLE.get(value, 'white')}]{value}[/]"


def tasks_table(tasks: list[Task]) -> Table:
    table = Table("queue", "kind", "priority", "state", "attempt", "created", "worker")
    table.columns.insert(0, Column("id", no_wrap=True, min_width=36))
    for t in tasks:
        table.add_row(
            t.id,
            t.queue,
            t.kind,
            _priority(t.priority),
            _state(t.state.value),
            f"{t.attempt}/{t.max_attempts}",
            _time(t.created_at),
            t.worker_id or "",
        )
    return table


def task_table(task: Task, position: dict[str, int] | None) -> Table:
    table = Table("field", "value", show_header=False)
    rows: list[tuple[str, Any]] = [
        ("id", task.id),
        ("queue", task.queue),
        ("kind", task.kind),
        ("priority", _priority(task.priority)),
        ("state", _state(task.state.value)),
        ("attempt", f"{task.attempt}/{task.max_attempts}"),
        ("payload", task.payload),
        ("run_at", _time(task.run_at)),
        ("created_at", _time(task.created_at)),
        ("started_at", _time(task.started_at)),
        ("finished_at", _time(task.finished_at)),
        ("worker", task.worker_id),
        ("result", task.result),
        ("error", task.error),
        ("tenant", task.tenant),
        ("job", task.job_id),
    ]
    if position:
        rows.append(
            (
                "position",
                f"{position['in_queue']} in queue, {position['in_priority']} in its priority",
            )
        )
    for name, value in rows:
        if value not in (None, ""):
            table.add_row(name, str(value))
    return table


def events_table(events: list[Event]) -> Table:
    table = Table("at", "event", "from", "to", "worker", "message", title="history")
    for e in events:
        table.add_row(
            _time(e.at),
            e.kind,
            e.from_state or "",
            e.to_state or "",
            e.worker_id or "",
            (e.message or "")[:200],
        )
    return table


def queues_table(queues: list[dict[str, Any]]) -> Table:
    states = list(STATE_STYLE)
    table = Table("queue", *states, "queued by priority")
    for q in queues:
        by_priority = ", ".join(
            f"{_priority(int(p))}: {n}"
            for p, n in sorted(q["queued_by_priority"].items(), key=lambda kv: -int(kv[0]))
        )
        table.add_row(q["name"], *(str(q["states"].get(s, 0)) for s in states), by_priority)
    return table
