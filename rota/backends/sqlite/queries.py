"""The named queries of queries.sql, loaded once (see :mod:`rota.backends.queries`), and the
event rows every writer of tasks appends."""

from __future__ import annotations

import sqlite3
from typing import Any

from rota.backends.queries import load
from rota.backends.sqlite.decode import COLUMNS, SCHEDULE_COLUMNS, TOKEN_COLUMNS

Q = load(
    __package__,
    "queries.sql",
    {"TASK_COLUMNS": COLUMNS, "TOKEN_COLUMNS": TOKEN_COLUMNS,
     "SCHEDULE_COLUMNS": SCHEDULE_COLUMNS},
)  # fmt: skip


def add_events(db: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Append events (insert_event's columns), inside the caller's transaction."""
    if rows:
        db.executemany(Q["insert_event"], rows)
