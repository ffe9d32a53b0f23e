"""Tables and details for the terminal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich import box
from rich.table import Table

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


#: below this terminal width the task list keeps its five main columns, whole, and drops
#: the rest (rich would otherwise squeeze every column to two or three characters)
WIDE = 130


def tasks_table(tasks: list[Task], width: int) -> Table:
    wide = width >= WIDE
    table = Table(box=box.SIMPLE_HEAD if not wide else box.HEAVY_HEAD, pad_edge=False)
    table.add_column(
        "id", no_wrap=True, min_width=min(36, max((len(t.id) for t in tasks), default=2))
    )
    table.add_column("state", no_wrap=True)
    table.add_column("pri", no_wrap=True, justify="right")
    table.add_column("queue", overflow="ellipsis", max_width=None if wide else 14)
    table.add_column("kind", overflow="ellipsis")
    if wide:
        for name in ("attempt", "created", "worker"):
            table.add_column(name, no_wrap=name != "worker")
    for t in tasks:
        row = [t.id, _state(t.state.value), _priority(t.priority) if wide else str(t.priority),
               t.queue, t.kind]  # fmt: skip
        if wide:
            row += [f"{t.attempt}/{t.max_attempts}", _time(t.created_at), t.worker_id or ""]
        table.add_row(*row)
    return table


def workers_table(workers: list[dict[str, Any]]) -> Table:
    table = Table("worker", "queues", "capabilities", "running", "last contact",
                  box=box.SIMPLE_HEAD, pad_edge=False)  # fmt: skip
    for w in workers:
        table.add_row(
            w["id"],
            ", ".join(w.get("queues") or []) or "all",
            ", ".join(w.get("capabilities") or []) or "-",
            str(len(w.get("running") or [])),
            str(w.get("last_seen_at") or "")[:19],
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
