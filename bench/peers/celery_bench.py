"""Celery with its Redis broker: the peer figures of ``bench.bench_redis``.

How Celery is set up (its documented defaults, nothing tuned beyond them):

- App: ``Celery("bench", broker="redis://.../9")``, no result backend (the default), so
  nothing is written when a task ends. Producer: the app's ``apply_async`` in this process.
- Workers: ``celery -A bench.peers.celery_bench worker --concurrency 2 --loglevel WARNING``:
  the default prefork pool with two child processes (the default on 2 cores, given
  explicitly), prefetch multiplier 4, early acknowledgement: Celery acknowledges a task when
  a pool process accepts it, just before it runs (``task_acks_late`` is off by default).

Figures (each phase in database 9, emptied before and after):

- ``enqueue_single``: ``noop.delay()`` ``n_single`` times.
- ``enqueue_batched``: ``group(noop.s() for ...).apply_async()`` with 1,000 tasks per call:
  Celery has no bulk publish on Redis (``chunks`` would make one message of many calls, a
  different workload); a group sends its messages one by one over one producer.
- ``drain``: a ``stamp`` task and then ``n`` no-op tasks are sent (not timed); the clock runs
  from the stamp task's first line until the queue list and the transport's ``unacked`` hash
  are both empty: every task acknowledged, i.e. accepted by a pool process.
- latency: one ``stamp`` task at a time to an idle worker (``redis_common.latency``).
- priority check: ``apply_async(priority=...)`` with the Redis transport's default priority
  steps (0, 3, 6, 9; on Redis 0 is the highest): 0 high, 3 mid, 6 low; a worker with
  ``--concurrency 1``, prefetch as by default.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, group

from bench.peers import redis_common as rc

NAME = "celery"
DB = 9
BATCHED = "group(...).apply_async(), 1,000 per call (sent one by one)"
PRIORITY = "apply_async(priority=0/3/6), the transport's default steps"
QUEUE = "celery"
STEPS = {rc.HIGH: 0, rc.MID: 3, rc.LOW: 6}

app = Celery("bench", broker=rc.url(DB))


@app.task(name="noop")
def noop() -> None:
    return None


@app.task(name="stamp")
def stamp() -> None:
    rc.stamp(DB)


@app.task(name="record")
def record(level: int) -> None:
    rc.record(DB, level)


def _worker(concurrency: int) -> list[str]:
    return [
        rc.command("celery"),
        "-A",
        __name__,
        "worker",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "WARNING",
    ]


def _send_batches(n: int) -> None:
    for size in rc.batches(n):
        group(noop.s() for _ in range(size)).apply_async()


def _all_acked(redis: Any) -> bool:
    with redis.pipeline(transaction=False) as pipe:
        pipe.llen(QUEUE).hlen("unacked")
        queued, unacked = pipe.execute()
    return bool(queued == 0 and unacked == 0)


def enqueue_figures(n_single: int, n_batched: int) -> rc.Figures:
    with rc.fresh_db(DB):

        def single() -> None:
            for _ in range(n_single):
                noop.delay()

        single_rate = rc.timed_rate(n_single, single)
    with rc.fresh_db(DB):
        batched_rate = rc.timed_rate(n_batched, lambda: _send_batches(n_batched))
    return single_rate, batched_rate


def drain(n: int) -> float:
    with rc.fresh_db(DB) as redis:
        stamp.delay()
        _send_batches(n)
        with rc.workers(_worker(2)) as running:
            return rc.drain_rate(running, redis, n, lambda: _all_acked(redis))


def latency(samples: int) -> rc.Figures:
    with rc.fresh_db(DB) as redis, rc.workers(_worker(2)) as running:
        return rc.latency(running, redis, samples, stamp.delay)


def priority_inversions(n: int) -> int:
    with rc.fresh_db(DB) as redis:
        for level in rc.shuffled_levels(n):
            record.apply_async((level,), priority=STEPS[level])
        with rc.workers(_worker(1)) as running:
            return rc.inversions(rc.wait_order(running, redis, n))


def run(
    *, n_single: int, n_batched: int, n_drain: int, latency_samples: int, n_priority: int
) -> dict[str, float]:
    single, batched = enqueue_figures(n_single, n_batched)
    return rc.results(
        single, batched, drain(n_drain), latency(latency_samples), priority_inversions(n_priority)
    )
