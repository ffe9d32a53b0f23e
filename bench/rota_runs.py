"""rota's side of every benchmark, for any store URL: real processes where HTTP is measured."""

from __future__ import annotations

import asyncio
import signal
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import aiohttp
import httpx

from bench.peers.common import batch_priority
from bench.serve import ROTA, rota_process
from rota.backends import backend_from_url
from rota.config import Settings
from rota.core.models import TaskFilter
from rota.core.states import TaskState
from rota.service import Completion, Failure, Service, TaskSpec
from rota.worker import ServiceSource, Worker, WorkerOptions, builtin_registry


@contextmanager
def rota_server(database_url: str) -> Iterator[str]:
    with rota_process(database_url) as (url, _):
        yield url


@contextmanager
def rota_worker(url: str, concurrency: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [ROTA, "worker", "--url", url, "--concurrency", str(concurrency), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


async def open_service(database_url: str) -> Service:
    service = Service(backend_from_url(database_url), Settings())
    await service.open()
    return service


async def enqueue_in_process(
    database_url: str, n_single: int, n_batched: int
) -> tuple[float, float]:
    service = await open_service(database_url)
    start = time.perf_counter()
    for _ in range(n_single):
        await service.enqueue(TaskSpec("noop"))
    single = n_single / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(n_batched // 1000):
        await service.enqueue_many(
            [TaskSpec("noop", priority=batch_priority(i)) for i in range(1000)]
        )
    batched = n_batched / (time.perf_counter() - start)
    await service.close()
    return single, batched


async def enqueue_http(url: str, n_single: int, n_batched: int) -> tuple[float, float]:
    """One-by-one load comes from aiohttp: httpx spends more CPU than the server does."""
    clients = 32
    async with aiohttp.ClientSession(url) as http:

        async def submitter(count: int) -> None:
            for _ in range(count):
                async with http.post("/api/v1/tasks", json={"kind": "noop"}) as response:
                    assert response.status == 201, await response.text()

        start = time.perf_counter()
        await asyncio.gather(*(submitter(n_single // clients) for _ in range(clients)))
        single = (n_single // clients * clients) / (time.perf_counter() - start)
        body = {"tasks": [{"kind": "noop", "priority": batch_priority(i)} for i in range(1000)]}
        start = time.perf_counter()
        for _ in range(n_batched // 1000):
            async with http.post("/api/v1/tasks/batch", json=body) as response:
                assert response.status == 201, await response.text()
        batched = n_batched / (time.perf_counter() - start)
    return single, batched


async def fill(database_url: str, n: int, priority: int | None = None) -> None:
    service = await open_service(database_url)
    for _ in range(n // 1000):
        specs = [
            TaskSpec("noop", priority=batch_priority(i) if priority is None else priority)
            for i in range(1000)
        ]
        await service.enqueue_many(specs)
    await service.close()


async def _span(database_url: str) -> tuple[int, float]:
    """Tasks succeeded, and seconds from the first start to the last finish (store clock)."""
    service = await open_service(database_url)
    tasks, cursor = [], None
    while True:
        page, cursor = await service.list_tasks(
            TaskFilter(state=TaskState.SUCCEEDED), cursor=cursor, limit=1000
        )
        tasks += page
        if cursor is None:
            break
    await service.close()
    first = min(t.started_at for t in tasks if t.started_at)
    last = max(t.finished_at for t in tasks if t.finished_at)
    return len(tasks), (last - first).total_seconds()


def drain_http(
    database_url: str, n: int, concurrency: int, settle: Callable[[str], None] | None = None
) -> float:
    """Fill ``n`` tasks, then one `rota worker` process drains them through `rota serve`."""
    asyncio.run(fill(database_url, n))
    if settle is not None:
        settle(database_url)
    with rota_server(database_url) as url, rota_worker(url, concurrency):
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            stats = httpx.get(f"{url}/api/v1/stats").json()
            if stats["states"].get("succeeded", 0) >= n:
                break
            time.sleep(0.2)
    done, seconds = asyncio.run(_span(database_url))
    assert done == n, f"only {done} of {n} succeeded"
    return n / seconds


class _CountingSource(ServiceSource):
    """Counts the results the store has taken (a report returns once they are committed).

    An in-process worker sends every result through ``report`` (``carries_reports`` is
    false: none ride along on a claim)."""

    def __init__(self, service: Service) -> None:
        super().__init__(service)
        assert not self.carries_reports, "results on claims would go uncounted"
        self.stored = 0

    async def report(
        self, worker_id: str, completions: Sequence[Completion], failures: Sequence[Failure]
    ) -> None:
        await super().report(worker_id, completions, failures)
        self.stored += len(completions) + len(failures)


async def drain_in_process(database_url: str, n: int, concurrency: int) -> float:
    """Drain ``n`` of the tasks already queued with an in-process worker; tasks/s.

    The clock stops when the store holds all ``n`` results (as the peers' drains stop when
    their queue table says every job is acknowledged), not when the last handler returned.
    """
    service = await open_service(database_url)
    source = _CountingSource(service)
    stop = asyncio.Event()
    worker = Worker(
        source,
        builtin_registry(),
        options=WorkerOptions(concurrency=concurrency, claim_wait=0.05),
    )
    start = time.perf_counter()
    running = asyncio.create_task(worker.run(stop))
    while source.stored < n:  # noqa: ASYNC110 - a 5 ms poll is fine for a benchmark
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    stop.set()
    await running
    await service.close()
    return source.stored / elapsed


async def idle_latency(url: str, samples: int) -> tuple[float, float]:
    """Submit one task at a time to an idle, long-polling worker; start - created (server clock)."""
    lat = []
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=30) as http:
        for _ in range(samples):
            task = (await http.post("/tasks", json={"kind": "noop"})).json()
            while True:
                got = (await http.get(f"/tasks/{task['id']}")).json()
                if got["started_at"]:
                    break
                await asyncio.sleep(0.002)
            started = datetime.fromisoformat(got["started_at"])
            created = datetime.fromisoformat(got["created_at"])
            lat.append((started - created).total_seconds() * 1000)
            await asyncio.sleep(0.02)
    lat.sort()
    return statistics.median(lat), lat[max(int(len(lat) * 0.99) - 1, 0)]


def print_table(title: str, rows: list[tuple[str, str, str]]) -> None:
    print(title)
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>16}   {target}")
