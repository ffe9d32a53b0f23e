"""The plans claims keep. A claim's statement is prepared, and PostgreSQL keeps its generic
plan for the connection's life: the plan made while the table was empty (a worker waiting
for work) is the one a burst of tasks meets later. Each plan here is that generic plan, on
a new empty table, in a session the backend configured."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from psycopg import sql

from rota.backends.postgres import PostgresBackend
from rota.backends.postgres.claims import claim_query
from tests.contract.helpers import at

#: each parameter of the claims: its value, and its type (PREPARE cannot infer them all)
PARAMS: dict[str, tuple[Any, str]] = {
    "now": (at(1), "timestamptz"),
    "lease": (at(1) + timedelta(seconds=30), "timestamptz"),
    "worker": ("w", "text"),
    "salt": (7, "bigint"),
    "queue": ("default", "text"),
    "queues": (["default", "other"], "text[]"),
    "claim_commit": ("off", "text"),
    "skip": ([], "text[]"),
    "caps": ([], "text[]"),
    "lq": (["default"], "text[]"),
    "lrun": ([10], "int[]"),
    "ltrun": ([None], "int[]"),
    "lrate": ([None], "float8[]"),
    "slot": (1, "int"),
}


async def _generic_plan(backend: PostgresBackend, query: str) -> str:
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    text = re.sub(r"%\((\w+)\)s", number, query)
    async with backend._conn() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        types = ", ".join(PARAMS[name][1] for name in names)
        await conn.execute(f"PREPARE claim_plan ({types}) AS {text}")
        try:
            # EXPLAIN takes no bound parameters: the values go in as literals
            values = sql.SQL(", ").join(sql.Literal(PARAMS[name][0]) for name in names)
            cur = await conn.execute(sql.SQL("EXPLAIN EXECUTE claim_plan({})").format(values))
            return "\n".join(row[0] for row in await cur.fetchall())
        finally:
            await conn.execute("DEALLOCATE claim_plan")


CLAIMS = [
    ("claim_any", False),
    ("claim_queue", False),
    ("claim_merge", False),
    ("claim_any", True),  # a limited claim far from its limits
    ("claim_limited_any", False),
]


@pytest.mark.parametrize(("name", "roomy"), CLAIMS)
async def test_a_claim_planned_on_an_empty_table_leases_its_rows_by_ctid(
    backend: PostgresBackend, name: str, roomy: bool
) -> None:
    plan = await _generic_plan(backend, claim_query(name, 64, roomy=roomy))
    assert "Tid Scan on rota_tasks t" in plan, plan
    assert "Seq Scan" not in plan, plan
