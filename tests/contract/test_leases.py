"""Contract: finishing, heartbeats, expired leases and operator requeue, all fenced by token."""

from __future__ import annotations

from rota.backends import Backend
from rota.core.models import make_finish, next_lease_token
from tests.contract.helpers import (
    LEASE,
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
)


async def test_succeed_with_the_live_token(backend: Backend) -> None:
    await insert(backend, make_task("a"))
    task = await claim_one(backend)

    assert await finish(backend, task, S.SUCCEEDED, result={"rows": 3}, now=at(2))

    done = await backend.task_get("a")
    assert done is not None
    assert done.state is S.SUCCEEDED
    assert done.result == {"rows": 3}
    assert done.finished_at == at(2)
    assert done.lease_expires_at is None
    assert done.attempt == 1
    assert await claim(backend, limit=10) == []


async def test_fail_with_the_live_token(backend: Backend) -> None:
    await insert(backend, make_task("a"))
    task = await claim_one(backend)

    assert await finish(backend, task, S.FAILED, error="boom", now=at(3))

    failed = await backend.task_get("a")
    assert failed is not None
    assert failed.state is S.FAILED
    assert failed.error == "boom"
    assert failed.finished_at == at(3)
    assert await claim(backend, limit=10, now=at(100)) == []


async def test_retry_to_scheduled_waits_for_its_new_run_at(backend: Backend) -> None:
    await insert(backend, make_task("a"))
    task = await claim_one(backend)

    assert await finish(backend, task, S.SCHEDULED, error="flaky", run_at=at(10), now=at(1))

    retried = await backend.task_get("a")
    assert retried is not None
    assert retried.state is S.SCHEDULED
    assert retried.run_at == at(10)
    assert retried.finished_at is None
    assert retried.error == "flaky"
    assert await claim(backend, now=at(9)) == []
    again = await claim_one(backend, now=at(10))
    assert again.attempt == 2
    assert again.lease_token > task.lease_token


async def test_a_lease_token_counts_claims_above_the_claims_salt(backend: Backend) -> None:
    """The service's random salt makes tokens unguessable from the claim count."""
    await insert(backend, make_task("a"), make_task("b"))
    first = await claim(backend, limit=2, salt=0xDEADBEEF)
    assert [(t.lease_token >> 32, t.lease_token & 0xFFFFFFFF) for t in first] == [
        (1, 0xDEADBEEF),
        (1, 0xDEADBEEF),
    ]
    assert await finish(backend, first[0], S.QUEUED, error="lost")
    again = await claim_one(backend, salt=0x00C0FFEE)
    assert again.id == "a"
    assert again.lease_token == next_lease_token(first[0].lease_token, 0x00C0FFEE)
    assert (again.lease_token >> 32, again.lease_token & 0xFFFFFFFF) == (2, 0x00C0FFEE)
    assert not await finish(backend, first[0], S.SUCCEEDED)


async def test_wrong_token_is_rejected_and_changes_nothing(backend: Backend) -> None:
    await insert(backend, make_task("a"))
    task = await claim_one(backend)
    before = await backend.task_get("a")

    for token in (task.lease_token + 1, task.lease_token - 1, 0):
        assert not await finish(backend, task, S.SUCCEEDED, token=token, result={"x": 1})
        assert not await finish(backend, task, S.FAILED, token=token, error="late")
        assert not await finish(backend, task, S.QUEUED, token=token, error="late")

    assert await backend.task_get("a") == before
    assert await finish(backend, task, S.SUCCEEDED)  # the live token still works


async def test_token_of_a_replaced_attempt_is_rejected(backend: Backend) -> None:
    await insert(backend, make_task("a"))
    first = await claim_one(backend, worker="old")
    assert await finish(backend, first, S.QUEUED, error="lease expired")
    second = await claim_one(backend, worker="new")
    assert second.lease_token > first.lease_token

    assert not await finish(backend, first, S.SUCCEEDED, result="stale")
    assert not await finish(backend, first, S.FAILED, error="stale")
    assert await backend.task_heartbeat(
        "a", first.lease_token, now=T0, lease_expires_at=at(99)
    ) is (None)

    current = await backend.task_get("a")
    assert current is not None
    assert current.state is S.RUNNING
    assert current.worker_id == "new"
    assert current.lease_token == second.lease_token
    assert current.result is None
    assert await finish(backend, second, S.SUCCEEDED, result="fresh")
    done = await backend.task_get("a")
    assert done is not None
    assert done.result == "fresh"


