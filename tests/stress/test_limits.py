"""Global limits under 16 claiming OS processes on PostgreSQL and on Redis: the running
tasks of a queue with a concurrency limit never exceed it, sampled from the store's own
counts while the claimers run and read from the claimers' records (each run from its
claim's return to its completion's sending, inside the interval the store had it
running: more overlapping than the limit would prove an over-admission); a queue with a
rate limit starts tasks within 10% of its rate over the run (from the tasks' started_at).
60 s under ROTA_STRESS=1, 6 s otherwise."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rota.backends import backend_from_url
from rota.config import Settings
from rota.core.models import TaskFilter
from rota.core.states import TaskState
from rota.service import Service, TaskSpec
from tests.conftest import drop_pg_schema, drop_redis_store, new_pg_schema, new_redis_store
from tests.stress.conftest import sized
from tests.stress.limited_claimer import run_limited_claimer

PROCESSES = 16
CONCURRENCY = 3
RATE = 20.0


@pytest.fixture(params=["postgres", "redis"])
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "postgres":
        made = new_pg_schema()
        yield made
        drop_pg_schema(made)
    else:
        made = new_redis_store()
        yield made
        drop_redis_store(made)


@pytest.mark.stress
async def test_limits_hold_under_sixteen_claimer_processes(url: str, tmp_path: Path) -> None:
    seconds = float(sized(60, 6))
    service = Service(backend_from_url(url), Settings(database_url=url))
    await service.open()
    try:
        await service.queues.update("lim", {"concurrency_limit": CONCURRENCY}, actor="test")
        await service.queues.update("rate", {"rate_limit": RATE}, actor="test")
        for queue in ("lim", "rate"):  # more than the run can start
            for _ in range(int(seconds * RATE * 2 / 1000) + 2):
                await service.enqueue_many([TaskSpec("work", queue=queue)] * 1000)
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(PROCESSES + 1)
        outs = [tmp_path / f"runs-{n}.txt" for n in range(PROCESSES)]
        procs = [
            ctx.Process(
                target=run_limited_claimer, args=(url, f"p{n}", seconds, str(outs[n]), barrier)
            )
            for n in range(PROCESSES)
        ]
        for proc in procs:
            proc.start()
        await asyncio.to_thread(barrier.wait, 120)
        began = datetime.now(UTC)
        most, samples = 0, 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            counts = await service.backend.task_count_by_queue()
            now = sum(c.count for c in counts if c.queue == "lim" and c.state == TaskState.RUNNING)
            most, samples = max(most, now), samples + 1
            await asyncio.sleep(0.01)
        for proc in procs:
            await asyncio.to_thread(proc.join, 60)
        assert [p.exitcode for p in procs] == [0] * PROCESSES
        assert samples > 5 and most <= CONCURRENCY, (samples, most)
        lines = [line.split() for out in outs for line in out.read_text().splitlines()]
        held = [(float(a), float(b)) for queue, a, b in lines if queue == "lim"]
        assert most_at_once(held) == CONCURRENCY  # reached, never passed
        started = await started_between(service, "rate", began, began + timedelta(seconds=seconds))
        expected = RATE * seconds
        assert 0.9 * expected <= started <= 1.1 * expected + RATE, (started, expected)
    finally:
        await service.close()


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that overlap (an end before a start at one instant)."""
    edges = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    level = most = 0
    for _, step in edges:
        level += step
        most = max(most, level)
    return most


async def started_between(service: Service, queue: str, start: datetime, end: datetime) -> int:
    found = 0
    for state in (TaskState.SUCCEEDED, TaskState.RUNNING):
        after = None
        while True:
            page = await service.backend.task_list(
                TaskFilter(queue=queue, state=state), after_seq=after, limit=1000
            )
            found += sum(1 for t in page if t.started_at and start <= t.started_at < end)
            if len(page) < 1000:
                break
            after = page[-1].seq
    return found
