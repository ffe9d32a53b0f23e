"""Contract: what a claim hands out, in which order, and when."""

from __future__ import annotations

import asyncio
from collections import Counter

from rota.backends import Backend
from rota.core.models import TaskFilter
from tests.contract.helpers import LEASE, T0, S, at, claim, claim_one, drain, insert, make_task

PRIORITIES = [20, 80, 50, 80, 0, 100, 50, 20, 80, 0, 99, 1]


def contract_order(priorities: list[int], prefix: str = "p") -> list[str]:
    """Highest priority first; among equals, enqueue order."""
    ranked = sorted(range(len(priorities)), key=lambda i: (-priorities[i], i))
    return [f"{prefix}{i}" for i in ranked]


async def test_claim_sets_the_lease(backend: Backend) -> None:
    await insert(backend, make_task("a"))
    now = at(5)

    task = await claim_one(backend, now=now, worker="worker-9")

    assert task.id == "a"
    assert task.state is S.RUNNING
    assert task.attempt == 1
    assert task.lease_token > 0
    assert task.worker_id == "worker-9"
    assert task.started_at == now
    assert task.lease_expires_at == now + LEASE
    assert await backend.task_get("a") == task


async def test_claims_one_at_a_time_follow_priority_then_enqueue_order(backend: Backend) -> None:
    await insert(backend, *(make_task(f"p{i}", priority=p) for i, p in enumerate(PRIORITIES)))
    assert await drain(backend) == contract_order(PRIORITIES)


async def test_claim_many_returns_the_top_tasks_in_order(backend: Backend) -> None:
    await insert(backend, *(make_task(f"p{i}", priority=p) for i, p in enumerate(PRIORITIES)))
    expected = contract_order(PRIORITIES)

    first = await claim(backend, limit=5)
    rest = await claim(backend, limit=100)

    assert [t.id for t in first] == expected[:5]
    assert [t.id for t in rest] == expected[5:]
    assert all(t.state is S.RUNNING for t in first + rest)
    assert await claim(backend, limit=10) == []


async def test_claim_limit_leaves_the_rest_queued(backend: Backend) -> None:
    await insert(backend, *(make_task(f"t{i}") for i in range(10)))

    got = await claim(backend, limit=3)

    assert [t.id for t in got] == ["t0", "t1", "t2"]
    queued = await backend.task_list(TaskFilter(state=S.QUEUED), after_seq=None, limit=100)
    assert {t.id for t in queued} == {f"t{i}" for i in range(3, 10)}


async def test_equal_priorities_are_fifo_across_inserts_not_by_id(backend: Backend) -> None:
    # ids sort in the reverse of enqueue order, so an implementation ordering by id fails
    names = [f"z{99 - i:02d}" for i in range(30)]
    for start in range(0, 30, 10):
        await insert(backend, *(make_task(n, priority=50) for n in names[start : start + 10]))
    assert await drain(backend) == names


async def test_a_higher_priority_enqueued_later_jumps_ahead(backend: Backend) -> None:
    await insert(backend, make_task("old-low", priority=10), make_task("old-mid", priority=50))
    assert (await claim_one(backend)).id == "old-mid"
    await insert(backend, make_task("new-high", priority=90), make_task("new-low", priority=10))
    assert await drain(backend) == ["new-high", "old-low", "new-low"]


async def test_claim_restricted_to_queues(backend: Backend) -> None:
    await insert(
        backend,
        make_task("q1-a", queue="q1", priority=20),
        make_task("q2-a", queue="q2", priority=100),
        make_task("q3-a", queue="q3", priority=50),
        make_task("q1-b", queue="q1", priority=20),
        make_task("q2-b", queue="q2", priority=100),
    )

    got = await claim(backend, queues=["q1", "q3"], limit=10)

    assert [t.id for t in got] == ["q3-a", "q1-a", "q1-b"]
    assert await claim(backend, queues=["nope"], limit=10) == []
    for task_id in ("q2-a", "q2-b"):
        task = await backend.task_get(task_id)
        assert task is not None
        assert task.state is S.QUEUED
    assert [t.id for t in await claim(backend, queues=["q2"], limit=10)] == ["q2-a", "q2-b"]


async def test_claim_returns_the_task_as_stored(backend: Backend) -> None:
    """Every field a claim hands out equals what a read returns (PostgreSQL sends claimed
    rows in binary and reads in text: both must give the same Python values)."""
    task = make_task(
        "rich",
        payload={"a": [1, 2.5, "x"], "b": None, "c": {"d": "\u00e9"}},
        timeout=1.5,
        tenant="t",
        job_id=None,
        max_attempts=4,
    )._replace(retry={"delays": [1.0, 2.0]}, expires_at=at(3600))
    await insert(backend, task)

    claimed = await claim_one(backend, now=at(1))
    stored = await backend.task_get("rich")

    assert stored is not None
    assert claimed == stored
    assert [type(v) for v in claimed] == [type(v) for v in stored]
    assert claimed.payload == task.payload and claimed.retry == task.retry


