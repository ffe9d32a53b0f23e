"""A worker's own metrics (``--metrics-port``): its runs by kind and outcome and its busy
slots, served on loopback while it runs and gone when it stops."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rota.backends.memory import MemoryBackend
from rota.config import Settings
from rota.core.states import TaskState
from rota.service import Service, TaskSpec
from rota.worker import Registry, ServiceSource, Worker, WorkerOptions

registry = Registry()


@registry.task("fine")
async def fine() -> int:
    return 1


@registry.task("broken")
async def broken() -> None:
    raise ValueError("no")


@registry.task("long")
async def long() -> None:
    await asyncio.sleep(30)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_a_worker_serves_its_runs_and_busy_slots() -> None:
    service = Service(MemoryBackend(), Settings(retry_backoff=0))
    await service.open()
    ids = [
        (await service.enqueue(TaskSpec(k, max_attempts=1))).id for k in ("fine", "fine", "broken")
    ]
    await service.enqueue(TaskSpec("long"))
    options = WorkerOptions(concurrency=3, claim_wait=0.05, grace=0.1, metrics_port=0)
    worker = Worker(ServiceSource(service), registry, options=options)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            states = {(await service.get(i)).state for i in ids}
            if worker.metrics_port and states <= {TaskState.SUCCEEDED, TaskState.FAILED}:
                break
            await asyncio.sleep(0.02)
        url = f"http://127.0.0.1:{worker.metrics_port}/metrics"
        async with httpx.AsyncClient() as http:
            got = samples((await http.get(url)).text)
        assert got[("rota_worker_runs_total", (("kind", "fine"), ("outcome", "succeeded")))] == 2
        assert got[("rota_worker_runs_total", (("kind", "broken"), ("outcome", "failed")))] == 1
        assert got[("rota_worker_concurrency", ())] == 3
        assert got[("rota_worker_running", ())] == 1  # the long one (released on stop)
    finally:
        stop.set()
        await running
        await service.close()
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.TransportError):  # the server stopped with the worker
            await http.get(url, timeout=1)
