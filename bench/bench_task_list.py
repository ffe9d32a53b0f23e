"""The dashboard's task list with 1,000,000 tasks in a PostgreSQL store (issue 17's bar:
within 200 ms).

Run once: ``python -m bench.bench_task_list`` (``--tasks``, ``--rounds``). It migrates a
schema of its own in ``ROTA_BENCH_POSTGRES_URL`` (default the local server), loads the
tasks through the service's batch insert (COPY), turns most of them into finished ones
with one UPDATE (as a store looks after a while: 90% succeeded, 4% failed, 1% canceled,
5% still queued), then times ``GET /api/v1/tasks`` on a real ``rota serve`` over HTTP for
each query the dashboard makes: the first page, a page deep in the list by its cursor,
the dead letter, one queue, one kind, one tenant (what a tenant-bound token lists). The
schema is dropped at the end. A measurement, not a test: the figures go in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg

from bench.serve import ROTA, rota_process
from rota.backends import backend_from_url
from rota.backends.postgres.url import PgUrl
from rota.config import Settings
from rota.service import Service
from rota.service.validation import TaskSpec

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
BATCH = 1000
QUEUES = ("default", "email", "reports", "billing")
KINDS = ("send", "render", "report", "sync", "resize")
TENANTS = tuple(f"t{i}" for i in range(10))
BAR_MS = 200.0


@contextmanager
def fresh_schema(base: str) -> Iterator[str]:
    url = f"{base}{'&' if '?' in base else '?'}schema=bench_list_{uuid.uuid4().hex[:8]}"
    subprocess.run([ROTA, "db", "upgrade", "--database-url", url], check=True, capture_output=True)
    try:
        yield url
    finally:
        with psycopg.connect(PgUrl.parse(url).conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{PgUrl.parse(url).schema}" CASCADE')


async def load(url: str, n: int) -> None:
    service = Service(backend_from_url(url), Settings(database_url=url))
    await service.open()
    try:
        for start in range(0, n, BATCH):
            await service.enqueue_many(
                [
                    TaskSpec(
                        KINDS[i % len(KINDS)],
                        {"n": i, "to": f"user{i}@example.com"},
                        queue=QUEUES[i % len(QUEUES)],
                        priority=(i * 7) % 101,
                        tenant=TENANTS[(i // 3) % len(TENANTS)],
                    )
                    for i in range(start, min(n, start + BATCH))
                ]
            )
    finally:
        await service.close()


def age(url: str) -> None:
    """Finish 95% of the tasks in one statement, then VACUUM ANALYZE, as a store that has
    run a while looks (the planner sees real statistics)."""
    parsed = PgUrl.parse(url)
    with psycopg.connect(parsed.conninfo, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{parsed.schema}"')
        conn.execute(
            """UPDATE rota_tasks SET
                 state = CASE WHEN (seq / 7) % 100 < 90 THEN 'succeeded'
                              WHEN (seq / 7) % 100 < 94 THEN 'failed' ELSE 'canceled' END,
                 attempt = 1, started_at = created_at, finished_at = created_at,
                 result = CASE WHEN (seq / 7) % 100 < 90 THEN '{"ok": true}'::jsonb END,
                 error = CASE WHEN (seq / 7) % 100 BETWEEN 90 AND 93
                              THEN 'RuntimeError: the mail server said no' END
               WHERE (seq / 7) % 100 < 95"""
        )
        conn.execute("VACUUM ANALYZE rota_tasks")
        conn.execute("CHECKPOINT")


def deep_cursor(url: str, n: int) -> int:
    parsed = PgUrl.parse(url)
    with psycopg.connect(parsed.conninfo) as conn:
        conn.execute(f'SET search_path TO "{parsed.schema}"')
        row = conn.execute(
            "SELECT seq FROM rota_tasks ORDER BY seq DESC OFFSET %s LIMIT 1", [n // 2]
        ).fetchone()
    assert row is not None
    return int(row[0])


def time_case(http: httpx.Client, params: dict[str, str | int], rounds: int) -> list[float]:
    for _ in range(3):  # warm: connection, plans, buffers
        http.get("/api/v1/tasks", params=params).raise_for_status()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        answer = http.get("/api/v1/tasks", params=params)
        times.append((time.perf_counter() - start) * 1000)
        answer.raise_for_status()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    base = os.environ.get("ROTA_BENCH_POSTGRES_URL", DEFAULT_URL)
    with fresh_schema(base) as url:
        start = time.perf_counter()
        asyncio.run(load(url, args.tasks))
        print(f"loaded {args.tasks:,} tasks in {time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        age(url)
        print(f"finished 95% of them and vacuumed in {time.perf_counter() - start:.0f} s")
        deep = deep_cursor(url, args.tasks)
        cases: dict[str, dict[str, str | int]] = {
            "first page (every state)": {"limit": 50},
            f"a page {args.tasks // 2:,} deep (cursor)": {"limit": 50, "cursor": deep},
            "dead letter (state=failed)": {"state": "failed", "limit": 100},
            "state=succeeded": {"state": "succeeded", "limit": 50},
            "state=queued": {"state": "queued", "limit": 50},
            "queue=email": {"queue": "email", "limit": 50},
            "queue=email, state=queued": {"queue": "email", "state": "queued", "limit": 50},
            "kind=report": {"kind": "report", "limit": 50},
            "tenant=t3 (a tenant-bound token)": {"tenant": "t3", "limit": 50},
            "tenant=t3, state=queued": {"tenant": "t3", "state": "queued", "limit": 50},
        }
        print(f"\n{'GET /api/v1/tasks':<36} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
        with rota_process(url) as (server, _), httpx.Client(base_url=server, timeout=30) as http:
            for name, params in cases.items():
                times = sorted(time_case(http, params, args.rounds))
                p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
                flag = "" if p95 <= BAR_MS else "  over the bar"
                print(
                    f"{name:<36} {statistics.median(times):>10.1f} {p95:>8.1f}"
                    f" {times[-1]:>8.1f}{flag}"
                )


if __name__ == "__main__":
    main()
