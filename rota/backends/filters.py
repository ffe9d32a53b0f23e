"""The WHERE clauses of a task listing, shared by the SQL backends (placeholders differ)."""

from __future__ import annotations

from typing import Any

from rota.core.models import TaskFilter


def filter_clauses(
    filter: TaskFilter, after_seq: int | None, mark: str
) -> tuple[list[str], list[Any]]:
    """``column = mark`` per field the filter sets, and ``seq < mark`` past a cursor."""
    clauses: list[str] = []
    args: list[Any] = []
    for column in ("queue", "state", "kind", "tenant", "job_id"):
        value = getattr(filter, column)
        if value is not None:
            clauses.append(f"{column} = {mark}")
            args.append(str(value))
    if after_seq is not None:
        clauses.append(f"seq < {mark}")
        args.append(after_seq)
    return clauses, args
