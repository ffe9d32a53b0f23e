"""rota's rows: in-process and over HTTP, on SQLite, PostgreSQL or Redis, fairness off or on.

- Store, new for every phase: SQLite, a file in a temporary directory (both in-process
  workers on that one file); PostgreSQL, a schema of its own migrated by ``rota db upgrade``
  and dropped after (``bench_postgres.fresh_schema``); Redis, database 1, flushed before and
  after, with a fresh prefix.
- In-process: the workers are two ``rota worker --in-process --database-url URL --app
  bench.defaults_apps.rota_app:registry``; the producer is a ``Service`` in this process
  (``Service.enqueue`` one by one, ``enqueue_many`` 1,000 a call for the fill).
- HTTP: a ``rota serve`` on the store (``bench.serve.rota_process``), two ``rota worker
  --url http://... --app ...``; the producer is ``rota.Client(url)``: ``submit`` one by one,
  ``submit_many`` 1,000 a call for the fill.
- Fairness and limits on: the queue ``default`` gets ``fairness: round_robin``, a
  ``concurrency_limit`` and a ``tenant_concurrency_limit`` far above what two workers run
  (PATCH /api/v1/queues/default over HTTP; the same ``queues.update`` in-process), and the
  tasks go round robin over ``TENANTS`` tenants. The off rows set no tenant.
- Done: no task of the store is scheduled, queued or running (``Service.list_tasks``, one
  task of each of those states asked for, from a ``Service`` in this process, for both
  forms): every result is stored, not merely every handler started. Three one-row reads
  on an index, as cheap as the peers' checks: ``Service.active_counts`` (what /metrics
  reads) counts the whole backlog by queue, state and priority, and polled every 10 ms
  it took this process 1.4 CPU-seconds of a 3.8 s drain of 30,000 tasks on SQLite.

Every rota process runs at its defaults (concurrency 128, claim wait 2 s, the log at INFO,
which has no per-task lines); ``rota serve`` as ``bench.serve`` starts it, at ``--log-level
warning`` (it writes no line per request at either level).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator

from bench.bench_postgres import fresh_schema, settle
from bench.defaults.harness import System
from bench.defaults_apps import REDIS_DB, redis_url
from bench.peers import redis_common as rc
from bench.rota_runs import open_service
from bench.serve import ROTA, rota_process
from rota.client import Client, task_body
from rota.core.models import TaskFilter
from rota.core.states import TaskState
from rota.service import Service, TaskSpec

APP = "bench.defaults_apps.rota_app:registry"
#: not done while any task is in one of these, read in the order a task moves through them:
#: a task that moves on between two reads is found by the later one
ACTIVE = (TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING)
TENANTS = 10
#: on, and far from binding: two workers of concurrency 128 run 256 tasks at most
FAIR_LIMITS = {
    "fairness": "round_robin",
    "concurrency_limit": 100_000,
    "tenant_concurrency_limit": 10_000,
}


class Rota(System):
    def __init__(self, store: str, *, http: bool, fair: bool, postgres_url: str) -> None:
        self.store = store
        self.http = http
        self.fair = fair
        self.postgres_url = postgres_url
        self.name = f"rota {'http' if http else 'in-process'}" + (" fair+limits" if fair else "")
        self._url = ""
        self._server = ""
        self._runner: asyncio.Runner | None = None
        self._service: Service | None = None
        self._client: Client | None = None
        self._sent = 0

    @contextlib.contextmanager
    def _store(self) -> Iterator[str]:
        if self.store == "postgres":
            with fresh_schema(self.postgres_url) as url:
                yield url
        elif self.store == "redis":
            with rc.fresh_db(REDIS_DB["rota"]):
                yield f"{redis_url('rota')}?prefix=bench_{uuid.uuid4().hex[:8]}"
        else:
            folder = tempfile.mkdtemp(prefix="rota-bench-defaults-")
            try:
                yield f"sqlite:///{folder}/rota.db"
            finally:
                shutil.rmtree(folder, ignore_errors=True)

    @contextlib.contextmanager
    def fresh(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            self._url = stack.enter_context(self._store())
            runner = self._runner = stack.enter_context(asyncio.Runner())
            service = self._service = runner.run(open_service(self._url))
            stack.callback(lambda: runner.run(service.close()))
            if self.http:
                self._server, _ = stack.enter_context(rota_process(self._url))
                self._client = stack.enter_context(Client(self._server))
                if self.fair:
                    self._client.update_queue("default", **FAIR_LIMITS)
            elif self.fair:
                runner.run(service.queues.update("default", FAIR_LIMITS, actor="bench"))
            self._sent = 0
            yield
        self._runner = self._service = self._client = None

    def commands(self) -> list[list[str]]:
        if self.http:
            worker = [ROTA, "worker", "--url", self._server, "--app", APP]
        else:
            worker = [ROTA, "worker", "--in-process", "--database-url", self._url, "--app", APP]
        return [worker, worker]

    def _tenant(self) -> str | None:
        self._sent += 1
        return f"t{self._sent % TENANTS}" if self.fair else None

    def _spec(self) -> TaskSpec:
        return TaskSpec("probe", tenant=self._tenant())

    def enqueue_one(self) -> float:
        if self._client is not None:
            tenant = self._tenant()
            t0 = time.perf_counter()
            self._client.submit("probe", tenant=tenant)
            return t0
        assert self._runner is not None
        return self._runner.run(self._enqueue_one())

    async def _enqueue_one(self) -> float:
        assert self._service is not None
        spec = self._spec()
        t0 = time.perf_counter()
        await self._service.enqueue(spec)
        return t0

    def enqueue_singles(self, n: int) -> float:
        if self._client is not None:
            return super().enqueue_singles(n)
        assert self._runner is not None
        return self._runner.run(self._enqueue_singles(n))

    async def _enqueue_singles(self, n: int) -> float:
        assert self._service is not None
        start = time.perf_counter()
        for _ in range(n):
            await self._service.enqueue(self._spec())
        return time.perf_counter() - start

    def enqueue_bulk(self, n: int) -> None:
        for size in rc.batches(n):
            if self._client is not None:
                self._client.submit_many(
                    [task_body("probe", tenant=self._tenant()) for _ in range(size)]
                )
            else:
                assert self._runner is not None and self._service is not None
                self._runner.run(self._service.enqueue_many([self._spec() for _ in range(size)]))

    def settle(self) -> None:
        """VACUUM ANALYZE and CHECKPOINT on PostgreSQL, as PgQueuer's fill gets too."""
        if self.store == "postgres":
            settle(self._url)

    def all_done(self, n: int) -> bool:
        assert self._runner is not None
        return self._runner.run(self._none_active())

    async def _none_active(self) -> bool:
        assert self._service is not None
        for state in ACTIVE:
            found, _ = await self._service.list_tasks(TaskFilter(state=state), limit=1)
            if found:
                return False
        return True


def rota_rows(store: str, postgres_url: str) -> list[Rota]:
    """The four rows of a store: in-process, in-process fair, HTTP, HTTP fair."""
    return [
        Rota(store, http=http, fair=fair, postgres_url=postgres_url)
        for http in (False, True)
        for fair in (False, True)
    ]
