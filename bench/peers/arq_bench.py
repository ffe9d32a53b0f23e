"""arq on Redis: the peer figures of ``bench.bench_redis``.

How arq is set up (its documented defaults, nothing tuned beyond them):

- Producer: ``await create_pool(RedisSettings.from_dsn("redis://.../11"))`` and
  ``pool.enqueue_job(...)``, on one event loop kept for the phase (``asyncio.Runner``).
- Workers: two ``arq bench.peers.arq_bench.WorkerSettings`` processes: ``max_jobs`` 10,
  ``poll_delay`` 0.5 s (arq polls its queue, a sorted set, rather than blocking on it),
  results kept an hour. ``--custom-log-dict`` holds its per-job INFO lines back, as the
  PostgreSQL peers' loggers are held at WARNING.

Figures (each phase in database 11, emptied before and after):

- ``enqueue_single``: ``await pool.enqueue_job("noop")`` ``n_single`` times.
- ``enqueue_batched``: arq has no bulk enqueue: the same call in a loop, 1,000 per "batch".
- ``drain``: a ``stamp`` job and then ``n`` no-op jobs are enqueued (not timed); the clock
  runs from the stamp job's first line until the queue (``arq:queue``, which keeps a job
  until it has finished) is empty.
- latency: one ``stamp`` job at a time to idle workers (``redis_common.latency``), the
  pauses between samples spread over arq's 0.5 s polling period (without that, every
  sample would come just after a poll and read ~480 ms).
- priority check: arq has no priorities (its queue is ordered by enqueue time in ms, ties
  by job id); one worker with ``max_jobs = 1`` (``SingleSlot``). At ``max_jobs = 1`` arq
  starts one job per poll, so this worker polls every 10 ms instead of 0.5 s: the order
  it takes jobs in is the same, only faster (1,000 jobs in seconds, not eight minutes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from arq import ArqRedis, create_pool
from arq.connections import RedisSettings

from bench.peers import redis_common as rc

NAME = "arq"
DB = 11
BATCHED = "no bulk API: enqueue_job in a loop"
PRIORITY = "no priorities"
QUEUE = "arq:queue"
POLL_DELAY = 0.5  # arq's default
LOG_CONFIG = {"version": 1, "disable_existing_loggers": False, "loggers": {"arq": {"level": 30}}}


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def stamp(ctx: dict[str, Any]) -> None:
    now = time.monotonic()
    await ctx["redis"].rpush(rc.STAMPS, repr(now))


async def record(ctx: dict[str, Any], level: int) -> None:
    await ctx["redis"].rpush(rc.ORDER, level)


class WorkerSettings:
    functions = (noop, stamp, record)
    redis_settings = RedisSettings.from_dsn(rc.url(DB))


class SingleSlot:  # arq reads a settings class's own attributes only, none inherited
    functions = WorkerSettings.functions
    redis_settings = WorkerSettings.redis_settings
    max_jobs = 1
    poll_delay = 0.01  # one job per poll at max_jobs 1: 2 jobs/s at the default 0.5 s


def _worker(settings: str = "WorkerSettings") -> list[str]:
    log = f"{__name__}.LOG_CONFIG"
    return [rc.command("arq"), f"{__name__}.{settings}", "--custom-log-dict", log]


async def _pool() -> ArqRedis:
    return await create_pool(RedisSettings.from_dsn(rc.url(DB)))


async def _enqueue(pool: ArqRedis, n: int, function: str = "noop") -> None:
    for _ in range(n):
        await pool.enqueue_job(function)


def _timed(n: int, body: Callable[[ArqRedis, int], Coroutine[Any, Any, None]]) -> float:
    with rc.fresh_db(DB), asyncio.Runner() as runner:
        pool = runner.run(_pool())
        rate = rc.timed_rate(n, lambda: runner.run(body(pool, n)))
        runner.run(pool.aclose())
    return rate


def enqueue_figures(n_single: int, n_batched: int) -> rc.Figures:
    return _timed(n_single, _enqueue), _timed(n_batched, _enqueue)


def drain(n: int) -> float:
    with rc.fresh_db(DB) as redis, asyncio.Runner() as runner:
        pool = runner.run(_pool())
        runner.run(_enqueue(pool, 1, "stamp"))
        time.sleep(0.002)  # the queue is scored by enqueue time in ms: the stamp sorts first
        runner.run(_enqueue(pool, n))
        runner.run(pool.aclose())
        with rc.workers(_worker(), _worker()) as running:
            return rc.drain_rate(running, redis, n, lambda: redis.zcard(QUEUE) == 0)


def latency(samples: int) -> rc.Figures:
    with rc.fresh_db(DB) as redis, asyncio.Runner() as runner:
        pool = runner.run(_pool())
        try:
            with rc.workers(_worker(), _worker()) as running:
                enqueue = lambda: runner.run(pool.enqueue_job("stamp"))  # noqa: E731
                return rc.latency(running, redis, samples, enqueue, POLL_DELAY)
        finally:
            runner.run(pool.aclose())


def priority_inversions(n: int) -> int:
    with rc.fresh_db(DB) as redis, asyncio.Runner() as runner:
        pool = runner.run(_pool())
        for level in rc.shuffled_levels(n):
            runner.run(pool.enqueue_job("record", level))
        runner.run(pool.aclose())
        with rc.workers(_worker("SingleSlot")) as running:
            return rc.inversions(rc.wait_order(running, redis, n))


def run(
    *, n_single: int, n_batched: int, n_drain: int, latency_samples: int, n_priority: int
) -> dict[str, float]:
    single, batched = enqueue_figures(n_single, n_batched)
    return rc.results(
        single, batched, drain(n_drain), latency(latency_samples), priority_inversions(n_priority)
    )
