"""rota, PgQueuer and Procrastinate on one PostgreSQL, one after another, in one run.

Run: ``make bench-postgres`` (or ``python -m bench.bench_postgres``). Prints every figure and
rota's ratio to each peer. The database is ``ROTA_BENCH_POSTGRES_URL`` (default the local
server); rota works in schemas of its own that are dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg

from bench.peers import pgqueuer_bench, procrastinate_bench
from bench.peers.common import quiet
from bench.rota_runs import (
    ROTA,
    drain_http,
    drain_in_process,
    enqueue_in_process,
    fill,
    idle_latency,
    print_table,
    rota_server,
    rota_worker,
)
from rota.backends.postgres.url import PgUrl

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
Figures = dict[str, float]
ROUNDS_QUEUE = 5  # drains per queue length


@contextmanager
def fresh_schema(base: str) -> Iterator[str]:
    """A new schema for one measurement, migrated by ``rota db upgrade`` in a process of its
    own as a deployment does (so this producer process, like a user's, holds no Alembic or
    SQLAlchemy for its garbage collector to walk); dropped afterwards."""
    url = f"{base}{'&' if '?' in base else '?'}schema=bench_{uuid.uuid4().hex[:8]}"
    parsed = PgUrl.parse(url)
    subprocess.run([ROTA, "db", "upgrade", "--database-url", url], check=True, capture_output=True)
    try:
        yield url
    finally:
        with psycopg.connect(parsed.conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{parsed.schema}" CASCADE')


def settle(url: str) -> None:
    """VACUUM ANALYZE after a fill, then CHECKPOINT, as the peers' runs do (``analyze`` in
    bench/peers/common.py): the drain meets steady-state statistics instead of racing
    autovacuum over freshly inserted rows, and clean shared buffers instead of the dirty
    pages the fill left."""
    parsed = PgUrl.parse(url)
    with psycopg.connect(parsed.conninfo, autocommit=True) as conn:
        conn.execute(f'VACUUM ANALYZE "{parsed.schema}".rota_tasks')
        conn.execute("CHECKPOINT")


def measure_round(base: str, sizes: argparse.Namespace) -> tuple[Figures, Figures]:
    """One round of every paired figure, rota's and PgQueuer's back to back per phase, so a
    slow spell of the machine (its speed swings by a third within minutes) touches both."""
    rota: Figures = {}
    pgq: Figures = {}
    with quiet("pgqueuer"):
        pgq_db = asyncio.run(pgqueuer_bench.database(base))
    with fresh_schema(base) as url:
        single, batched = asyncio.run(enqueue_in_process(url, sizes.single, sizes.batched))
        rota["enqueue_single"], rota["enqueue_batched"] = single, batched
    with quiet("pgqueuer"):
        single, batched = asyncio.run(
            pgqueuer_bench.enqueue_figures(pgq_db, sizes.single, sizes.batched)
        )
        pgq["enqueue_single"], pgq["enqueue_batched"] = single, batched
    with fresh_schema(base) as url:
        asyncio.run(fill(url, sizes.drain))
        settle(url)
        rota["drain"] = asyncio.run(drain_in_process(url, sizes.drain, sizes.concurrency))
    with quiet("pgqueuer"):
        pgq["drain"], pgq["drain_handlers"] = asyncio.run(
            pgqueuer_bench.drain(pgq_db, sizes.drain, sizes.concurrency)
        )
    with fresh_schema(base) as url:
        rota["drain_http"] = drain_http(url, sizes.drain, sizes.concurrency, settle)
    with fresh_schema(base) as url, rota_server(url) as http, rota_worker(http, 4):
        time.sleep(1.0)
        rota["latency_p50_ms"], rota["latency_p99_ms"] = asyncio.run(
            idle_latency(http, sizes.latency)
        )
    with quiet("pgqueuer"):
        pgq["latency_p50_ms"], pgq["latency_p99_ms"] = asyncio.run(
            pgqueuer_bench.latency(pgq_db, sizes.latency, sizes.concurrency)
        )
    return rota, pgq


def measure_queue_length(base: str, sizes: argparse.Namespace) -> dict[str, float]:
    """Drain ``short_queue`` tasks out of a short queue and out of a long one.

    The median of ROUNDS_QUEUE drains each, interleaved (short, long, short, long, ...) so
    a slow spell of the machine touches both alike: a fresh fill for each short drain; one
    fill of the long queue drained ROUNDS_QUEUE times (it stays long: five drains take 5%
    of 1M). Every drain, short or long, starts from ``settle``: a long drain would
    otherwise also meet the dead row versions the previous long drains left (no
    autovacuum comes for 10,000 of 1M rows), which a fresh short queue never has, and
    measure that history rather than the queue's length (bench/RESULTS.md, seventh session,
    has both readings).
    """
    short, long = [], []
    with fresh_schema(base) as long_url:
        asyncio.run(fill(long_url, sizes.long_queue))
        settle(long_url)
        for _ in range(ROUNDS_QUEUE):
            with fresh_schema(base) as url:
                asyncio.run(fill(url, sizes.short_queue))
                settle(url)
                short.append(
                    asyncio.run(drain_in_process(url, sizes.short_queue, sizes.concurrency))
                )
            settle(long_url)
            long.append(
                asyncio.run(drain_in_process(long_url, sizes.short_queue, sizes.concurrency))
            )
    return {
        f"drain_with_{sizes.short_queue}_queued": statistics.median(short),
        f"drain_with_{sizes.long_queue}_queued": statistics.median(long),
    }


def median_of(runs: list[Figures]) -> Figures:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--skip-long-queue", action="store_true")
    parser.add_argument("--rounds", type=int, default=5, help="rota and PgQueuer rounds (median)")
    args = parser.parse_args()
    sizes = argparse.Namespace(
        single=2_000,
        batched=50_000,
        drain=20_000,
        latency=300,
        concurrency=100,
        short_queue=10_000,
        long_queue=1_000_000,
    )
    if args.quick:
        sizes = argparse.Namespace(
            single=300,
            batched=10_000,
            drain=5_000,
            latency=50,
            concurrency=100,
            short_queue=5_000,
            long_queue=50_000,
        )
    if args.skip_long_queue:
        sizes.long_queue = sizes.short_queue * 10
    base = os.environ.get("ROTA_BENCH_POSTGRES_URL", DEFAULT_URL)
    peer_args = {
        "n_single": sizes.single,
        "n_batched": sizes.batched,
        "n_drain": sizes.drain,
        "latency_samples": sizes.latency,
        "concurrency": sizes.concurrency,
    }
    # Each round pairs rota's and PgQueuer's figures phase by phase; each figure is the
    # median of the rounds. Procrastinate, 20-40x behind, runs one round at the end.
    rota_runs, pgq_runs = [], []
    for n in range(args.rounds):
        mine, theirs = measure_round(base, sizes)
        rota_runs.append(mine)
        pgq_runs.append(theirs)
        print(
            f"round {n + 1}: batched {mine['enqueue_batched']:,.0f} vs "
            f"{theirs['enqueue_batched']:,.0f} "
            f"({mine['enqueue_batched'] / theirs['enqueue_batched']:.2f}x), "
            f"drain {mine['drain']:,.0f} vs {theirs['drain']:,.0f} "
            f"({mine['drain'] / theirs['drain']:.2f}x)",
            flush=True,
        )
    rota = median_of(rota_runs) | measure_queue_length(base, sizes)
    peers = {
        "pgqueuer": median_of(pgq_runs),
        "procrastinate": asyncio.run(procrastinate_bench.run(base, **peer_args)),
    }
    report(rota, peers, sizes, args.rounds)


def report(
    rota: dict[str, float],
    peers: dict[str, dict[str, float]],
    sizes: argparse.Namespace,
    rounds: int,
) -> None:
    def ratio(mine: float, theirs: float, lower_is_better: bool) -> str:
        if not theirs or not mine:
            return "-"
        return f"{(theirs / mine if lower_is_better else mine / theirs):.1f}x"

    figures = [
        ("enqueue one-by-one (tasks/s)", "enqueue_single", False),
        ("enqueue batched 1,000 (tasks/s)", "enqueue_batched", False),
        (f"drain {sizes.drain:,} no-op, in-process (tasks/s)", "drain", False),
        ("idle latency p50 (ms)", "latency_p50_ms", True),
        ("idle latency p99 (ms)", "latency_p99_ms", True),
    ]
    print(
        f"PostgreSQL benchmark, {datetime.now():%Y-%m-%d %H:%M}, {platform.platform()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; rota and PgQueuer: "
        f"median of {rounds} rounds"
    )
    header = f"  {'figure':<40} {'rota':>12} {'pgqueuer':>12} {'procrast.':>12}  rota vs pgq / proc"
    print(header)
    for label, key, lower in figures:
        mine = rota[key]
        pq, pc = peers["pgqueuer"].get(key, 0.0), peers["procrastinate"].get(key, 0.0)
        print(
            f"  {label:<40} {mine:>12,.1f} {pq:>12,.1f} {pc:>12,.1f}  "
            f"{ratio(mine, pq, lower)} / {ratio(mine, pc, lower)}"
        )
    pq_drain = peers["pgqueuer"].get("drain", 0.0)
    short, long = (
        rota[f"drain_with_{sizes.short_queue}_queued"],
        rota[f"drain_with_{sizes.long_queue}_queued"],
    )
    rows = [
        (
            f"rota drain {sizes.drain:,} over HTTP (tasks/s)",
            f"{rota['drain_http']:,.0f}",
            f"vs PgQueuer in-process: {ratio(rota['drain_http'], pq_drain, False)} (target >= 1x)",
        ),
        (f"rota drain with {sizes.short_queue:,} queued", f"{short:,.0f}", ""),
        (
            f"rota drain with {sizes.long_queue:,} queued",
            f"{long:,.0f}",
            f"ratio {long / short:.2f} (target >= 0.8)",
        ),
    ]
    print_table(
        "targets: in-process drain >= 3x PgQueuer and >= 10,000/s; batched >= 2x; "
        "p50 <= 5 ms, p99 <= 20 ms",
        rows,
    )


if __name__ == "__main__":
    main()
