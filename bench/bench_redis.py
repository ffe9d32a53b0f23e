"""rota beside RQ, Celery, Dramatiq, arq, Huey and SAQ on one Redis, one after another, in one run.

Run: ``make bench-redis`` (or ``python -m bench.bench_redis [--quick] [--only NAME ...]``).
Prints every figure per system, rota's ratio to each peer, and each target met or missed.
The server is ``ROTA_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379``); every system
works in a database of its own (rota 14, the peers 8-13, see ``bench/peers/redis_common.py``),
emptied with FLUSHDB before and after each phase. The run goes phase by phase (enqueue, drain,
latency, priority), each phase for every system back to back, so a slow spell of the machine
touches them alike.

Every peer runs at its defaults: its own worker command as a user would start it, two worker
processes (see each ``bench/peers/*_bench.py``), the producer through its own Python API in
this process. rota uses ``ROTA_DATABASE_URL=redis://.../14?prefix=bench_<hex>``.

Figures:

- enqueue one-by-one and batched (tasks/s): rota's ``Service.enqueue`` and ``enqueue_many``
  with 1,000 tasks per call in this process (``rota_runs.enqueue_in_process``); each peer's
  single call, and its bulk API where it has one (the output says which).
- drain (tasks/s): ``n`` no-op tasks queued first, then drained. rota in-process
  (``rota_runs.drain_in_process``: one worker, concurrency 100, until the store holds all
  results) and over HTTP (``rota_runs.drain_http``: a ``rota serve`` and a ``rota worker``
  process, first start to last finish by the store's clock). A peer's clock runs from the
  start of a marker task queued ahead of the no-ops until its own bookkeeping says every
  task is acknowledged or finished (each peer module says how).
- idle latency p50/p99 (ms): one task at a time to an idle worker, from just before the
  enqueue call to the handler's first line. rota in-process: a worker on the service in
  this process, default options; rota over HTTP as ``bench_postgres`` measures it
  (``rota_runs.idle_latency``, the server's clock). Peers: their worker processes stamp
  ``time.monotonic()`` into Redis (``redis_common.latency``).
- priority inversions: ``n`` tasks, a third each of three priorities in a fixed shuffled
  order, are enqueued one by one before a single-slot worker (one task at a time) starts;
  each task appends its priority to a list as it starts. A task counts as an inversion when
  it started after some task of strictly lower priority had started (all of them were
  queued before the worker started, so a strict priority queue has none; a FIFO queue has
  about 2/3 of ``n`` minus a few). rota's levels are ``high``, ``mid``, ``low``; each peer
  uses its own priority feature or its documented substitute, else prints "no priorities".
- rota's drain of 10,000 with 10,000 queued and with 1,000,000 queued (the median of three
  interleaved drains each; ``--quick`` uses 2,000 with 2,000 and with 20,000).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import statistics
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from redis import Redis

from bench.peers import (
    arq_bench,
    celery_bench,
    dramatiq_bench,
    huey_bench,
    rq_bench,
    saq_bench,
)
from bench.peers import redis_common as rc
from bench.rota_runs import (
    drain_http,
    drain_in_process,
    enqueue_in_process,
    fill,
    idle_latency,
    open_service,
    print_table,
    rota_server,
    rota_worker,
)
from rota.service import TaskSpec
from rota.worker import ServiceSource, Worker, WorkerOptions, builtin_registry

PEERS = [rq_bench, celery_bench, dramatiq_bench, arq_bench, huey_bench, saq_bench]
ROTA_DB = 14
ROUNDS_QUEUE = 3
CONCURRENCY = 100  # rota's in-process and HTTP workers, as in bench_postgres
T = TypeVar("T")
Figures = dict[str, float]


@contextmanager
def rota_store() -> Iterator[str]:
    """A new rota namespace in database 14, emptied before and after."""
    with rc.fresh_db(ROTA_DB):
        yield f"{rc.url(ROTA_DB)}?prefix=bench_{uuid.uuid4().hex[:8]}"


async def rota_latency(url: str, samples: int) -> tuple[float, float]:
    """An in-process worker (default options) on the service in this process; one task at a
    time: handler's first line - just before ``enqueue``. The first sample is discarded."""
    service = await open_service(url)
    started = asyncio.Event()
    at = [0.0]

    async def stamp(**_: Any) -> None:
        at[0] = time.perf_counter()
        started.set()

    registry = builtin_registry()
    registry.add("stamp", stamp)
    stop = asyncio.Event()
    running = asyncio.create_task(Worker(ServiceSource(service), registry).run(stop))
    lat: list[float] = []
    try:
        for i in range(samples + 1):
            started.clear()
            t0 = time.perf_counter()
            await service.enqueue(TaskSpec("stamp"))
            await asyncio.wait_for(started.wait(), 60)
            if i:
                lat.append((at[0] - t0) * 1000)
            await asyncio.sleep(rc.LATENCY_PAUSE)
    finally:
        stop.set()
        await running
        await service.close()
    return rc.p50_p99(lat)


