"""Helpers shared by the peer benchmarks: databases, a handler probe, timing and percentiles.

Every peer runs in a database of its own on the server named by the caller's DSN
(``bench_pgqueuer``, ``bench_procrastinate``), dropped and created again by each ``run()``,
so a run never sees rows, bloat or statistics left by an earlier one, nor touches the
caller's database. Within a run each phase re-installs the peer's schema, so the drain
and latency phases start from an empty queue too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

#: Jobs per call in the batched-enqueue figure; the same size rota's own benchmark uses.
BATCH = 1_000


def batch_priority(i: int) -> int:
    """The priority of a batch's i-th job: three levels in turn, in rota's batches and
    PgQueuer's alike, so both index the same mix. (Procrastinate takes one priority per
    batch call; its batches keep its default.)"""
    return i % 3 * 30


#: Pause between two latency samples, so each one meets an idle worker.
LATENCY_PAUSE = 0.02

#: Upper bound on any single wait in a phase (a stuck peer fails the run instead of hanging).
PHASE_TIMEOUT = 300.0


def with_database(dsn: str, database: str) -> str:
    """``dsn`` pointed at ``database``, as a URI (asyncpg takes URIs only; psycopg takes both)."""
    if dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(dsn)
        return urlunsplit(parts._replace(path="/" + quote(database)))
    params = conninfo_to_dict(dsn)
    user = quote(str(params.pop("user", "")))
    password = params.pop("password", None)
    auth = (
        f"{user}:{quote(str(password))}@" if password is not None else (f"{user}@" if user else "")
    )
    host = str(params.pop("host", ""))
    port = params.pop("port", None)
    params.pop("dbname", None)
    netloc = f"{auth}{host}" + (f":{port}" if port else "")
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    return urlunsplit(("postgresql", netloc, "/" + quote(database), query, ""))


async def recreate_database(dsn: str, database: str) -> str:
    """Drop ``database`` (ending its sessions) and create it empty; return a URI for it."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        name = sql.Identifier(database)
        await conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        await conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    return with_database(dsn, database)


async def reset_public_schema(dsn: str) -> None:
    """Empty the ``public`` schema of ``dsn``'s database (tables, types, functions, triggers)."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        await conn.execute("CREATE SCHEMA public")


async def analyze(dsn: str) -> None:
    """``ANALYZE`` the database after an untimed bulk fill, then ``CHECKPOINT``.

    A table filled a moment ago has no statistics yet (autovacuum looks at most once a
    minute), and a planner that believes the queue holds one row can pick a plan that reads
    the whole queue for every claim. And right after a bulk fill the shared buffers are
    full of dirty pages, which a drain must write out itself before it can read anything
    new (by far the most after a large fill). A queue that has been running for a while
    has had its statistics gathered and its pages checkpointed, so the drain starts from
    that steady state. rota's drains get the same two steps (``settle`` in
    bench_postgres).
    """
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute("ANALYZE")
        await conn.execute("CHECKPOINT")


async def wait_for_zero(dsn: str, query: str, *, interval: float = 0.005) -> None:
    """Poll ``query`` (a ``SELECT count(*)``) on one connection until it returns 0."""
    deadline = time.monotonic() + PHASE_TIMEOUT
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while True:
            cur = await conn.execute(query)
            row = await cur.fetchone()
            assert row is not None
            if int(row[0]) == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{row[0]} jobs still not done after {PHASE_TIMEOUT:.0f} s")
            await asyncio.sleep(interval)


@dataclass
class Probe:
    """What the no-op handler records: how many ran, and when the last one started.

    ``expect(n)`` arms ``done`` to fire once ``n`` more handlers have started; the
    latency phase uses ``expect(1)`` and reads ``last_start`` (``time.perf_counter()``
    taken on the handler's first line).
    """

    count: int = 0
    target: int = 0
    last_start: float = 0.0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def hit(self) -> None:
        self.last_start = time.perf_counter()
        self.count += 1
        if self.count >= self.target:
            self.done.set()

    def expect(self, n: int) -> None:
        self.count = 0
        self.target = n
        self.done.clear()

    async def wait(self, worker: asyncio.Task[Any]) -> None:
        """Wait for ``done``; fail at once if ``worker`` (the peer's consumer) ends first."""
        waiter = asyncio.ensure_future(self.done.wait())
        try:
            await asyncio.wait({waiter, worker}, timeout=PHASE_TIMEOUT, return_when=FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self.done.is_set():
            return
        if worker.done():
            worker.result()  # re-raises the worker's error
            raise RuntimeError("the worker stopped before its jobs were done")
        raise TimeoutError(f"{self.count} of {self.target} handlers ran in {PHASE_TIMEOUT:.0f} s")


async def timed_rate(n: int, body: Callable[[], Awaitable[None]]) -> float:
    """``n`` divided by the seconds ``body()`` takes."""
    start = time.perf_counter()
    await body()
    return n / (time.perf_counter() - start)


def p50_p99(samples_ms: list[float]) -> tuple[float, float]:
    """Median and 99th percentile, the latter ranked as rota's own benchmark ranks it."""
    ordered = sorted(samples_ms)
    n = len(ordered)
    mid = n // 2
    p50 = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return p50, ordered[max(int(n * 0.99) - 1, 0)]


def batches(n: int, size: int = BATCH) -> Iterator[int]:
    """Sizes of the calls that enqueue ``n`` jobs ``size`` at a time (the last may be short)."""
    while n > 0:
        yield min(size, n)
        n -= size


@contextmanager
def quiet(*loggers: str, level: int = logging.WARNING) -> Iterator[None]:
    """Hold the peer's loggers at ``level`` for the run (per-job INFO lines cost real time)."""
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in loggers]
    for logger, _ in saved:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in saved:
            logger.setLevel(old)
