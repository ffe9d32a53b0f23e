"""The peers on PostgreSQL (PgQueuer, Procrastinate), and what every peer row shares.

Each peer runs its own worker command at its defaults and is fed through its own Python
API. Two worker processes each: a command that runs one process by default is started
twice (``pgq run``, ``procrastinate worker``, ``huey_consumer``, ``rq worker``, ``arq``,
``saq``); Dramatiq and Celery fork a worker process per core by default, so their command is
started once with that count given as 2 (``--processes 2``, ``--concurrency 2``: the default
on the issue's 2-core machine, pinned so that a larger machine runs two as well). Nothing
else is set, but for the log: Huey and RQ (``--quiet``) and arq (a log config) hold back
the INFO lines they write for every task (rota writes none per task; PgQueuer,
Procrastinate, Dramatiq, Celery and SAQ none at their default levels).

A store is new for every phase: PgQueuer and Procrastinate get a database of their own
(``bench_defaults_pgqueuer``, ``bench_defaults_procrastinate``), created empty with the
schema installed and dropped after; the Redis peers a database each
(``defaults_apps.REDIS_DB``), flushed before and after.

When a drain counts a task done, the cheapest acknowledgement each one keeps:

- PgQueuer: its row has left the ``pgqueuer`` table (moved to the log when the worker's
  status buffer flushes: every 10 jobs, or after 0.1 s).
- Procrastinate: no job left in ``todo`` or ``doing``.
- the Redis peers: see ``peers_redis``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from bench.defaults.harness import System
from bench.defaults_apps import PGQUEUER_DSN, PROCRASTINATE_DSN
from bench.peers import redis_common as rc
from bench.peers.common import analyze, recreate_database

BIN = Path(sys.executable).parent
T = TypeVar("T")


def command(name: str, *args: str) -> list[str]:
    """A console script of this virtualenv and its arguments."""
    return [str(BIN / name), *args]


class AsyncPeer(System):
    """A peer whose producer API is async: one event loop per phase, entered per call;
    the one-by-one loop runs inside it, and ``enqueue_one`` stamps inside it too, so the
    loop's entry is in neither figure."""

    _runner: asyncio.Runner | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._runner is not None
        return self._runner.run(coro)

    async def one(self) -> None:
        raise NotImplementedError

    def enqueue_one(self) -> float:
        return self.run(self._stamped_one())

    async def _stamped_one(self) -> float:
        t0 = time.perf_counter()
        await self.one()
        return t0

    def enqueue_singles(self, n: int) -> float:
        return self.run(self._singles(n))

    async def _singles(self, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await self.one()
        return time.perf_counter() - start


@contextlib.contextmanager
def database(base: str, name: str, env: str) -> Iterator[str]:
    """A new, empty database for one phase, named to the workers by ``env``; dropped after."""
    dsn = asyncio.run(recreate_database(base, name))
    os.environ[env] = dsn
    try:
        yield dsn
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))


class PgQueuerPeer(AsyncPeer):
    """``pgq run bench.defaults_apps.pgqueuer_app:main`` twice (batch size 10, no cap, the
    scheduler half too, uvloop when installed, as pgq runs it);
    producer ``Queries.enqueue`` on one asyncpg connection, lists of 1,000 for the fill."""

    name = "pgqueuer"
    store = "postgres"

    def __init__(self, postgres_url: str) -> None:
        self.base = postgres_url
        self._dsn = ""
        self._conn: Any = None
        self._queries: Any = None

    @contextlib.contextmanager
    def fresh(self) -> Iterator[None]:
        import asyncpg  # type: ignore[import-untyped]
        from pgqueuer import AsyncpgDriver, Queries

        with (
            database(self.base, "bench_defaults_pgqueuer", PGQUEUER_DSN) as self._dsn,
            asyncio.Runner() as self._runner,
        ):
            self._conn = self.run(asyncpg.connect(self._dsn))
            try:
                self._queries = Queries(AsyncpgDriver(self._conn))
                self.run(self._queries.install())
                yield
            finally:
                self.run(self._conn.close())

    def commands(self) -> list[list[str]]:
        # ``pgq run``, through its CLI mended for typer 0.29 (bench/defaults_apps/pgq.py)
        pgq = [sys.executable, "-m", "bench.defaults_apps.pgq"]
        worker = [*pgq, "run", "bench.defaults_apps.pgqueuer_app:main"]
        return [worker, worker]

    async def one(self) -> None:
        await self._queries.enqueue("probe", None)

    def enqueue_bulk(self, n: int) -> None:
        for size in rc.batches(n):
            self.run(self._queries.enqueue(["probe"] * size, [None] * size, [0] * size))

    def settle(self) -> None:
        """ANALYZE and CHECKPOINT (``common.analyze``), as rota's fill gets VACUUM ANALYZE
        and CHECKPOINT: the drain starts from statistics and clean buffers."""
        self.run(analyze(self._dsn))

    def all_done(self, n: int) -> bool:
        return bool(self.run(self._conn.fetchval("SELECT count(*) FROM pgqueuer")) == 0)


class ProcrastinatePeer(AsyncPeer):
    """``procrastinate --app bench.defaults_apps.procrastinate_app.app worker`` twice
    (concurrency 1, LISTEN/NOTIFY); producer ``defer_async`` through an App in this
    process, ``batch_defer_async`` 1,000 a call for the fill."""

    name = "procrastinate"
    store = "postgres"
    NOT_DONE = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"

    def __init__(self, postgres_url: str) -> None:
        self.base = postgres_url
        self._dsn = ""
        self._task: Any = None
        self._conn: psycopg.Connection[Any] | None = None

    @contextlib.contextmanager
    def fresh(self) -> Iterator[None]:
        from procrastinate import App, PsycopgConnector

        with (
            database(self.base, "bench_defaults_procrastinate", PROCRASTINATE_DSN) as self._dsn,
            asyncio.Runner() as self._runner,
        ):
            app = App(connector=PsycopgConnector(conninfo=self._dsn))
            self.run(app.connector.open_async())
            try:
                self.run(app.schema_manager.apply_schema_async())
                self._task = app.configure_task("probe")
                with psycopg.connect(self._dsn, autocommit=True) as self._conn:
                    yield
            finally:
                self.run(app.connector.close_async())

    def commands(self) -> list[list[str]]:
        app = "bench.defaults_apps.procrastinate_app.app"
        worker = command("procrastinate", "--app", app, "worker")
        return [worker, worker]

    async def one(self) -> None:
        await self._task.defer_async()

    def enqueue_bulk(self, n: int) -> None:
        for size in rc.batches(n):
            self.run(self._task.batch_defer_async(*({} for _ in range(size))))

    def settle(self) -> None:
        self.run(analyze(self._dsn))

    def all_done(self, n: int) -> bool:
        assert self._conn is not None
        row = self._conn.execute(self.NOT_DONE).fetchone()
        return row is not None and row[0] == 0
