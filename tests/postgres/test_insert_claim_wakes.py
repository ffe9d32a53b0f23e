"""An insert that a claim waiting in the inserting process takes wakes no other claimer:
the store announces the task only when the claim left it queued (migration 0023), and the
process's other waiting claims sleep on (Service, ``_all_leased``)."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg

from rota.backends.postgres import PostgresBackend
from rota.config import Settings
from rota.core.models import ClaimRequest
from rota.service import Service, TaskSpec
from tests.contract.helpers import LEASE, T0, make_task


async def _announcements(listener: psycopg.AsyncConnection[Any], at_most: int) -> int:
    """How many wake-ups reached ``listener``: up to ``at_most``, or what came in 1 s."""
    notes = [n async for n in listener.notifies(timeout=1.0, stop_after=at_most)]
    return len(notes)


async def test_the_store_announces_only_what_the_claim_behind_left_queued(
    backend: PostgresBackend,
) -> None:
    listener = await psycopg.AsyncConnection.connect(backend.url.conninfo, autocommit=True)
    async with listener:
        await listener.execute(f"LISTEN {backend.channel}")
        taken = ClaimRequest("w1", 1, T0, T0 + LEASE, None)

        done = await backend.task_insert_claim([make_task("a")], None, None, None, taken)
        await backend.task_insert_many([make_task("marker")])

        assert [t.id for t in done.claimed] == ["a"]
        assert await _announcements(listener, at_most=2) == 1  # the marker's alone

        elsewhere = ClaimRequest("w1", 1, T0, T0 + LEASE, ("other",))
        done = await backend.task_insert_claim([make_task("b")], None, None, None, elsewhere)

        assert done.claimed == []
        assert await _announcements(listener, at_most=1) == 1  # b waits: announced


class CountingPostgres(PostgresBackend):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.claims = 0

    async def task_claim_many(self, request: Any) -> Any:
        self.claims += 1
        return await super().task_claim_many(request)


async def test_a_handed_over_insert_leaves_the_other_waiting_claims_asleep(pg_url: str) -> None:
    backend = CountingPostgres(pg_url)
    service = Service(backend, Settings())
    await service.open()
    try:
        first = asyncio.create_task(service.claim("w1", wait=5.0))
        await asyncio.sleep(0.2)  # w1 waits longest: the insert serves it
        second = asyncio.create_task(service.claim("w2", wait=5.0))
        await asyncio.sleep(0.3)  # both looked, and LISTEN's first wake-up is past
        assert service.waiting.count == 2
        claims = backend.claims

        one = await service.enqueue(TaskSpec("work"))
        assert [t.id for t in await asyncio.wait_for(first, 1.0)] == [one.id]
        await asyncio.sleep(0.3)  # a wake-up, of this process's or the store's, would be here
        assert (backend.claims, service.waiting.count) == (claims, 1)  # w2 sent no claim

        two = await service.enqueue(TaskSpec("work"))
        assert [t.id for t in await asyncio.wait_for(second, 1.0)] == [two.id]
    finally:
        await service.close()
