"""Long-polls wait on wake-ups: however many claims wait, the store is read about once per
poll interval (by the watcher), not once per claim per interval."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rota.backends import backend_from_url
from rota.backends.postgres import PostgresBackend
from rota.backends.redis import RedisBackend
from rota.backends.redis.url import RedisUrl
from rota.backends.sqlite import SQLiteBackend
from rota.config import Settings
from rota.core.errors import DuplicateTask
from rota.core.states import TaskState
from rota.service import Service, TaskSpec
from tests.conftest import drop_pg_schema, drop_redis_store, new_pg_schema, new_redis_store


class Counting(SQLiteBackend):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.claims = 0
        self.reads = 0

    async def task_claim_many(self, request: Any) -> Any:
        self.claims += 1
        return await super().task_claim_many(request)

    async def task_next_run_at(self) -> Any:
        self.reads += 1
        return await super().task_next_run_at()


async def test_200_waiting_claims_cost_a_read_per_interval(tmp_path: Path) -> None:
    backend = Counting(tmp_path / "t.db")
    service = Service(backend, Settings(poll_interval=0.05))
    await service.open()
    try:
        waiting = [asyncio.create_task(service.claim(f"w{i}", wait=1.0)) for i in range(200)]
        await asyncio.sleep(0.5)  # ten poll intervals
        assert service.waiting.count == 200
        assert backend.claims == 200  # each looked once, then slept
        assert backend.reads <= 15, backend.reads  # one watcher, not 200 pollers
        started = time.monotonic()
        await service.enqueue(TaskSpec("work"))
        done = [t for t in await asyncio.gather(*waiting) if t]
        assert len(done) == 1  # one of them got it, the others timed out empty
        assert time.monotonic() - started < 1.0
    finally:
        await service.close()


async def test_an_insert_lets_the_claim_it_woke_look_before_it_returns(tmp_path: Path) -> None:
    """A submit to ``rota serve`` wakes the claims waiting there; they send their claims
    before the submit writes its answer (Waiting.let_woken_claim), not after."""
    backend = Counting(tmp_path / "t.db")
    service = Service(backend, Settings())
    await service.open()
    try:
        waiting = asyncio.create_task(service.claim("w", wait=5.0))
        await asyncio.sleep(0.2)  # it looks once and finds nothing
        assert service.waiting.count == 1
        assert backend.claims == 1  # looked once, found nothing, waits
        await service.enqueue(TaskSpec("work"))
        assert backend.claims == 2  # already looking again when the insert returned
        assert [t.kind for t in await waiting] == ["work"]
        await service.enqueue(TaskSpec("work"))  # no claim waits: nothing to let run
        assert backend.claims == 2
    finally:
        await service.close()


async def test_another_process_commit_wakes_the_waiting_claims(tmp_path: Path) -> None:
    here = Service(SQLiteBackend(tmp_path / "t.db"), Settings(poll_interval=0.05))
    there = Service(SQLiteBackend(tmp_path / "t.db"), Settings(poll_interval=0.05))
    await here.open()
    await there.open()
    try:
        version = await here.backend.store_version()
        await here.enqueue(TaskSpec("mine"))  # its own commits leave its version alone
        assert await here.backend.store_version() == version
        assert [t.kind for t in await here.claim("w", wait=0.0)] == ["mine"]
        waiting = asyncio.create_task(here.claim("w", wait=5.0))
        await asyncio.sleep(0.2)
        await there.enqueue(TaskSpec("theirs"))  # another connection: the watcher sees it
        claimed = await asyncio.wait_for(waiting, 2.0)
        assert [t.kind for t in claimed] == ["theirs"]
        assert await here.backend.store_version() != version
    finally:
        await here.close()
        await there.close()


async def test_past_the_limit_of_waiting_claims_a_claim_answers_at_once(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr("rota.core.limits.MAX_WAITING_CLAIMS", 3)
    service = Service(SQLiteBackend(tmp_path / "t.db"), Settings(poll_interval=0.05))
    await service.open()
    try:
        held = [asyncio.create_task(service.claim(f"w{i}", wait=2.0)) for i in range(3)]
        await asyncio.sleep(0.1)
        assert service.waiting.count == 3
        started = time.monotonic()
        assert await service.claim("w9", wait=2.0) == []
        assert time.monotonic() - started < 1.0  # not held: the process holds its limit
        await service.enqueue(TaskSpec("work"))
        assert sum(len(t) for t in await asyncio.gather(*held)) == 1
    finally:
        await service.close()


class CountingRedis(RedisBackend):
    """Counts the claims sent on their own, beside those sent behind an insert."""

    def __init__(self, url: str) -> None:
        parsed = RedisUrl.parse(url, env={})
        super().__init__(parsed.writer, prefix=parsed.prefix)
        self.store_url = url  # for another process's service on the same store
        self.claims = 0
        self.behind_inserts = 0

    async def task_claim_many(self, request: Any) -> Any:
        self.claims += 1
        return await super().task_claim_many(request)

    async def task_insert_claim(self, *args: Any) -> Any:
        self.behind_inserts += 1
        return await super().task_insert_claim(*args)


class CountingPostgres(PostgresBackend):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.store_url = url
        self.claims = 0

    async def task_claim_many(self, request: Any) -> Any:
        self.claims += 1
        return await super().task_claim_many(request)


@contextlib.asynccontextmanager
async def _service_on(store: str) -> AsyncIterator[tuple[Service, Any]]:
    """A service on a fresh Redis namespace or PostgreSQL schema, its store counting claims."""
    redis = store == "redis"
    url = new_redis_store() if redis else new_pg_schema()
    backend = CountingRedis(url) if redis else CountingPostgres(url)
    service = Service(backend, Settings())
    await service.open()
    try:
        yield service, backend
    finally:
        await service.close()
        (drop_redis_store if redis else drop_pg_schema)(url)


@pytest.fixture
async def redis_service() -> AsyncIterator[tuple[Service, CountingRedis]]:
    async with _service_on("redis") as pair:
        yield pair


async def test_an_insert_serves_a_claim_waiting_in_its_process(
    redis_service: tuple[Service, CountingRedis],
) -> None:
    service, backend = redis_service
    waiting = asyncio.create_task(service.claim("w", queues=["q"], limit=5, wait=5.0))
    await asyncio.sleep(0.1)
    assert (backend.claims, service.waiting.offered) == (1, True)  # looked once, waits

    stored = await service.enqueue_many([TaskSpec("work", queue="q") for _ in range(2)])

    claimed = await asyncio.wait_for(waiting, 1.0)
    assert sorted(t.id for t in claimed) == sorted(t.id for t in stored)
    assert all(t.worker_id == "w" and t.attempt == 1 for t in claimed)
    assert (backend.claims, backend.behind_inserts) == (1, 1)  # no claim of its own
    assert not service.waiting.offered


async def test_an_insert_leaves_a_claim_of_other_queues_waiting(
    redis_service: tuple[Service, CountingRedis],
) -> None:
    service, backend = redis_service
    waiting = asyncio.create_task(service.claim("w", queues=["q"], wait=0.5))
    await asyncio.sleep(0.1)

    other = await service.enqueue(TaskSpec("work", queue="elsewhere"))

    assert await waiting == []
    assert backend.behind_inserts == 0
    task = await service.get(other.id)
    assert task.state is TaskState.QUEUED


async def test_a_refused_insert_still_hands_over_and_raises(
    redis_service: tuple[Service, CountingRedis],
) -> None:
    service, backend = redis_service
    await service.enqueue(TaskSpec("work", id="taken"))
    assert [t.id for t in await service.claim("first")] == ["taken"]
    waiting = asyncio.create_task(service.claim("w", wait=0.5))
    await asyncio.sleep(0.1)

    with pytest.raises(DuplicateTask):
        await service.enqueue(TaskSpec("work", id="taken"))

    assert backend.behind_inserts == 1
    assert await waiting == []  # the claim behind found nothing; the claim waited on
    assert not service.waiting.offered


@pytest.fixture(params=["redis", "postgres"])
async def pushed_service(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[Service, CountingRedis | CountingPostgres]]:
    """A service on a store that pushes wake-ups and serves claims behind inserts."""
    async with _service_on(request.param) as pair:
        yield pair


async def test_a_handed_over_insert_leaves_the_other_waiting_claims_asleep(
    pushed_service: tuple[Service, CountingRedis | CountingPostgres],
) -> None:
    """No wake-up in the process (``_all_leased``) nor from the store (wake_unclaimed on
    PostgreSQL and Redis) for a task the claim behind the insert took."""
    service, backend = pushed_service
    first = asyncio.create_task(service.claim("w1", wait=5.0))
    await asyncio.sleep(0.2)  # w1 waits longest: the insert serves it
    second = asyncio.create_task(service.claim("w2", wait=5.0))
    await asyncio.sleep(0.3)  # both looked, and the store's first wake-up is past
    assert service.waiting.count == 2
    claims = backend.claims

    one = await service.enqueue(TaskSpec("work"))
    assert [t.id for t in await asyncio.wait_for(first, 1.0)] == [one.id]
    await asyncio.sleep(0.3)  # a wake-up, of this process's or the store's, would be here
    assert (backend.claims, service.waiting.count) == (claims, 1)  # w2 sent no claim

    two = await service.enqueue(TaskSpec("work"))
    assert [t.id for t in await asyncio.wait_for(second, 1.0)] == [two.id]


async def test_another_process_insert_into_other_queues_leaves_a_claim_asleep(
    pushed_service: tuple[Service, CountingRedis | CountingPostgres],
) -> None:
    """The store's wake-up names the queues that got tasks (rota.core.wakeups): a claim
    of other queues sends no claim to find nothing, and one of its queues wakes it."""
    service, backend = pushed_service
    there = Service(backend_from_url(backend.store_url), Settings())
    await there.open()
    try:
        waiting = asyncio.create_task(service.claim("w", queues=["quiet"], wait=5.0))
        await asyncio.sleep(0.3)  # it looked, and the store's first wake-up is past
        claims = backend.claims

        for _ in range(3):
            await there.enqueue(TaskSpec("work", queue="busy"))
        await asyncio.sleep(0.3)  # wake-ups for it would have come by now
        assert backend.claims == claims
        assert not waiting.done()

        mine = await there.enqueue(TaskSpec("work", queue="quiet"))
        assert [t.id for t in await asyncio.wait_for(waiting, 2.0)] == [mine.id]
        assert backend.claims == claims + 1
    finally:
        await there.close()


async def test_resuming_a_queue_wakes_its_waiting_claim_at_once(tmp_path: Path) -> None:
    service = Service(SQLiteBackend(tmp_path / "t.db"), Settings())
    await service.open()
    try:
        now = service.clock.now()
        await service.controls.pause("held", reason="maintenance", by="op", now=now)
        task = await service.enqueue(TaskSpec("work", queue="held"))
        waiting = asyncio.create_task(service.claim("w", queues=["held"], wait=5.0))
        await asyncio.sleep(0.2)
        assert not waiting.done()

        await service.controls.unpause("held")
        # woken now, not at its next look (a second away while its queues are paused)
        assert [t.id for t in await asyncio.wait_for(waiting, 0.5)] == [task.id]
    finally:
        await service.close()


async def test_a_claim_of_paused_queues_sees_a_resume_made_elsewhere(
    pushed_service: tuple[Service, CountingRedis | CountingPostgres],
) -> None:
    """Nothing pushes a resume made through another replica: a claim whose queues are all
    paused looks again once per REFRESH_SECONDS instead of sleeping until its recheck."""
    service, backend = pushed_service
    there = Service(backend_from_url(backend.store_url), Settings())
    await there.open()
    try:
        await there.controls.pause("held", reason="maintenance", by="op", now=there.clock.now())
        task = await there.enqueue(TaskSpec("work", queue="held"))
        waiting = asyncio.create_task(service.claim("w", queues=["held"], wait=10.0))
        await asyncio.sleep(0.3)
        assert not waiting.done()

        started = time.monotonic()
        await there.controls.unpause("held")
        assert [t.id for t in await asyncio.wait_for(waiting, 4.0)] == [task.id]
        assert time.monotonic() - started < 3.0  # the cache's second, then the next look
    finally:
        await there.close()


async def test_a_waiting_claim_of_a_rate_limited_queue_looks_again_for_its_tokens(
    tmp_path: Path,
) -> None:
    """Nothing announces a rate limit's new tokens: a claim held back by one looks again
    when its next token is due (at most every RATE_LOOK), not at its next wake-up."""
    service = Service(SQLiteBackend(tmp_path / "t.db"), Settings())
    await service.open()
    try:
        await service.queues.update("rated", {"rate_limit": 10}, actor="test")
        await service.enqueue_many([TaskSpec("work", queue="rated") for _ in range(30)])
        first = await service.claim("w", queues=["rated"], limit=100)
        assert len(first) == 10  # the bucket's burst

        started = time.monotonic()
        more = await service.claim("w", queues=["rated"], limit=100, wait=5.0)
        assert 1 <= len(more) <= 4  # a quarter second's tokens, not the backlog
        assert time.monotonic() - started < 1.0
    finally:
        await service.close()
