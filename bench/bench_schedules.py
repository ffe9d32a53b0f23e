"""Schedules at scale, at the default settings: many enabled schedules, a thousand of them
due in the same second, evaluated by an in-process maintenance leader on a real store.

Measured: how late each due occurrence's task is enqueued (its ``created_at`` minus its
``scheduled_for``), and the leader process's CPU per second while no schedule is due, for
two schedule counts, to show that evaluation costs what is due, not what exists. No peer
scheduler evaluates stored schedules this way to compare with, so this prints rota's
figures beside the bars of issue 15 (every task within 1 s; idle CPU flat).

    python -m bench.bench_schedules                       # PostgreSQL, 10,000 and 100,000
    python -m bench.bench_schedules --store redis
    python -m bench.bench_schedules --counts 10000 --due 1000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import time
from datetime import UTC, datetime, timedelta

import orjson

from rota.backends import Backend, backend_from_url
from rota.config import Settings
from rota.core.ids import new_id
from rota.core.models import ScheduleRecord, TaskFilter
from rota.service import Service
from rota.service.schedules import parse_occurrence_id
from tests.conftest import drop_pg_schema, drop_redis_store, new_pg_schema, new_redis_store


def record(name: str, rule: dict[str, object], next_run: datetime, now: datetime) -> ScheduleRecord:
    definition = {"rule": rule, "timezone": "UTC", "task": {"kind": "noop", "queue": "bench"},
                  "catch_up": "skip", "overlap": "allow", "deadline": None,
                  "enabled": True, "paused": False}  # fmt: skip
    return ScheduleRecord(new_id(), name, orjson.dumps(definition).decode(), True, next_run,
                          None, None, 1, now, now)  # fmt: skip


async def fill(backend: Backend, count: int, due: int, due_at: datetime) -> None:
    now = datetime.now(UTC)
    at = {"kind": "at", "expr": due_at.isoformat()}
    daily = {"kind": "interval", "expr": 86_400}
    records = [record(f"due-{i}", at, due_at, now) for i in range(due)]
    records += [record(f"idle-{i}", daily, now + timedelta(days=1), now)
                for i in range(count - due)]  # fmt: skip
    for start in range(0, len(records), 50):  # within the store's connection pool
        await asyncio.gather(*(backend.schedule_insert(r) for r in records[start : start + 50]))


async def cpu_per_second(service: Service, seconds: float) -> float:
    stop = asyncio.Event()
    loop = asyncio.create_task(service.run_maintenance(stop))
    await asyncio.sleep(1.0)  # leadership and the first rounds
    start_cpu, start = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    used = (time.process_time() - start_cpu) / (time.monotonic() - start)
    stop.set()
    await loop
    return used


async def run(url: str, count: int, due: int) -> dict[str, float]:
    backend = backend_from_url(url)
    service = Service(backend, Settings(database_url=url))
    await service.open()
    try:
        due_at = (datetime.now(UTC) + timedelta(seconds=45)).replace(microsecond=0)
        started = time.monotonic()
        await fill(backend, count, due, due_at)
        filled = time.monotonic() - started
        gc.collect()  # the fill's garbage is not the evaluation's cost
        idle = await cpu_per_second(service, 10.0)  # nothing is due yet
        stop = asyncio.Event()
        loop = asyncio.create_task(service.run_maintenance(stop))
        wait = (due_at - datetime.now(UTC)).total_seconds() + 3.0
        await asyncio.sleep(max(wait, 0.0))
        stop.set()
        await loop
        tasks, late = [], []
        cursor = None
        while True:
            page, cursor = await service.list_tasks(
                TaskFilter(queue="bench"), cursor=cursor, limit=1000
            )
            tasks += page
            if cursor is None:
                break
        for task in tasks:
            occurrence = parse_occurrence_id(task.id)
            assert occurrence is not None
            late.append((task.created_at - occurrence[1]).total_seconds())
        late.sort()
        return {"schedules": count, "due": due, "made": len(tasks), "fill_s": filled,
                "late_p50": late[len(late) // 2] if late else float("nan"),
                "late_max": late[-1] if late else float("nan"), "idle_cpu": idle}  # fmt: skip
    finally:
        await service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["postgres", "redis", "sqlite"], default="postgres")
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--due", type=int, default=1000)
    args = parser.parse_args()
    print(f"schedules on {args.store}, default settings; {args.due} due in one second")
    print("| schedules | due | tasks made | latest late s | p50 late s | idle leader CPU |")
    print("|---:|---:|---:|---:|---:|---:|")
    for count in args.counts:
        if args.store == "postgres":
            url = new_pg_schema()
        elif args.store == "redis":
            url = new_redis_store()
        else:
            url = f"sqlite:///{os.path.abspath(f'bench-schedules-{count}.db')}"
        try:
            r = asyncio.run(run(url, count, args.due))
        finally:
            if args.store == "postgres":
                drop_pg_schema(url)
            elif args.store == "redis":
                drop_redis_store(url)
            else:
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(url[10:] + suffix):
                        os.remove(url[10:] + suffix)
        print(f"| {count:,} | {args.due:,} | {int(r['made']):,} | {r['late_max']:.3f} | "
              f"{r['late_p50']:.3f} | {100 * r['idle_cpu']:.1f}% |")  # fmt: skip


if __name__ == "__main__":
    main()