async def test_claim_from_one_queue_keeps_the_contract_order(backend: Backend) -> None:
    """One queue has its own claim path on PostgreSQL: order, limit and expiry hold on it."""
    tasks = [make_task(f"p{i}", queue="one", priority=p) for i, p in enumerate(PRIORITIES)]
    others = [make_task(f"x{i}", queue="other", priority=100) for i in range(3)]
    expired = make_task("gone", queue="one", priority=100)
    await insert(backend, *tasks[:6], *others, *tasks[6:])
    await insert(backend, expired._replace(expires_at=at(1)))

    first = await claim(backend, queues=["one"], limit=5, now=at(2))
    rest = await claim(backend, queues=["one"], limit=50, now=at(2))

    assert [t.id for t in first + rest] == contract_order(PRIORITIES)
    assert [t.queue for t in first + rest] == ["one"] * len(PRIORITIES)
    for task_id in ["gone", "x0", "x1", "x2"]:
        left = await backend.task_get(task_id)
        assert left is not None and left.state is S.QUEUED, task_id


async def test_claim_across_queues_keeps_the_contract_order(backend: Backend) -> None:
    """Claims across every queue merge the queues' heads on PostgreSQL (one claim index,
    per queue): the order, the limit and expiry hold across queues as within one."""
    names = ["q-a", "q-b", "q-c", "q-d"]
    tasks = [make_task(f"p{i}", queue=names[i % 3], priority=p) for i, p in enumerate(PRIORITIES)]
    expired = [
        make_task("gone-a", queue="q-a", priority=100),
        make_task("gone-d", queue="q-d", priority=100),  # a queue of expired rows alone
    ]
    await insert(backend, *tasks[:7])
    await insert(backend, *(t._replace(expires_at=at(1)) for t in expired))
    await insert(backend, *tasks[7:])

    first = await claim(backend, limit=5, now=at(2))
    rest = await claim(backend, limit=50, now=at(2))

    assert [t.id for t in first] == contract_order(PRIORITIES)[:5]
    assert [t.id for t in rest] == contract_order(PRIORITIES)[5:]
    for task_id in ["gone-a", "gone-d"]:
        left = await backend.task_get(task_id)
        assert left is not None and left.state is S.QUEUED, task_id
    assert await claim(backend, limit=10, now=at(2)) == []


async def test_claim_across_queues_follows_queues_coming_and_going(backend: Backend) -> None:
    """One queue with ready rows, then several, then one again: each claim takes the best."""
    await insert(backend, *(make_task(f"a{i}", queue="q-a", priority=50) for i in range(4)))
    assert [t.id for t in await claim(backend, limit=2)] == ["a0", "a1"]

    await insert(
        backend,
        make_task("b-high", queue="q-b", priority=90),
        make_task("b-low", queue="q-b", priority=10),
    )
    assert [t.id for t in await claim(backend, limit=2)] == ["b-high", "a2"]
    assert [t.id for t in await claim(backend, limit=1)] == ["a3"]
    assert [t.id for t in await claim(backend, limit=5)] == ["b-low"]
    assert await claim(backend, limit=5) == []


async def test_scheduled_task_waits_for_run_at_then_is_promoted_and_claimed(
    backend: Backend,
) -> None:
    await insert(
        backend,
        make_task("later", priority=80, run_at=at(60)),
        make_task("now-1", priority=20),
        make_task("now-2", priority=20),
        make_task("now-3", priority=20),
    )
    assert await backend.task_next_run_at() == at(60)

    assert (await claim_one(backend, now=T0)).id == "now-1"
    assert (await claim_one(backend, now=at(59.999999))).id == "now-2"
    later = await backend.task_get("later")
    assert later is not None
    assert later.state is S.SCHEDULED

    claimed = await claim_one(backend, now=at(60))  # due now, and ranks above now-3

    assert claimed.id == "later"
    assert claimed.state is S.RUNNING
    assert claimed.attempt == 1
    assert claimed.started_at == at(60)
    assert await backend.task_next_run_at() is None
    assert await drain(backend, now=at(60)) == ["now-3"]


async def test_scheduled_tasks_alone_are_not_claimed_early(backend: Backend) -> None:
    await insert(backend, make_task("s1", run_at=at(30)), make_task("s2", run_at=at(10)))
    assert await backend.task_next_run_at() == at(10)
    assert await claim(backend, limit=10, now=at(9)) == []
    assert [t.id for t in await claim(backend, limit=10, now=at(10))] == ["s2"]
    assert await backend.task_next_run_at() == at(30)
    assert [t.id for t in await claim(backend, limit=10, now=at(31))] == ["s1"]


async def test_claim_by_many_concurrent_coroutines_hands_out_each_task_once(
    backend: Backend,
) -> None:
    await insert(backend, *(make_task(f"t{i}", priority=i % 7) for i in range(300)))

    async def claimer(n: int) -> list[str]:
        got: list[str] = []
        while tasks := await claim(backend, limit=1 + n % 5, worker=f"w{n}"):
            got.extend(t.id for t in tasks)
        return got

    results = await asyncio.gather(*(claimer(n) for n in range(12)))

    counts = Counter(i for ids in results for i in ids)
    assert set(counts) == {f"t{i}" for i in range(300)}
    assert max(counts.values()) == 1
