"""Dramatiq with its Redis broker: the peer figures of ``bench.bench_redis``.

How Dramatiq is set up (its documented defaults, nothing tuned beyond them):

- Broker: ``RedisBroker(url="redis://.../10")`` with the default middleware, set as the
  global broker; the producer sends through it in this process.
- Workers: ``dramatiq bench.peers.dramatiq_bench --processes 2``: two worker processes of
  8 threads each (the default thread count), each prefetching twice its threads. Dramatiq
  acknowledges a message after its actor returns.

Figures (each phase in database 10, emptied before and after):

- ``enqueue_single``: ``noop.send()`` ``n_single`` times.
- ``enqueue_batched``: ``group(noop.message() for ...).run()`` with 1,000 messages per call;
  the Redis broker has no bulk enqueue, so a group enqueues its messages one by one.
- ``drain``: a ``stamp`` message and then ``n`` no-op messages are sent (not timed); the
  clock runs from the stamp actor's first line until the queue's message hash
  (``dramatiq:default.msgs``, which holds every message until it is acknowledged) is empty.
- latency: one ``stamp`` message at a time to idle workers (``redis_common.latency``).
  An idle Dramatiq consumer polls its queue with an exponential backoff from 5 ms up to
  its 1 s worker timeout; with samples 20 ms apart it stays near the short end, so this
  is its best case: after a longer idle spell a message can wait up to about a second.
- priority check: Dramatiq's ``priority`` is an actor option (lower runs first), applied
  among the messages a worker has already prefetched; three actors, priorities 0 (high),
  10 (mid), 20 (low), and one worker process with one thread (``--processes 1 --threads
  1``, so it prefetches two messages).
"""

from __future__ import annotations

import dramatiq
from dramatiq import group
from dramatiq.brokers.redis import RedisBroker

from bench.peers import redis_common as rc

NAME = "dramatiq"
DB = 10
BATCHED = "group(...).run(), 1,000 per call (enqueued one by one)"
PRIORITY = "actor priority 0/10/20 (among prefetched messages)"
MESSAGES = "dramatiq:default.msgs"

broker = RedisBroker(url=rc.url(DB))
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="noop")
def noop() -> None:
    return None


@dramatiq.actor(actor_name="stamp")
def stamp() -> None:
    rc.stamp(DB)


@dramatiq.actor(actor_name="record_high", priority=0)
def record_high(level: int) -> None:
    rc.record(DB, level)


@dramatiq.actor(actor_name="record_mid", priority=10)
def record_mid(level: int) -> None:
    rc.record(DB, level)


@dramatiq.actor(actor_name="record_low", priority=20)
def record_low(level: int) -> None:
    rc.record(DB, level)


RECORD = {rc.HIGH: record_high, rc.MID: record_mid, rc.LOW: record_low}


def _worker(processes: int, *threads: str) -> list[str]:
    return [rc.command("dramatiq"), __name__, "--processes", str(processes), *threads]


def _send_batches(n: int) -> None:
    for size in rc.batches(n):
        group(noop.message() for _ in range(size)).run()


def enqueue_figures(n_single: int, n_batched: int) -> rc.Figures:
    with rc.fresh_db(DB):

        def single() -> None:
            for _ in range(n_single):
                noop.send()

        single_rate = rc.timed_rate(n_single, single)
    with rc.fresh_db(DB):
        batched_rate = rc.timed_rate(n_batched, lambda: _send_batches(n_batched))
    return single_rate, batched_rate


def drain(n: int) -> float:
    with rc.fresh_db(DB) as redis:
        stamp.send()
        _send_batches(n)
        with rc.workers(_worker(2)) as running:
            return rc.drain_rate(running, redis, n, lambda: redis.hlen(MESSAGES) == 0)


def latency(samples: int) -> rc.Figures:
    with rc.fresh_db(DB) as redis, rc.workers(_worker(2)) as running:
        return rc.latency(running, redis, samples, stamp.send)


def priority_inversions(n: int) -> int:
    with rc.fresh_db(DB) as redis:
        for level in rc.shuffled_levels(n):
            RECORD[level].send(level)
        with rc.workers(_worker(1, "--threads", "1")) as running:
            return rc.inversions(rc.wait_order(running, redis, n))


def run(
    *, n_single: int, n_batched: int, n_drain: int, latency_samples: int, n_priority: int
) -> dict[str, float]:
    single, batched = enqueue_figures(n_single, n_batched)
    return rc.results(
        single, batched, drain(n_drain), latency(latency_samples), priority_inversions(n_priority)
    )
