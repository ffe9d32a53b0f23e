"""An insert that a claim waiting in the inserting process takes wakes no other claimer:
the store announces the task only when the claim left it queued (migration 0023). The
service's side: tests/unit/test_waiting.py."""

from __future__ import annotations

from typing import Any

import psycopg

from rota.backends.postgres import PostgresBackend
from rota.core.models import ClaimRequest
from tests.contract.helpers import LEASE, T0, make_task


async def _announcements(listener: psycopg.AsyncConnection[Any], at_most: int) -> int:
    """How many wake-ups reached ``listener``: up to ``at_most``, or what came in 1 s."""
    notes = [n async for n in listener.notifies(timeout=1.0, stop_after=at_most)]
    return len(notes)


async def test_the_store_announces_only_what_the_claim_behind_left_queued(pg_url: str) -> None:
    # One connection: the marker's insert runs where the quiet one ran (nothing carries over).
    backend = PostgresBackend(pg_url, pool_size=1)
    await backend.open()
    listener = await psycopg.AsyncConnection.connect(backend.url.conninfo, autocommit=True)
    try:
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
    finally:
        await listener.close()
        await backend.close()
