"""SAQ on Redis: the peer figures of ``bench.bench_redis``.

How SAQ is set up (its documented defaults, nothing tuned beyond them):

- Producer: ``Queue.from_url("redis://.../13")`` (queue ``default``) and
  ``await queue.enqueue(...)``, on one event loop kept for the phase (``asyncio.Runner``).
- Workers: ``saq bench.peers.saq_bench.settings --workers 2``: two worker processes with
  SAQ's default concurrency of 10 jobs each; finished jobs kept 600 s.

Figures (each phase in database 13, emptied before and after):

- ``enqueue_single``: ``await queue.enqueue("noop")`` ``n_single`` times.
- ``enqueue_batched``: SAQ has no bulk enqueue; its own ``Queue.map`` enqueues many jobs as
  ``asyncio.gather`` of ``enqueue`` calls (at most 20 in flight, the queue's
  ``max_concurrent_ops``) before it waits for their results: that gather, 1,000 per call.
- ``drain``: a ``stamp`` job and then ``n`` no-op jobs are enqueued (not timed); the clock
  runs from the stamp job's first line until the queue's ``incomplete`` set, which holds a
  job from its enqueue until it has finished, is empty.
- latency: one ``stamp`` job at a time to idle workers (``redis_common.latency``).
- priority check: SAQ's ``priority`` exists for its PostgreSQL queue only: none on Redis;
  one worker process with ``concurrency`` 1 (``single_slot``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from saq import Queue

from bench.peers import redis_common as rc

NAME = "saq"
DB = 13
BATCHED = "no bulk API: gather of 1,000 enqueue (as Queue.map does)"
PRIORITY = "no priorities (priority is PostgreSQL-only)"
INCOMPLETE = "saq:default:incomplete"


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def stamp(ctx: dict[str, Any]) -> None:
    rc.stamp(DB)


async def record(ctx: dict[str, Any], *, level: int) -> None:
    rc.record(DB, level)


settings = {"queue": Queue.from_url(rc.url(DB)), "functions": [noop, stamp, record]}
single_slot = {**settings, "concurrency": 1}


def _worker(which: str = "settings", processes: int = 2) -> list[str]:
    return [rc.command("saq"), f"{__name__}.{which}", "--workers", str(processes)]


async def _enqueue_batches(queue: Queue, n: int) -> None:
    for size in rc.batches(n):
        await asyncio.gather(*(queue.enqueue("noop") for _ in range(size)))


async def _enqueue_single(queue: Queue, n: int) -> None:
    for _ in range(n):
        await queue.enqueue("noop")


def _timed(n: int, body: Callable[[Queue, int], Coroutine[Any, Any, None]]) -> float:
    with rc.fresh_db(DB), asyncio.Runner() as runner:
        queue = Queue.from_url(rc.url(DB))
        rate = rc.timed_rate(n, lambda: runner.run(body(queue, n)))
        runner.run(queue.disconnect())
    return rate


def enqueue_figures(n_single: int, n_batched: int) -> rc.Figures:
    return _timed(n_single, _enqueue_single), _timed(n_batched, _enqueue_batches)


def drain(n: int) -> float:
    with rc.fresh_db(DB) as redis, asyncio.Runner() as runner:
        queue = Queue.from_url(rc.url(DB))
        runner.run(queue.enqueue("stamp"))
        runner.run(_enqueue_batches(queue, n))
        runner.run(queue.disconnect())
        with rc.workers(_worker()) as running:
            return rc.drain_rate(running, redis, n, lambda: redis.zcard(INCOMPLETE) == 0)


def latency(samples: int) -> rc.Figures:
    with rc.fresh_db(DB) as redis, asyncio.Runner() as runner:
        queue = Queue.from_url(rc.url(DB))
        try:
            with rc.workers(_worker()) as running:
                enqueue = lambda: runner.run(queue.enqueue("stamp"))  # noqa: E731
                return rc.latency(running, redis, samples, enqueue)
        finally:
            runner.run(queue.disconnect())


def priority_inversions(n: int) -> int:
    with rc.fresh_db(DB) as redis, asyncio.Runner() as runner:
        queue = Queue.from_url(rc.url(DB))
        for level in rc.shuffled_levels(n):
            runner.run(queue.enqueue("record", level=level))
        runner.run(queue.disconnect())
        with rc.workers(_worker("single_slot", 1)) as running:
            return rc.inversions(rc.wait_order(running, redis, n))


def run(
    *, n_single: int, n_batched: int, n_drain: int, latency_samples: int, n_priority: int
) -> dict[str, float]:
    single, batched = enqueue_figures(n_single, n_batched)
    return rc.results(
        single, batched, drain(n_drain), latency(latency_samples), priority_inversions(n_priority)
    )
