"""Contract: cancel, change priority, queue position and counts."""

from __future__ import annotations

import pytest

from rota.backends import Backend
from rota.core.models import Position, QueueCount
from tests.contract.helpers import (
    T0,
    S,
    at,
    cancel,
    claim,
    claim_one,
    drain,
    finish,
    insert,
    make_task,
    set_priority,
)


async def test_cancel_of_queued_and_scheduled_tasks(backend: Backend) -> None:
    await insert(backend, make_task("q"), make_task("s", run_at=at(60)), make_task("other"))

    for name in ("q", "s"):
        canceled = await cancel(backend, name, now=at(1))
        assert canceled is not None
        assert canceled.state is S.CANCELED
        assert canceled.finished_at == at(1)
        assert await backend.task_get(name) == canceled

    assert await drain(backend, now=at(120)) == ["other"]
    assert await backend.task_next_run_at() is None


async def test_cancel_of_running_sets_the_flag_and_keeps_the_lease(backend: Backend) -> None:
    await insert(backend, make_task("r"))
    task = await claim_one(backend)

    flagged = await cancel(backend, "r", now=at(1))

    assert flagged is not None
    assert flagged.state is S.RUNNING
    assert flagged.cancel_requested is True
    assert flagged.lease_token == task.lease_token
    beat = await backend.task_heartbeat("r", task.lease_token, now=at(2), lease_expires_at=at(40))
    assert beat is not None
    assert beat.cancel_requested is True  # the worker learns of it from its heartbeat

    assert await finish(backend, task, S.CANCELED, error="canceled", now=at(3))
    done = await backend.task_get("r")
    assert done is not None
    assert done.state is S.CANCELED
    assert done.cancel_requested is False
    assert done.finished_at == at(3)


async def test_cancel_of_a_finished_or_unknown_task_is_none(backend: Backend) -> None:
    await insert(backend, make_task("ok"), make_task("bad"), make_task("gone"))
    ok, bad = await claim(backend, limit=2)
    assert await finish(backend, ok, S.SUCCEEDED)
    assert await finish(backend, bad, S.FAILED, error="x")
    assert await cancel(backend, "gone", now=T0) is not None

    for name in ("ok", "bad", "gone", "missing"):
        before = await backend.task_get(name)
        assert await cancel(backend, name, now=at(1)) is None
        assert await backend.task_get(name) == before


async def four_tasks(backend: Backend) -> None:
    await insert(
        backend,
        make_task("a", priority=20),
        make_task("b", priority=50),
        make_task("c", priority=50),
        make_task("d", priority=20),
    )


@pytest.mark.parametrize(
    ("task_id", "priority", "to_tail", "order"),
    [
        ("a", 50, False, ["a", "b", "c", "d"]),  # keeps its enqueue order among its new peers
        ("a", 50, True, ["b", "c", "a", "d"]),  # goes to the tail of its new level
        ("c", 20, False, ["b", "a", "c", "d"]),
        ("c", 20, True, ["b", "a", "d", "c"]),
        ("d", 90, False, ["d", "b", "c", "a"]),
        ("b", 50, True, ["c", "b", "a", "d"]),  # same level, to the tail
        ("b", 50, False, ["b", "c", "a", "d"]),  # same level, nothing moves
    ],
)
async def test_set_priority_reorders_claims(
    backend: Backend, task_id: str, priority: int, to_tail: bool, order: list[str]
) -> None:
    await four_tasks(backend)

    changed = await set_priority(backend, task_id, priority, to_tail=to_tail, now=at(1))

    assert changed is not None
    assert changed.id == task_id
    assert changed.priority == priority
    assert changed.state is S.QUEUED
    assert await backend.task_get(task_id) == changed
    assert await drain(backend, now=at(2)) == order


async def test_set_priority_of_a_scheduled_task(backend: Backend) -> None:
    await insert(backend, make_task("s", priority=10, run_at=at(60)), make_task("q", priority=50))

    changed = await set_priority(backend, "s", 90, to_tail=False, now=at(1))

    assert changed is not None
    assert (changed.state, changed.priority, changed.run_at) == (S.SCHEDULED, 90, at(60))
    assert await drain(backend, now=at(60)) == ["s", "q"]


async def test_set_priority_of_a_task_that_is_not_waiting_is_none(backend: Backend) -> None:
    await insert(backend, make_task("running"), make_task("done"))
    _running, done = await claim(backend, limit=2)
    assert await finish(backend, done, S.SUCCEEDED)

    for name in ("running", "done", "missing"):
        before = await backend.task_get(name)
        for to_tail in (False, True):
            assert await set_priority(backend, name, 99, to_tail=to_tail, now=T0) is None
        assert await backend.task_get(name) == before


async def test_position_in_priority_and_in_queue(backend: Backend) -> None:
    await insert(
        backend,
        make_task("h1", queue="q", priority=80),
        make_task("l1", queue="q", priority=20),
        make_task("x", queue="r", priority=100),
        make_task("h2", queue="q", priority=80),
        make_task("l2", queue="q", priority=20),
        make_task("m1", queue="q", priority=50),
        make_task("s", queue="q", priority=100, run_at=at(60)),
    )

    expected = {
        "h1": Position(1, 1),
        "h2": Position(2, 2),
        "m1": Position(1, 3),
        "l1": Position(1, 4),
        "l2": Position(2, 5),
        "x": Position(1, 1),  # another queue counts on its own
    }
    for name, position in expected.items():
        assert await backend.task_position(name) == position, name
    assert await backend.task_position("s") is None  # scheduled: not in line yet
    assert await backend.task_position("missing") is None

    assert (await claim_one(backend, queues=["q"])).id == "h1"
    assert await backend.task_position("h1") is None  # running
    assert await backend.task_position("h2") == Position(1, 1)
    assert await backend.task_position("l2") == Position(2, 4)

    assert await set_priority(backend, "l1", 20, to_tail=True, now=at(1)) is not None
    assert await backend.task_position("l1") == Position(2, 4)
    assert await backend.task_position("l2") == Position(1, 3)


async def test_count_per_queue_state_and_priority(backend: Backend) -> None:
    assert await backend.task_count_by_queue() == []
    await insert(
        backend,
        make_task("a", queue="q1", priority=20),
        make_task("b", queue="q1", priority=20),
        make_task("c", queue="q1", priority=80),
        make_task("d", queue="q2", priority=50),
        make_task("e", queue="q2", priority=20, run_at=at(60)),
        make_task("f", queue="q2", priority=50),
    )
    assert (await claim_one(backend, queues=["q1"])).id == "c"
    done = await claim_one(backend, queues=["q2"])
    assert await finish(backend, done, S.SUCCEEDED)

    counts = await backend.task_count_by_queue()

    assert sorted(counts, key=lambda c: (c.queue, c.state, c.priority)) == [
        QueueCount("q1", S.QUEUED, 20, 2),
        QueueCount("q1", S.RUNNING, 80, 1),
        QueueCount("q2", S.QUEUED, 50, 1),
        QueueCount("q2", S.SCHEDULED, 20, 1),
        QueueCount("q2", S.SUCCEEDED, 50, 1),
    ]
    assert all(isinstance(c.state, S) for c in counts)
