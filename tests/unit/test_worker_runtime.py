"""The worker runtime over an in-process service: every way a handler can end."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from rota.backends.memory import MemoryBackend
from rota.config import Settings
from rota.core.models import Task
from rota.core.states import TaskState
from rota.service import Completion, Failure, Service, TaskSpec
from rota.worker import (
    Registry,
    RetryLater,
    ServiceSource,
    TaskContext,
    Worker,
    WorkerOptions,
)

S = TaskState
registry = Registry()
seen: dict[str, Any] = {}


@registry.task("instant")
async def instant(**payload: Any) -> dict[str, Any]:
    return {"got": payload}


@registry.task("waits")
async def waits(n: int) -> int:
    await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    return n * 2


@registry.task("raises_at_once")
async def raises_at_once() -> None:
    raise ValueError("broken before any await")


@registry.task("raises_later")
async def raises_later() -> None:
    await asyncio.sleep(0.01)
    raise KeyError("broken after an await")


@registry.task("in_a_thread")
def in_a_thread() -> str:
    return threading.current_thread().name


@registry.task("slow")
async def slow(seconds: float) -> None:
    await asyncio.sleep(seconds)


@registry.task("not_json")
async def not_json() -> object:
    return object()


@registry.task("cancellable", pass_context=True)
async def cancellable(ctx: TaskContext) -> None:
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        seen["cancelled"] = ctx.cancel_requested.is_set()
        raise


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    svc = Service(MemoryBackend(), Settings(retry_backoff=0, lease_seconds=30))
    await svc.open()
    yield svc
    await svc.close()


async def run_until(
    service: Service, task_ids: list[str], registry: Registry = registry, **options: Any
) -> list[Task]:
    """Run a worker until every task is final; return them."""
    opts = {"concurrency": 4, "claim_wait": 0.05, "heartbeat_interval": 0.05, **options}
    worker = Worker(ServiceSource(service), registry, options=WorkerOptions(**opts))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline:
            tasks = [await service.get(i) for i in task_ids]
            if all(t.state in (S.SUCCEEDED, S.FAILED, S.CANCELED) for t in tasks):
                return tasks
            await asyncio.sleep(0.01)
        raise AssertionError(f"not final: {[(t.kind, t.state) for t in tasks]}")
    finally:
        stop.set()
        await running


async def submit(service: Service, kind: str, **payload: Any) -> str:
    return (await service.enqueue(TaskSpec(kind, payload, max_attempts=1))).id


async def test_a_handler_that_never_waits_succeeds(service: Service) -> None:
    (task,) = await run_until(service, [await submit(service, "instant", a=1)])
    assert task.state == S.SUCCEEDED
    assert task.result == {"got": {"a": 1}}


async def test_a_handler_that_waits_succeeds(service: Service) -> None:
    ids = [await submit(service, "waits", n=n) for n in range(6)]
    tasks = await run_until(service, ids)
    assert [t.result for t in tasks] == [n * 2 for n in range(6)]


@pytest.mark.parametrize(
    ("kind", "text"),
    [("raises_at_once", "ValueError: broken before"), ("raises_later", "KeyError")],
)
async def test_a_raising_handler_fails_with_its_traceback(
    service: Service, kind: str, text: str
) -> None:
    (task,) = await run_until(service, [await submit(service, kind)])
    assert task.state == S.FAILED
    assert task.error is not None and text in task.error and "Traceback" in task.error


async def test_sync_handlers_run_in_worker_threads(service: Service) -> None:
    (task,) = await run_until(service, [await submit(service, "in_a_thread")])
    assert task.state == S.SUCCEEDED
    assert task.result.startswith("rota-task")


async def test_a_run_past_its_timeout_fails_as_timeout(service: Service) -> None:
    task_id = (
        await service.enqueue(TaskSpec("slow", {"seconds": 5}, timeout=0.05, max_attempts=1))
    ).id
    (task,) = await run_until(service, [task_id])
    assert task.state == S.FAILED
    assert task.error is not None and task.error.startswith("timeout")


async def test_a_result_that_is_not_json_fails_without_retry(service: Service) -> None:
    task_id = (await service.enqueue(TaskSpec("not_json", max_attempts=3))).id
    (task,) = await run_until(service, [task_id])
    assert task.state == S.FAILED
    assert task.attempt == 1
    assert "not JSON" in (task.error or "")


async def test_an_unknown_kind_fails_naming_the_handlers(service: Service) -> None:
    (task,) = await run_until(service, [await submit(service, "nobody")])
    assert task.state == S.FAILED
    assert "no handler named 'nobody'" in (task.error or "")


async def test_cancel_of_a_running_task_reaches_the_handler(service: Service) -> None:
    seen.clear()
    task_id = await submit(service, "cancellable")

    async def cancel_when_running() -> None:
        while (await service.get(task_id)).state != S.RUNNING:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await service.cancel(task_id)

    canceller = asyncio.create_task(cancel_when_running())
    (task,) = await run_until(service, [task_id], cancel_grace=0.1)
    await canceller
    assert task.state == S.CANCELED
    assert seen["cancelled"] is True  # the handler saw the request before it was stopped


async def test_stop_past_grace_releases_running_tasks(service: Service) -> None:
    task_id = (await service.enqueue(TaskSpec("slow", {"seconds": 30}))).id
    worker = Worker(
        ServiceSource(service),
        registry,
        options=WorkerOptions(concurrency=2, claim_wait=0.05, grace=0.05),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    while (await service.get(task_id)).state != S.RUNNING:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(running, 5)
    task = await service.get(task_id)
    assert task.state == S.QUEUED
    assert "released" in (task.error or "")


@registry.task("later")
async def later() -> None:
    raise RetryLater(30, "the remote side is busy")


@registry.task("polite", pass_context=True)
async def polite(ctx: TaskContext) -> str:
    await ctx.report_progress({"started": True})
    await ctx.cancel_requested.wait()
    raise RuntimeError("stopped on request")


@registry.task("stuck")
def stuck(seconds: float) -> None:
    time.sleep(seconds)


@registry.task("quick_sync")
def quick_sync() -> str:
    return "ran"


async def test_retry_later_from_a_handler_keeps_the_attempt(service: Service) -> None:
    task_id = await submit(service, "later")
    worker = Worker(
        ServiceSource(service), registry, options=WorkerOptions(concurrency=1, claim_wait=0.05)
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    while worker.processed < 1:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    stop.set()
    await running
    task = await service.get(task_id)
    assert (task.state, task.attempt) == (S.SCHEDULED, 0)
    assert "busy" in (task.error or "")


async def test_a_cooperative_handler_stops_within_the_grace(service: Service) -> None:
    task_id = await submit(service, "polite")

    async def cancel_when_running() -> None:
        while (await service.get(task_id)).progress is None:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await service.cancel(task_id)

    canceller = asyncio.create_task(cancel_when_running())
    started = time.monotonic()
    (task,) = await run_until(service, [task_id], cancel_grace=30)
    await canceller
    assert task.state == S.CANCELED
    assert "stopped on request" in (task.error or "")
    assert time.monotonic() - started < 10  # it stopped itself, long before the 30 s grace


async def test_a_timed_out_sync_handler_does_not_keep_its_slot(service: Service) -> None:
    stuck_id = (
        await service.enqueue(TaskSpec("stuck", {"seconds": 1.5}, timeout=0.1, max_attempts=1))
    ).id
    quick_id = await submit(service, "quick_sync")
    tasks = await run_until(service, [stuck_id, quick_id], concurrency=1)
    assert [t.state for t in tasks] == [S.FAILED, S.SUCCEEDED]
    # the quick task ran while the stuck thread was still sleeping
    assert tasks[1].finished_at is not None and tasks[0].finished_at is not None
    assert (tasks[1].finished_at - tasks[0].finished_at).total_seconds() < 1.0


class _CountingSource(ServiceSource):
    """Counts how results reach the service: riding on claims, or in reports of their own."""

    carries_reports = True

    def __init__(self, service: Service) -> None:
        super().__init__(service)
        self.on_claims = 0
        self.in_reports = 0

    async def claim(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        wait: float,
        completions: Sequence[Completion] = (),
        failures: Sequence[Failure] = (),
        capabilities: Sequence[str] = (),
    ) -> list[Task]:
        self.on_claims += len(completions) + len(failures)
        return await super().claim(
            worker_id, queues, limit, wait, completions, failures, capabilities
        )

    async def report(self, worker_id: str, completions: Any, failures: Any) -> None:
        self.in_reports += len(completions) + len(failures)
        await super().report(worker_id, completions, failures)


async def test_results_ride_on_the_next_claim_and_each_lands_once(service: Service) -> None:
    ids = [
        (await service.enqueue(TaskSpec("instant", {"i": i}, max_attempts=1))).id for i in range(60)
    ]
    source = _CountingSource(service)
    worker = Worker(source, registry, options=WorkerOptions(concurrency=10, claim_wait=0.05))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    while worker.processed < 60:  # noqa: ASYNC110 - a short poll is fine in a test
        await asyncio.sleep(0.005)
    stop.set()
    await running

    tasks = [await service.get(i) for i in ids]
    assert [t.state for t in tasks] == [S.SUCCEEDED] * 60
    assert [t.result for t in tasks] == [{"got": {"i": i}} for i in range(60)]
    # Instant handlers finish before the next claim: most results go with it.
    assert source.on_claims >= 40, (source.on_claims, source.in_reports)
    assert source.on_claims + source.in_reports == 60


class _SlowReports(ServiceSource):
    """A store that is slow to take reports: records each report's size, and how many
    tasks the worker had claimed but not yet handed over whenever it claims more."""

    def __init__(self, service: Service) -> None:
        super().__init__(service)
        self.claimed = 0
        self.handed = 0
        self.report_sizes: list[int] = []
        self.reported: set[str] = set()
        self.peak = 0  # the most tasks claimed and not yet reported, counting the new claim

    async def claim(
        self,
        worker_id: str,
        queues: Sequence[str] | None,
        limit: int,
        wait: float,
        completions: Sequence[Completion] = (),
        failures: Sequence[Failure] = (),
        capabilities: Sequence[str] = (),
    ) -> list[Task]:
        self.peak = max(self.peak, self.claimed - self.handed + limit)
        tasks = await super().claim(worker_id, queues, limit, wait, completions, failures)
        self.claimed += len(tasks)
        return tasks

    async def report(self, worker_id: str, completions: Any, failures: Any) -> None:
        self.handed += len(completions) + len(failures)
        self.report_sizes.append(len(completions) + len(failures))
        self.reported.update(c.task_id for c in completions)
        await asyncio.sleep(0.05)
        await super().report(worker_id, completions, failures)


async def _drain_with(source: ServiceSource, n: int, concurrency: int) -> None:
    worker = Worker(source, registry, options=WorkerOptions(concurrency=concurrency))
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    while worker.processed < n:  # noqa: ASYNC110 - a short poll is fine in a test
        await asyncio.sleep(0.005)
    stop.set()
    await running


async def test_a_slow_reporter_holds_claims_back(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rota.core.limits.MAX_BATCH", 20)
    ids = [(await submit(service, "instant", i=i)) for i in range(300)]
    source = _SlowReports(service)
    await _drain_with(source, 300, concurrency=10)

    assert [(await service.get(i)).state for i in ids] == [S.SUCCEEDED] * 300
    # Instant handlers outrun a 50 ms report many times over; without backpressure the
    # worker would have claimed (nearly) all 300 while the first reports were in flight.
    # With it, a claim waits while a full report (20) is unsent: at most 20 + 10 are out.
    assert source.peak < 20 + 10, source.peak


async def test_reports_never_exceed_the_batch_limit(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("rota.core.limits.MAX_BATCH", 7)
    ids = [(await submit(service, "instant", i=i)) for i in range(100)]
    source = _SlowReports(service)
    await _drain_with(source, 100, concurrency=20)

    assert [(await service.get(i)).state for i in ids] == [S.SUCCEEDED] * 100
    assert max(source.report_sizes) == 7
    assert source.reported == set(ids)


held_runs: list[tuple[int, asyncio.Event]] = []


@registry.task("held", pass_context=True)
async def held(ctx: TaskContext) -> int:
    gate = asyncio.Event()
    held_runs.append((ctx.task.lease_token, gate))
    await gate.wait()
    return len(held_runs)


async def test_a_task_handed_back_while_its_old_run_goes_on_is_run_and_reported() -> None:
    """The same worker can be handed a task it still runs (its lease expired, or a database
    crash undid the claim). Both runs are its own: the old one's end must not lose track of
    the new one, whose result is reported; the old one's result is refused."""
    held_runs.clear()
    service = Service(MemoryBackend(), Settings(retry_backoff=0, lease_seconds=0.2))
    await service.open()
    task_id = (await service.enqueue(TaskSpec("held", max_attempts=3))).id
    worker = Worker(
        ServiceSource(service),
        registry,
        options=WorkerOptions(concurrency=2, claim_wait=0.05, heartbeat_interval=60),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        while not held_runs:  # noqa: ASYNC110 - a short poll is fine in a test
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # the first lease (0.2 s, no heartbeat) runs out
        assert await service.sweep() == 1
        while len(held_runs) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        (old, first), (new, second) = held_runs
        assert old != new

        first.set()  # the old run ends first
        await asyncio.sleep(0.1)
        assert (await service.get(task_id)).state == S.RUNNING  # its report was refused
        second.set()
        for _ in range(200):
            task = await service.get(task_id)
            if task.state != S.RUNNING:
                break
            await asyncio.sleep(0.01)
        assert (task.state, task.attempt, task.lease_token, task.result) == (
            S.SUCCEEDED,
            2,
            new,
            2,
        )
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
        await service.close()
