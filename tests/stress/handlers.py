"""Handlers for the multi-node stress test: each run is recorded as one row in PostgreSQL.

A worker process loads this module with ``--app tests.stress.handlers:registry``. The rows go
to the table ``executions`` of the schema named by ``ROTA_STRESS_EXEC_URL`` (a rota database
URL, ``?schema=`` included), through one small connection pool per worker process, so that
the test can count runs per task and per lease after the fact.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from psycopg_pool import ConnectionPool

from rota.backends.postgres.url import PgUrl
from rota.worker import Registry, TaskContext

registry = Registry()

EXECUTIONS_DDL = """
CREATE TABLE IF NOT EXISTS executions (
    task_id     TEXT        NOT NULL,
    attempt     INTEGER     NOT NULL,
    lease_token BIGINT      NOT NULL,
    pid         INTEGER     NOT NULL,
    worker_id   TEXT        NOT NULL,
    at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
)
"""
# No unique constraint on purpose: a second run of a task must be recorded, not refused.

_pool: ConnectionPool | None = None
_pool_lock = threading.Lock()


def _connections() -> ConnectionPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            url = PgUrl.parse(os.environ["ROTA_STRESS_EXEC_URL"])
            _pool = ConnectionPool(
                url.conninfo,
                min_size=1,
                max_size=int(os.environ.get("ROTA_STRESS_EXEC_POOL", "4")),
                kwargs={
                    "autocommit": True,
                    # a test table: no need to wait for the WAL flush on every row
                    "options": f"-c search_path={url.schema} -c synchronous_commit=off",
                },
                open=True,
            )
        return _pool


@registry.task("record", pass_context=True)
def record(ctx: TaskContext, **payload: Any) -> dict[str, Any]:
    task = ctx.task
    with _connections().connection() as conn:
        conn.execute(
            "INSERT INTO executions (task_id, attempt, lease_token, pid, worker_id) "
            "VALUES (%s, %s, %s, %s, %s)",
            (task.id, task.attempt, task.lease_token, os.getpid(), ctx.worker_id),
        )
    return {"n": payload.get("n")}
