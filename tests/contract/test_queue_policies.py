"""Queue settings on every store, through the service: fair places (round robin and
weights) decide the order among a priority, aging raises a starved task within its bound,
``max_size`` refuses what would overfill a queue, and a queue's defaults fill what a submit
leaves out. Time moves by the manual clock; claims are real claims on the store."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from rota.backends import Backend
from rota.core.aging import wait_bound
from rota.core.clock import ManualClock
from rota.core.errors import QueueFull, ValidationError
from rota.core.queues import Aging
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings
from tests.contract.helpers import T0

OPS = "token:ops"


def service_at(backend: Backend) -> tuple[Service, ManualClock]:
    clock = ManualClock(T0)
    return Service(backend, make_settings(), clock=clock), clock


async def flood(service: Service, tenant: str, count: int, queue: str = "scan") -> None:
    for start in range(0, count, 1000):
        size = min(1000, count - start)
        await service.enqueue_many([TaskSpec("work", queue=queue, tenant=tenant)] * size)


async def test_a_queue_without_settings_keeps_plain_order(backend: Backend) -> None:
    service, _ = service_at(backend)
    await flood(service, "a", 5)
    await flood(service, "b", 2)
    started = [t.tenant for t in await service.claim("w", limit=10)]
    assert started == ["a"] * 5 + ["b"] * 2


async def test_round_robin_serves_a_trickle_before_a_flood_drains(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.queues.update("scan", {"fairness": "round_robin"}, actor=OPS)
    await flood(service, "a", 10_000)
    await flood(service, "b", 100)
    started: list[str | None] = []
    while "b" not in started or started.count("b") < 100:
        batch = await service.claim("w", queues=["scan"], limit=25)
        assert batch, "tasks are left"
        started += [t.tenant for t in batch]
    # all of b's hundred started before a's 300th (they alternate from the head on)
    assert started.count("a") < 300
    assert started[:6] == ["a", "a", "b", "a", "b", "a"]


async def test_weights_share_starts_three_to_one(backend: Backend) -> None:
    service, _ = service_at(backend)
    settings = {"fairness": "weighted", "weights": {"big": 3, "small": 1}}
    await service.queues.update("scan", settings, actor=OPS)
    await flood(service, "big", 2000)
    await flood(service, "small", 2000)
    started: Counter[str | None] = Counter()
    for _ in range(20):
        started.update(t.tenant for t in await service.claim("w", queues=["scan"], limit=50))
    assert started["big"] + started["small"] == 1000
    assert started["big"] / started["small"] == pytest.approx(3.0, rel=0.05)


async def test_a_key_given_on_submit_shares_instead_of_the_tenant(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.queues.update("scan", {"fairness": "round_robin"}, actor=OPS)
    await service.enqueue_many([TaskSpec("work", queue="scan", fairness_key="x")] * 3)
    await service.enqueue_many([TaskSpec("work", queue="scan", fairness_key="y")] * 3)
    started = await service.claim("w", queues=["scan"], limit=6)
    got = [(await service.get(t.id)).place for t in started]
    assert got == sorted(got)  # claimed in place order
    assert len({t.place for t in started}) < 6  # x and y share places: interleaved


async def test_an_idle_key_banks_no_credit(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.queues.update("scan", {"fairness": "round_robin"}, actor=OPS)
    await flood(service, "b", 2)
    await flood(service, "a", 50)
    await service.claim("w", queues=["scan"], limit=30)  # b's two, and a's first 28
    await flood(service, "b", 40)  # b comes back after idling: it joins at the head
    started = [t.tenant for t in await service.claim("w", queues=["scan"], limit=10)]
    assert 4 <= started.count("b") <= 6  # alternating, not b's forty first


async def test_aging_starts_a_starved_task_within_its_bound(backend: Backend) -> None:
    service, clock = service_at(backend)
    aging = {"rate": 60.0, "cap": 100}  # a point a second
    await service.queues.update("scan", {"aging": aging}, actor=OPS)
    await service.queues.update("plain", {}, actor=OPS)
    for queue in ("scan", "plain"):
        await service.enqueue(TaskSpec("work", queue=queue, priority=10, id=f"low-{queue}"))
    bound = wait_bound(10, 50, Aging(**aging))
    assert bound == 41.0
    started_at: dict[str, float] = {}
    for second in range(60):
        clock.advance(1)
        await service.queues.age()
        for queue in ("scan", "plain"):  # a flood of priority 50, as much as is claimed
            await service.enqueue_many([TaskSpec("work", queue=queue, priority=50)] * 2)
            for task in await service.claim("w", queues=[queue], limit=2):
                if task.id.startswith("low-"):
                    started_at[queue] = second + 1
    assert started_at["scan"] <= bound + 1  # the service's steps may come a second late
    assert "plain" not in started_at  # without aging it still waits
    low = await service.get("low-plain")
    assert low.priority == 10


async def test_aging_stops_at_its_cap_and_skips_fresh_tasks(backend: Backend) -> None:
    service, clock = service_at(backend)
    await service.queues.update("scan", {"aging": {"rate": 60.0, "cap": 12}}, actor=OPS)
    await service.enqueue(TaskSpec("work", queue="scan", priority=10, id="old"))
    await service.enqueue(TaskSpec("work", queue="scan", priority=50, id="high"))
    for _ in range(5):
        clock.advance(1)
        await service.enqueue(TaskSpec("work", queue="scan", priority=10, id=f"new-{_}"))
        await service.queues.age()
    assert (await service.get("old")).priority == 12  # capped
    assert (await service.get("high")).priority == 50  # above the cap: untouched
    assert (await service.get("new-4")).priority == 10  # has not waited a step yet


async def test_max_size_refuses_the_overflow_and_lets_the_top_priority_in(
    backend: Backend,
) -> None:
    service, _ = service_at(backend)
    await service.queues.update("scan", {"max_size": 3}, actor=OPS)
    await service.enqueue_many([TaskSpec("work", queue="scan")] * 2)
    with pytest.raises(QueueFull, match="max_size of 3"):
        await service.enqueue_many([TaskSpec("work", queue="scan")] * 2)  # whole batch
    assert await backend.task_count_waiting("scan") == 2
    await service.enqueue(TaskSpec("work", queue="scan", delay=60))  # scheduled ones count
    with pytest.raises(QueueFull):
        await service.enqueue(TaskSpec("work", queue="scan"))
    await service.enqueue(TaskSpec("work", queue="scan", priority=100))  # bypasses
    await service.enqueue(TaskSpec("work", queue="other"))  # other queues are not limited
    assert await backend.task_count_waiting("scan") == 4
    await service.claim("w", queues=["scan"], limit=2)
    await service.enqueue(TaskSpec("work", queue="scan"))  # room again


async def test_queue_defaults_fill_what_a_submit_leaves_out(backend: Backend) -> None:
    service, _ = service_at(backend)
    fixed = {"backoff": "fixed", "delay": 9.0}
    changes = {"max_attempts": 7, "timeout": 30.0, "retry": fixed}
    await service.queues.update("scan", changes, actor=OPS)
    given = await service.enqueue(TaskSpec("work", queue="scan", max_attempts=2, timeout=5.0,
                                           retry={"backoff": "fixed", "delay": 1.0}))  # fmt: skip
    left = await service.enqueue(TaskSpec("work", queue="scan"))
    assert (given.max_attempts, given.timeout, given.retry["delay"]) == (2, 5.0, 1.0)
    assert (left.max_attempts, left.timeout) == (7, 30.0)
    assert left.retry is not None and left.retry["delay"] == 9.0
    await service.queues.update("scan", {"retention": 60.0}, actor=OPS)
    await service.retention.prune()
    assert service.retention.keep_for("scan") == timedelta(seconds=60)


async def test_settings_are_checked_whole_and_reset_by_null(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.queues.update("scan", {"max_size": 5, "fairness": "round_robin"}, actor=OPS)
    with pytest.raises(ValidationError, match=r"aging\.rate"):
        await service.queues.update("scan", {"max_size": 9, "aging": {"rate": 0}}, actor=OPS)
    assert (await service.queues.get("scan")).max_size == 5  # nothing of it stored
    reset = await service.queues.update("scan", {"max_size": None}, actor=OPS)
    assert reset.max_size is None and reset.fairness == "round_robin"
    entries = await service.audit.entries(limit=10)
    assert [e.action for e in entries] == ["queue.settings", "queue.settings"]


async def test_a_requeued_task_goes_to_the_tail_of_a_fair_queue(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.queues.update("scan", {"fairness": "round_robin"}, actor=OPS)
    await flood(service, "a", 3)
    await flood(service, "b", 3)
    first = (await service.claim("w", queues=["scan"], limit=1))[0]
    await service.fail(first.id, first.lease_token, "boom", retryable=False)
    await service.retry(first.id)
    order = [t.id for t in await service.claim("w", queues=["scan"], limit=10)]
    assert order[-1] == first.id
