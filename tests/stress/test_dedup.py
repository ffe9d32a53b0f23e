"""Unique keys under 16 submitting OS processes on one store (a SQLite file, PostgreSQL,
Redis): released together by a barrier, each submits a task under the same key, once per
conflict rule. Each rule leaves exactly one waiting task for its key, and the outcomes are
the documented ones (docs/queues.md, "Unique tasks"): reject makes one and refuses the
rest; existing makes one and answers the rest with it; replace makes every one, each
canceling the one before; update_payload, raise_priority, update_priority and update make
one and change it."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from rota.backends import backend_from_url
from rota.config import Settings
from rota.core.models import TaskFilter
from rota.core.states import TaskState
from rota.service import Service
from tests.conftest import drop_pg_schema, drop_redis_store, new_pg_schema, new_redis_store
from tests.stress.submitter import RULES, run_submitter

PROCESSES = 16
EXPECTED = {
    "reject": {"made": 1, "rejected": 15},
    "existing": {"made": 1, "existing": 15},
    "replace": {"made": 16},
    "update_payload": {"made": 1, "existing": 15},
    "raise_priority": {"made": 1, "existing": 15},
    # each asks a priority (and payload) the holder has not: only its own submit gave it
    "update_priority": {"made": 1, "existing": 15},
    "update": {"made": 1, "existing": 15},
}


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/dedup.db"
    elif request.param == "postgres":
        made = new_pg_schema()
        yield made
        drop_pg_schema(made)
    else:
        made = new_redis_store()
        yield made
        drop_redis_store(made)


@pytest.mark.stress
async def test_sixteen_submitter_processes_leave_one_waiting_task_per_key(
    url: str, tmp_path: Path
) -> None:
    service = Service(backend_from_url(url), Settings(database_url=url))
    await service.open()  # creates the SQLite file's schema before the processes race
    try:
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(PROCESSES)
        outs = [tmp_path / f"outcomes-{n}.txt" for n in range(PROCESSES)]
        procs = [
            ctx.Process(target=run_submitter, args=(url, n, str(outs[n]), barrier))
            for n in range(PROCESSES)
        ]
        for proc in procs:
            proc.start()
        for proc in procs:
            await asyncio.to_thread(proc.join, 120)
        assert [p.exitcode for p in procs] == [0] * PROCESSES
        outcomes: dict[str, Counter[str]] = {rule: Counter() for rule in RULES}
        for out in outs:
            for line in out.read_text().splitlines():
                rule, outcome = line.split()
                outcomes[rule][outcome] += 1
        assert outcomes == {rule: Counter(counts) for rule, counts in EXPECTED.items()}
        found, _ = await service.list_tasks(TaskFilter(queue="scans"), limit=1000)
        for rule in RULES:
            tasks = [t for t in found if t.id.startswith(f"{rule}-")]
            waiting = [t for t in tasks if t.state == TaskState.QUEUED]
            assert len(waiting) == 1, (rule, [(t.id, t.state) for t in tasks])
            (left,) = waiting
            if rule == "replace":
                assert Counter(t.state for t in tasks) == {
                    TaskState.QUEUED: 1, TaskState.CANCELED: 15,
                }  # fmt: skip
            if rule == "update_payload":  # the holder, with one of the later payloads
                assert left.payload != {"from": int(left.id.split("-")[-1])}
            if rule == "raise_priority":
                assert left.priority == PROCESSES - 1  # the highest asked for
    finally:
        await service.close()
