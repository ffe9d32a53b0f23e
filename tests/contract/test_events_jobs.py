"""Contract: one event per state change, always along a legal edge; jobs and their counts."""

from __future__ import annotations

import itertools

from rota.backends import Backend
from rota.core.models import Event, Job
from rota.core.states import TaskState, can_transition
from tests.contract.helpers import (
    T0,
    S,
    at,
    cancel,
    claim,
    claim_one,
    finish,
    insert,
    make_task,
    requeue,
    set_priority,
)

Step = tuple[str, TaskState | None, TaskState | None]


def check_history(events: list[Event], current: TaskState) -> None:
    """The invariants every history holds, whatever happened to the task."""
    assert events, "a stored task has at least its enqueue event"
    assert events[0].kind == "enqueued"
    assert events[0].from_state is None
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    for before, after in itertools.pairwise(events):
        assert after.from_state == before.to_state, (before, after)
        assert after.at >= before.at
    for event in events[1:]:
        assert event.from_state is not None
        assert event.to_state is not None
        if event.from_state != event.to_state:  # a state change: must be a legal edge
            assert can_transition(event.from_state, event.to_state), event
    assert events[-1].to_state == current


async def history(backend: Backend, task_id: str) -> list[Step]:
    events = await backend.event_list(task_id)
    task = await backend.task_get(task_id)
    assert task is not None
    check_history(events, task.state)
    return [(e.kind, e.from_state, e.to_state) for e in events]


async def test_every_state_change_appends_one_event(backend: Backend) -> None:
    await insert(backend, make_task("e", max_attempts=5))
    expected: list[Step] = [("enqueued", None, S.QUEUED)]
    assert await history(backend, "e") == expected

    first = await claim_one(backend, now=at(1), worker="w1")
    expected.append(("claimed", S.QUEUED, S.RUNNING))
    assert await history(backend, "e") == expected

    assert await finish(backend, first, S.SCHEDULED, error="flaky", run_at=at(5), now=at(2))
    expected.append(("retry", S.RUNNING, S.SCHEDULED))
    assert await history(backend, "e") == expected

    second = await claim_one(backend, now=at(5), worker="w2")
    expected += [("promoted", S.SCHEDULED, S.QUEUED), ("claimed", S.QUEUED, S.RUNNING)]
    assert await history(backend, "e") == expected

    assert await finish(backend, second, S.QUEUED, error="again", now=at(6))
    expected.append(("retry", S.RUNNING, S.QUEUED))
    third = await claim_one(backend, now=at(7))
    expected.append(("claimed", S.QUEUED, S.RUNNING))
    assert await finish(backend, third, S.FAILED, error="dead", now=at(8))
    expected.append(("failed", S.RUNNING, S.FAILED))
    assert await history(backend, "e") == expected

    assert await requeue(backend, "e", now=at(9)) is not None
    expected.append(("requeued", S.FAILED, S.QUEUED))
    assert await set_priority(backend, "e", 70, to_tail=False, now=at(10)) is not None
    expected.append(("priority_changed", S.QUEUED, S.QUEUED))
    fourth = await claim_one(backend, now=at(11))
    expected.append(("claimed", S.QUEUED, S.RUNNING))
    assert await cancel(backend, "e", now=at(12)) is not None
    expected.append(("cancel_requested", S.RUNNING, S.RUNNING))
    assert await finish(backend, fourth, S.CANCELED, error="canceled", now=at(13))
    expected.append(("canceled", S.RUNNING, S.CANCELED))
    assert await requeue(backend, "e", now=at(14)) is not None
    expected.append(("requeued", S.CANCELED, S.QUEUED))
    fifth = await claim_one(backend, now=at(15))
    expected.append(("claimed", S.QUEUED, S.RUNNING))
    assert await finish(backend, fifth, S.SUCCEEDED, result=1, now=at(16))
    expected.append(("succeeded", S.RUNNING, S.SUCCEEDED))
    assert await history(backend, "e") == expected

    events = await backend.event_list("e")
    times = (1, 2, 5, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
    assert [e.at for e in events] == [T0, *(at(s) for s in times)]
    claims = [e for e in events if e.kind == "claimed"]
    assert [e.worker_id for e in claims[:2]] == ["w1", "w2"]


async def test_refused_changes_append_no_event(backend: Backend) -> None:
    await insert(backend, make_task("a"), make_task("b"))
    task = await claim_one(backend)
    before = await backend.event_list("a")

    assert not await finish(backend, task, S.SUCCEEDED, token=task.lease_token + 1)
    assert await requeue(backend, "a", now=at(1)) is None
    assert await set_priority(backend, "a", 90, to_tail=True, now=at(1)) is None
    assert await finish(backend, task, S.SUCCEEDED)
    assert await cancel(backend, "a", now=at(2)) is None
    assert not await finish(backend, task, S.FAILED, error="late")

    after = await backend.event_list("a")
    assert after[: len(before)] == before
    assert [(e.kind, e.from_state, e.to_state) for e in after[len(before) :]] == [
        ("succeeded", S.RUNNING, S.SUCCEEDED)
    ]
    assert [e.kind for e in await backend.event_list("b")] == ["enqueued"]


async def test_waiting_cancels_and_scheduled_enqueue_are_recorded(backend: Backend) -> None:
    await insert(backend, make_task("s", run_at=at(60)), make_task("q"))
    assert await cancel(backend, "s", now=at(1)) is not None
    assert await cancel(backend, "q", now=at(1)) is not None

    assert await history(backend, "s") == [
        ("enqueued", None, S.SCHEDULED),
        ("canceled", S.SCHEDULED, S.CANCELED),
    ]
    assert await history(backend, "q") == [
        ("enqueued", None, S.QUEUED),
        ("canceled", S.QUEUED, S.CANCELED),
    ]
    assert await backend.event_list("missing") == []


async def test_events_of_many_tasks_never_cross(backend: Backend) -> None:
    await insert(backend, *(make_task(f"t{i}", priority=i % 3) for i in range(20)))
    running = await claim(backend, limit=20)
    for i, task in enumerate(running):
        state = (S.SUCCEEDED, S.FAILED, S.QUEUED, S.SCHEDULED)[i % 4]
        assert await finish(backend, task, state, error="e", run_at=at(30), now=at(1))
    for i in range(20):
        events = await backend.event_list(f"t{i}")
        assert {e.task_id for e in events} == {f"t{i}"}
        assert len(events) == 3
        current = await backend.task_get(f"t{i}")
        assert current is not None
        check_history(events, current.state)


async def test_job_get_and_count(backend: Backend) -> None:
    job = Job("job-1", "nightly", at(0.5), tenant="acme")
    members = [make_task(f"m{i}", job_id="job-1", tenant="acme") for i in range(4)]
    await backend.task_insert_many(members, job)
    await insert(backend, make_task("loner"))

    assert await backend.job_get("job-1") == job
    assert await backend.job_get("missing") is None
    assert await backend.job_count("job-1") == {S.QUEUED: 4}
    assert await backend.job_count("missing") == {}

    m0, m1, m2 = await claim(backend, limit=3)
    assert await finish(backend, m0, S.SUCCEEDED)
    assert await finish(backend, m1, S.FAILED, error="x")

    counts = await backend.job_count("job-1")
    assert counts == {S.SUCCEEDED: 1, S.FAILED: 1, S.RUNNING: 1, S.QUEUED: 1}
    assert all(isinstance(state, S) for state in counts)
    assert m2.job_id == "job-1"
