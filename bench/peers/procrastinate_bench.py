"""Procrastinate on PostgreSQL: enqueue, drain and idle-latency figures for the peer comparison.

How Procrastinate is set up (its documented defaults, nothing tuned beyond them):

- Connector: ``PsycopgConnector`` (psycopg 3 with ``psycopg_pool.AsyncConnectionPool``), the
  async connector Procrastinate documents first; the pool is opened by ``App.open_async``.
  Pool size: ``min_size = max_size = POOL_SIZE`` (see below); the worker's LISTEN connection is a
  separate one Procrastinate opens itself.
- Schema: ``app.schema_manager.apply_schema_async()`` (what ``procrastinate schema --apply``
  runs) into the emptied ``public`` schema of a database of its own (``bench_procrastinate``),
  re-created per ``run()``.
- Worker: ``app.run_worker_async(concurrency=..., install_signal_handlers=False)`` in-process,
  with its defaults otherwise: LISTEN/NOTIFY on, 5 s polling fallback, finished jobs kept in the
  table (``delete_jobs="never"``). The task is a no-op ``async def``. Procrastinate claims one
  job per query, one claim at a time per worker (``concurrency`` overlaps the jobs, not the
  claims), so its drain rate is bound by that round trip. The worker is stopped by cancelling
  the ``run_worker_async`` task, which Procrastinate turns into a graceful stop.

Figures (each phase starts from a freshly applied schema):

- ``enqueue_single``: ``await noop.defer_async()`` ``n_single`` times from one coroutine; each
  call is one ``procrastinate_defer_jobs_v1`` call on a pooled connection, one transaction.
- ``enqueue_batched``: Procrastinate's own bulk API, ``await noop.batch_defer_async(*kwargs)``
  with 1,000 jobs per call (one statement, one transaction per call).
- ``drain``: ``n_drain`` jobs deferred first (in batches, then ``ANALYZE``, neither timed:
  without statistics on the just-filled table every claim sorted the whole queue, 5 ms
  instead of 1 ms); then the clock runs from starting the worker until every job has been
  acknowledged in the database (no job left in status ``todo`` or ``doing``). The worker is
  then stopped (not timed). ``drain_handlers`` is the same rate up to the moment the last
  handler started.
- ``latency_p50_ms`` / ``latency_p99_ms``: one worker idle on LISTEN; one job at a time is
  deferred through the app's pool; a sample is ``time.perf_counter()`` on the handler's first
  line minus ``time.perf_counter()`` just before ``defer_async``. 20 ms pause between samples;
  one warm-up sample (which also covers worker start-up) is discarded.

Per-job INFO log lines ("Starting job", "ended with status") are held back by setting the
``procrastinate`` loggers to WARNING for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from procrastinate import App, PsycopgConnector

from bench.peers.common import (
    LATENCY_PAUSE,
    Probe,
    analyze,
    batches,
    p50_p99,
    quiet,
    recreate_database,
    reset_public_schema,
    timed_rate,
    wait_for_zero,
)

DATABASE = "bench_procrastinate"
TASK = "noop"
NOT_DONE = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
#: Pooled connections. Every claim and every finish borrows one for a single short statement;
#: at concurrency 100, pools of 4 and 10 drained alike here, 20 and 50 were slower.
POOL_SIZE = 10


@contextlib.asynccontextmanager
async def _app(dsn: str, probe: Probe, *, fresh: bool = False) -> AsyncIterator[App]:
    """An open App with the no-op task registered; with ``fresh`` its schema applied anew."""
    if fresh:
        await reset_public_schema(dsn)
    app = App(connector=PsycopgConnector(conninfo=dsn, min_size=POOL_SIZE, max_size=POOL_SIZE))

    @app.task(name=TASK)
    async def noop() -> None:
        probe.hit()

    async with app.open_async():
        if fresh:
            await app.schema_manager.apply_schema_async()
        yield app


def _task(app: App) -> Any:
    return app.tasks[TASK]


async def _defer_batches(app: App, n: int) -> None:
    task = _task(app)
    for size in batches(n):
        await task.batch_defer_async(*({} for _ in range(size)))


@contextlib.asynccontextmanager
async def _worker(app: App, concurrency: int) -> AsyncIterator[asyncio.Task[None]]:
    """A running ``run_worker_async`` task; stopped gracefully (by cancelling it) on exit."""
    running = asyncio.create_task(
        app.run_worker_async(concurrency=concurrency, install_signal_handlers=False)
    )
    try:
        yield running
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(running, 30)


async def _enqueue_figures(dsn: str, n_single: int, n_batched: int) -> tuple[float, float]:
    async with _app(dsn, Probe(), fresh=True) as app:
        task = _task(app)

        async def single() -> None:
            for _ in range(n_single):
                await task.defer_async()

        single_rate = await timed_rate(n_single, single)
    async with _app(dsn, Probe(), fresh=True) as app:
        batched_rate = await timed_rate(n_batched, lambda: _defer_batches(app, n_batched))
    return single_rate, batched_rate


async def _drain(dsn: str, n: int, concurrency: int) -> tuple[float, float]:
    probe = Probe()
    async with _app(dsn, probe, fresh=True) as app:
        await _defer_batches(app, n)
        await analyze(dsn)
        probe.expect(n)
        start = time.perf_counter()
        async with _worker(app, concurrency) as worker:
            await probe.wait(worker)
            handlers = probe.last_start - start
            await wait_for_zero(dsn, NOT_DONE)
            elapsed = time.perf_counter() - start
    return n / elapsed, n / handlers


async def _latency(dsn: str, samples: int, concurrency: int) -> tuple[float, float]:
    probe = Probe()
    lat: list[float] = []
    async with _app(dsn, probe, fresh=True) as app, _worker(app, concurrency) as worker:
        task = _task(app)
        for i in range(samples + 1):
            probe.expect(1)
            t0 = time.perf_counter()
            await task.defer_async()
            await probe.wait(worker)
            if i:  # the first sample waits for the worker to start
                lat.append((probe.last_start - t0) * 1000)
            await asyncio.sleep(LATENCY_PAUSE)
    return p50_p99(lat)


async def run(
    dsn: str,
    *,
    n_single: int,
    n_batched: int,
    n_drain: int,
    latency_samples: int,
    concurrency: int,
) -> dict[str, float]:
    """Run every Procrastinate figure against a fresh ``bench_procrastinate`` database.

    ``dsn`` names any database the caller may connect to with CREATE DATABASE rights; it is
    used only to drop and create ``bench_procrastinate`` on the same server.
    """
    with quiet("procrastinate"):
        db = await recreate_database(dsn, DATABASE)
        single, batched = await _enqueue_figures(db, n_single, n_batched)
        drain, drain_handlers = await _drain(db, n_drain, concurrency)
        p50, p99 = await _latency(db, latency_samples, concurrency)
    return {
        "enqueue_single": single,
        "enqueue_batched": batched,
        "drain": drain,
        "drain_handlers": drain_handlers,
        "latency_p50_ms": p50,
        "latency_p99_ms": p99,
    }
