"""The plans SQLite makes for what every claim runs. With no statistics its planner took the
equality on ``state`` in ``tasks_by_state (state, seq)`` over the partial indexes: each
claim sorted every ready row to take the first few, and each promotion read every
scheduled row. The statements name their index (``INDEXED BY``); these check the plans."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rota.backends.sqlite import SQLiteBackend
from rota.backends.sqlite.backend import _claim_sql
from rota.backends.sqlite.queries import Q
from rota.core.models import ClaimRequest
from tests.contract.helpers import at, make_task

JSON_LISTS = {"queues", "full", "skip", "caps", "ids", "seqs"}


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[sqlite3.Connection]:
    """A file with ready rows in two queues and scheduled rows, as a busy store has."""
    path = tmp_path / "rota.db"
    backend = SQLiteBackend(path)
    await backend.open()
    ready = [make_task(f"r{n}", queue="ab"[n % 2], priority=n % 5) for n in range(300)]
    later = [make_task(f"s{n}", run_at=at(60 + n)) for n in range(100)]
    expiring = [make_task(f"e{n}")._replace(expires_at=at(60 + n)) for n in range(10)]
    await backend.task_insert_many(ready + later + expiring)
    await backend.close()
    conn = sqlite3.connect(path)
    yield conn
    conn.close()


def _plan(db: sqlite3.Connection, sql: str) -> str:
    names = set(re.findall(r":(\w+)", sql))
    if names:
        params = {name: "[]" if name in JSON_LISTS else None for name in names}
        cur = db.execute(f"EXPLAIN QUERY PLAN {sql}", params)
    else:
        cur = db.execute(f"EXPLAIN QUERY PLAN {sql}", (None,) * sql.count("?"))
    return " ; ".join(row[3] for row in cur)


CLAIMS = [
    ("claim_any", None, "SCAN tasks USING INDEX tasks_ready"),
    ("claim_queues", ("a",), "USING INDEX tasks_ready_by_queue (queue=?)"),
    ("claim_queues", ("a", "b"), "SCAN tasks USING INDEX tasks_ready"),
    ("pick_any", None, "SCAN tasks USING INDEX tasks_ready"),
    ("pick_queues", ("a",), "USING INDEX tasks_ready_by_queue (queue=?)"),
    ("pick_queues", ("a", "b"), "SCAN tasks USING INDEX tasks_ready"),
]


@pytest.mark.parametrize(("name", "queues", "walk"), CLAIMS)
def test_a_claim_walks_a_ready_index_in_order(
    db: sqlite3.Connection, name: str, queues: tuple[str, ...] | None, walk: str
) -> None:
    request = ClaimRequest("w", 64, at(1), at(31), queues)
    plan = _plan(db, _claim_sql(name, request))
    assert walk in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # no sort of the ready rows


@pytest.mark.parametrize("name", ["promote_due", "promote_due_limited", "next_run_at"])
def test_scheduled_rows_are_found_by_run_at(db: sqlite3.Connection, name: str) -> None:
    plan = _plan(db, Q[name])
    assert "USING INDEX tasks_scheduled" in plan, plan
    assert "tasks_by_state" not in plan and "TEMP B-TREE" not in plan, plan


def test_the_sweep_finds_expiring_tasks_by_their_deadline(db: sqlite3.Connection) -> None:
    plan = _plan(db, Q["list_expiring"])
    assert "USING INDEX tasks_expiring (expires_at>? AND expires_at<?)" in plan, plan


def test_a_queues_waiting_tasks_are_counted_through_its_own_index(
    db: sqlite3.Connection,
) -> None:
    plan = _plan(db, Q["count_waiting"])  # a max_size check, on every enqueue into the queue
    assert "USING INDEX tasks_ready_by_queue (queue=?)" in plan, plan
