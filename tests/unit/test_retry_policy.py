"""Retry policies, retry-later, run timeouts through the lease, expiry and dead letter."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from rota.backends.memory import MemoryBackend
from rota.config import Settings
from rota.core.clock import ManualClock
from rota.core.errors import StaleLease, ValidationError
from rota.core.models import TaskFilter
from rota.core.retry import RetryPolicy
from rota.core.states import TaskState
from rota.service import Failure, Service, TaskSpec
from tests.unit.helpers import T0

S = TaskState


def test_policy_delays_by_kind() -> None:
    assert [RetryPolicy("fixed", delay=5).seconds(n) for n in (1, 2, 9)] == [5, 5, 5]
    exponential = RetryPolicy("exponential", delay=1, max_delay=10)
    assert [exponential.seconds(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    listed = RetryPolicy.from_json({"backoff": "list", "delays": [3, 30]})
    assert [listed.seconds(n) for n in (1, 2, 3)] == [3, 30, 30]


def test_jitter_stays_within_half_and_full_delay() -> None:
    policy = RetryPolicy("exponential", delay=8, max_delay=100, jitter=True)
    rng = random.Random(1)
    draws = [policy.seconds(2, rng) for _ in range(200)]
    assert all(8 <= d <= 16 for d in draws)
    assert len({round(d, 6) for d in draws}) > 100


@pytest.mark.parametrize(
    "data",
    [
        {"backoff": "sometimes"},
        {"backoff": "list"},
        {"delay": -1},
        {"retry_on": "TimeoutError"},
        {"unknown": 1},
    ],
)
def test_bad_policies_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicy.from_json(data)


async def _failed_once(service: Service, spec: TaskSpec, kind: str | None = None) -> None:
    task = await service.enqueue(spec)
    (claimed,) = await service.claim("w")
    await service.fail(claimed.id, claimed.lease_token, "boom", kind=kind)
    assert claimed.id == task.id


async def test_a_task_policy_sets_its_retry_delay(service: Service, clock: ManualClock) -> None:
    spec = TaskSpec("work", retry={"backoff": "list", "delays": [7, 70]})
    await _failed_once(service, spec)
    (task,) = (await service.list_tasks(TaskFilter()))[0]
    assert task.state == S.SCHEDULED
    assert task.run_at == clock.now() + timedelta(seconds=7)


async def test_retry_on_lists_the_error_kinds_worth_a_retry(service: Service) -> None:
    spec = TaskSpec("work", retry={"retry_on": ["ConnectionError"]}, max_attempts=5)
    await _failed_once(service, spec, kind="ValueError")
    (task,) = (await service.list_tasks(TaskFilter()))[0]
    assert task.state == S.FAILED
    await _failed_once(service, spec, kind="ConnectionError")
    states = {t.state for t in (await service.list_tasks(TaskFilter()))[0]}
    assert states == {S.FAILED, S.SCHEDULED}


async def test_a_queue_policy_applies_when_the_task_has_none(clock: ManualClock) -> None:
    settings = Settings(queue_retry={"mail": {"backoff": "fixed", "delay": 42}})
    service = Service(MemoryBackend(), settings, clock)
    await service.open()
    await _failed_once(service, TaskSpec("send", queue="mail"))
    (task,) = (await service.list_tasks(TaskFilter()))[0]
    assert task.run_at == clock.now() + timedelta(seconds=42)


def test_a_bad_queue_policy_is_refused_when_settings_are_built() -> None:
    with pytest.raises(ValidationError, match="mail"):
        Settings(queue_retry={"mail": {"backoff": "never"}})


async def test_retry_later_gives_the_attempt_back(service: Service, clock: ManualClock) -> None:
    task = await service.enqueue(TaskSpec("poll", max_attempts=1))
    for _ in range(3):  # far more than max_attempts, and still not failed
        (claimed,) = await service.claim("w")
        assert claimed.attempt == 1
        (outcome,) = await service.report(
            failures=[Failure(task.id, claimed.lease_token, "not yet", retry_after=5)]
        )
        assert outcome.ok
        waiting = await service.get(task.id)
        assert waiting.state == S.SCHEDULED
        assert waiting.attempt == 0
        assert waiting.run_at == clock.now() + timedelta(seconds=5)
        clock.advance(5)


async def test_a_run_ends_at_its_timeout_plus_grace_though_it_heartbeats(
    clock: ManualClock,
) -> None:
    service = Service(MemoryBackend(), Settings(lease_seconds=30, timeout_grace=2), clock)
    await service.open()
    await service.enqueue(TaskSpec("slow", timeout=5))
    (task,) = await service.claim("w")
    assert task.lease_expires_at == clock.now() + timedelta(seconds=30)
    clock.advance(4)
    beat = await service.heartbeat(task.id, task.lease_token)
    assert beat.lease_expires_at == T0 + timedelta(seconds=34)  # a lease is only a lease
    clock.advance(2.9)  # 6.9 s after the start: timeout 5 + grace 2 not yet passed
    assert await service.sweep() == 0
    clock.advance(0.1)
    assert await service.sweep() == 1
    swept = await service.get(task.id)
    assert swept.state == S.SCHEDULED
    assert swept.error is not None and swept.error.startswith("timeout")
    assert (await service.events(task.id))[-1].actor == "system"


async def test_a_silent_worker_is_told_apart_from_a_timeout(
    service: Service, clock: ManualClock
) -> None:
    await service.enqueue(TaskSpec("work"))
    (task,) = await service.claim("w")
    clock.advance(31)
    await service.sweep()
    assert "lease expired" in ((await service.get(task.id)).error or "")


async def test_an_expired_task_is_never_run(service: Service, clock: ManualClock) -> None:
    task = await service.enqueue(TaskSpec("late", expires_in=10))
    clock.advance(11)
    assert await service.claim("w") == []
    assert await service.sweep() == 1
    gone = await service.get(task.id)
    assert gone.state == S.CANCELED
    assert gone.error is not None and "expired" in gone.error
    assert [e.kind for e in await service.events(task.id)][-1] == "expired"


async def test_expiring_before_it_may_run_is_kept_and_never_runs(
    service: Service, clock: ManualClock
) -> None:
    # as Celery keeps an `expires` before the `eta`: stored, then expired unrun
    task = await service.enqueue(TaskSpec("x", delay=60, expires_in=30))
    assert task.state == S.SCHEDULED
    clock.advance(61)
    assert await service.claim("w") == []
    await service.sweep()
    gone = await service.get(task.id)
    assert gone.state == S.CANCELED and "expired" in (gone.error or "")


async def test_progress_is_stored_and_fenced(service: Service) -> None:
    await service.enqueue(TaskSpec("work"))
    (task,) = await service.claim("w")
    await service.heartbeat(task.id, task.lease_token, progress={"done": 40})
    assert (await service.get(task.id)).progress == {"done": 40}
    with pytest.raises(StaleLease):
        await service.heartbeat(task.id, task.lease_token + 1, progress={"done": 99})
    assert (await service.get(task.id)).progress == {"done": 40}


async def test_dead_letter_retry_and_discard_by_filter(service: Service) -> None:
    for queue in ("a", "a", "b"):
        await service.enqueue(TaskSpec("work", queue=queue, max_attempts=1))
    for claimed in await service.claim("w", limit=3):
        await service.fail(claimed.id, claimed.lease_token, "broken")
    retried = await service.bulk.retry_failed(TaskFilter(queue="a"))
    assert len(retried) == 2
    assert {(await service.get(i)).state for i in retried} == {S.QUEUED}
    assert await service.bulk.discard_failed(TaskFilter(queue="b")) == 1
    remaining, _ = await service.list_tasks(TaskFilter())
    assert sorted(t.queue for t in remaining) == ["a", "a"]
