"""PostgreSQL across processes: NOTIFY wake-ups and the maintenance leader."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import psycopg
import pytest

from rota.backends.postgres import PostgresBackend
from rota.backends.postgres.migrate import upgrade
from rota.backends.postgres.url import MAX_SCHEMA, PgUrl
from rota.config import Settings
from rota.core.errors import ValidationError
from rota.service import Service, TaskSpec
from tests.conftest import drop_pg_schema, require_postgres
from tests.contract.helpers import make_task


def service(url: str, **settings: float) -> Service:
    return Service(PostgresBackend(url), Settings(**settings))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "as_job"),
    [(1, False), (10, False), (200, False), (200, True)],
    ids=["one-insert", "statement", "copy", "job-copy"],
)
async def test_notify_wakes_a_long_poll_in_another_replica(
    pg_url: str, size: int, as_job: bool
) -> None:
    # A 30 s poll interval: only the NOTIFY can wake the claimer in time. Each size takes
    # another insert path (one row, one statement, COPY; a job's COPY inside a transaction).
    consumer, producer = service(pg_url, poll_interval=30), service(pg_url)
    await consumer.open()
    await producer.open()
    try:
        await asyncio.sleep(0.2)  # let the LISTEN connection start
        claim = asyncio.create_task(consumer.claim("w", wait=10))
        await asyncio.sleep(0.2)
        assert not claim.done()
        start = time.monotonic()
        specs = [TaskSpec("noop", priority=50 if i == 0 else 10) for i in range(size)]
        if as_job:
            _, (task, *_) = await producer.submit_job("wake", specs)
        else:
            task, *_ = await producer.enqueue_many(specs)
        claimed = await asyncio.wait_for(claim, 5)
        elapsed = time.monotonic() - start
    finally:
        await consumer.close()
        await producer.close()
    assert [t.id for t in claimed] == [task.id]
    assert elapsed < 0.5


async def _leaders(services: list[Service], within: float) -> list[Service]:
    """The leaders once exactly one is seen (or whatever there is after ``within`` s)."""
    deadline = time.monotonic() + within
    while True:
        leaders = [s for s in services if s.is_leader]
        if len(leaders) == 1 or time.monotonic() > deadline:
            return leaders
        await asyncio.sleep(0.05)


async def test_one_leader_and_a_new_one_when_it_dies(pg_url: str) -> None:
    services = [service(pg_url, sweep_interval=0.1) for _ in range(3)]
    stops = [asyncio.Event() for _ in services]
    for s in services:
        await s.open()
    loops = [
        asyncio.create_task(s.run_maintenance(e)) for s, e in zip(services, stops, strict=True)
    ]
    try:
        (leader,) = await _leaders(services, within=2)
        await asyncio.sleep(0.5)  # and it stays the only one
        assert [s.is_leader for s in services].count(True) == 1

        # Its session dies (as when the database drops the connection): the lock goes
        # with it, and leadership is re-established, by one replica only.
        with psycopg.connect(require_postgres(), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
            ).fetchall()
        assert killed
        await asyncio.sleep(0.3)
        (leader,) = await _leaders(services, within=2)

        # The leader's process stops: another replica takes over within the bound.
        index = services.index(leader)
        stops[index].set()
        await loops[index]
        started = time.monotonic()
        (successor,) = await _leaders(services, within=2)
        assert successor is not leader
        assert time.monotonic() - started < 1.0  # sweep_interval (0.1 s) plus slack
    finally:
        for e in stops:
            e.set()
        await asyncio.gather(*loops)
        for s in services:
            await s.close()


@pytest.mark.parametrize("setting", ["on", "off"])
async def test_durability_is_a_url_option(pg_url: str, setting: str) -> None:
    """Default durable; ``options=-c synchronous_commit=off`` trades a loss window for speed."""
    url = pg_url if setting == "on" else f"{pg_url}&options=-c%20synchronous_commit%3Doff"
    backend = PostgresBackend(url)
    await backend.open()
    try:
        async with backend._pool.connection() as conn:
            row = await (await conn.execute("SHOW synchronous_commit")).fetchone()
    finally:
        await backend.close()
    assert row is not None and row[0] == setting


async def _wakeups(url: str, insert: Callable[[PostgresBackend], Awaitable[object]]) -> int:
    """How many NOTIFYs on the backend's channel one insert sends (a listener of its own)."""
    backend = PostgresBackend(url)
    await backend.open()
    try:
        async with await psycopg.AsyncConnection.connect(
            backend.url.conninfo, autocommit=True
        ) as listener:
            await listener.execute(f"LISTEN {backend.channel}")
            await insert(backend)
            return len([n async for n in listener.notifies(timeout=0.3)])
    finally:
        await backend.close()


async def test_an_empty_insert_wakes_nobody(pg_url: str) -> None:
    async def empty(backend: PostgresBackend) -> object:
        assert await backend.task_insert_many([]) == []
        return None

    async def one(backend: PostgresBackend) -> object:
        return await backend.task_insert_many([make_task("t-1")])

    assert await _wakeups(pg_url, empty) == 0
    assert await _wakeups(pg_url, one) == 1  # the listener does hear inserts


async def test_the_longest_schema_name_still_has_a_wakeup_channel() -> None:
    base = require_postgres()
    sep = "&" if "?" in base else "?"
    longest = "s" * MAX_SCHEMA
    with pytest.raises(ValidationError, match=f"1..{MAX_SCHEMA} lower-case"):
        PgUrl.parse(f"{base}{sep}schema={longest}s")
    url = f"{base}{sep}schema={longest}"
    upgrade(PgUrl.parse(url))
    try:

        async def one(backend: PostgresBackend) -> object:
            return await backend.task_insert_many([make_task("t-1")])

        assert await _wakeups(url, one) == 1
    finally:
        drop_pg_schema(url)