async def test_finish_applies_only_once(backend: Backend) -> None:
    await insert(backend, make_task("a"))
    task = await claim_one(backend)
    assert await finish(backend, task, S.SUCCEEDED, result=1)
    assert not await finish(backend, task, S.SUCCEEDED, result=2)
    assert not await finish(backend, task, S.FAILED, error="late")
    done = await backend.task_get("a")
    assert done is not None
    assert (done.state, done.result, done.error) == (S.SUCCEEDED, 1, None)


async def test_finish_of_a_task_that_is_not_running_is_rejected(backend: Backend) -> None:
    await insert(backend, make_task("queued"))
    assert await backend.task_finish_many(
        [make_finish("queued", 0, S.SUCCEEDED, now=T0)], now=T0
    ) == [False]
    assert await backend.task_finish_many(
        [make_finish("missing", 1, S.SUCCEEDED, now=T0)], now=T0
    ) == [False]
    queued = await backend.task_get("queued")
    assert queued is not None
    assert queued.state is S.QUEUED


async def test_finish_many_reports_each_item(backend: Backend) -> None:
    await insert(backend, make_task("a"), make_task("b"), make_task("c"))
    a, b, c = await claim(backend, limit=3)

    applied = await backend.task_finish_many(
        [
            make_finish("a", a.lease_token, S.SUCCEEDED, now=T0, result="A"),
            make_finish("b", b.lease_token + 1, S.SUCCEEDED, now=T0, result="B"),
            make_finish("missing", 1, S.SUCCEEDED, now=T0),
            make_finish("c", c.lease_token, S.FAILED, now=T0, error="C"),
        ],
        now=at(1),
    )

    assert applied == [True, False, False, True]
    states = {t: (await backend.task_get(t)) for t in "abc"}
    assert {k: v.state for k, v in states.items() if v} == {
        "a": S.SUCCEEDED,
        "b": S.RUNNING,
        "c": S.FAILED,
    }


async def test_heartbeat_extends_the_live_lease(backend: Backend) -> None:
    await insert(backend, make_task("a"))
    task = await claim_one(backend, now=T0)  # lease until T0 + 30 s

    beat = await backend.task_heartbeat("a", task.lease_token, now=at(20), lease_expires_at=at(50))

    assert beat is not None
    assert beat.lease_expires_at == at(50)
    assert (beat.state, beat.lease_token, beat.attempt) == (S.RUNNING, task.lease_token, 1)
    stored = await backend.task_get("a")
    assert stored is not None
    assert stored.lease_expires_at == at(50)
    assert await backend.task_list_lapsed(now=at(40), limit=10) == []
    assert [t.id for t in await backend.task_list_lapsed(now=at(51), limit=10)] == ["a"]


async def test_heartbeat_with_a_stale_token_is_none_and_changes_nothing(backend: Backend) -> None:
    await insert(backend, make_task("a"), make_task("b"))
    task = await claim_one(backend)

    for token in (task.lease_token + 1, task.lease_token - 1):
        assert await backend.task_heartbeat("a", token, now=at(1), lease_expires_at=at(90)) is None
    assert await backend.task_heartbeat("b", 0, now=at(1), lease_expires_at=at(90)) is None
    assert await backend.task_heartbeat("zz", 1, now=at(1), lease_expires_at=at(90)) is None

    stored = await backend.task_get("a")
    assert stored is not None
    assert stored.lease_expires_at == task.lease_expires_at
    assert await finish(backend, task, S.SUCCEEDED)
    assert (
        await backend.task_heartbeat("a", task.lease_token, now=at(2), lease_expires_at=at(90))
        is None
    )


