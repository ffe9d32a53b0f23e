"""A tenant's scheduling disabled (KAT's disabled scheduler), and counts per tenant, on every
store: its submits are refused, no claim hands out its waiting tasks by any path (every
queue, one queue, several), others' tasks go on; enabling it hands them out again; the
cancel option cancels all its waiting tasks. Counts narrowed to a tenant follow its tasks
through every change."""

from __future__ import annotations

from collections import Counter

import pytest

from rota.backends import Backend
from rota.core.clock import ManualClock
from rota.core.errors import IntakeBlocked
from rota.core.limits import MAX_LIST_LIMIT
from rota.core.models import TaskFilter
from rota.core.states import TaskState as S
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings
from tests.contract.helpers import T0


async def test_a_disabled_tenant_is_not_dispatched(backend: Backend) -> None:
    service = Service(backend, make_settings(), clock=ManualClock(T0))
    # acme's tasks rank first in both queues, so a claim that ignored the rule would take them
    for queue in ("scan", "mail"):
        await service.enqueue(TaskSpec("work", queue=queue, priority=90, tenant="acme"))
        await service.enqueue(TaskSpec("work", queue=queue, priority=10, tenant="beta"))
        await service.enqueue(TaskSpec("work", queue=queue, priority=10))
    await service.bulk.disable_tenant("acme", reason="contract ended", actor="token:ops")

    with pytest.raises(IntakeBlocked, match=r"tenant 'acme' is disabled .* contract ended"):
        await service.enqueue(TaskSpec("work", queue="scan", tenant="acme"))
    await service.enqueue(TaskSpec("work", queue="scan", tenant="beta"))  # others go in

    one = await service.claim("w", queues=["scan"], limit=10)
    assert sorted(str(t.tenant) for t in one) == ["None", "beta", "beta"]
    several = await service.claim("w", queues=["mail", "scan"], limit=10)
    assert sorted(str(t.tenant) for t in several) == ["None", "beta"]
    await service.enqueue(TaskSpec("work", queue="mail"))
    await service.enqueue(TaskSpec("work", queue="news"))
    every = await service.claim("w", limit=10)  # several queues with ready rows: merged
    assert sorted(t.queue for t in every) == ["mail", "news"]
    assert await service.claim("w", limit=10) == []

    assert await service.controls.enable("acme")
    assert not await service.controls.enable("acme")
    back = await service.claim("w", limit=10)
    assert sorted((t.tenant, t.queue) for t in back) == [("acme", "mail"), ("acme", "scan")]


async def test_disabling_can_cancel_every_waiting_task(backend: Backend) -> None:
    service = Service(backend, make_settings(), clock=ManualClock(T0))
    many = MAX_LIST_LIMIT + 5  # more than one page of the bulk cancel
    await service.enqueue_many([TaskSpec("work", tenant="acme") for _ in range(MAX_LIST_LIMIT)])
    await service.enqueue_many([TaskSpec("work", tenant="acme") for _ in range(5)])
    later = await service.enqueue(TaskSpec("work", tenant="acme", delay=60))
    kept = await service.enqueue(TaskSpec("work", tenant="beta"))

    _, canceled = await service.bulk.disable_tenant(
        "acme", reason="offboarded", cancel_waiting=True, actor="token:ops"
    )
    assert canceled == many + 1
    assert (await service.get(later.id)).state == S.CANCELED
    assert (await service.get(kept.id)).state == S.QUEUED
    counts = {(c.state, c.count) for c in await service.counts("acme")}
    assert counts == {(S.CANCELED, many + 1)}


async def test_counts_narrowed_to_a_tenant_follow_every_change(backend: Backend) -> None:
    service = Service(backend, make_settings(), clock=ManualClock(T0))
    acme = [await service.enqueue(TaskSpec("work", queue=q, tenant="acme", priority=p))
            for q, p in (("a", 50), ("a", 50), ("a", 70), ("b", 50))]  # fmt: skip
    await service.enqueue(TaskSpec("work", queue="a", tenant="beta"))
    await service.enqueue(TaskSpec("work", queue="a"))
    await service.enqueue(TaskSpec("work", queue="b", tenant="acme", delay=60))
    await service.cancel(acme[3].id)
    (top,) = await service.claim("w", queues=["a"])  # acme's priority 70
    await service.complete(top.id, top.lease_token)
    await service.set_priority(acme[0].id, 60, to_tail=False)

    expected: Counter[tuple[str, S, int]] = Counter()
    for task in (await service.list_tasks(TaskFilter(tenant="acme"), limit=100))[0]:
        expected[(task.queue, task.state, task.priority)] += 1
    got = {(c.queue, c.state, c.priority): c.count for c in await service.counts("acme")}
    assert got == dict(expected)
    assert got == {("a", S.QUEUED, 60): 1, ("a", S.QUEUED, 50): 1, ("a", S.SUCCEEDED, 70): 1,
                   ("b", S.CANCELED, 50): 1, ("b", S.SCHEDULED, 20): 1}  # fmt: skip
    assert sum(c.count for c in await service.counts("beta")) == 1
    assert sum(c.count for c in await service.counts()) == 7
    assert await service.counts("nobody") == []
