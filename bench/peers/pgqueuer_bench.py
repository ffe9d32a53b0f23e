"""PgQueuer on PostgreSQL: enqueue, drain and idle-latency figures for the peer comparison.

How PgQueuer is set up (its README's own path, nothing tuned beyond it):

- Driver: asyncpg (``pgqueuer[asyncpg]``), the one PgQueuer's README examples use and the one
  its ``pgq`` CLI tries first. Producer and consumer each hold one ``asyncpg`` connection
  wrapped in ``AsyncpgDriver``; the consumer's connection also carries its LISTEN.
- Schema: ``Queries.install()`` into the emptied ``public`` schema of a database of its own
  (``bench_pgqueuer``), re-created per ``run()``; tables at the default ``durable`` level
  (all logged, like rota's), default autovacuum settings.
- Consumer: ``QueueManager.run`` with a no-op ``async`` entrypoint (the scheduler half of
  ``PgQueuer`` is not started: nothing is scheduled). ``max_concurrent_tasks=concurrency``
  caps the jobs in flight and ``batch_size=concurrency // 2``, the largest batch PgQueuer
  accepts under that cap (it requires ``max_concurrent_tasks >= 2 * batch_size``, so the
  cap is at least 2). At concurrency 100, batch 50 drained faster than 25 or 10, and one
  connection faster than an ``AsyncpgPoolDriver`` over 10.

Figures (each phase starts from a freshly installed schema):

- ``enqueue_single``: ``await queries.enqueue("noop", None)`` ``n_single`` times from one
  coroutine; each call is one INSERT, auto-committed (one transaction per job).
- ``enqueue_batched``: PgQueuer's own bulk form, ``queries.enqueue([...], [...], [...])`` with
  lists of 1,000 jobs per call (one statement, INSERT from UNNEST of the arrays, per call),
  priorities 0, 30 and 60 in turn, as in rota's batches (the drain's fill too).
- ``drain``: ``n_drain`` jobs enqueued first (in batches, then ``ANALYZE``, neither timed);
  then the clock runs from starting the consumer until every job has been acknowledged in the
  database (no row left in the queue table: PgQueuer moves finished jobs to its log table).
  The consumer is then shut down through ``QueueManager.shutdown`` (not timed).
  ``drain_handlers`` is the same rate up to the moment the last handler started, for
  comparison with figures counted that way.
- ``latency_p50_ms`` / ``latency_p99_ms``: one consumer idle on LISTEN; one job at a time is
  enqueued from the producer connection; a sample is ``time.perf_counter()`` on the handler's
  first line minus ``time.perf_counter()`` just before the ``enqueue`` call. 20 ms pause between
  samples; one warm-up sample (which also covers consumer start-up) is discarded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg  # type: ignore[import-untyped]
from pgqueuer import AsyncpgDriver, Job, Queries, QueueManager

from bench.peers.common import (
    LATENCY_PAUSE,
    Probe,
    analyze,
    batch_priority,
    batches,
    p50_p99,
    quiet,
    recreate_database,
    reset_public_schema,
    timed_rate,
    wait_for_zero,
)

DATABASE = "bench_pgqueuer"
ENTRYPOINT = "noop"
NOT_DONE = "SELECT count(*) FROM pgqueuer"


async def _fresh_schema(dsn: str) -> None:
    await reset_public_schema(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await Queries(AsyncpgDriver(conn)).install()
    finally:
        await conn.close()


@asynccontextmanager
async def _producer(dsn: str) -> AsyncIterator[Queries]:
    conn = await asyncpg.connect(dsn)
    try:
        yield Queries(AsyncpgDriver(conn))
    finally:
        await conn.close()


async def _enqueue_batches(queries: Queries, n: int) -> None:
    for size in batches(n):
        await queries.enqueue(
            [ENTRYPOINT] * size, [None] * size, [batch_priority(i) for i in range(size)]
        )


@asynccontextmanager
async def _consumer(dsn: str, probe: Probe, concurrency: int) -> AsyncIterator[asyncio.Task[None]]:
    """A running ``QueueManager.run`` task with a no-op entrypoint; shut down cleanly on exit."""
    conn = await asyncpg.connect(dsn)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint(ENTRYPOINT)
    async def noop(job: Job) -> None:
        probe.hit()

    batch_size = max(1, concurrency // 2)
    running = asyncio.create_task(
        qm.run(
            batch_size=batch_size,
            max_concurrent_tasks=max(concurrency, 2 * batch_size),
            dequeue_timeout=timedelta(seconds=30),
        )
    )
    try:
        yield running
    finally:
        qm.shutdown.set()
        try:
            await asyncio.wait_for(running, 30)
        finally:
            await conn.close()


async def enqueue_figures(dsn: str, n_single: int, n_batched: int) -> tuple[float, float]:
    await _fresh_schema(dsn)
    async with _producer(dsn) as queries:

        async def single() -> None:
            for _ in range(n_single):
                await queries.enqueue(ENTRYPOINT, None)

        single_rate = await timed_rate(n_single, single)
    await _fresh_schema(dsn)
    async with _producer(dsn) as queries:
        batched_rate = await timed_rate(n_batched, lambda: _enqueue_batches(queries, n_batched))
    return single_rate, batched_rate


async def drain(dsn: str, n: int, concurrency: int) -> tuple[float, float]:
    await _fresh_schema(dsn)
    async with _producer(dsn) as queries:
        await _enqueue_batches(queries, n)
    await analyze(dsn)
    probe = Probe()
    probe.expect(n)
    start = time.perf_counter()
    async with _consumer(dsn, probe, concurrency) as consumer:
        await probe.wait(consumer)
        handlers = probe.last_start - start
        await wait_for_zero(dsn, NOT_DONE)
        elapsed = time.perf_counter() - start
    return n / elapsed, n / handlers


async def latency(dsn: str, samples: int, concurrency: int) -> tuple[float, float]:
    await _fresh_schema(dsn)
    probe = Probe()
    lat: list[float] = []
    async with _producer(dsn) as queries, _consumer(dsn, probe, concurrency) as consumer:
        for i in range(samples + 1):
            probe.expect(1)
            t0 = time.perf_counter()
            await queries.enqueue(ENTRYPOINT, None)
            await probe.wait(consumer)
            if i:  # the first sample waits for the consumer to start
                lat.append((probe.last_start - t0) * 1000)
            await asyncio.sleep(LATENCY_PAUSE)
    return p50_p99(lat)


async def database(dsn: str) -> str:
    """A fresh, empty ``bench_pgqueuer`` database on ``dsn``'s server; its URI. Each phase
    (``enqueue_figures``, ``drain``, ``latency``) installs the schema in it anew."""
    return await recreate_database(dsn, DATABASE)


async def run(
    dsn: str,
    *,
    n_single: int,
    n_batched: int,
    n_drain: int,
    latency_samples: int,
    concurrency: int,
) -> dict[str, float]:
    """Run every PgQueuer figure against a fresh ``bench_pgqueuer`` database on ``dsn``'s server.

    ``dsn`` names any database the caller may connect to with CREATE DATABASE rights; it is
    used only to drop and create ``bench_pgqueuer``.
    """
    with quiet("pgqueuer"):
        db = await database(dsn)
        single, batched = await enqueue_figures(db, n_single, n_batched)
        drain_rate, drain_handlers = await drain(db, n_drain, concurrency)
        p50, p99 = await latency(db, latency_samples, concurrency)
    return {
        "enqueue_single": single,
        "enqueue_batched": batched,
        "drain": drain_rate,
        "drain_handlers": drain_handlers,
        "latency_p50_ms": p50,
        "latency_p99_ms": p99,
    }