async def rota_inversions(url: str, n: int) -> int:
    """The priority check with an in-process worker of concurrency 1."""
    service = await open_service(url)
    for level in rc.shuffled_levels(n):
        await service.enqueue(TaskSpec("record", {"level": level}, priority=rc.LEVEL_NAMES[level]))
    order: list[int] = []

    async def record(level: int, **_: Any) -> None:
        order.append(level)

    registry = builtin_registry()
    registry.add("record", record)
    stop = asyncio.Event()
    worker = Worker(ServiceSource(service), registry, options=WorkerOptions(concurrency=1))
    running = asyncio.create_task(worker.run(stop))
    deadline = time.monotonic() + rc.PHASE_TIMEOUT
    while len(order) < n and time.monotonic() < deadline and not running.done():  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    stop.set()
    await running
    await service.close()
    if len(order) < n:
        raise TimeoutError(f"only {len(order)} of {n} tasks started")
    return rc.inversions(order)


def rota_http_latency(samples: int) -> tuple[float, float]:
    with rota_store() as url, rota_server(url) as http, rota_worker(http, 4):
        time.sleep(1.0)
        return asyncio.run(idle_latency(http, samples))


def rota_queue_length(short: int, long: int) -> tuple[float, float]:
    """Median drains of ``short`` tasks out of fresh ``short`` queues and out of one ``long``
    queue, interleaved (short, long, short, long, ...)."""
    shorts, longs = [], []
    with rota_store() as long_url:
        asyncio.run(fill(long_url, long))
        for _ in range(ROUNDS_QUEUE):
            short_url = f"{rc.url(ROTA_DB)}?prefix=bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(fill(short_url, short))
            shorts.append(asyncio.run(drain_in_process(short_url, short, CONCURRENCY)))
            longs.append(asyncio.run(drain_in_process(long_url, short, CONCURRENCY)))
    return statistics.median(shorts), statistics.median(longs)


class Run:
    """Figures by system; a phase that fails is reported and the run goes on."""

    def __init__(self) -> None:
        self.figures: dict[str, Figures] = {}
        self.errors: list[str] = []

    def attempt(self, system: str, phase: str, body: Callable[[], T]) -> T | None:
        start = time.monotonic()
        try:
            result = body()
        except Exception as exc:
            lines = str(exc).strip().splitlines() or [""]
            message = f"{system} {phase}: {type(exc).__name__}: {lines[0]}"
            self.errors.append(message)
            print("\n    ".join([f"  {message}", *lines[1:]]), flush=True)
            if os.environ.get("ROTA_BENCH_TRACEBACK"):
                traceback.print_exc()
            return None
        print(f"  {system} {phase}: {time.monotonic() - start:.1f} s", flush=True)
        return result

    def put(self, system: str, keys: tuple[str, ...], values: Any) -> None:
        if values is None:
            return
        values = values if isinstance(values, tuple) else (values,)
        self.figures.setdefault(system, {}).update(zip(keys, map(float, values), strict=True))


