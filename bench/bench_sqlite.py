"""rota on SQLite: enqueue, drain and latency figures (a benchmark, not a test).

Run: ``make bench`` (or ``python -m bench.bench_sqlite``). Every figure comes from this run
on this machine; nothing is compared with a remembered number. Servers and workers are real
``rota`` processes where the figure is about HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import aiohttp
import httpx

from rota.backends.sqlite import SQLiteBackend
from rota.config import Settings
from rota.core.models import TaskFilter
from rota.core.states import TaskState
from rota.service import Service, TaskSpec
from rota.worker import ServiceSource, Worker, WorkerOptions, builtin_registry

ROTA = str(Path(sys.executable).parent / "rota")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def rota_server(db: Path) -> Iterator[str]:
    port = _port()
    env = {**os.environ, "ROTA_DATABASE_URL": f"sqlite:///{db}"}
    proc = subprocess.Popen(
        [ROTA, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)


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


async def _service(db: Path) -> Service:
    service = Service(SQLiteBackend(db), Settings())
    await service.open()
    return service


async def enqueue_in_process(db: Path, n_single: int, n_batched: int) -> tuple[float, float]:
    service = await _service(db)
    start = time.perf_counter()
    for _ in range(n_single):
        await service.enqueue(TaskSpec("noop"))
    single = n_single / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(n_batched // 1000):
        await service.enqueue_many([TaskSpec("noop", priority=i % 3 * 30) for i in range(1000)])
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
        body = {"tasks": [{"kind": "noop", "priority": i % 3 * 30} for i in range(1000)]}
        start = time.perf_counter()
        for _ in range(n_batched // 1000):
            async with http.post("/api/v1/tasks/batch", json=body) as response:
                assert response.status == 201, await response.text()
        batched = n_batched / (time.perf_counter() - start)
    return single, batched


async def _fill(db: Path, n: int) -> None:
    service = await _service(db)
    for _ in range(n // 1000):
        await service.enqueue_many([TaskSpec("noop", priority=i % 3 * 30) for i in range(1000)])
    await service.close()


async def _span(db: Path) -> tuple[int, float]:
    """Tasks succeeded, and seconds from the first start to the last finish (store clock)."""
    service = await _service(db)
    tasks, cursor = [], None
    while True:
        page, cursor = await service.list_tasks(TaskFilter(), cursor=cursor, limit=1000)
        tasks += page
        if cursor is None:
            break
    await service.close()
    done = [t for t in tasks if t.state == TaskState.SUCCEEDED]
    first = min(t.started_at for t in done if t.started_at)
    last = max(t.finished_at for t in done if t.finished_at)
    return len(done), (last - first).total_seconds()


def drain_http(tmp: Path, n: int, concurrency: int) -> float:
    db = tmp / "drain_http.db"
    asyncio.run(_fill(db, n))
    with rota_server(db) as url, rota_worker(url, concurrency):
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            stats = httpx.get(f"{url}/api/v1/stats").json()
            if stats["states"].get("succeeded", 0) >= n:
                break
            time.sleep(0.2)
    done, seconds = asyncio.run(_span(db))
    assert done == n, f"only {done} of {n} succeeded"
    return n / seconds


async def drain_in_process(tmp: Path, n: int, concurrency: int) -> float:
    db = tmp / "drain_local.db"
    await _fill(db, n)
    service = await _service(db)
    stop = asyncio.Event()
    worker = Worker(
        ServiceSource(service),
        builtin_registry(),
        options=WorkerOptions(concurrency=concurrency, claim_wait=0.05),
    )
    start = time.perf_counter()
    running = asyncio.create_task(worker.run(stop))
    while worker.processed < n:  # noqa: ASYNC110 - a 5 ms poll is fine for a benchmark
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    stop.set()
    await running
    await service.close()
    return n / elapsed


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
    return statistics.median(lat), lat[int(len(lat) * 0.99) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drain", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    args = parser.parse_args()
    n_single, n_batched, n_drain = (4_000, 50_000, args.drain)
    if args.quick:
        n_single, n_batched, n_drain = 200, 5_000, 2_000
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        single, batched = asyncio.run(enqueue_in_process(tmp / "enq.db", n_single, n_batched))
        rows += [
            ("enqueue one-by-one, in-process", f"{single:,.0f} tasks/s", ">= -"),
            ("enqueue batched (1,000), in-process", f"{batched:,.0f} tasks/s", ">= 50,000"),
        ]
        with rota_server(tmp / "enq_http.db") as url:
            single, batched = asyncio.run(enqueue_http(url, n_single, n_batched))
        rows += [
            ("enqueue one-by-one, HTTP (32 clients)", f"{single:,.0f} tasks/s", "-"),
            ("enqueue batched (1,000), HTTP", f"{batched:,.0f} tasks/s", "-"),
        ]
        rate = drain_http(tmp, n_drain, args.concurrency)
        rows.append(
            (f"drain {n_drain:,} no-op, rota worker over HTTP", f"{rate:,.0f} tasks/s", ">= 3,000")
        )
        rate = asyncio.run(drain_in_process(tmp, n_drain, args.concurrency))
        rows.append(
            (f"drain {n_drain:,} no-op, in-process worker", f"{rate:,.0f} tasks/s", ">= 10,000")
        )
        with rota_server(tmp / "lat.db") as url, rota_worker(url, 4):
            time.sleep(1.0)
            p50, p99 = asyncio.run(idle_latency(url, 50 if args.quick else 300))
        rows += [
            ("idle enqueue-to-start latency p50", f"{p50:.1f} ms", "<= 10 ms"),
            ("idle enqueue-to-start latency p99", f"{p99:.1f} ms", "-"),
        ]
    print(
        f"rota SQLite benchmark, {datetime.now():%Y-%m-%d %H:%M}, {platform.platform()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    width = max(len(r[0]) for r in rows)
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>16}   target {target}")


if __name__ == "__main__":
    main()
