"""A quiet queue beside a busy one: what the busy queue's inserts cost the quiet queue's
workers, at the default settings, on PostgreSQL and Redis.

Four ``rota worker --in-process`` processes: two take only the queue ``quiet``, two only
``busy``. A producer process enqueues into ``busy`` one task at a time, ``--rate`` a second;
meanwhile this process enqueues one task into ``quiet`` every 20 ms (``--samples`` of them)
and times it from just before the enqueue call to its handler's first line (the UDP stamp
of ``bench.defaults_apps``). Figures: the quiet tasks' latency p50 / p99, and the store's
work per busy task: PostgreSQL's committed transactions (``pg_stat_database``), Redis's
commands processed (``INFO stats``), counted over the sampling and divided by the busy
tasks enqueued meanwhile. When every insert wakes every worker, each quiet worker sends a
claim that finds nothing for each busy task; when a wake-up names its queues, they sleep.

Run: ``python -m bench.bench_wakeups [--store postgres,redis] [--rate 300] [--samples 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import psycopg
from redis import Redis

from bench.bench_postgres import DEFAULT_URL, fresh_schema
from bench.defaults.harness import Probe
from bench.defaults_apps import REDIS_DB, redis_url
from bench.peers import redis_common as rc
from bench.rota_runs import open_service
from bench.serve import ROTA
from rota.backends.postgres.url import PgUrl
from rota.service import Service, TaskSpec

APP = "bench.defaults_apps.rota_app:registry"
PAUSE = 0.02


@contextlib.contextmanager
def store(name: str) -> Iterator[str]:
    if name == "postgres":
        with fresh_schema(os.environ.get("ROTA_BENCH_POSTGRES_URL", DEFAULT_URL)) as url:
            yield url
    else:
        with rc.fresh_db(REDIS_DB["rota"]):
            yield f"{redis_url('rota')}?prefix=bench_{uuid.uuid4().hex[:8]}"


def store_work(url: str) -> int:
    """A counter of the store's work: committed transactions, or commands processed."""
    if url.startswith("redis"):
        redis = Redis.from_url(url.split("?")[0])
        try:
            return int(redis.info("stats")["total_commands_processed"])
        finally:
            redis.close()
    with psycopg.connect(PgUrl.parse(url).conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
        assert row is not None
        return int(row[0])


async def produce_busy(url: str, rate: float) -> None:
    """The busy queue's producer (a process of its own): one task every 1/rate s, until
    killed; it prints a line once it runs."""
    service = await open_service(url)
    step, sent, start = 1.0 / rate, 0, time.perf_counter()
    try:
        while True:
            await service.enqueue(TaskSpec("probe", queue="busy"))
            sent += 1
            if sent == 1:
                print("running", flush=True)
            await asyncio.sleep(max(start + sent * step - time.perf_counter(), 0))
    finally:
        await service.close()


def measure(name: str, rate: float, samples: int) -> str:
    quiet_probe = Probe()  # the quiet workers get its port; the busy ones the next probe's
    with store(name) as url:

        def worker(queue: str) -> list[str]:
            return [ROTA, "worker", "--in-process", "--database-url", url, "--app", APP,
                    "--queue", queue]  # fmt: skip

        with rc.workers(worker("quiet"), worker("quiet")) as quiet:
            Probe()  # the busy workers' stamps go to a probe nobody reads
            with rc.workers(worker("busy"), worker("busy")), busy_producer(url, rate):
                return asyncio.run(_sample(url, samples, quiet_probe, quiet))


@contextlib.contextmanager
def busy_producer(url: str, rate: float) -> Iterator[None]:
    producer = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_wakeups", "--busy-producer", url,
         "--rate", str(rate)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(rc.ROOT)},
    )  # fmt: skip
    try:
        assert producer.stdout is not None
        producer.stdout.readline()  # it runs
        yield
    finally:
        producer.terminate()
        producer.wait()


async def _sample(url: str, samples: int, probe: Probe, quiet: rc.Workers) -> str:
    service = await open_service(url)
    loop = asyncio.get_running_loop()
    try:
        for _ in range(5):  # warm up: both quiet workers started
            await service.enqueue(TaskSpec("probe", queue="quiet"))
            await loop.run_in_executor(None, probe.next, quiet.check)
        first, work_before, lat = await busy_tasks(service), store_work(url), []
        for _ in range(samples):
            t0 = time.perf_counter()
            await service.enqueue(TaskSpec("probe", queue="quiet"))
            at, _ = await loop.run_in_executor(None, probe.next, quiet.check)
            lat.append((at - t0) * 1000)
            await asyncio.sleep(PAUSE)
        work = store_work(url) - work_before
        busy = await busy_tasks(service) - first
    finally:
        await service.close()
    p50, p99 = rc.p50_p99(lat)
    # the quiet samples' own enqueues, claims and finishes are in the count too
    per_task = work / max(busy, 1)
    return f"quiet p50 {p50:.2f} ms, p99 {p99:.2f} ms; store work per busy task {per_task:.1f}"


async def busy_tasks(service: Service) -> int:
    """Tasks of the busy queue in the store, whatever their state."""
    return sum(c.count for c in await service.counts() if c.queue == "busy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="postgres,redis")
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--busy-producer", metavar="URL")
    args = parser.parse_args()
    if args.busy_producer:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(produce_busy(args.busy_producer, args.rate))
        return
    for name in args.store.split(","):
        print(f"{name}: {measure(name, args.rate, args.samples)}", flush=True)


if __name__ == "__main__":
    main()
