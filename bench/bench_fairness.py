"""Claim speed with fair share (and limits) on against off, on a real store, at 10 and
10,000 tenants.

Fair share changes two things on the hot path: an enqueue into a fair queue also moves its
keys' passes on (inside the insert's own transaction or script: a lock and a read more on
PostgreSQL), and the claim walks
the claim index in (priority, place, seq) order instead of (priority, seq). This measures
both, in-process through the service, against the same queue without fairness:

- enqueue: batches of 1,000 tasks, tenants round robin through the batch;
- drain: one claimer taking 100 at a time and completing them, until the queue is empty.

The "fair + limits" row adds a concurrency limit, a per-tenant one and a rate limit, none
of them binding: the claim then takes the limited path (the queue's lock, the running
counts, the bucket), which is what they cost. The bar of issue 16: with fairness and
limits on, at least 0.7x the claim speed with them off.

    python -m bench.bench_fairness                    # PostgreSQL and Redis
    python -m bench.bench_fairness --store sqlite --tasks 20000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

from rota.backends import backend_from_url
from rota.config import Settings
from rota.service import Service, TaskSpec
from rota.service.service import Completion
from tests.conftest import drop_pg_schema, drop_redis_store, new_pg_schema, new_redis_store

BATCH = 1000
CLAIM = 100


def store_url(store: str, tmp: str) -> tuple[str, Callable[[], None]]:
    if store == "postgres":
        url = new_pg_schema()
        return url, lambda: drop_pg_schema(url)
    if store == "redis":
        url = new_redis_store()
        return url, lambda: drop_redis_store(url)
    return f"sqlite:///{tmp}/bench-fair-{time.monotonic_ns()}.db", lambda: None


#: the limits of the "fair + limits" row: all on, none binding (they cost, they do not throttle)
LIMITS = {"concurrency_limit": 100_000, "tenant_concurrency_limit": 10_000, "rate_limit": 1e6}
MODES = ("off", "fair", "fair + limits")


async def run_once(url: str, tasks: int, tenants: int, mode: str) -> tuple[float, float]:
    """(enqueue tasks/s, drain tasks/s) for one fresh store."""
    service = Service(backend_from_url(url), Settings(database_url=url))
    await service.open()
    try:
        if mode != "off":
            await service.queues.update("q", {"fairness": "round_robin"}, actor="bench")
        if mode == "fair + limits":
            await service.queues.update("q", LIMITS, actor="bench")
        specs = [TaskSpec("noop", queue="q", tenant=f"t{i % tenants}") for i in range(tasks)]
        start = time.perf_counter()
        for first in range(0, tasks, BATCH):
            await service.enqueue_many(specs[first : first + BATCH])
        enqueue = tasks / (time.perf_counter() - start)
        done = 0
        start = time.perf_counter()
        while done < tasks:
            claimed = await service.claim("bench", queues=["q"], limit=CLAIM)
            if not claimed:
                break
            await service.report([Completion(t.id, t.lease_token) for t in claimed], [])
            done += len(claimed)
        drain = done / (time.perf_counter() - start)
        return enqueue, drain
    finally:
        await service.close()


async def rounds(
    runs: int, store: str, tasks: int, tenants: int
) -> dict[str, list[tuple[float, float]]]:
    """``runs`` rounds, each running every mode once on a fresh store, so that the
    machine's drift over the minutes falls on all modes alike."""
    figures: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    for _ in range(runs):
        for mode in MODES:
            url, cleanup = store_url(store, "/tmp")
            try:
                figures[mode].append(await run_once(url, tasks, tenants, mode))
            finally:
                cleanup()
    return figures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", action="append", choices=["postgres", "redis", "sqlite"])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--tenants", type=int, action="append")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("| store | tenants | policies | enqueue /s | drain /s | drain ratio |")
    print("|---|---:|---|---:|---:|---:|")
    for store in args.store or ["postgres", "redis"]:
        for tenants in args.tenants or [10, 10_000]:
            figures = await rounds(args.runs, store, args.tasks, tenants)
            off = [drain for _, drain in figures["off"]]
            for mode in MODES:
                enqueue = statistics.median(e for e, _ in figures[mode])
                drain = statistics.median(d for _, d in figures[mode])
                # the median of each round's ratio to that round's "off"
                ratio = statistics.median(
                    d / o for (_, d), o in zip(figures[mode], off, strict=True)
                )
                print(f"| {store} | {tenants:,} | {mode} | {enqueue:,.0f} | "
                      f"{drain:,.0f} | {ratio:.2f}x |")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
