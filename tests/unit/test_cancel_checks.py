"""A worker asks about cancels only while it runs tasks that have run a while: an idle
worker, and one draining short tasks, send no cancel checks at all."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from rota.service import Service, TaskSpec
from rota.worker import Registry, ServiceSource, Worker, WorkerOptions
from tests.unit.test_worker_runtime import service  # noqa: F401 (a fixture)

registry = Registry()


@registry.task("quick")
async def quick() -> None:
    await asyncio.sleep(0.001)


@registry.task("nap")
async def nap(seconds: float) -> None:
    await asyncio.sleep(seconds)


class Counting(ServiceSource):
    def __init__(self, svc: Service) -> None:
        super().__init__(svc)
        self.asked: list[int] = []

    async def canceled(
        self, worker_id: str, leases: Sequence[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        self.asked.append(len(leases))
        return await super().canceled(worker_id, leases)


async def run_for(svc: Service, seconds: float) -> Counting:
    source = Counting(svc)
    options = WorkerOptions(claim_wait=0.05, cancel_check_interval=0.1)
    stop = asyncio.Event()
    running = asyncio.create_task(Worker(source, registry, options=options).run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await running
    return source


async def test_an_idle_worker_asks_nothing(service: Service) -> None:  # noqa: F811
    assert (await run_for(service, 0.6)).asked == []


async def test_short_tasks_ask_nothing(service: Service) -> None:  # noqa: F811
    for _ in range(200):
        await service.enqueue(TaskSpec("quick", {}))
    assert (await run_for(service, 0.8)).asked == []


async def test_long_runs_are_asked_about_in_one_request(service: Service) -> None:  # noqa: F811
    for _ in range(3):
        await service.enqueue(TaskSpec("nap", {"seconds": 0.8}))
    asked = (await run_for(service, 0.7)).asked
    assert 3 <= len(asked) <= 7 and set(asked) == {3}  # every ~0.1 s, all three at once
