"""Huey on Redis (``RedisHuey``): the peer figures of ``bench.bench_redis``.

How Huey is set up (its documented defaults, nothing tuned beyond them):

- ``RedisHuey("bench", url="redis://.../12")``: a Redis list as the queue, popped with a
  blocking BRPOP; results kept in a hash. Producer: calling the task in this process.
- Workers: ``huey_consumer bench.peers.huey_bench.huey --workers 2 --worker-type process
  --quiet``: one consumer with two worker processes (its default is one thread; two
  processes is its own way to run two). ``--quiet`` holds its per-task INFO lines back,
  as the PostgreSQL peers' loggers are held at WARNING.

Figures (each phase in database 12, emptied before and after):

- ``enqueue_single``: ``noop()`` ``n_single`` times.
- ``enqueue_batched``: ``noop.map([()] * 1000)`` per call: Huey has no bulk enqueue, and
  ``map`` enqueues its tasks one by one.
- ``drain``: a ``stamp`` task and then ``n`` no-op tasks are enqueued (not timed); the clock
  runs from the stamp task's first line until Huey's result hash holds all ``n`` results.
  Huey pops a task off its list when a worker takes it and keeps no trace of a task that
  returns ``None``, so the no-op returns ``True``: its stored result marks its end.
- latency: one ``stamp`` task at a time to idle workers (``redis_common.latency``).
- priority check: ``RedisHuey`` refuses priorities; Huey's priority queue on Redis is
  ``PriorityRedisHuey`` (a sorted set), used for this check only: tasks called with
  ``priority=`` 30 (high), 20 (mid), 10 (low), higher first; one consumer with one
  worker (``--workers 1``, a thread, its default).
"""

from __future__ import annotations

from huey import PriorityRedisHuey, RedisHuey

from bench.peers import redis_common as rc

NAME = "huey"
DB = 12
BATCHED = "no bulk API: task.map (enqueues one by one)"
PRIORITY = "PriorityRedisHuey, priority=30/20/10"
RESULTS = "huey.results.bench"
PRIORITIES = {rc.HIGH: 30, rc.MID: 20, rc.LOW: 10}

huey = RedisHuey("bench", url=rc.url(DB))
prioritised = PriorityRedisHuey("bench-priority", url=rc.url(DB))


@huey.task()
def noop() -> bool:
    return True


@huey.task()
def stamp() -> None:
    rc.stamp(DB)


@prioritised.task()
def record(level: int) -> None:
    rc.record(DB, level)


def _consumer(instance: str, *options: str) -> list[str]:
    return [rc.command("huey_consumer"), f"{__name__}.{instance}", "--quiet", *options]


def _workers() -> list[str]:
    return _consumer("huey", "--workers", "2", "--worker-type", "process")


def _enqueue_batches(n: int) -> None:
    for size in rc.batches(n):
        noop.map([()] * size)


def enqueue_figures(n_single: int, n_batched: int) -> rc.Figures:
    with rc.fresh_db(DB):

        def single() -> None:
            for _ in range(n_single):
                noop()

        single_rate = rc.timed_rate(n_single, single)
    with rc.fresh_db(DB):
        batched_rate = rc.timed_rate(n_batched, lambda: _enqueue_batches(n_batched))
    return single_rate, batched_rate


def drain(n: int) -> float:
    with rc.fresh_db(DB) as redis:
        stamp()
        _enqueue_batches(n)
        with rc.workers(_workers()) as running:
            return rc.drain_rate(running, redis, n, lambda: redis.hlen(RESULTS) >= n)


def latency(samples: int) -> rc.Figures:
    with rc.fresh_db(DB) as redis, rc.workers(_workers()) as running:
        return rc.latency(running, redis, samples, stamp)


def priority_inversions(n: int) -> int:
    with rc.fresh_db(DB) as redis:
        for level in rc.shuffled_levels(n):
            record(level, priority=PRIORITIES[level])
        with rc.workers(_consumer("prioritised", "--workers", "1")) as running:
            return rc.inversions(rc.wait_order(running, redis, n))


def run(
    *, n_single: int, n_batched: int, n_drain: int, latency_samples: int, n_priority: int
) -> dict[str, float]:
    single, batched = enqueue_figures(n_single, n_batched)
    return rc.results(
        single, batched, drain(n_drain), latency(latency_samples), priority_inversions(n_priority)
    )
