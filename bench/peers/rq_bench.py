"""RQ on Redis: the peer figures of ``bench.bench_redis``.

How RQ is set up (its documented defaults, nothing tuned beyond them):

- Producer: ``Queue("default", connection=Redis.from_url(...))`` in this process.
- Workers: two ``rq worker --url ... --quiet default`` processes. The default worker class
  ``rq.Worker`` forks a work horse for every job and keeps each result for 500 s in the
  finished-job registry. ``--quiet`` holds its per-job INFO lines back, as the PostgreSQL
  peers' loggers are held at WARNING.

Figures (each phase in database 8, emptied before and after):

- ``enqueue_single``: ``queue.enqueue(noop)`` ``n_single`` times.
- ``enqueue_batched``: RQ's bulk API, ``queue.enqueue_many([Queue.prepare_data(noop), ...])``
  with 1,000 jobs per call (one pipeline per call).
- ``drain``: a ``stamp`` job and then ``n`` no-op jobs are enqueued (in bulk, not timed);
  the clock runs from the stamp job's first line until the finished-job registry holds all
  ``n + 1`` jobs.
- latency: one ``stamp`` job at a time to two idle workers (``redis_common.latency``).
- priority check: RQ has no priorities; its documented way is a queue per priority, named
  on the worker's command line highest first (``rq worker high mid low``), which then
  always takes from the first non-empty queue. One worker: one job at a time.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue

from bench.peers import redis_common as rc

NAME = "rq"
DB = 8
BATCHED = "Queue.enqueue_many, 1,000 per call"
PRIORITY = "no priorities: a queue per level, `rq worker high mid low`"
QUEUE = "default"
FINISHED = f"rq:finished:{QUEUE}"


def noop() -> None:
    return None


def stamp() -> None:
    rc.stamp(DB)


def record(level: int) -> None:
    rc.record(DB, level)


def _worker(*queues: str) -> list[str]:
    return [rc.command("rq"), "worker", "--url", rc.url(DB), "--quiet", *queues]


def _enqueue_batches(queue: Queue, n: int) -> None:
    for size in rc.batches(n):
        queue.enqueue_many([Queue.prepare_data(noop) for _ in range(size)])


def enqueue_figures(n_single: int, n_batched: int) -> rc.Figures:
    with rc.fresh_db(DB) as redis:
        queue = Queue(QUEUE, connection=redis)

        def single() -> None:
            for _ in range(n_single):
                queue.enqueue(noop)

        single_rate = rc.timed_rate(n_single, single)
    with rc.fresh_db(DB) as redis:
        queue = Queue(QUEUE, connection=redis)
        batched_rate = rc.timed_rate(n_batched, lambda: _enqueue_batches(queue, n_batched))
    return single_rate, batched_rate


def drain(n: int) -> float:
    with rc.fresh_db(DB) as redis:
        queue = Queue(QUEUE, connection=redis)
        queue.enqueue(stamp)
        _enqueue_batches(queue, n)
        with rc.workers(_worker(QUEUE), _worker(QUEUE)) as running:
            return rc.drain_rate(running, redis, n, lambda: redis.zcard(FINISHED) >= n + 1)


def latency(samples: int) -> rc.Figures:
    with rc.fresh_db(DB) as redis, rc.workers(_worker(QUEUE), _worker(QUEUE)) as running:
        queue = Queue(QUEUE, connection=Redis.from_url(rc.url(DB)))
        return rc.latency(running, redis, samples, lambda: queue.enqueue(stamp))


def priority_inversions(n: int) -> int:
    names = {level: rc.LEVEL_NAMES[level] for level in (rc.HIGH, rc.MID, rc.LOW)}
    with rc.fresh_db(DB) as redis:
        queues = {level: Queue(name, connection=redis) for level, name in names.items()}
        for level in rc.shuffled_levels(n):
            queues[level].enqueue(record, level)
        with rc.workers(_worker(*names.values())) as running:
            return rc.inversions(rc.wait_order(running, redis, n))


def run(
    *, n_single: int, n_batched: int, n_drain: int, latency_samples: int, n_priority: int
) -> dict[str, float]:
    single, batched = enqueue_figures(n_single, n_batched)
    return rc.results(
        single, batched, drain(n_drain), latency(latency_samples), priority_inversions(n_priority)
    )
