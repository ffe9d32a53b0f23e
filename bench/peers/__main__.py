"""Run the peer benchmarks and print their figures: ``python -m bench.peers --dsn ... --quick``.

A check of the peer half on its own; the main comparison calls each module's ``run()``.
``--redis`` runs the Redis peers instead (RQ, Celery, Dramatiq, arq, Huey, SAQ on
``ROTA_BENCH_REDIS_URL``), each module's synchronous ``run()``, with the priority check too.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import platform
from collections.abc import Callable, Coroutine
from typing import Any

from bench.peers import pgqueuer_bench, procrastinate_bench

Runner = Callable[..., Coroutine[Any, Any, dict[str, float]]]

PEERS: dict[str, Runner] = {
    "pgqueuer": pgqueuer_bench.run,
    "procrastinate": procrastinate_bench.run,
}

#: The Redis peers, ``bench/peers/<name>_bench.py``; imported only for ``--redis`` (Celery
#: and Dramatiq set up their apps and brokers on import).
REDIS_PEERS = ["rq", "celery", "dramatiq", "arq", "huey", "saq"]

ROWS = [
    ("enqueue_single", "enqueue one-by-one (tasks/s)", "{:,.0f}"),
    ("enqueue_batched", "enqueue batched, 1,000/call (tasks/s)", "{:,.0f}"),
    ("drain", "drain, until acknowledged (tasks/s)", "{:,.0f}"),
    ("drain_handlers", "drain, until last handler (tasks/s)", "{:,.0f}"),
    ("latency_p50_ms", "idle latency p50 (ms)", "{:.1f}"),
    ("latency_p99_ms", "idle latency p99 (ms)", "{:.1f}"),
    ("inversions", "priority inversions", "{:,.0f}"),
]


def run_redis(args: argparse.Namespace) -> None:
    sizes = (300, 5_000, 2_000, 30, 300) if args.quick else (2_000, 50_000, 20_000, 300, 1_000)
    given = (args.single, args.batched, args.drain, args.samples, args.priority)
    n_single, n_batched, n_drain, samples, n_priority = (
        value if value is not None else default for value, default in zip(given, sizes, strict=True)
    )
    results: dict[str, dict[str, float]] = {}
    for name in args.only or REDIS_PEERS:
        if name not in REDIS_PEERS:
            raise SystemExit(f"--only {name}: not a Redis peer ({', '.join(REDIS_PEERS)})")
        module = importlib.import_module(f"bench.peers.{name}_bench")
        results[name] = module.run(
            n_single=n_single,
            n_batched=n_batched,
            n_drain=n_drain,
            latency_samples=samples,
            n_priority=n_priority,
        )
    print(
        f"peers on Redis: single={n_single:,} batched={n_batched:,} drain={n_drain:,} "
        f"samples={samples} priority={n_priority:,}, "
        f"{platform.platform()}, Python {platform.python_version()}"
    )
    print_rows(results)


def print_rows(results: dict[str, dict[str, float]]) -> None:
    width = max(len(label) for _, label, _ in ROWS)
    print(f"  {'':<{width}}" + "".join(f"  {name:>14}" for name in results))
    for key, label, fmt in ROWS:
        cells = "".join(
            f"  {fmt.format(r[key]) if key in r else '-':>14}" for r in results.values()
        )
        print(f"  {label:<{width}}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--single", type=int, help="jobs enqueued one by one")
    parser.add_argument("--batched", type=int, help="jobs enqueued in batches of 1,000")
    parser.add_argument("--drain", type=int, help="jobs drained by the peer's worker")
    parser.add_argument("--samples", type=int, help="idle-latency samples")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument(
        "--only", choices=sorted([*PEERS, *REDIS_PEERS]), action="append", help="run one peer"
    )
    parser.add_argument("--redis", action="store_true", help="the Redis peers instead")
    parser.add_argument("--priority", type=int, help="tasks in the priority check (--redis)")
    args = parser.parse_args()
    if args.redis:
        run_redis(args)
        return
    sizes = (500, 10_000, 5_000, 50) if args.quick else (4_000, 50_000, 10_000, 300)
    n_single, n_batched, n_drain, samples = (
        given if given is not None else default
        for given, default in zip(
            (args.single, args.batched, args.drain, args.samples), sizes, strict=True
        )
    )
    results: dict[str, dict[str, float]] = {}
    for name in args.only or list(PEERS):
        if name not in PEERS:
            raise SystemExit(f"--only {name}: a Redis peer (add --redis)")
        results[name] = asyncio.run(
            PEERS[name](
                args.dsn,
                n_single=n_single,
                n_batched=n_batched,
                n_drain=n_drain,
                latency_samples=samples,
                concurrency=args.concurrency,
            )
        )
    print(
        f"peers on PostgreSQL: single={n_single:,} batched={n_batched:,} drain={n_drain:,} "
        f"samples={samples} concurrency={args.concurrency}, "
        f"{platform.platform()}, Python {platform.python_version()}"
    )
    print_rows(results)


if __name__ == "__main__":
    main()
