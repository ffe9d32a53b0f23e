"""Run the peer benchmarks and print their figures: ``python -m bench.peers --dsn ... --quick``.

A check of the peer half on its own; the main comparison calls each module's ``run()``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
from collections.abc import Callable, Coroutine
from typing import Any

from bench.peers import pgqueuer_bench, procrastinate_bench

Runner = Callable[..., Coroutine[Any, Any, dict[str, float]]]

PEERS: dict[str, Runner] = {
    "pgqueuer": pgqueuer_bench.run,
    "procrastinate": procrastinate_bench.run,
}

ROWS = [
    ("enqueue_single", "enqueue one-by-one (tasks/s)", "{:,.0f}"),
    ("enqueue_batched", "enqueue batched, 1,000/call (tasks/s)", "{:,.0f}"),
    ("drain", "drain, until acknowledged (tasks/s)", "{:,.0f}"),
    ("drain_handlers", "drain, until last handler (tasks/s)", "{:,.0f}"),
    ("latency_p50_ms", "idle latency p50 (ms)", "{:.1f}"),
    ("latency_p99_ms", "idle latency p99 (ms)", "{:.1f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    parser.add_argument("--single", type=int, help="jobs enqueued one by one")
    parser.add_argument("--batched", type=int, help="jobs enqueued in batches of 1,000")
    parser.add_argument("--drain", type=int, help="jobs drained by the peer's worker")
    parser.add_argument("--samples", type=int, help="idle-latency samples")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--only", choices=sorted(PEERS), action="append", help="run one peer")
    args = parser.parse_args()
    sizes = (500, 10_000, 5_000, 50) if args.quick else (4_000, 50_000, 10_000, 300)
    n_single, n_batched, n_drain, samples = (
        given if given is not None else default
        for given, default in zip(
            (args.single, args.batched, args.drain, args.samples), sizes, strict=True
        )
    )
    results: dict[str, dict[str, float]] = {}
    for name in args.only or list(PEERS):
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
    width = max(len(label) for _, label, _ in ROWS)
    print(f"  {'':<{width}}" + "".join(f"  {name:>14}" for name in results))
    for key, label, fmt in ROWS:
        cells = "".join(
            f"  {fmt.format(r[key]) if key in r else '-':>14}" for r in results.values()
        )
        print(f"  {label:<{width}}{cells}")


if __name__ == "__main__":
    main()
