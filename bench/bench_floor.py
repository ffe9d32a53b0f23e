"""What one round trip costs on this machine, back to back and after an idle pause.

Run: ``python -m bench.bench_floor [--pause 0.02] [--samples 300]``. The defaults
benchmark's idle latency sends one task every 20 ms; between two tasks every process on the
path (producer, database, workers) goes idle, and the next round trip pays for waking them.
This measures that price with no scheduler at all, so the latency figures can be read
against it: the median of ``--samples`` round trips, one after another and ``--pause``
seconds apart, on the local PostgreSQL (``ROTA_BENCH_POSTGRES_URL``; a table of its own,
dropped after) and Redis (``ROTA_BENCH_REDIS_URL``, database 7, one key deleted after):

- PostgreSQL ``SELECT 1``: a round trip that writes nothing;
- an ``INSERT`` of one integer into a logged table, committed (the WAL flush of a durable
  enqueue, with synchronous_commit as the server has it);
- the same ``INSERT`` and a ``pg_notify`` in one statement, with a listener connected: what
  any PostgreSQL queue with push wake-ups pays per enqueue, before its own row and indexes;
- Redis ``PING`` and ``LPUSH``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable

import psycopg
import redis

from bench.bench_postgres import DEFAULT_URL

REDIS_URL = "redis://127.0.0.1:6379/7"
TABLE = "rota_bench_floor"


def median_ms(call: Callable[[], object], samples: int, pause: float) -> float:
    took = []
    for _ in range(samples):
        t0 = time.perf_counter()
        call()
        took.append(time.perf_counter() - t0)
        if pause:
            time.sleep(pause)
    return statistics.median(took) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between calls")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    pg_url = os.environ.get("ROTA_BENCH_POSTGRES_URL", DEFAULT_URL)
    calls: dict[str, Callable[[], object]] = {}
    with (
        psycopg.connect(pg_url, autocommit=True) as pg,
        psycopg.connect(pg_url, autocommit=True) as listener,
    ):
        listener.execute(f"LISTEN {TABLE}")
        stop = threading.Event()

        def hear() -> None:
            while not stop.is_set():
                for _ in listener.notifies(timeout=0.2):
                    pass

        hearing = threading.Thread(target=hear, daemon=True)
        hearing.start()
        pg.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (x int)")
        calls["PostgreSQL SELECT 1"] = lambda: pg.execute("SELECT 1")
        calls["PostgreSQL INSERT, committed"] = lambda: pg.execute(
            f"INSERT INTO {TABLE} VALUES (1)"
        )
        calls["PostgreSQL INSERT + NOTIFY, committed"] = lambda: pg.execute(
            f"WITH i AS (INSERT INTO {TABLE} VALUES (1)) SELECT pg_notify('{TABLE}', '')"
        )
        r = redis.Redis.from_url(os.environ.get("ROTA_BENCH_REDIS_URL", REDIS_URL))
        calls["Redis PING"] = r.ping
        calls["Redis LPUSH"] = lambda: r.lpush(TABLE, 1)
        try:
            print(f"| round trip | back to back ms | {args.pause * 1000:.0f} ms apart ms |")
            print("|---|---:|---:|")
            for name, call in calls.items():
                hot = median_ms(call, args.samples, 0.0)
                cold = median_ms(call, args.samples, args.pause)
                print(f"| {name} | {hot:.3f} | {cold:.3f} |", flush=True)
        finally:
            stop.set()
            hearing.join()
            pg.execute(f"DROP TABLE {TABLE}")
            r.delete(TABLE)
            r.close()


if __name__ == "__main__":
    main()
