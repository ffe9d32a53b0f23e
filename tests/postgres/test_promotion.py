"""Claims skip promoting scheduled tasks while none can be due, and still never miss one.

A listening PostgreSQL backend remembers when the earliest scheduled task falls due and
leaves the promotion out of claims before then; whatever schedules a task (an insert, a
retry with a backoff, in this replica or another) makes the next claim promote again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from rota.backends.postgres import PostgresBackend
from rota.core.models import ClaimRequest, make_finish
from rota.core.states import TaskState
from tests.contract.helpers import at, make_task

LEASE = timedelta(seconds=30)


class Replica:
    """A backend that listens, as `rota serve` does, and counts the wake-ups it hears."""

    def __init__(self, url: str) -> None:
        self.backend = PostgresBackend(url)
        self.heard = asyncio.Event()

    async def open(self) -> None:
        await self.backend.open()
        await self.backend.listen_inserts(lambda _: self.heard.set())
        await asyncio.wait_for(self.heard.wait(), 5)  # the LISTEN is up
        self.heard.clear()

    async def claim(self, seconds: float) -> list[str]:
        now = at(seconds)
        tasks = await self.backend.task_claim_many(ClaimRequest("w", 10, now, now + LEASE, None))
        return [t.id for t in tasks]

    async def hear(self) -> None:
        await asyncio.wait_for(self.heard.wait(), 5)
        self.heard.clear()


@pytest.fixture
async def replicas(pg_url: str) -> AsyncIterator[tuple[Replica, Replica]]:
    a, b = Replica(pg_url), Replica(pg_url)
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await a.backend.close()
        await b.backend.close()


async def test_a_scheduled_task_is_claimed_once_due_and_not_before(
    replicas: tuple[Replica, Replica],
) -> None:
    a, _ = replicas
    await a.backend.task_insert_many([make_task("later", run_at=at(10))])

    assert await a.claim(0) == []
    assert await a.claim(5) == []  # past the 1 s re-check, not yet due
    assert await a.claim(9.9) == []
    assert await a.claim(10) == ["later"]


async def test_claims_before_the_next_due_time_leave_the_promotion_out(
    replicas: tuple[Replica, Replica],
) -> None:
    """The saving itself. A change no replica hears about (made here in plain SQL, no
    NOTIFY) shows it: a row made due behind rota's back waits for the next promotion,
    which comes when the earliest known task falls due (or after the 1 s re-check)."""
    a, _ = replicas
    await a.backend.task_insert_many(
        [make_task("s", run_at=at(0.5)), make_task("x", run_at=at(99))]
    )
    await a.hear()
    assert await a.claim(0) == []  # learns that "s" is due at 0.5
    async with a.backend._conn() as conn:
        await conn.execute("UPDATE rota_tasks SET run_at = %s WHERE id = 'x'", [at(0.1)])

    assert await a.claim(0.2) == []  # "x" is due, but no claim promotes before 0.5
    assert await a.claim(0.4) == []
    assert sorted(await a.claim(0.5)) == ["s", "x"]


async def test_ready_tasks_from_another_replica_wake_claims_without_a_promotion(
    replicas: tuple[Replica, Replica],
) -> None:
    """A wake-up for ready tasks ('' on the channel) needs no promotion first; only one
    that says a task was scheduled ('s') does. A row made due behind rota's back shows
    which the claim did."""
    a, b = replicas
    await b.backend.task_insert_many([make_task("x", run_at=at(99))])
    await a.hear()
    assert await a.claim(0) == []  # promotes; next due 99, so the next look is at 1 s
    await _make_due_unannounced(a, "x", 0.1)

    await b.backend.task_insert_many([make_task("ready")])
    await a.hear()

    assert await a.claim(0.2) == ["ready"]  # "x" is due, but this claim did not promote
    assert await a.claim(1.0) == ["x"]  # the re-check


async def test_an_insert_in_this_replica_makes_the_next_claim_promote(
    replicas: tuple[Replica, Replica],
) -> None:
    a, _ = replicas
    assert await a.claim(0) == []  # nothing scheduled: no promotion until 1 s

    await a.backend.task_insert_many([make_task("soon", run_at=at(0.2))])

    assert await a.claim(0.3) == ["soon"]


async def test_an_insert_in_another_replica_makes_the_next_claim_promote(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    assert await a.claim(0) == []

    await b.backend.task_insert_many([make_task("soon", run_at=at(0.2))])
    await a.hear()

    assert await a.claim(0.3) == ["soon"]


async def test_a_retry_with_a_backoff_in_another_replica_makes_the_next_claim_promote(
    replicas: tuple[Replica, Replica],
) -> None:
    a, b = replicas
    await b.backend.task_insert_many([make_task("flaky")])
    await a.hear()
    (task,) = await b.backend.task_claim_many(ClaimRequest("b", 1, at(0), at(0) + LEASE, None))
    assert await a.claim(0) == []  # nothing scheduled yet: no promotion until 1 s

    (applied,) = await b.backend.task_finish_many(
        [
            make_finish(
                task.id,
                task.lease_token,
                TaskState.SCHEDULED,
                now=at(0.1),
                error="boom",
                run_at=at(0.2),
            )
        ],
        now=at(0.1),
    )
    assert applied
    await a.hear()

    assert await a.claim(0.3) == ["flaky"]


async def _make_due_unannounced(replica: Replica, task_id: str, seconds: float) -> None:
    """Change a run_at in plain SQL: no NOTIFY, so no replica hears of it."""
    async with replica.backend._conn() as conn:
        await conn.execute(
            "UPDATE rota_tasks SET run_at = %s WHERE id = %s", [at(seconds), task_id]
        )


async def test_reading_the_next_due_time_makes_claims_promote_by_then(
    replicas: tuple[Replica, Replica],
) -> None:
    """A long-polling claimer naps until task_next_run_at; when it wakes, its claim must
    promote what it read, not skip the promotion until the re-check."""
    a, _ = replicas
    await a.backend.task_insert_many([make_task("x", run_at=at(99))])
    await a.hear()
    assert await a.claim(0) == []  # nothing due before 1 s, as far as a knows
    await _make_due_unannounced(a, "x", 0.1)

    assert await a.backend.task_next_run_at() == at(0.1)
    assert await a.claim(0.2) == ["x"]


async def test_without_a_listen_connection_every_claim_promotes(pg_url: str) -> None:
    lone = Replica(pg_url)
    await lone.backend.open()  # no listen_inserts: it would not hear other replicas
    try:
        await lone.backend.task_insert_many([make_task("x", run_at=at(99))])
        assert await lone.claim(0) == []
        await _make_due_unannounced(lone, "x", 0.1)

        assert await lone.claim(0.2) == ["x"]
    finally:
        await lone.backend.close()
