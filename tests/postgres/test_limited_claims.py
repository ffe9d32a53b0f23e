"""Claims of a queue with global limits: far from the limits they run beside each other
(each holds one slot of the queue's lock); near them, one at a time (the whole lock)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest

from rota.backends.postgres import PostgresBackend
from rota.backends.postgres.queries import LIMIT_SLOTS, Q
from rota.backends.postgres.url import PgUrl
from rota.core import limits
from rota.core.admission import QueueLimit
from rota.core.models import ClaimRequest
from tests.contract.helpers import at, make_task

LEASE = timedelta(seconds=30)
ROOMY = LIMIT_SLOTS * limits.MAX_CLAIM + 10  # room for every slot's claim, and more


async def _claim(
    backend: PostgresBackend, running_max: int, queues: tuple[str, ...] | None = ("q",)
) -> list[str]:
    now = at(1)
    bound = (QueueLimit("q", running_max=running_max),)
    request = ClaimRequest("w", 2, now, now + LEASE, queues, limits=bound)
    return [t.id for t in await backend.task_claim_many(request)]


@pytest.fixture
async def other(pg_url: str) -> AsyncIterator[psycopg.AsyncConnection[object]]:
    """Another session on the backend's schema, in a transaction, to hold locks with."""
    url = PgUrl.parse(pg_url)
    async with await psycopg.AsyncConnection.connect(url.conninfo) as conn:
        await conn.execute(f'SET search_path TO "{url.schema}"')
        yield conn


async def _hold_all_slots_but_one(other: psycopg.AsyncConnection[object]) -> None:
    """As a claim in flight beside others does (its gate takes the first free slot)."""
    for _ in range(LIMIT_SLOTS - 1):
        cur = await other.execute(
            "SELECT rota_limit_gate(ARRAY['q'], ARRAY[NULL]::int[], ARRAY[NULL]::int[],"
            " ARRAY[NULL]::float8[], 0, %s, 0)",
            (LIMIT_SLOTS,),
        )
        assert await cur.fetchone() == (True,)


async def _two_queues_ready(backend: PostgresBackend) -> None:
    """Ready rows in queues q and r; the best two are r0, then q0."""
    priorities = {"q0": 1, "r0": 2, "q1": 0, "r1": 0}
    await backend.task_insert_many(
        [make_task(i, queue=i[0], priority=p) for i, p in priorities.items()]
    )


async def test_claims_far_from_the_limit_run_beside_a_slot_holder(
    backend: PostgresBackend, other: psycopg.AsyncConnection[object]
) -> None:
    await backend.task_insert_many([make_task(f"t{n}", queue="q") for n in range(6)])
    await _hold_all_slots_but_one(other)

    # Roomy: this claim takes the free slot and does not wait.
    got = await asyncio.wait_for(_claim(backend, ROOMY), 5)
    assert got == ["t0", "t1"]

    # Near the limit: it needs the whole lock, so it waits for the other to end.
    tight = asyncio.create_task(_claim(backend, ROOMY - 20))
    await asyncio.sleep(0.5)
    assert not tight.done()
    await other.rollback()
    assert await asyncio.wait_for(tight, 5) == ["t2", "t3"]


async def test_an_empty_claim_far_from_the_limit_keeps_the_next_ones_side_by_side(
    backend: PostgresBackend, other: psycopg.AsyncConnection[object]
) -> None:
    # Nothing ready, room: the claim takes nothing, and the queue is not taken for one
    # near its limit (which would send its claims to the whole lock for a while).
    assert await _claim(backend, ROOMY) == []
    await backend.task_insert_many([make_task(f"t{n}", queue="q") for n in range(2)])
    await _hold_all_slots_but_one(other)
    assert await asyncio.wait_for(_claim(backend, ROOMY), 5) == ["t0", "t1"]


async def test_a_roomy_claim_of_every_queue_merges_queues_beside_a_slot_holder(
    backend: PostgresBackend, other: psycopg.AsyncConnection[object]
) -> None:
    # Ready rows in two queues: the single-queue claim takes nothing, the merge takes the
    # best of both, still on one slot.
    await _two_queues_ready(backend)
    await _hold_all_slots_but_one(other)
    got = await asyncio.wait_for(_claim(backend, ROOMY, queues=None), 5)
    assert got == ["r0", "q0"]


async def test_a_claim_of_several_queues_near_the_limit_waits_for_the_whole_lock(
    backend: PostgresBackend, other: psycopg.AsyncConnection[object]
) -> None:
    # claim_queues, a merged claim: its gate shuts as claim_queue's does, and the claim
    # goes to the whole lock instead of taking rows beside the slot holders.
    await _two_queues_ready(backend)
    await _hold_all_slots_but_one(other)
    tight = asyncio.create_task(_claim(backend, ROOMY - 20, queues=("q", "r")))
    await asyncio.sleep(0.5)
    assert not tight.done()
    await other.rollback()
    assert await asyncio.wait_for(tight, 5) == ["r0", "q0"]


async def test_a_roomy_claim_waits_for_a_claim_that_holds_the_whole_lock(
    backend: PostgresBackend, other: psycopg.AsyncConnection[object]
) -> None:
    await backend.task_insert_many([make_task(f"t{n}", queue="q") for n in range(4)])
    await other.execute(Q["limit_lock"], {"queue": "q"})
    roomy = asyncio.create_task(_claim(backend, ROOMY))
    await asyncio.sleep(0.5)
    assert not roomy.done()
    await other.rollback()
    assert await asyncio.wait_for(roomy, 5) == ["t0", "t1"]


async def test_a_roomy_claim_keeps_its_generic_plan(pg_url: str) -> None:
    # The gate is one CTE of the claim statement, which PostgreSQL plans once and then runs
    # from its cached generic plan, as it does a claim without limits: the earlier gate, a
    # statement of its own, was planned afresh for every claim unless told not to.
    backend = PostgresBackend(pg_url, pool_size=1)  # one session: its statements are seen
    await backend.open()
    try:
        await backend.task_insert_many([make_task(f"t{n}", queue="q") for n in range(80)])
        for _ in range(40):  # room for all of them beside every slot's claim
            assert len(await _claim(backend, ROOMY + 80)) == 2
        async with backend._conn() as conn:
            cur = await conn.execute(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%%rota_limit_gate(%%'"
            )
            plans = await cur.fetchall()
    finally:
        await backend.close()
    assert len(plans) == 1  # psycopg prepared it (after its fifth run)
    generic, custom = plans[0]
    assert generic >= 20 and custom <= 5, plans
