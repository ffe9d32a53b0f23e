"""The process executor: runs in a child, carries errors back, kills on timeout."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rota.backends.memory import MemoryBackend
from rota.config import Settings
from rota.core.errors import ValidationError
from rota.core.models import Task
from rota.core.states import TaskState
from rota.service import Service, TaskSpec
from rota.worker import Registry, ServiceSource, Worker, WorkerOptions
from tests.unit import process_handlers
from tests.unit.test_worker_runtime import run_until


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    svc = Service(MemoryBackend(), Settings(retry_backoff=0))
    await svc.open()
    yield svc
    await svc.close()


S = TaskState


async def _run(service: Service, kind: str, **fields: Any) -> list[Task]:
    spec = TaskSpec(kind, max_attempts=1, **fields)
    task_id = (await service.enqueue(spec)).id
    return await run_until(service, [task_id], registry=process_handlers.registry)


async def test_runs_in_another_process(service: Service) -> None:
    (task,) = await _run(service, "whoami")
    assert task.state == S.SUCCEEDED
    assert task.result != os.getpid()


async def test_an_error_in_the_child_comes_back_with_its_kind(service: Service) -> None:
    (task,) = await _run(service, "boom")
    assert task.state == S.FAILED
    assert "ZeroDivisionError: in the child" in (task.error or "")


async def test_a_child_that_dies_is_a_failed_attempt(service: Service) -> None:
    (task,) = await _run(service, "crash")
    assert task.state == S.FAILED
    assert "exit code 3" in (task.error or "")


async def test_retry_later_crosses_the_process_boundary(service: Service) -> None:
    task_id = (await service.enqueue(TaskSpec("not_now", max_attempts=1))).id
    import asyncio

    worker = Worker(
        ServiceSource(service),
        process_handlers.registry,
        options=WorkerOptions(concurrency=1, claim_wait=0.05),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    while worker.processed < 1:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    stop.set()
    await running
    task = await service.get(task_id)
    assert (task.state, task.attempt) == (S.SCHEDULED, 0)


async def test_a_timeout_kills_the_child(service: Service, tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    (task,) = await _run(service, "hang", payload={"pid_file": str(pid_file)}, timeout=1.0)
    assert task.state == S.FAILED
    assert (task.error or "").startswith("timeout")
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_process_handler_cannot_take_the_context() -> None:
    with pytest.raises(ValidationError, match="process"):
        Registry().add("x", lambda ctx: None, pass_context=True, executor="process")