def rota_ready() -> str | None:
    """None if rota's Redis store opens and takes a task; else why not."""
    try:
        with rota_store() as url:

            async def probe() -> None:
                service = await open_service(url)
                try:
                    await service.enqueue(TaskSpec("noop"))
                finally:
                    await service.close()

            asyncio.run(probe())
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    names = ["rota", *(peer.NAME for peer in PEERS)]
    parser.add_argument("--only", choices=names, action="append", help="run these systems")
    parser.add_argument("--skip-long-queue", action="store_true")
    args = parser.parse_args()
    sizes = argparse.Namespace(
        single=2_000,
        batched=50_000,
        drain=20_000,
        latency=300,
        priority=1_000,
        short_queue=10_000,
        long_queue=1_000_000,
    )
    if args.quick:
        sizes = argparse.Namespace(
            single=300,
            batched=5_000,
            drain=2_000,
            latency=30,
            priority=300,
            short_queue=2_000,
            long_queue=20_000,
        )
    if args.skip_long_queue:
        sizes.long_queue = sizes.short_queue * 10
    chosen = set(args.only or names)
    peers = [peer for peer in PEERS if peer.NAME in chosen]
    logging.getLogger("rota.redis").setLevel(logging.ERROR)  # its durability warning, below
    server = Redis.from_url(rc.url(ROTA_DB))
    info = server.info("server")
    persistence = server.config_get("appendonly") | server.config_get("save")
    server.close()
    print(
        f"Redis benchmark, {datetime.now():%Y-%m-%d %H:%M}, {platform.platform()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, Redis "
        f"{info['redis_version']} (appendonly {persistence.get('appendonly')}, save "
        f"{persistence.get('save')!r}: the same server and settings for every system)",
        flush=True,
    )
    run = Run()
    rota = "rota" in chosen
    if rota and (why := rota_ready()) is not None:
        print(f"  rota's Redis store is not usable, rota's rows are skipped: {why}")
        run.errors.append(f"rota: the Redis store is not usable ({why})")
        rota = False

    print("enqueue", flush=True)
    if rota:

        def rota_enqueue() -> tuple[float, float]:
            with rota_store() as url:
                return asyncio.run(enqueue_in_process(url, sizes.single, sizes.batched))

        keys = ("enqueue_single", "enqueue_batched")
        run.put("rota", keys, run.attempt("rota", "enqueue", rota_enqueue))
    for peer in peers:
        got = run.attempt(
            peer.NAME, "enqueue", lambda p=peer: p.enqueue_figures(sizes.single, sizes.batched)
        )
        run.put(peer.NAME, ("enqueue_single", "enqueue_batched"), got)

    print("drain", flush=True)
    if rota:

        def rota_drain() -> float:
            with rota_store() as url:
                asyncio.run(fill(url, sizes.drain))
                return asyncio.run(drain_in_process(url, sizes.drain, CONCURRENCY))

        def rota_drain_http() -> float:
            with rota_store() as url:
                return drain_http(url, sizes.drain, CONCURRENCY)

        run.put("rota", ("drain",), run.attempt("rota", "drain in-process", rota_drain))
        run.put("rota", ("drain_http",), run.attempt("rota", "drain HTTP", rota_drain_http))
    for peer in peers:
        got = run.attempt(peer.NAME, "drain", lambda p=peer: p.drain(sizes.drain))
        run.put(peer.NAME, ("drain",), got)

    print("idle latency", flush=True)
    lat_keys = ("latency_p50_ms", "latency_p99_ms")
    if rota:

        def rota_lat() -> tuple[float, float]:
            with rota_store() as url:
                return asyncio.run(rota_latency(url, sizes.latency))

        run.put("rota", lat_keys, run.attempt("rota", "latency in-process", rota_lat))
        http_keys = ("latency_http_p50_ms", "latency_http_p99_ms")
        got = run.attempt("rota", "latency HTTP", lambda: rota_http_latency(sizes.latency))
        run.put("rota", http_keys, got)
    for peer in peers:
        got = run.attempt(peer.NAME, "latency", lambda p=peer: p.latency(sizes.latency))
        run.put(peer.NAME, lat_keys, got)

    print("priority check", flush=True)
    if rota:

        def rota_priority() -> int:
            with rota_store() as url:
                return asyncio.run(rota_inversions(url, sizes.priority))

        run.put("rota", ("inversions",), run.attempt("rota", "priority check", rota_priority))
    for peer in peers:
        got = run.attempt(
            peer.NAME, "priority check", lambda p=peer: p.priority_inversions(sizes.priority)
        )
        run.put(peer.NAME, ("inversions",), got)

    if rota:
        print("queue length", flush=True)
        got = run.attempt(
            "rota",
            f"drains with {sizes.short_queue:,} and {sizes.long_queue:,} queued",
            lambda: rota_queue_length(sizes.short_queue, sizes.long_queue),
        )
        run.put("rota", ("drain_short_queue", "drain_long_queue"), got)

    print()
    report(run, [p for p in PEERS if p in peers], sizes, show_rota="rota" in chosen)
    if run.errors:
        print("\nnot measured:")
        for error in run.errors:
            print(f"  {error}")
        raise SystemExit(1)


