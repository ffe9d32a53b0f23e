"""Global limits on every store, through the service: a queue's running tasks, a tenant's
running tasks in it, and its start rate (a token bucket the store keeps), whichever worker
claims; a task held back by a limit stays queued and the tasks behind it that fit go, in
order; concurrent claimers never over-admit. Time moves by the manual clock."""

from __future__ import annotations

import asyncio

from rota.backends import Backend
from rota.backends.postgres.queries import LIMIT_SLOTS
from rota.core import limits as bounds
from rota.core.clock import ManualClock
from rota.core.models import TaskFilter
from rota.core.states import TaskState as S
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings
from tests.contract.helpers import T0

OPS = "token:ops"


def service_at(backend: Backend) -> tuple[Service, ManualClock]:
    clock = ManualClock(T0)
    return Service(backend, make_settings(), clock=clock), clock


async def running(service: Service) -> int:
    found, _ = await service.list_tasks(TaskFilter(state=S.RUNNING), limit=1000)
    return len(found)


async def test_a_queue_runs_at_most_its_concurrency_limit(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.queues.update("scan", {"concurrency_limit": 2}, actor=OPS)
    await service.enqueue_many([TaskSpec("work", queue="scan")] * 5)
    await service.enqueue(TaskSpec("work", queue="free"))
    first = await service.claim("w1", limit=10)
    assert sorted(t.queue for t in first) == ["free", "scan", "scan"]
    assert await service.claim("w2", queues=["scan"], limit=10) == []
    done = next(t for t in first if t.queue == "scan")
    await service.complete(done.id, done.lease_token)
    assert len(await service.claim("w2", queues=["scan"], limit=10)) == 1


async def test_a_tenant_at_its_limit_lets_the_others_pass(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.queues.update("scan", {"tenant_concurrency_limit": 1}, actor=OPS)
    await service.enqueue_many([TaskSpec("work", queue="scan", tenant="a", priority=90)] * 3)
    await service.enqueue_many([TaskSpec("work", queue="scan", tenant="b", priority=10)] * 3)
    claimed = await service.claim("w", queues=["scan"], limit=10)
    assert sorted(str(t.tenant) for t in claimed) == ["a", "b"]
    assert await service.claim("w", queues=["scan"], limit=10) == []


async def test_the_rate_limit_is_a_bucket_the_store_keeps(backend: Backend) -> None:
    service, clock = service_at(backend)
    await service.queues.update("scan", {"rate_limit": 4}, actor=OPS)
    await service.enqueue_many([TaskSpec("work", queue="scan")] * 20)
    assert len(await service.claim("w", queues=["scan"], limit=10)) == 4  # the full bucket
    assert await service.claim("w", queues=["scan"], limit=10) == []
    clock.advance(0.5)
    assert len(await service.claim("w", queues=["scan"], limit=10)) == 2
    clock.advance(10)
    assert len(await service.claim("w", queues=["scan"], limit=10)) == 4  # capped at rate


async def test_concurrent_claimers_never_over_admit(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.queues.update("scan", {"concurrency_limit": 3}, actor=OPS)
    await service.enqueue_many([TaskSpec("work", queue="scan")] * 50)
    got = await asyncio.gather(*(service.claim(f"w{n}", limit=5) for n in range(16)))
    assert sum(len(g) for g in got) == 3
    assert await running(service) == 3


async def test_claims_of_a_thousand_side_by_side_stop_at_the_limit(backend: Backend) -> None:
    """A limit with room for LIMIT_SLOTS whole claims and a little more (on PostgreSQL,
    claims with that much room run side by side, not one at a time): eight claims of
    1,000 at once start exactly the limit, no more."""
    service, _ = service_at(backend)
    limit = LIMIT_SLOTS * bounds.MAX_CLAIM + 50
    await service.queues.update("scan", {"concurrency_limit": limit}, actor=OPS)
    for _ in range(5):
        await service.enqueue_many([TaskSpec("work", queue="scan")] * 1000)
    got = await asyncio.gather(*(service.claim(f"w{n}", limit=bounds.MAX_CLAIM) for n in range(8)))
    assert sum(len(g) for g in got) == limit
    counts = await backend.task_count_by_queue()
    assert sum(c.count for c in counts if c.state == S.RUNNING) == limit


async def test_a_flood_held_back_by_its_tenant_limit_hides_no_one(backend: Backend) -> None:
    """The held-back rows fill the claim's first window of candidates many times over: the
    claim walks on past them to the other tenants' tasks, and the bucket counts what went
    on either path."""
    service, clock = service_at(backend)
    limits = {"tenant_concurrency_limit": 1, "rate_limit": 4}
    await service.queues.update("scan", limits, actor=OPS)
    await service.enqueue_many([TaskSpec("work", queue="scan", tenant="a", priority=90)] * 300)
    await service.enqueue(TaskSpec("work", queue="scan", tenant="b", priority=10))
    await service.enqueue(TaskSpec("work", queue="scan", tenant="c", priority=5))
    claimed = await service.claim("w", queues=["scan"], limit=10)
    assert [t.tenant for t in claimed] == ["a", "b", "c"]
    for task in claimed:
        await service.complete(task.id, task.lease_token)
    assert [t.tenant for t in await service.claim("w", limit=10)] == ["a"]  # the last token
    assert await service.claim("w", limit=10) == []
    clock.advance(0.5)
    again = await service.claim("w", queues=["scan"], limit=10)
    assert again == []  # two tokens, but a's task still runs


async def test_a_queue_at_its_limit_hides_no_other_queue(backend: Backend) -> None:
    """A claim of two queues: the first, older and longer than any claim reads (10,000
    candidates), is at its limit after one task; the other queue's tasks still go, as far
    as its own bucket allows; and so does a task of a third queue, last in line, for a
    claim of every queue."""
    service, _ = service_at(backend)
    await service.queues.update("lim", {"concurrency_limit": 1}, actor=OPS)
    await service.queues.update("rate", {"rate_limit": 2}, actor=OPS)
    for _ in range(11):
        await service.enqueue_many([TaskSpec("work", queue="lim")] * 1000)
    await service.enqueue_many([TaskSpec("work", queue="rate")] * 5)
    for queues in (["lim", "rate"], None):
        claimed = await service.claim("w", queues=queues, limit=10)
        assert sorted(t.queue for t in claimed) == (["lim", "rate", "rate"] if queues else [])
    await service.enqueue(TaskSpec("work", queue="free", priority=1))  # below the flood
    claimed = await service.claim("w", limit=10)  # every queue
    assert [t.queue for t in claimed] == ["free"]
