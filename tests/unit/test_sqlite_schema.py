"""SQLite schema upgrades: a file made by the first release, upgraded step by step, ends
exactly like a fresh file (the same tables, columns in the same order, the same indexes
with the same predicates), and keeps its rows.

``fixtures/sqlite_schema_v1.sql`` is schema.sql as version 1 shipped it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from rota.backends.sqlite import SQLiteBackend
from rota.backends.sqlite.migrations import SCHEMA_VERSION, UPGRADES
from rota.core.states import TaskState

V1 = Path(__file__).parent / "fixtures" / "sqlite_schema_v1.sql"


def _shape(path: Path) -> dict[str, Any]:
    """Every table's columns (name, type, not null, default, pk) and every index's
    definition, normalised for whitespace and ``IF NOT EXISTS``."""
    db = sqlite3.connect(path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        columns = {t: [tuple(c[1:]) for c in db.execute(f"PRAGMA table_info({t})")] for t in tables}
        indexes = {
            name: " ".join(sql.replace("IF NOT EXISTS ", "").split())
            for name, sql in db.execute(
                "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"
            )
        }
        version = db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()
    return {"columns": columns, "indexes": indexes, "version": version}


def _v1_file(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(V1.read_text())
    db.execute(
        "INSERT INTO tasks (seq, id, queue, kind, payload, priority, state, enqueued_state,"
        " max_attempts, run_at, created_at) VALUES"
        " (1, 'old-1', 'default', 'echo', '{}', 20, 'queued', 'queued', 3, 0, 0)"
    )
    db.execute("PRAGMA user_version=1")
    db.commit()
    db.close()


async def test_every_upgrade_applied_equals_a_fresh_schema(tmp_path: Path) -> None:
    assert sorted(UPGRADES) == list(range(2, SCHEMA_VERSION + 1))
    fresh, upgraded = tmp_path / "fresh.db", tmp_path / "upgraded.db"
    _v1_file(upgraded)
    for path in (fresh, upgraded):
        backend = SQLiteBackend(path)
        await backend.open()
        await backend.close()

    want, got = _shape(fresh), _shape(upgraded)
    assert got["version"] == want["version"] == SCHEMA_VERSION
    assert got["columns"] == want["columns"]
    assert got["indexes"] == want["indexes"]

    backend = SQLiteBackend(upgraded)
    await backend.open()
    try:
        kept = await backend.task_get("old-1")
        assert kept is not None and kept.state is TaskState.QUEUED
        assert [e.kind for e in await backend.event_list("old-1")] == ["enqueued"]
    finally:
        await backend.close()