def report(run: Run, peers: list[Any], sizes: argparse.Namespace, show_rota: bool) -> None:
    systems = (["rota"] if show_rota else []) + [peer.NAME for peer in peers]
    figures = {name: run.figures.get(name, {}) for name in systems}
    rows = [
        ("enqueue one-by-one (tasks/s)", "enqueue_single", "{:,.0f}"),
        ("enqueue batched (tasks/s)", "enqueue_batched", "{:,.0f}"),
        (f"drain {sizes.drain:,} no-op (tasks/s)", "drain", "{:,.0f}"),
        ("  rota over HTTP", "drain_http", "{:,.0f}"),
        ("idle latency p50 (ms)", "latency_p50_ms", "{:.2f}"),
        ("idle latency p99 (ms)", "latency_p99_ms", "{:.2f}"),
        ("  rota over HTTP, p50", "latency_http_p50_ms", "{:.2f}"),
        ("  rota over HTTP, p99", "latency_http_p99_ms", "{:.2f}"),
        (f"priority inversions (of {sizes.priority:,})", "inversions", "{:,.0f}"),
    ]
    width = max(len(label) for label, *_ in rows) + 2
    print(f"  {'figure (rota: in-process)':<{width}}" + "".join(f"{s:>11}" for s in systems))
    for label, key, fmt in rows:
        cells = "".join(
            f"{fmt.format(figures[s][key]) if key in figures[s] else '-':>11}" for s in systems
        )
        print(f"  {label:<{width}}{cells}")
    print("\nhow each system was run")
    if show_rota:
        print("  rota      batched: Service.enqueue_many, 1,000 per call; priorities: high/mid/low")
    for peer in peers:
        print(f"  {peer.NAME:<9} batched: {peer.BATCHED}; priorities: {peer.PRIORITY}")
    if not show_rota:
        return
    mine = figures["rota"]

    def ratio(key: str, theirs_key: str, peer: str, lower_is_better: bool) -> str:
        a, b = mine.get(key), figures[peer].get(theirs_key)
        if not a or not b:
            return "-"
        return f"{(b / a if lower_is_better else a / b):.1f}x"

    if peers:
        print("\nrota's ratio to each peer (higher is better for rota; latency: theirs / rota's)")
        names = [peer.NAME for peer in peers]
        print(f"  {'figure':<{width}}" + "".join(f"{s:>11}" for s in names))
        ratio_rows = [
            ("enqueue one-by-one", "enqueue_single", "enqueue_single", False),
            ("enqueue batched", "enqueue_batched", "enqueue_batched", False),
            ("drain, rota in-process", "drain", "drain", False),
            ("drain, rota over HTTP", "drain_http", "drain", False),
            ("idle latency p50", "latency_p50_ms", "latency_p50_ms", True),
            ("idle latency p99", "latency_p99_ms", "latency_p99_ms", True),
        ]
        for label, key, theirs, lower in ratio_rows:
            cells = "".join(f"{ratio(key, theirs, s, lower):>11}" for s in names)
            print(f"  {label:<{width}}{cells}")
    print_table("\ntargets", targets(mine, figures, [p.NAME for p in peers], sizes))


def targets(
    mine: Figures, figures: dict[str, Figures], peers: list[str], sizes: argparse.Namespace
) -> list[tuple[str, str, str]]:
    def check(ok: bool | None) -> str:
        return "not measured" if ok is None else ("met" if ok else "MISSED")

    drains = {p: figures[p]["drain"] for p in peers if "drain" in figures[p]}
    fastest = max(drains, key=drains.__getitem__) if drains else None
    best = drains[fastest] if fastest else 0.0
    rows = []
    drain = mine.get("drain")
    rows.append(
        (
            "in-process drain >= 15,000/s",
            f"{drain:,.0f}" if drain else "-",
            check(None if drain is None else drain >= 15_000),
        )
    )
    for label, key, factor in [
        ("in-process drain >= 5x the fastest peer", "drain", 5),
        ("HTTP drain >= 2x the fastest peer", "drain_http", 2),
    ]:
        value = mine.get(key)
        ok = None if value is None or not best else value >= factor * best
        shown = f"{value / best:.1f}x {fastest}" if value and best else "-"
        rows.append((label, shown, check(ok)))
    batched = mine.get("enqueue_batched")
    rows.append(
        (
            "batched enqueue >= 50,000/s",
            f"{batched:,.0f}" if batched else "-",
            check(None if batched is None else batched >= 50_000),
        )
    )
    for label, key, limit in [
        ("idle latency p50 <= 2 ms (in-process)", "latency_p50_ms", 2.0),
        ("idle latency p99 <= 10 ms (in-process)", "latency_p99_ms", 10.0),
    ]:
        value = mine.get(key)
        rows.append(
            (
                label,
                f"{value:.2f} ms" if value is not None else "-",
                check(None if value is None else value <= limit),
            )
        )
    inverted = mine.get("inversions")
    rows.append(
        (
            f"0 priority inversions (of {sizes.priority:,})",
            f"{inverted:,.0f}" if inverted is not None else "-",
            check(None if inverted is None else inverted == 0),
        )
    )
    short, long = mine.get("drain_short_queue"), mine.get("drain_long_queue")
    rows.append(
        (f"rota drain with {sizes.short_queue:,} queued", f"{short:,.0f}" if short else "-", "")
    )
    rows.append(
        (f"rota drain with {sizes.long_queue:,} queued", f"{long:,.0f}" if long else "-", "")
    )
    rows.append(
        (
            f"{sizes.long_queue:,} / {sizes.short_queue:,} drain ratio >= 0.8",
            f"{long / short:.2f}" if short and long else "-",
            check(None if not (short and long) else long / short >= 0.8),
        )
    )
    return rows


if __name__ == "__main__":
    main()