async def test_list_expired_returns_only_running_tasks_past_their_lease(backend: Backend) -> None:
    await insert(backend, *(make_task(n) for n in ("e10", "e20", "e30", "done", "waiting")))
    for name, seconds in (("e10", 10), ("e20", 20), ("e30", 30)):
        task = await claim_one(backend, lease=at(seconds) - T0)
        assert task.id == name
    done = await claim_one(backend, lease=at(1) - T0)
    assert await finish(backend, done, S.SUCCEEDED)

    assert await backend.task_list_lapsed(now=at(5), limit=10) == []
    expired = await backend.task_list_lapsed(now=at(25), limit=10)
    assert {t.id for t in expired} == {"e10", "e20"}
    assert all(t.state is S.RUNNING for t in expired)
    everything = await backend.task_list_lapsed(now=at(1000), limit=10)
    assert {t.id for t in everything} == {"e10", "e20", "e30"}
    limited = await backend.task_list_lapsed(now=at(1000), limit=2)
    assert len(limited) == 2
    assert {t.id for t in limited} <= {"e10", "e20", "e30"}


async def test_requeue_moves_failed_and_canceled_back_with_attempts_reset(
    backend: Backend,
) -> None:
    await insert(backend, make_task("f"), make_task("c"))
    f = await claim_one(backend)
    assert await finish(backend, f, S.FAILED, error="dead")
    assert await cancel(backend, "c", now=T0) is not None

    for name in ("f", "c"):
        requeued = await requeue(backend, name, now=at(7))
        assert requeued is not None
        assert requeued.state is S.QUEUED
        assert requeued.attempt == 0
        assert requeued.finished_at is None
        assert requeued.error is None
        assert await backend.task_get(name) == requeued

    again = await claim(backend, limit=10, now=at(8))
    assert {t.id for t in again} == {"f", "c"}
    refreshed = {t.id: t for t in again}
    assert refreshed["f"].attempt == 1
    assert refreshed["f"].lease_token > f.lease_token  # fencing survives the requeue
    assert not await finish(backend, f, S.SUCCEEDED)


async def test_requeue_of_a_task_that_is_not_failed_or_canceled_is_none(
    backend: Backend,
) -> None:
    await insert(backend, make_task("running"), make_task("done"), make_task("queued"))
    await insert(backend, make_task("scheduled", run_at=at(60)))
    running, done = await claim(backend, limit=2)
    assert [running.id, done.id] == ["running", "done"]
    assert await finish(backend, done, S.SUCCEEDED)

    for name in ("running", "done", "queued", "scheduled", "missing"):
        before = await backend.task_get(name)
        assert await requeue(backend, name, now=at(1)) is None
        assert await backend.task_get(name) == before


async def test_expiry_guard_yields_to_a_heartbeat_that_landed_first(backend: Backend) -> None:
    """The sweeper reads an expired lease, a heartbeat extends it, then the sweep lands."""
    await insert(backend, make_task("a"))
    task = await claim_one(backend, now=T0)
    sweep_time = at(31)  # the lease (30 s) has run out
    extended = await backend.task_heartbeat(
        "a", task.lease_token, now=sweep_time, lease_expires_at=sweep_time + LEASE
    )
    assert extended is not None
    guarded = make_finish(
        "a", task.lease_token, S.QUEUED, now=T0, error="expired", expired_before=sweep_time
    )
    assert await backend.task_finish_many([guarded], now=sweep_time) == [False]
    stored = await backend.task_get("a")
    assert stored is not None and stored.state == S.RUNNING


async def test_expiry_guard_applies_to_a_lease_that_really_ran_out(backend: Backend) -> None:
    await insert(backend, make_task("a"))
    task = await claim_one(backend, now=T0)
    guarded = make_finish(
        "a", task.lease_token, S.QUEUED, now=T0, error="expired", expired_before=at(31)
    )
    assert await backend.task_finish_many([guarded], now=at(31)) == [True]
    stored = await backend.task_get("a")
    assert stored is not None and stored.state == S.QUEUED
