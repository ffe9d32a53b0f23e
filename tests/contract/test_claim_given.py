"""A claim of given tasks (``Service.claim(task_ids=...)``, KAT's filtered pop) on every store:
it leases exactly those of the given tasks that a claim could take now, and nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rota.backends import Backend, backend_from_url
from rota.core.clock import ManualClock
from rota.core.errors import ValidationError
from rota.core.models import Task, TaskFilter
from rota.core.states import TaskState
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings
from tests.contract.conftest import Store
from tests.contract.helpers import T0

S = TaskState


def make_service(backend: Backend) -> tuple[Service, ManualClock]:
    clock = ManualClock(T0)
    return Service(backend, make_settings(), clock=clock), clock


async def enqueue(service: Service, *ids: str, queue: str = "kat", **fields: Any) -> None:
    await service.enqueue_many([TaskSpec("scan", id=i, queue=queue, **fields) for i in ids])


async def drain(service: Service, queue: str = "kat") -> list[str]:
    ids: list[str] = []
    while tasks := await service.claim("w-drain", queues=[queue]):
        ids.extend(t.id for t in tasks)
    return ids


async def test_a_given_queued_task_is_leased_and_only_it(backend: Backend) -> None:
    service, _ = make_service(backend)
    await enqueue(service, "a", "b", "c", "d")
    (task,) = await service.claim("w1", queues=["kat"], task_ids=["c"], lease_seconds=600)
    assert (task.id, task.state, task.attempt, task.worker_id) == ("c", S.RUNNING, 1, "w1")
    assert task.lease_token > 0
    assert task.lease_expires_at is not None
    assert (task.lease_expires_at - T0).total_seconds() == 600
    assert (await service.get("c")).state is S.RUNNING
    assert [e.kind for e in await service.events("c")][-1] == "claimed"
    for other in ("a", "b", "d"):
        assert (await service.get(other)).state is S.QUEUED
    assert await drain(service) == ["a", "b", "d"]  # the others, in their order


async def test_several_given_tasks_are_leased_together_best_first(backend: Backend) -> None:
    service, _ = make_service(backend)
    await enqueue(service, "a", "b", "c")
    await enqueue(service, "urgent", priority="high")
    claimed = await service.claim("w1", task_ids=["c", "urgent", "a", "a", "nope"])
    assert [t.id for t in claimed] == ["urgent", "a", "c"]
    assert await drain(service) == ["b"]


async def test_a_given_task_that_a_claim_could_not_take_is_left_as_it_is(
    backend: Backend,
) -> None:
    service, clock = make_service(backend)
    await enqueue(service, "running", "finished", "open")
    (running,) = await service.claim("w0", task_ids=["running"])
    (finished,) = await service.claim("w0", task_ids=["finished"])
    await service.complete(finished.id, finished.lease_token, {"ok": True})
    await enqueue(service, "later", delay=3600)
    await enqueue(service, "expired", expires_in=5)
    await enqueue(service, "elsewhere", queue="other")
    await enqueue(service, "acme-task", tenant="acme")
    await enqueue(service, "gpu", requires=["gpu"])
    await service.bulk.disable_tenant("acme", reason="paused", actor="token:ops")
    clock.advance(10)
    given = ["running", "finished", "later", "expired", "elsewhere", "acme-task", "gpu", "unknown"]
    before = {i: await backend.task_get(i) for i in given}
    for task_id in given:
        assert await service.claim("w1", queues=["kat"], task_ids=[task_id]) == []
    assert await service.claim("w1", queues=["kat"], task_ids=given) == []
    assert {i: await backend.task_get(i) for i in given} == before
    assert before["running"] is not None and before["running"].lease_token == running.lease_token
    # what would make them claimable does
    (gpu,) = await service.claim("w1", queues=["kat"], task_ids=["gpu"], capabilities=["gpu"])
    (elsewhere,) = await service.claim("w1", task_ids=["elsewhere"])
    assert (gpu.id, elsewhere.id) == ("gpu", "elsewhere")
    assert [t.id for t in await service.claim("w1", task_ids=["open"])] == ["open"]


async def test_a_claimed_given_task_completes_normally(backend: Backend) -> None:
    service, _ = make_service(backend)
    await enqueue(service, "a", "b")
    (task,) = await service.claim("w1", queues=["kat"], task_ids=["b"])
    done = await service.complete(task.id, task.lease_token, {"found": 3})
    assert (done.state, done.result, done.attempt) == (S.SUCCEEDED, {"found": 3}, 1)
    succeeded, _ = await service.list_tasks(TaskFilter(state=S.SUCCEEDED), limit=10)
    assert [t.id for t in succeeded] == ["b"]


async def test_a_given_task_is_leased_once_under_concurrent_claims(
    backend: Backend, store: Store
) -> None:
    other = backend if not store.kind.shared else backend_from_url(store.url)
    if other is not backend:
        await other.open()
    try:
        first, _ = make_service(backend)
        second, _ = make_service(other)
        ids = [f"t{i:02d}" for i in range(20)]
        await enqueue(first, *ids)
        won: list[Task] = []
        for task_id in ids:
            a, b = await asyncio.gather(
                first.claim("w1", queues=["kat"], task_ids=[task_id]),
                second.claim("w2", queues=["kat"], task_ids=[task_id]),
            )
            assert len(a) + len(b) == 1, task_id
            won += a + b
        assert sorted(t.id for t in won) == ids
        assert {t.attempt for t in won} == {1}
        assert await drain(first) == []
    finally:
        if other is not backend:
            await other.close()


async def test_a_claim_of_given_tasks_from_a_limited_queue_is_refused(backend: Backend) -> None:
    service, _ = make_service(backend)
    await enqueue(service, "a", "b")
    await service.queues.update("kat", {"concurrency_limit": 5}, actor="token:ops")
    with pytest.raises(ValidationError, match="global limits"):
        await service.claim("w1", queues=["kat"], task_ids=["b"])
    assert (await service.get("b")).state is S.QUEUED
    assert [t.id for t in await service.claim("w1", queues=["kat"])] == ["a"]
