"""Long-polls wait on wake-ups: however many claims wait, the store is read about once per
poll interval (by the watcher), not once per claim per interval."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from rota.backends.sqlite import SQLiteBackend
from rota.config import Settings
from rota.service import Service, TaskSpec


class Counting(SQLiteBackend):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.claims = 0
        self.reads = 0

    async def task_claim_many(self, request: Any) -> Any:
        self.claims += 1
        return await super().task_claim_many(request)

    async def task_next_run_at(self) -> Any:
        self.reads += 1
        return await super().task_next_run_at()


async def test_200_waiting_claims_cost_a_read_per_interval(tmp_path: Path) -> None:
    backend = Counting(tmp_path / "t.db")
    service = Service(backend, Settings(poll_interval=0.05))
    await service.open()
    try:
        waiting = [asyncio.create_task(service.claim(f"w{i}", wait=1.0)) for i in range(200)]
        await asyncio.sleep(0.5)  # ten poll intervals
        assert service.waiting.count == 200
        assert backend.claims == 200  # each looked once, then slept
        assert backend.reads <= 15, backend.reads  # one watcher, not 200 pollers
        started = time.monotonic()
        await service.enqueue(TaskSpec("work"))
        done = [t for t in await asyncio.gather(*waiting) if t]
        assert len(done) == 1  # one of them got it, the others timed out empty
        assert time.monotonic() - started < 1.0
    finally:
        await service.close()


async def test_another_process_commit_wakes_the_waiting_claims(tmp_path: Path) -> None:
    here = Service(SQLiteBackend(tmp_path / "t.db"), Settings(poll_interval=0.05))
    there = Service(SQLiteBackend(tmp_path / "t.db"), Settings(poll_interval=0.05))
    await here.open()
    await there.open()
    try:
        version = await here.backend.store_version()
        await here.enqueue(TaskSpec("mine"))  # its own commits leave its version alone
        assert await here.backend.store_version() == version
        assert [t.kind for t in await here.claim("w", wait=0.0)] == ["mine"]
        waiting = asyncio.create_task(here.claim("w", wait=5.0))
        await asyncio.sleep(0.2)
        await there.enqueue(TaskSpec("theirs"))  # another connection: the watcher sees it
        claimed = await asyncio.wait_for(waiting, 2.0)
        assert [t.kind for t in claimed] == ["theirs"]
        assert await here.backend.store_version() != version
    finally:
        await here.close()
        await there.close()


async def test_past_the_limit_of_waiting_claims_a_claim_answers_at_once(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr("rota.core.limits.MAX_WAITING_CLAIMS", 3)
    service = Service(SQLiteBackend(tmp_path / "t.db"), Settings(poll_interval=0.05))
    await service.open()
    try:
        held = [asyncio.create_task(service.claim(f"w{i}", wait=2.0)) for i in range(3)]
        await asyncio.sleep(0.1)
        assert service.waiting.count == 3
        started = time.monotonic()
        assert await service.claim("w9", wait=2.0) == []
        assert time.monotonic() - started < 1.0  # not held: the process holds its limit
        await service.enqueue(TaskSpec("work"))
        assert sum(len(t) for t in await asyncio.gather(*held)) == 1
    finally:
        await service.close()
