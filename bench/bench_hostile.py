"""Hostile input and idle long-polls against a real `rota serve`, at the default settings.

What docs/limits.md promises, measured: an oversized body, 10,000-deep JSON and a
1,000,000-item batch are refused (4xx) within 100 ms while the server's peak memory grows
by a bounded amount and it keeps serving; 1,000 concurrent long-polling claims cost the
server under 5% of a core while they wait, and health answers stay under 50 ms at p99.
No peer offers these limits to compare with, so this prints rota's figures beside the bars.

    python -m bench.bench_hostile                # SQLite
    python -m bench.bench_hostile --postgres     # the local PostgreSQL (ROTA_TEST_POSTGRES_URL)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.serve import rota_process

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def hostile(url: str, pid: int) -> list[tuple[str, int, float, int]]:
    """(what, status, seconds to the answer, peak RSS growth in KiB) per hostile request."""
    deep = ("[" * 10_000 + "]" * 10_000).encode()
    batch = b'{"tasks": [' + b",".join([b'{"kind":"k"}'] * 1_000_000) + b"]}"
    oversized = b'{"kind": "k", "payload": {"x": "' + b"a" * (17 * 1024 * 1024) + b'"}}'
    cases = [("17 MiB body", oversized, "/api/v1/tasks"),
             ("10,000-deep JSON", deep, "/api/v1/tasks"),
             ("1,000,000-item batch", batch, "/api/v1/tasks/batch")]  # fmt: skip
    rows = []
    with httpx.Client(base_url=url, timeout=60) as client:
        client.get("/api/v1/health")
        for what, body, path in cases:
            peak = memory_kib(pid, "VmHWM")
            start = time.perf_counter()
            answer = client.post(path, content=body, headers={"content-type": "application/json"})
            took = time.perf_counter() - start
            rows.append((what, answer.status_code, took, memory_kib(pid, "VmHWM") - peak))
            assert client.get("/api/v1/health").status_code == 200  # it keeps serving
    return rows


async def long_polls(url: str, pid: int, count: int, window: float) -> tuple[float, list[float]]:
    """Server CPU (share of one core) while ``count`` claims wait, and health latencies."""
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        waiting = [
            asyncio.create_task(
                client.post(f"/api/v1/workers/w{i}/claim", json={"queues": ["idle"], "wait": 30})
            )
            for i in range(count)
        ]
        await asyncio.sleep(5)  # every claim is in and waiting
        start_cpu, start = cpu_seconds(pid), time.monotonic()
        await asyncio.sleep(window)
        share = (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start)
        latencies = []
        for _ in range(200):
            t0 = time.perf_counter()
            assert (await client.get("/api/v1/health")).status_code == 200
            latencies.append(time.perf_counter() - t0)
            await asyncio.sleep(0.01)
        answers = await asyncio.gather(*waiting)
    assert all(a.status_code == 204 for a in answers), {a.status_code for a in answers}
    return share, latencies


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help="the local PostgreSQL")
    parser.add_argument("--polls", type=int, default=1000)
    parser.add_argument("--window", type=float, default=10.0, help="seconds of CPU sampling")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            from tests.conftest import drop_pg_schema, new_pg_schema

            database_url = new_pg_schema()
        else:
            database_url = f"sqlite:///{tmp}/bench-{uuid.uuid4().hex[:6]}.db"
        try:
            with rota_process(database_url) as (url, pid):
                rss = memory_kib(pid, "VmRSS")
                rows = hostile(url, pid)
                share, latencies = asyncio.run(long_polls(url, pid, args.polls, args.window))
        finally:
            if args.postgres:
                drop_pg_schema(database_url)
    store = "postgres" if args.postgres else "sqlite"
    print(f"## rota serve on {store}, default settings (RSS at start {rss // 1024} MiB)\n")
    print("| hostile request | status | answered in | peak RSS growth | bar |")
    print("|---|---|---|---|---|")
    for what, status, took, grew in rows:
        met = "met" if 400 <= status < 500 and took < 0.1 else "NOT met"
        print(f"| {what} | {status} | {took * 1000:.0f} ms | {grew / 1024:.1f} MiB "
              f"| 4xx within 100 ms: {met} |")  # fmt: skip
    cpu_met = "met" if share < 0.05 else "NOT met"
    health_met = "met" if p99(latencies) < 0.05 else "NOT met"
    print(f"\n{args.polls} long-polls waiting: server CPU {share * 100:.1f}% of a core "
          f"(< 5%: {cpu_met}); health p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {p99(latencies) * 1000:.1f} ms (< 50 ms: {health_met})")  # fmt: skip


if __name__ == "__main__":
    main()
