"""Backend verbs behind retries, timeouts, expiry, progress and the dead letter."""

from __future__ import annotations

from rota.backends import Backend
from rota.core.models import make_finish
from tests.contract.helpers import (
    LEASE,
    T0,
    S,
    at,
    cancel,
    claim,
    claim_one,
    insert,
    make_task,
)


async def test_leases_are_what_the_service_says_and_timed_runs_are_listed(
    backend: Backend,
) -> None:
    """The backend applies the lease it is given (no timeout cap of its own: the service's
    sweeper ends runs past their timeout), and lists the running tasks that have one."""
    await insert(backend, make_task("t", timeout=5), make_task("free"), make_task("u", timeout=1))
    tasks = await claim(backend, limit=2, now=T0)
    assert {t.id: t.lease_expires_at for t in tasks} == {"t": T0 + LEASE, "free": T0 + LEASE}
    token = next(t.lease_token for t in tasks if t.id == "t")
    beat = await backend.task_heartbeat("t", token, now=at(3), lease_expires_at=at(3) + LEASE)
    assert beat is not None and beat.lease_expires_at == at(3) + LEASE
    assert await claim(backend, limit=1, now=at(4))  # "u", started later

    timed = await backend.task_list_timed(limit=10)
    assert [(t.id, t.started_at) for t in timed] == [("t", T0), ("u", at(4))]
    assert [t.id for t in await backend.task_list_timed(limit=1)] == ["t"]


async def test_heartbeat_stores_progress_and_a_claim_clears_it(backend: Backend) -> None:
    await insert(backend, make_task("p"))
    task = await claim_one(backend)
    beat = await backend.task_heartbeat(
        "p", task.lease_token, now=at(1), lease_expires_at=at(31), progress={"pct": 50}
    )
    assert beat is not None and beat.progress == {"pct": 50}
    again = await backend.task_heartbeat("p", task.lease_token, now=at(2), lease_expires_at=at(32))
    assert again is not None and again.progress == {"pct": 50}  # no progress: kept
    (done,) = await backend.task_finish_many(
        [make_finish("p", task.lease_token, S.QUEUED, now=T0, error="x")], now=at(3)
    )
    assert done
    reclaimed = await claim_one(backend, now=at(4))
    assert reclaimed.progress is None


async def test_finish_can_give_the_attempt_back(backend: Backend) -> None:
    await insert(backend, make_task("r"))
    task = await claim_one(backend)
    assert task.attempt == 1
    later = make_finish(
        "r", task.lease_token, S.SCHEDULED, now=T0, error="later", run_at=at(60), attempt=0
    )
    assert await backend.task_finish_many([later], now=at(1)) == [True]
    stored = await backend.task_get("r")
    assert stored is not None and stored.attempt == 0 and stored.state == S.SCHEDULED


async def test_expired_tasks_are_not_claimed_and_are_canceled(backend: Backend) -> None:
    await insert(
        backend,
        make_task("old", priority=90).evolve(expires_at=at(10)),
        make_task("fresh", priority=10).evolve(expires_at=at(1000)),
    )
    assert [t.id for t in await claim(backend, now=at(20), limit=5)] == ["fresh"]
    assert await backend.task_expire_waiting(now=at(20), limit=100, error="late") == 1
    old = await backend.task_get("old")
    assert old is not None and (old.state, old.error, old.finished_at) == (
        S.CANCELED,
        "late",
        at(20),
    )
    events = await backend.event_list("old")
    last = events[-1]
    assert (last.kind, last.from_state, last.to_state, last.message, last.actor) == (
        "expired",
        S.QUEUED,
        S.CANCELED,
        "late",
        "system",
    )
    assert await backend.task_expire_waiting(now=at(30), limit=100, error="late") == 0


async def test_delete_many_removes_tasks_and_their_history(backend: Backend) -> None:
    await insert(backend, make_task("a"), make_task("b"), make_task("c"))
    for task_id in ("a", "c"):  # only finished tasks are deleted (b stays queued)
        assert await cancel(backend, task_id) is not None
    assert await backend.task_delete_many(["a", "b", "c", "missing"]) == 2
    assert await backend.task_get("a") is None
    assert await backend.event_list("a") == []
    assert await backend.task_get("b") is not None
