"""Service policy over the memory backend: retries, sweeps, fencing, cancel, operator verbs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rota.backends.memory import MemoryBackend
from rota.config import Settings
from rota.core import limits
from rota.core.clock import ManualClock
from rota.core.errors import (
    DuplicateTask,
    IllegalTransition,
    NotFound,
    StaleLease,
    ValidationError,
)
from rota.core.models import Task, TaskFilter
from rota.core.states import TaskState
from rota.service import Completion, Failure, Service, TaskSpec
from tests.unit.helpers import T0

S = TaskState


async def claim_one(service: Service, worker: str = "w1") -> Task:
    tasks = await service.claim(worker)
    assert len(tasks) == 1, f"expected one task, got {[t.id for t in tasks]}"
    return tasks[0]


async def kinds(service: Service, task_id: str) -> list[str]:
    return [e.kind for e in await service.events(task_id)]


def test_backoff_doubles_and_is_capped(service: Service) -> None:
    assert [service.backoff(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]


async def test_failure_retries_with_backoff_then_dead_letters(
    service: Service, clock: ManualClock
) -> None:
    await service.enqueue(TaskSpec("work", id="t"))

    first = await claim_one(service)
    assert first.attempt == 1
    retried = await service.fail("t", first.lease_token, "boom 1")
    assert retried.state is S.SCHEDULED
    assert retried.run_at == clock.now() + timedelta(seconds=2)
    assert retried.error == "boom 1"
    assert retried.finished_at is None

    clock.advance(1.999)
    assert await service.claim("w1") == []
    clock.advance(0.001)
    second = await claim_one(service)
    assert second.attempt == 2
    assert second.lease_token > first.lease_token
    retried = await service.fail("t", second.lease_token, "boom 2")
    assert retried.state is S.SCHEDULED
    assert retried.run_at == clock.now() + timedelta(seconds=4)

    clock.advance(4)
    third = await claim_one(service)
    assert third.attempt == 3
    dead = await service.fail("t", third.lease_token, "boom 3")
    assert dead.state is S.FAILED
    assert dead.error == "boom 3"
    assert dead.finished_at == clock.now()

    clock.advance(3600)
    assert await service.claim("w1") == []
    assert await kinds(service, "t") == [
        "enqueued",
        "claimed",
        "retry",
        "promoted",
        "claimed",
        "retry",
        "promoted",
        "claimed",
        "failed",
    ]


async def test_non_retryable_failure_is_final_at_once(service: Service) -> None:
    await service.enqueue(TaskSpec("work", id="t", max_attempts=5))
    task = await claim_one(service)
    failed = await service.fail("t", task.lease_token, "bad input", retryable=False)
    assert failed.state is S.FAILED
    assert failed.attempt == 1


async def test_without_backoff_a_retry_is_queued_at_once(clock: ManualClock) -> None:
    settings = Settings(lease_seconds=30.0, retry_backoff=0.0, default_max_attempts=2)
    service = Service(MemoryBackend(), settings, clock)
    await service.enqueue(TaskSpec("work", id="t"))
    task = await claim_one(service)

    retried = await service.fail("t", task.lease_token, "flaky")

    assert retried.state is S.QUEUED
    assert retried.run_at == clock.now()
    assert (await claim_one(service)).attempt == 2


async def test_long_errors_are_truncated_not_refused(service: Service) -> None:
    await service.enqueue(TaskSpec("work", id="t", max_attempts=1))
    task = await claim_one(service)
    failed = await service.fail("t", task.lease_token, "x" * (limits.MAX_ERROR_CHARS + 500))
    assert failed.error == "x" * limits.MAX_ERROR_CHARS


async def test_sweep_returns_an_expired_lease_to_the_queue(
    service: Service, clock: ManualClock
) -> None:
    await service.enqueue(TaskSpec("work", id="t"))
    old = await claim_one(service, "silent")

    clock.advance(29)
    assert await service.sweep() == 0
    clock.advance(2)  # the 30 s lease has ended
    assert await service.sweep() == 1
    assert await service.sweep() == 0  # nothing left to move

    swept = await service.get("t")
    assert swept.state is S.SCHEDULED
    assert swept.run_at == clock.now() + timedelta(seconds=2)
    assert swept.error is not None
    assert "lease expired" in swept.error
    assert "silent" in swept.error

    clock.advance(2)
    new = await claim_one(service, "fresh")
    assert new.attempt == 2
    with pytest.raises(StaleLease):
        await service.complete("t", old.lease_token, {"late": True})
    with pytest.raises(StaleLease):
        await service.heartbeat("t", old.lease_token)
    with pytest.raises(StaleLease):
        await service.fail("t", old.lease_token, "late")
    done = await service.complete("t", new.lease_token, {"ok": True})
    assert (done.state, done.result, done.worker_id) == (S.SUCCEEDED, {"ok": True}, "fresh")


async def test_sweep_dead_letters_when_no_attempts_remain(
    service: Service, clock: ManualClock
) -> None:
    await service.enqueue(TaskSpec("work", id="once", max_attempts=1))
    await service.enqueue(TaskSpec("work", id="twice", max_attempts=2))
    await service.claim("w1", limit=2)

    clock.advance(31)
    assert await service.sweep() == 2

    assert (await service.get("once")).state is S.FAILED
    assert (await service.get("twice")).state is S.SCHEDULED


async def test_sweep_of_a_task_with_a_requested_cancel_cancels_it(
    service: Service, clock: ManualClock
) -> None:
    await service.enqueue(TaskSpec("work", id="t"))
    await claim_one(service)
    await service.cancel("t")
    clock.advance(31)
    assert await service.sweep() == 1
    assert (await service.get("t")).state is S.CANCELED


async def test_heartbeat_extends_the_lease_and_keeps_the_sweeper_away(
    service: Service, clock: ManualClock
) -> None:
    await service.enqueue(TaskSpec("work", id="t"))
    task = await claim_one(service)
    assert task.lease_expires_at == T0 + timedelta(seconds=30)

    clock.advance(20)
    beat = await service.heartbeat("t", task.lease_token)
    assert beat.lease_expires_at == clock.now() + timedelta(seconds=30)

    clock.advance(20)  # past the first lease, inside the extended one
    assert await service.sweep() == 0
    assert (await service.get("t")).state is S.RUNNING


async def test_complete_with_a_stale_token_raises_and_changes_nothing(service: Service) -> None:
    await service.enqueue(TaskSpec("work", id="t"))
    task = await claim_one(service)

    with pytest.raises(StaleLease):
        await service.complete("t", task.lease_token + 1, "forged")

    current = await service.get("t")
    assert current.state is S.RUNNING
    assert current.result is None
    with pytest.raises(NotFound):
        await service.complete("missing", 1)


async def test_complete_twice_with_the_same_token_is_idempotent(service: Service) -> None:
    await service.enqueue(TaskSpec("work", id="t"))
    task = await claim_one(service)

    first = await service.complete("t", task.lease_token, {"n": 1})
    again = await service.complete("t", task.lease_token, {"n": 2})

    assert first.state is again.state is S.SUCCEEDED
    assert again.result == {"n": 1}  # the first report stands
    assert (await kinds(service, "t")).count("succeeded") == 1


async def test_fail_twice_with_the_same_token_is_idempotent(service: Service) -> None:
    await service.enqueue(TaskSpec("work", id="t"))
    task = await claim_one(service)
    first = await service.fail("t", task.lease_token, "boom")
    again = await service.fail("t", task.lease_token, "boom")
    assert first == again
    assert (await kinds(service, "t")).count("retry") == 1


async def test_complete_after_failure_with_the_same_token_is_refused(service: Service) -> None:
    await service.enqueue(TaskSpec("work", id="t", max_attempts=1))
    task = await claim_one(service)
    await service.fail("t", task.lease_token, "boom")
    with pytest.raises(IllegalTransition):
        await service.complete("t", task.lease_token)
    assert (await service.get("t")).state is S.FAILED


async def test_cancel_of_running_then_fail_cancels_instead_of_retrying(
    service: Service, clock: ManualClock
) -> None:
    await service.enqueue(TaskSpec("work", id="t", max_attempts=5))
    task = await claim_one(service)

    flagged = await service.cancel("t")
    assert flagged.state is S.RUNNING
    assert flagged.cancel_requested
    assert (await service.heartbeat("t", task.lease_token)).cancel_requested

    clock.advance(1)
    canceled = await service.fail("t", task.lease_token, "stopped on request")

    assert canceled.state is S.CANCELED
    assert canceled.finished_at == clock.now()
    assert canceled.cancel_requested is False
    clock.advance(3600)
    assert await service.claim("w1") == []


async def test_cancel_of_waiting_and_finished_tasks(service: Service) -> None:
    await service.enqueue(TaskSpec("work", id="queued"))
    await service.enqueue(TaskSpec("work", id="later", delay=60))
    await service.enqueue(TaskSpec("work", id="done", priority="high"))
    done = await claim_one(service)
    await service.complete("done", done.lease_token)

    assert (await service.cancel("queued")).state is S.CANCELED
    assert (await service.cancel("later")).state is S.CANCELED
    with pytest.raises(IllegalTransition):
        await service.cancel("done")
    with pytest.raises(IllegalTransition):
        await service.cancel("queued")  # already canceled
    with pytest.raises(NotFound):
        await service.cancel("missing")


async def test_retry_of_a_failed_task(service: Service) -> None:
    await service.enqueue(TaskSpec("work", id="t", max_attempts=1))
    first = await claim_one(service)
    await service.fail("t", first.lease_token, "boom")

    requeued = await service.retry("t")

    assert requeued.state is S.QUEUED
    assert requeued.attempt == 0
    assert requeued.error is None
    again = await claim_one(service)
    assert again.attempt == 1
    assert again.lease_token > first.lease_token
    with pytest.raises(IllegalTransition):
        await service.retry("t")  # running
    await service.complete("t", again.lease_token)
    with pytest.raises(IllegalTransition):
        await service.retry("t")  # succeeded
    with pytest.raises(NotFound):
        await service.retry("missing")


async def test_retry_of_a_canceled_task(service: Service) -> None:
    await service.enqueue(TaskSpec("work", id="t"))
    await service.cancel("t")
    assert (await service.retry("t")).state is S.QUEUED
    assert (await claim_one(service)).id == "t"


async def test_set_priority(service: Service) -> None:
    await service.enqueue_many(
        [TaskSpec("work", id="a"), TaskSpec("work", id="b"), TaskSpec("work", id="c")]
    )

    changed = await service.set_priority("c", "high")

    assert changed.priority == 80
    assert [t.id for t in await service.claim("w1", limit=3)] == ["c", "a", "b"]
    with pytest.raises(IllegalTransition, match="running"):
        await service.set_priority("a", "mid")
    assert (await service.get("a")).priority == 20
    with pytest.raises(ValidationError, match=r"0\.\.100"):
        await service.set_priority("a", 500)
    with pytest.raises(NotFound):
        await service.set_priority("missing", 50)


async def test_set_priority_to_tail(service: Service) -> None:
    await service.enqueue_many(
        [TaskSpec("work", id=i, priority="mid") for i in ("a", "b")]
        + [TaskSpec("work", id="c", priority="low")]
    )
    await service.set_priority("c", "mid", to_tail=True)
    assert [t.id for t in await service.claim("w1", limit=3)] == ["a", "b", "c"]


async def test_scheduled_task_is_claimed_once_the_clock_reaches_it(
    service: Service, clock: ManualClock
) -> None:
    task = await service.enqueue(TaskSpec("work", id="t", delay=10))
    assert task.state is S.SCHEDULED
    clock.advance(9)
    assert await service.claim("w1") == []
    clock.advance(1)
    assert (await claim_one(service)).id == "t"


async def test_enqueue_many_refuses_bad_batches(service: Service) -> None:
    with pytest.raises(DuplicateTask):
        await service.enqueue_many([TaskSpec("work", id="x"), TaskSpec("work", id="x")])
    specs = [TaskSpec("work") for _ in range(limits.MAX_BATCH + 1)]
    with pytest.raises(ValidationError, match=str(limits.MAX_BATCH)):
        await service.enqueue_many(specs)
    with pytest.raises(ValidationError):
        await service.enqueue_many([TaskSpec("work"), TaskSpec("work", payload=[1])])  # type: ignore[arg-type]
    tasks, _ = await service.list_tasks(TaskFilter())
    assert tasks == []
    await service.enqueue(TaskSpec("work", id="x"))
    with pytest.raises(DuplicateTask):
        await service.enqueue(TaskSpec("work", id="x"))


async def test_claim_arguments_are_checked(service: Service) -> None:
    for limit in (0, limits.MAX_CLAIM + 1):
        with pytest.raises(ValidationError):
            await service.claim("w1", limit=limit)
    with pytest.raises(ValidationError):
        await service.claim("bad worker")
    with pytest.raises(ValidationError):
        await service.claim("w1", wait=-1)


async def test_report_gives_one_outcome_per_item_in_order(service: Service) -> None:
    await service.enqueue_many([TaskSpec("work", id=i) for i in ("a", "b", "c")])
    a, b, c = await service.claim("w1", limit=3)

    outcomes = await service.report(
        completions=[Completion("a", a.lease_token, 1), Completion("b", b.lease_token + 9)],
        failures=[Failure("c", c.lease_token, "boom"), Failure("missing", 1, "x")],
    )

    assert [o.task_id for o in outcomes] == ["a", "b", "c", "missing"]
    assert [o.ok for o in outcomes] == [True, False, True, False]
    assert isinstance(outcomes[1].error, StaleLease)
    assert isinstance(outcomes[3].error, NotFound)
    assert (await service.get("b")).state is S.RUNNING


async def test_job_summary_follows_its_tasks(service: Service) -> None:
    job, tasks = await service.submit_job(
        "nightly", [TaskSpec("work", id=f"j{i}") for i in range(3)], tenant="acme"
    )
    assert all(t.job_id == job.id and t.tenant == "acme" for t in tasks)
    assert (await service.job(job.id)).state == "queued"

    first = await claim_one(service)
    assert (await service.job(job.id)).state == "running"
    await service.complete(first.id, first.lease_token)
    summary = await service.job(job.id)
    assert summary.state == "running"
    assert summary.counts == {S.SUCCEEDED: 1, S.QUEUED: 2}

    for task in await service.claim("w1", limit=2):
        await service.complete(task.id, task.lease_token)
    assert (await service.job(job.id)).state == "succeeded"
    with pytest.raises(NotFound):
        await service.job("missing")
    with pytest.raises(ValidationError):
        await service.submit_job("empty", [])


async def test_list_tasks_pages_with_a_cursor(service: Service) -> None:
    await service.enqueue_many([TaskSpec("work", id=f"t{i}") for i in range(5)])
    first, cursor = await service.list_tasks(TaskFilter(), limit=2)
    second, cursor2 = await service.list_tasks(TaskFilter(), cursor=cursor, limit=2)
    last, end = await service.list_tasks(TaskFilter(), cursor=cursor2, limit=2)
    assert [t.id for t in first + second + last] == ["t4", "t3", "t2", "t1", "t0"]
    assert end is None
    with pytest.raises(ValidationError):
        await service.list_tasks(TaskFilter(), limit=0)


async def test_one_oversized_result_refuses_only_its_own_item(service: Service) -> None:
    await service.enqueue_many([TaskSpec("work"), TaskSpec("work")])
    a, b = await service.claim("w1", limit=2)
    huge = {"blob": "x" * (limits.MAX_RESULT_BYTES + 1)}
    outcomes = await service.report(
        [Completion(a.id, a.lease_token, huge), Completion(b.id, b.lease_token, 1)]
    )
    assert [o.task_id for o in outcomes] == [a.id, b.id]
    assert isinstance(outcomes[0].error, ValidationError)
    assert outcomes[1].ok
    assert (await service.get(a.id)).state == S.RUNNING
    assert (await service.get(b.id)).state == S.SUCCEEDED
