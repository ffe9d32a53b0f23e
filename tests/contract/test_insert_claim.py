"""Contract: an insert with a claim behind it (``task_insert_claim``), which serves a claim
waiting in the inserting process: the claim sees the insert and keeps the claim order."""

from __future__ import annotations

import pytest

from rota.backends import Backend
from rota.core.errors import DuplicateTask
from rota.core.fairness import Share
from rota.core.models import ClaimRequest, TaskFilter
from tests.contract.helpers import LEASE, T0, S, claim, insert, make_task


def _request(limit: int, queues: tuple[str, ...] | None = None) -> ClaimRequest:
    return ClaimRequest("w1", limit, T0, T0 + LEASE, queues)


async def test_the_claim_sees_the_insert_and_keeps_the_order(backend: Backend) -> None:
    await insert(backend, make_task("old-low", priority=10), make_task("old-high", priority=90))
    fresh = [make_task("new-top", priority=100), make_task("new-mid", priority=50)]

    done = await backend.task_insert_claim(fresh, None, None, None, _request(limit=3))

    assert done.error is None
    assert [i.task.id for i in done.inserted] == ["new-top", "new-mid"]
    assert all(i.task.seq is not None and not i.existing for i in done.inserted)
    assert [t.id for t in done.claimed] == ["new-top", "old-high", "new-mid"]
    assert all(t.state is S.RUNNING and t.worker_id == "w1" for t in done.claimed)
    assert [t.id for t in await claim(backend, limit=5)] == ["old-low"]


async def test_the_claim_takes_only_its_queues(backend: Backend) -> None:
    fresh = [make_task("a1", queue="a"), make_task("b1", queue="b")]

    done = await backend.task_insert_claim(fresh, None, None, None, _request(5, ("b",)))

    assert [t.id for t in done.claimed] == ["b1"]
    a1 = await backend.task_get("a1")
    assert a1 is not None and a1.state is S.QUEUED


async def test_one_task_and_the_claim_behind_it(backend: Backend) -> None:
    # One task is the usual submit; PostgreSQL sends it and the claim in one transaction.
    await insert(backend, make_task("old-low", priority=10))
    fresh = [make_task("new", priority=50)]

    done = await backend.task_insert_claim(fresh, None, None, None, _request(limit=1))

    assert done.error is None
    assert [i.task.id for i in done.inserted] == ["new"]
    assert [t.id for t in done.claimed] == ["new"]
    stored = await backend.task_get("new")
    assert stored is not None and stored.state is S.RUNNING and stored.worker_id == "w1"
    assert [t.id for t in await claim(backend, limit=5)] == ["old-low"]


async def test_a_fair_task_gets_its_place_before_the_claim_behind_it(backend: Backend) -> None:
    for n in range(3):  # places 1, 2, 3
        await backend.task_insert_many([make_task(f"a{n}")], shares=[Share("a", 1.0)])
    fresh = [make_task("b0")]

    done = await backend.task_insert_claim(fresh, None, None, [Share("b", 1.0)], _request(3))

    # b0 rises to the head's place (1) plus its stride: 2, behind a1 (an older seq)
    assert [i.task.place for i in done.inserted] == [2.0]
    assert [t.id for t in done.claimed] == ["a0", "a1", "b0"]


@pytest.mark.parametrize("fresh_ids", [["taken"], ["fresh", "taken"]])
async def test_a_refused_insert_stores_nothing(backend: Backend, fresh_ids: list[str]) -> None:
    """Either the claim runs behind the refused insert and its leases come back beside the
    refusal (Redis: the two scripts in one round trip), or the insert raises and nothing
    is leased (the insert and the claim in one transaction, or two calls)."""
    await insert(backend, make_task("ready"), make_task("taken"))
    fresh = [make_task(i) for i in fresh_ids]
    request = _request(limit=5)

    try:
        done = await backend.task_insert_claim(fresh, None, None, None, request)
    except DuplicateTask:
        running = await backend.task_list(TaskFilter(state=S.RUNNING), after_seq=None, limit=9)
        assert running == []
    else:
        assert backend.capabilities.insert_claim
        assert isinstance(done.error, DuplicateTask)
        assert done.inserted == []
        assert sorted(t.id for t in done.claimed) == ["ready", "taken"]
    assert await backend.task_get("fresh") is None
