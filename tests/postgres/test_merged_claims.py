"""Claims over several queues merge the queues' heads: they take only rows among the best
they chose, never a lower row in place of one another session holds, and they tell
"nothing ready" from "what I chose is held"."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest

from rota.backends.postgres import PostgresBackend
from rota.backends.postgres.url import PgUrl
from rota.core.models import ClaimRequest
from tests.contract.helpers import at, make_task

LEASE = timedelta(seconds=30)


async def _claim(backend: PostgresBackend, limit: int, queues: list[str] | None) -> list[str]:
    now = at(1)
    tasks = await backend.task_claim_many(
        ClaimRequest("w", limit, now, now + LEASE, tuple(queues) if queues else None)
    )
    return [t.id for t in tasks]


@pytest.mark.parametrize("queues", [None, ["q-a", "q-b"]])
async def test_a_merged_claim_leaves_held_rows_and_takes_nothing_lower(
    backend: PostgresBackend, pg_url: str, queues: list[str] | None
) -> None:
    await backend.task_insert_many(
        [
            make_task("a-high", queue="q-a", priority=90),
            make_task("b-high", queue="q-b", priority=80),
            make_task("a-low", queue="q-a", priority=10),
            make_task("b-low", queue="q-b", priority=5),
        ]
    )
    url = PgUrl.parse(pg_url)
    async with await psycopg.AsyncConnection.connect(url.conninfo) as other:
        await other.execute(f'SET search_path TO "{url.schema}"')
        # Another session holds the two best rows, as a claim in flight would.
        await other.execute("SELECT 1 FROM rota_tasks WHERE id LIKE '%-high' FOR UPDATE")

        # The best two are chosen, both are held: nothing is taken (not the low rows).
        assert await _claim(backend, 2, queues) == []
        # The best three: only the one not held.
        assert await _claim(backend, 3, queues) == ["a-low"]
        await other.rollback()

    assert await _claim(backend, 10, queues) == ["a-high", "b-high", "b-low"]
    assert await _claim(backend, 10, queues) == []
