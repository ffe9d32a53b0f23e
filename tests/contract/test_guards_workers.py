"""Contract: the guards the service relies on, actors in history, and the worker registry."""

from __future__ import annotations

from dataclasses import replace

from rota.backends import Backend
from rota.core.models import WorkerInfo, make_finish
from tests.contract.helpers import T0, S, at, claim, claim_one, insert, make_task


async def test_cancel_applies_only_in_the_state_the_service_read(backend: Backend) -> None:
    await insert(backend, make_task("q"), make_task("s", run_at=at(60)))
    # a claim lands between the service's read (queued) and its cancel
    running = await claim_one(backend)
    assert await backend.task_cancel("q", expect=S.QUEUED, now=at(1), actor="op") is None
    assert (await backend.task_get("q")) == running
    assert await backend.task_cancel("s", expect=S.QUEUED, now=at(1), actor="op") is None

    canceled = await backend.task_cancel("s", expect=S.SCHEDULED, now=at(2), actor="op")
    assert canceled is not None
    assert (canceled.state, canceled.finished_at) == (S.CANCELED, at(2))
    assert await backend.task_cancel("missing", expect=S.QUEUED, now=at(2), actor="op") is None


async def test_cancel_request_needs_the_live_lease(backend: Backend) -> None:
    await insert(backend, make_task("r"))
    task = await claim_one(backend)
    stale = task.lease_token + 1
    assert await backend.task_cancel_request("r", stale, now=at(1), actor="op") is None
    flagged = await backend.task_cancel_request("r", task.lease_token, now=at(1), actor="op")
    assert flagged is not None
    assert (flagged.state, flagged.cancel_requested) == (S.RUNNING, True)


async def test_set_priority_and_requeue_check_the_expected_state(backend: Backend) -> None:
    await insert(backend, make_task("a", priority=10))
    await claim_one(backend)
    assert (
        await backend.task_set_priority(
            "a", 90, expect=S.QUEUED, to_tail=False, now=at(1), actor="op"
        )
        is None
    )
    assert await backend.task_requeue("a", expect=S.FAILED, now=at(1), actor="op") is None
    stored = await backend.task_get("a")
    assert stored is not None and (stored.state, stored.priority) == (S.RUNNING, 10)


async def test_a_finish_may_require_the_lease_holder(backend: Backend) -> None:
    await insert(backend, make_task("a"))
    task = await claim_one(backend, worker="w1")
    token = task.lease_token
    other = make_finish("a", token, S.SUCCEEDED, now=at(1), worker_id="w2", result="forged")
    assert await backend.task_finish_many([other], now=at(1)) == [False]
    mine = make_finish("a", token, S.SUCCEEDED, now=at(1), worker_id="w1", result="real")
    assert await backend.task_finish_many([mine], now=at(1)) == [True]
    stored = await backend.task_get("a")
    assert stored is not None and (stored.state, stored.result) == (S.SUCCEEDED, "real")


async def test_events_record_the_kind_and_actor_they_are_given(backend: Backend) -> None:
    await insert(backend, make_task("a"), make_task("b"))
    a, b = await claim(backend, limit=2, worker="w7")
    retry = make_finish("a", a.lease_token, S.QUEUED, now=at(1), error="x", actor="system")
    done = make_finish("b", b.lease_token, S.SUCCEEDED, now=at(1), actor="worker:w7")
    assert await backend.task_finish_many([retry, done], now=at(1)) == [True, True]
    await backend.task_cancel("a", expect=S.QUEUED, now=at(2), actor="api")

    a_events = [(e.kind, e.actor) for e in await backend.event_list("a")]
    assert a_events == [
        ("enqueued", None),
        ("claimed", "worker:w7"),
        ("retry", "system"),
        ("canceled", "api"),
    ]
    b_last = (await backend.event_list("b"))[-1]
    assert (b_last.kind, b_last.actor, b_last.worker_id) == ("succeeded", "worker:w7", "w7")
    b_task = await backend.task_get("b")
    assert b_task is not None and b_task.finished_at == at(1)
    a_task = await backend.task_get("a")
    assert a_task is not None and a_task.finished_at == at(2)


async def test_a_success_keeps_an_actor_other_than_its_worker(backend: Backend) -> None:
    await insert(backend, make_task("c"))
    c = await claim_one(backend, worker="w7")
    by_api = make_finish("c", c.lease_token, S.SUCCEEDED, now=at(1), actor="api")
    assert await backend.task_finish_many([by_api], now=at(1)) == [True]
    last = (await backend.event_list("c"))[-1]
    assert (last.kind, last.actor, last.worker_id) == ("succeeded", "api", "w7")


async def test_promote_due_moves_only_due_scheduled_tasks(backend: Backend) -> None:
    await insert(
        backend,
        make_task("s1", run_at=at(10)),
        make_task("s2", run_at=at(20)),
        make_task("s3", run_at=at(30)),
        make_task("q"),
    )
    assert await backend.task_promote_due(now=at(5), limit=10) == 0
    assert await backend.task_promote_due(now=at(25), limit=1) == 1
    assert await backend.task_promote_due(now=at(25), limit=10) == 1
    states = {n: (await backend.task_get(n)) for n in ("s1", "s2", "s3")}
    assert {n: t.state for n, t in states.items() if t} == {
        "s1": S.QUEUED,
        "s2": S.QUEUED,
        "s3": S.SCHEDULED,
    }
    last = (await backend.event_list("s1"))[-1]
    assert (last.kind, last.from_state, last.to_state, last.actor) == (
        "promoted",
        S.SCHEDULED,
        S.QUEUED,
        "system",
    )
    assert await backend.task_next_run_at() == at(30)


def _worker(worker_id: str, started: float, **changes: object) -> WorkerInfo:
    info = WorkerInfo(
        id=worker_id,
        name=f"name-{worker_id}",
        host="host-1",
        queues=("default", "mail"),
        capabilities=("gpu",),
        concurrency=8,
        version="0.1.0",
        started_at=at(started),
        last_seen_at=at(started),
    )
    return replace(info, **changes)  # type: ignore[arg-type]


async def test_workers_register_refresh_and_list(backend: Backend) -> None:
    assert await backend.worker_list() == []
    w1, w2 = _worker("w1", 1), _worker("w2", 2, queues=None, capabilities=())
    await backend.worker_upsert(w2)
    await backend.worker_upsert(w1)
    assert await backend.worker_list() == [w1, w2]  # oldest start first

    again = replace(w1, concurrency=4, last_seen_at=at(3))
    await backend.worker_upsert(again)
    await backend.worker_touch(["w2", "unknown"], now=at(9))
    assert await backend.worker_list() == [again, replace(w2, last_seen_at=at(9))]


async def test_silent_workers_are_forgotten(backend: Backend) -> None:
    for n in range(3):
        await backend.worker_upsert(_worker(f"w{n}", n))
    await backend.worker_touch(["w0"], now=at(50))

    assert await backend.worker_delete_silent(before=at(1.5)) == 1  # w1 (seen at 1)
    assert [w.id for w in await backend.worker_list()] == ["w0", "w2"]
    assert await backend.worker_delete_silent(before=T0) == 0
