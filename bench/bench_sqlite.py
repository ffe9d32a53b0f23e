"""rota on SQLite: enqueue, drain and latency figures (a benchmark, not a test).

Run: ``make bench`` (or ``python -m bench.bench_sqlite``). Every figure comes from this run
on this machine; nothing is compared with a remembered number.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.rota_runs import (
    drain_http,
    drain_in_process,
    enqueue_http,
    enqueue_in_process,
    fill,
    idle_latency,
    print_table,
    rota_server,
    rota_worker,
)


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

        def db(name: str) -> str:
            return f"sqlite:///{Path(tmp_name) / name}"

        single, batched = asyncio.run(enqueue_in_process(db("enq.db"), n_single, n_batched))
        rows += [
            ("enqueue one-by-one, in-process", f"{single:,.0f} tasks/s", "-"),
            ("enqueue batched (1,000), in-process", f"{batched:,.0f} tasks/s", ">= 50,000"),
        ]
        with rota_server(db("enq_http.db")) as url:
            single, batched = asyncio.run(enqueue_http(url, n_single, n_batched))
        rows += [
            ("enqueue one-by-one, HTTP (32 clients)", f"{single:,.0f} tasks/s", "-"),
            ("enqueue batched (1,000), HTTP", f"{batched:,.0f} tasks/s", "-"),
        ]
        rate = drain_http(db("drain_http.db"), n_drain, args.concurrency)
        rows.append(
            (f"drain {n_drain:,} no-op, rota worker over HTTP", f"{rate:,.0f} tasks/s", ">= 3,000")
        )
        asyncio.run(fill(db("drain_local.db"), n_drain))
        rate = asyncio.run(drain_in_process(db("drain_local.db"), n_drain, args.concurrency))
        rows.append(
            (f"drain {n_drain:,} no-op, in-process worker", f"{rate:,.0f} tasks/s", ">= 10,000")
        )
        with rota_server(db("lat.db")) as url, rota_worker(url, 4):
            time.sleep(1.0)
            p50, p99 = asyncio.run(idle_latency(url, 50 if args.quick else 300))
        rows += [
            ("idle enqueue-to-start latency p50", f"{p50:.1f} ms", "<= 10 ms"),
            ("idle enqueue-to-start latency p99", f"{p99:.1f} ms", "-"),
        ]
    print_table(
        f"rota SQLite benchmark, {datetime.now():%Y-%m-%d %H:%M}, {platform.platform()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        rows,
    )


if __name__ == "__main__":
    main()
