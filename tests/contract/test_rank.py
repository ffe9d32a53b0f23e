"""Ranks on every store, through the service: within a priority a lower rank is claimed
first, equal ranks in enqueue order, a task without one at its enqueue order (its seq); a
rank is stored as the task's place, whichever insert path the batch takes; a rank out of
bounds, or on a queue with fairness, is refused."""

from __future__ import annotations

import math
import random

import pytest

from rota.backends import Backend
from rota.core.clock import ManualClock
from rota.core.errors import ValidationError
from rota.core.limits import MAX_RANK
from rota.service import Service, TaskSpec
from tests.api.conftest import make_settings
from tests.contract.helpers import T0


def service_at(backend: Backend) -> Service:
    return Service(backend, make_settings(), clock=ManualClock(T0))


async def claim_all(service: Service, queue: str = "scan") -> list[str]:
    ids: list[str] = []
    while batch := await service.claim("w", queues=[queue], limit=7):
        ids += [t.id for t in batch]
    return ids


@pytest.mark.parametrize("batch", [1, 10, 100], ids=["one", "statement", "copy"])
async def test_ranks_order_claims_within_a_priority(backend: Backend, batch: int) -> None:
    service = service_at(backend)
    rng = random.Random(19)
    ranks = [float(rng.randrange(40)) for _ in range(100)]  # many equal ranks
    ranks[:3] = [0.0, 2.5, MAX_RANK - 1.0]  # the bounds, and a fraction
    specs = [
        TaskSpec("work", queue="scan", id=f"t{n:03}", priority=rng.choice((20, 50, 80)),
                 rank=rank)
        for n, rank in enumerate(ranks)
    ]  # fmt: skip
    for start in range(0, len(specs), batch):
        stored = await service.enqueue_many(specs[start : start + batch])
        assert [t.place for t in stored] == ranks[start : start + batch]
    order = sorted(range(100), key=lambda n: (-(specs[n].priority or 0), ranks[n], n))
    assert await claim_all(service) == [f"t{n:03}" for n in order]


async def test_a_task_without_a_rank_stands_at_its_enqueue_order(backend: Backend) -> None:
    service = service_at(backend)
    plain = await service.enqueue_many([TaskSpec("work", queue="scan")] * 5)
    assert [t.place for t in plain] == [float(t.seq) for t in plain]
    first = await service.enqueue(TaskSpec("work", queue="scan", rank=0))
    last = await service.enqueue(TaskSpec("work", queue="scan", rank=float(MAX_RANK - 1)))
    more = await service.enqueue_many([TaskSpec("work", queue="scan")] * 3)
    expected = [first.id, *(t.id for t in plain + more), last.id]
    assert await claim_all(service) == expected
    assert (await service.get(first.id)).place == 0.0


@pytest.mark.parametrize("rank", [-1.0, -0.5, float(MAX_RANK), math.inf, math.nan])
async def test_a_rank_out_of_bounds_is_refused(backend: Backend, rank: float) -> None:
    service = service_at(backend)
    with pytest.raises(ValidationError, match=r"0 <= rank < 2\^44"):
        await service.enqueue(TaskSpec("work", queue="scan", rank=rank))
    assert await claim_all(service) == []


async def test_a_queue_with_fairness_refuses_a_rank(backend: Backend) -> None:
    service = service_at(backend)
    await service.queues.update("scan", {"fairness": "round_robin"}, actor="token:ops")
    with pytest.raises(ValidationError, match="queue 'scan' shares by fairness; a rank is not"):
        await service.enqueue_many(
            [TaskSpec("work", queue="scan"), TaskSpec("work", queue="scan", rank=1)]
        )
    assert await claim_all(service) == []  # nothing of the batch
    await service.enqueue(TaskSpec("work", queue="other", rank=1))  # other queues may


async def test_equal_ranks_go_in_enqueue_order_or_on_redis_by_id(backend: Backend) -> None:
    """Ids given in the reverse of their enqueue order show the one difference: a Redis
    ready score holds priority and place only, and equal scores go by task id (for rota's
    own ids, UUIDv7 made by one process, that is the enqueue order too)."""
    service = service_at(backend)
    ids = [f"t{n}" for n in (9, 7, 5, 3, 1)]
    await service.enqueue_many([TaskSpec("work", queue="scan", id=i, rank=4) for i in ids])
    by_id = type(backend).__name__ == "RedisBackend"
    assert await claim_all(service) == (sorted(ids) if by_id else ids)
