"""The SQLite file's schema: created whole from ``schema.sql`` on a new file, or taken from
the version it has (``PRAGMA user_version``) to this rota's by ``UPGRADES``, inside one
``BEGIN IMMEDIATE`` so that one process of several sharing the file does it."""

from __future__ import annotations

import sqlite3
from importlib import resources

from rota.core.errors import SchemaMismatch

SCHEMA_VERSION = 13
#: what takes a file from version N-1 to N (a new file gets schema.sql at once); the
#: "upgraded equals fresh" test in tests/unit/test_sqlite_schema.py keeps the two in step
UPGRADES: dict[int, list[str]] = {
    2: [
        "ALTER TABLE tasks ADD COLUMN retry TEXT",
        "ALTER TABLE tasks ADD COLUMN expires_at INTEGER",
        "ALTER TABLE tasks ADD COLUMN progress TEXT",
        "CREATE INDEX tasks_expiring ON tasks (expires_at)"
        " WHERE expires_at IS NOT NULL AND state IN ('queued', 'scheduled')",
    ],
    3: [
        "ALTER TABLE events ADD COLUMN actor TEXT",
        "CREATE INDEX tasks_timed ON tasks (started_at)"
        " WHERE state = 'running' AND timeout IS NOT NULL",
        "CREATE TABLE workers (id TEXT PRIMARY KEY, name TEXT NOT NULL, host TEXT NOT NULL,"
        " queues TEXT, capabilities TEXT NOT NULL, concurrency INTEGER NOT NULL,"
        " version TEXT NOT NULL, started_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL)",
        "CREATE INDEX workers_by_last_seen ON workers (last_seen_at)",
    ],
    # Timed-out runs are found among the running tasks by tasks_leased: there are only as
    # many as the workers' slots, and this index cost batched inserts 5-10%.
    4: ["DROP INDEX tasks_timed"],
    5: [
        "CREATE TABLE tokens (name TEXT PRIMARY KEY, digest TEXT NOT NULL UNIQUE,"
        " role TEXT NOT NULL, tenant TEXT, created_at INTEGER NOT NULL, expires_at INTEGER,"
        " revoked_at INTEGER, last_used_at INTEGER)",
    ],
    6: ["CREATE TABLE controls (key TEXT PRIMARY KEY, value TEXT NOT NULL)"],
    7: [
        "CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"
        " actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT, reason TEXT,"
        " detail TEXT NOT NULL)",
    ],
    8: [
        "CREATE TABLE schedules (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
        " definition TEXT NOT NULL, enabled INTEGER NOT NULL, next_run_at INTEGER,"
        " last_run_at INTEGER, last_task_id TEXT, version INTEGER NOT NULL,"
        " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
        "CREATE INDEX schedules_due ON schedules (next_run_at)"
        " WHERE enabled = 1 AND next_run_at IS NOT NULL",
    ],
    9: [
        "ALTER TABLE tasks ADD COLUMN place REAL NOT NULL DEFAULT 0",
        "UPDATE tasks SET place = seq",
        "DROP INDEX tasks_ready_by_queue",
        "DROP INDEX tasks_ready",
        "CREATE INDEX tasks_ready_by_queue ON tasks (queue, priority DESC, place, seq)"
        " WHERE state = 'queued'",
        "CREATE INDEX tasks_ready ON tasks (priority DESC, place, seq) WHERE state = 'queued'",
        "CREATE TABLE fairness (queue TEXT NOT NULL, key TEXT NOT NULL, pass REAL NOT NULL,"
        " PRIMARY KEY (queue, key)) WITHOUT ROWID",
    ],
    10: [
        "CREATE TABLE uniques (key TEXT PRIMARY KEY, task_id TEXT NOT NULL,"
        " while_running INTEGER NOT NULL, held_until INTEGER) WITHOUT ROWID",
    ],
    11: [
        "ALTER TABLE tasks ADD COLUMN requires TEXT",
        "CREATE TABLE rate_buckets (queue TEXT PRIMARY KEY, tokens REAL NOT NULL,"
        " updated_at INTEGER NOT NULL) WITHOUT ROWID",
    ],
    12: ["ALTER TABLE jobs ADD COLUMN needs TEXT"],
    13: ["ALTER TABLE tasks ADD COLUMN trace TEXT"],
}


def migrate(db: sqlite3.Connection, path: str) -> None:
    """Bring the file to SCHEMA_VERSION (SchemaMismatch when it is newer: this rota is old)."""
    db.execute("BEGIN IMMEDIATE")  # one process creates or upgrades; the others wait
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaMismatch(
                f"{path} has schema version {version}, newer than this rota "
                f"({SCHEMA_VERSION}): upgrade rota"
            )
        if version == 0:
            schema = resources.files(__package__).joinpath("schema.sql").read_text()
            lines = [ln for ln in schema.splitlines() if not ln.lstrip().startswith("--")]
            statements = [st for st in "\n".join(lines).split(";") if st.strip()]
        else:
            statements = [st for v in range(version + 1, SCHEMA_VERSION + 1) for st in UPGRADES[v]]
        for statement in statements:
            db.execute(statement)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
