"""Retention on every store: a finished task (succeeded, failed or canceled) and its history
stay readable until its queue's retention has passed since it finished, then the leader's
retention service deletes them, in small pages that walk past the tasks still kept; waiting
and running tasks are never touched."""

from __future__ import annotations

import pytest

from rota.backends import Backend
from rota.core.clock import ManualClock
from rota.core.errors import NotFound
from rota.core.models import TaskFilter
from rota.service import Service, TaskSpec, retention
from tests.api.conftest import make_settings
from tests.contract.helpers import T0


async def test_finished_tasks_go_after_their_queues_retention(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)  # pages of two: the walk and the wrap count
    clock = ManualClock(T0)
    settings = make_settings(retention=3600, queue_retention={"ticks": 60})
    service = Service(backend, settings, clock=clock)
    long = [await service.enqueue(TaskSpec("k", queue="reports")) for _ in range(2)]
    short = [await service.enqueue(TaskSpec("k", queue="ticks")) for _ in range(3)]
    waiting = await service.enqueue(TaskSpec("k", queue="ticks", delay=10))
    running = await service.enqueue(TaskSpec("k", queue="ticks", priority=1))
    for task in await service.claim("w", queues=["reports"], limit=2):
        await service.complete(task.id, task.lease_token, {"ok": True})
    first, second, third = await service.claim("w", queues=["ticks"], limit=3)
    await service.complete(first.id, first.lease_token)
    await service.fail(second.id, second.lease_token, "boom", retryable=False)
    await service.cancel(short[2].id)  # it was claimed: a request, then the worker ends it
    await service.fail(third.id, third.lease_token, "canceled", retryable=False)
    clock.advance(10)
    (claimed,) = await service.claim("w", queues=["ticks"])
    assert claimed.id in (running.id, waiting.id)

    clock.advance(45)  # not yet: everything is readable, results and history included
    for _ in range(4):
        assert await service.retention.prune() == 0
    assert (await service.get(long[0].id)).result == {"ok": True}

    clock.advance(6)  # ticks' 60 s have passed, reports' hour has not
    removed = sum([await service.retention.prune() for _ in range(4)])
    assert removed == 3
    for task in short:
        with pytest.raises(NotFound):
            await service.get(task.id)
        with pytest.raises(NotFound):
            await service.events(task.id)
    left, _ = await service.list_tasks(TaskFilter(), limit=100)
    assert sorted(t.id for t in left) == sorted([*(t.id for t in long), waiting.id, running.id])

    clock.advance(3600)
    assert sum([await service.retention.prune() for _ in range(4)]) == 2
    left, _ = await service.list_tasks(TaskFilter(), limit=100)
    assert sorted(t.id for t in left) == sorted([waiting.id, running.id])


async def test_a_delete_leaves_a_task_that_is_not_finished(backend: Backend) -> None:
    """Retention lists, then deletes: a task retried in between is not deleted."""
    service = Service(backend, make_settings(), clock=ManualClock(T0))
    task = await service.enqueue(TaskSpec("k"))
    assert await backend.task_delete_many([task.id]) == 0
    assert (await service.get(task.id)).state.value == "queued"
    assert [e.kind for e in await service.events(task.id)] == ["enqueued"]
