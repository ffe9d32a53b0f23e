"""The peers on Redis: Huey, Dramatiq, RQ, Celery, arq and SAQ (see ``peers`` for the rules).

When a drain counts a task done, the cheapest acknowledgement each one keeps:

- Huey: its result is stored (the probe returns ``True``; Huey stores no ``None``).
- Dramatiq: its message has left ``dramatiq:default.msgs``, acknowledged after the actor.
- RQ: it is in the finished-job registry.
- Celery: neither queued nor unacknowledged. Celery acknowledges when a pool process takes
  a task (``acks_late`` is off by default), so this is the last start, not the last end.
- arq: it has left ``arq:queue`` (which keeps a job until it has finished).
- SAQ: it has left ``saq:default:incomplete``.

The apps (``bench.defaults_apps.*_app``) are imported here only when their row is measured,
so a missing peer costs only its own rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any, ClassVar

from redis import Redis

from bench.defaults.harness import System
from bench.defaults.peers import AsyncPeer, command
from bench.defaults_apps import REDIS_DB, redis_url
from bench.peers import redis_common as rc


def _app(name: str) -> ModuleType:
    return importlib.import_module(f"bench.defaults_apps.{name}_app")


@contextlib.contextmanager
def _fresh_db(name: str) -> Iterator[Redis]:
    with rc.fresh_db(REDIS_DB[name]) as redis:
        yield redis


class RedisPeer(System):
    """A peer with a blocking producer; ``self.redis`` reads its bookkeeping."""

    store = "redis"
    redis: Redis

    @contextlib.contextmanager
    def fresh(self) -> Iterator[None]:
        with _fresh_db(self.name) as self.redis:
            yield

    def one(self) -> None:
        raise NotImplementedError

    def enqueue_one(self) -> float:
        t0 = time.perf_counter()
        self.one()
        return t0


class HueyPeer(RedisPeer):
    """``huey_consumer bench.defaults_apps.huey_app.huey --quiet`` twice (one worker thread
    each, its default); producer: calling the task; no bulk API (``map``, one by one)."""

    name = "huey"

    def commands(self) -> list[list[str]]:
        worker = command("huey_consumer", "bench.defaults_apps.huey_app.huey", "--quiet")
        return [worker, worker]

    def one(self) -> None:
        _app("huey").probe()

    def enqueue_bulk(self, n: int) -> None:
        for size in rc.batches(n):
            _app("huey").probe.map([()] * size)

    def all_done(self, n: int) -> bool:
        return int(self.redis.hlen(_app("huey").RESULTS)) >= n


class DramatiqPeer(RedisPeer):
    """``dramatiq bench.defaults_apps.dramatiq_app --processes 2`` (8 threads each, its
    default); producer ``send()``; no bulk API on Redis (``group``, sent one by one)."""

    name = "dramatiq"

    def commands(self) -> list[list[str]]:
        return [command("dramatiq", "bench.defaults_apps.dramatiq_app", "--processes", "2")]

    def one(self) -> None:
        _app("dramatiq").probe.send()

    def enqueue_bulk(self, n: int) -> None:
        import dramatiq

        probe = _app("dramatiq").probe
        for size in rc.batches(n):
            dramatiq.group(probe.message() for _ in range(size)).run()

    def all_done(self, n: int) -> bool:
        return int(self.redis.hlen(_app("dramatiq").MESSAGES)) == 0


class RqPeer(RedisPeer):
    """``rq worker --url ... --quiet`` twice (a work horse forked per job, its default);
    producer ``Queue.enqueue``, ``enqueue_many`` 1,000 a call for the fill."""

    name = "rq"

    @contextlib.contextmanager
    def fresh(self) -> Iterator[None]:
        from rq import Queue

        with super().fresh():
            self.queue = Queue("default", connection=self.redis)
            yield

    def commands(self) -> list[list[str]]:
        worker = command("rq", "worker", "--url", redis_url("rq"), "--quiet")
        return [worker, worker]

    def one(self) -> None:
        self.queue.enqueue(_app("rq").probe)

    def enqueue_bulk(self, n: int) -> None:
        probe = _app("rq").probe
        for size in rc.batches(n):
            self.queue.enqueue_many([self.queue.prepare_data(probe) for _ in range(size)])

    def all_done(self, n: int) -> bool:
        return int(self.redis.zcard(_app("rq").FINISHED)) >= n


class CeleryPeer(RedisPeer):
    """``celery -A bench.defaults_apps.celery_app worker --concurrency 2`` (prefork pool,
    prefetch 4, its defaults); producer ``delay()``; ``group`` for the fill."""

    name = "celery"

    def commands(self) -> list[list[str]]:
        app = "bench.defaults_apps.celery_app"
        return [command("celery", "-A", app, "worker", "--concurrency", "2")]

    def one(self) -> None:
        _app("celery").probe.delay()

    def enqueue_bulk(self, n: int) -> None:
        from celery import group

        probe = _app("celery").probe
        for size in rc.batches(n):
            group(probe.s() for _ in range(size)).apply_async()

    def all_done(self, n: int) -> bool:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(_app("celery").QUEUE).hlen("unacked")
            queued, unacked = pipe.execute()
        return bool(queued == 0 and unacked == 0)


class ArqPeer(AsyncPeer):
    """``arq bench.defaults_apps.arq_app.WorkerSettings`` twice (max_jobs 10, a poll every
    0.5 s); producer ``enqueue_job`` on an ``ArqRedis`` pool; no bulk API."""

    name = "arq"
    store = "redis"
    poll_period: ClassVar[float] = 0.5

    @contextlib.contextmanager
    def fresh(self) -> Iterator[None]:
        from arq import create_pool
        from arq.connections import RedisSettings

        with _fresh_db("arq") as self.redis, asyncio.Runner() as self._runner:
            self.pool: Any = self.run(create_pool(RedisSettings.from_dsn(redis_url("arq"))))
            try:
                yield
            finally:
                self.run(self.pool.aclose())

    def commands(self) -> list[list[str]]:
        app = "bench.defaults_apps.arq_app"
        worker = command("arq", f"{app}.WorkerSettings", "--custom-log-dict", f"{app}.LOG_CONFIG")
        return [worker, worker]

    async def one(self) -> None:
        await self.pool.enqueue_job("probe")

    def enqueue_bulk(self, n: int) -> None:
        self.enqueue_singles(n)

    def all_done(self, n: int) -> bool:
        return int(self.redis.zcard(_app("arq").QUEUE)) == 0


class SaqPeer(AsyncPeer):
    """``saq bench.defaults_apps.saq_app.settings`` twice (one process, 10 jobs at a time);
    producer ``Queue.enqueue``; no bulk API (a gather of 1,000, as ``Queue.map`` does)."""

    name = "saq"
    store = "redis"

    @contextlib.contextmanager
    def fresh(self) -> Iterator[None]:
        from saq import Queue

        with _fresh_db("saq") as self.redis, asyncio.Runner() as self._runner:
            self.queue: Any = Queue.from_url(redis_url("saq"))
            try:
                yield
            finally:
                self.run(self.queue.disconnect())

    def commands(self) -> list[list[str]]:
        worker = command("saq", "bench.defaults_apps.saq_app.settings")
        return [worker, worker]

    async def one(self) -> None:
        await self.queue.enqueue("probe")

    async def _gather(self, size: int) -> None:
        await asyncio.gather(*(self.queue.enqueue("probe") for _ in range(size)))

    def enqueue_bulk(self, n: int) -> None:
        for size in rc.batches(n):
            self.run(self._gather(size))

    def all_done(self, n: int) -> bool:
        return int(self.redis.zcard(_app("saq").INCOMPLETE)) == 0
