"""Fair places given inside the insert, on every store, through the service: a batch that
mixes keys is placed round robin in one insert (into an empty queue too), and one that
mixes queues per queue; only the tasks that go in move their keys' passes (a unique key's
refused or answered duplicate does not, nor does a batch refused for a duplicate id, by any
of the insert's paths); a store left by a refused insert takes the next one; concurrent
enqueuers on several connections never share a place; a fair batch with a job, or big
enough for a bulk insert, gets the same places as one-by-one inserts would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from rota.backends import Backend, backend_from_url
from rota.core.clock import ManualClock
from rota.core.dedup import DuplicateKey, Rule
from rota.core.errors import DuplicateTask
from rota.core.models import Task
from rota.service import Service, TaskSpec
from rota.service.validation import UniqueSpec
from tests.api.conftest import make_settings
from tests.contract.conftest import Store
from tests.contract.helpers import T0

OPS = "token:ops"


async def fair_service(backend: Backend, fairness: str = "round_robin") -> Service:
    service = Service(backend, make_settings(), clock=ManualClock(T0))
    settings: dict[str, object] = {"fairness": fairness}
    if fairness == "weighted":
        settings["weights"] = {"big": 3}
    await service.queues.update("scan", settings, actor=OPS)
    return service


def spec(tenant: str, task_id: str | None = None, **fields: object) -> TaskSpec:
    return TaskSpec("work", queue="scan", tenant=tenant, id=task_id, **fields)  # type: ignore[arg-type]


async def places(service: Service, *ids: str) -> list[float]:
    return [(await service.get(i)).place for i in ids]


async def test_a_batch_mixing_keys_is_placed_round_robin_in_one_insert(backend: Backend) -> None:
    service = await fair_service(backend)
    batch = [spec("a", f"a{n}") for n in range(3)] + [spec("b", f"b{n}") for n in range(3)]
    stored = await service.enqueue_many(batch)  # into an empty queue
    assert [t.place for t in stored] == [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    assert stored == [await service.get(t.id) for t in stored]  # as the store holds them
    started = [t.id for t in await service.claim("w", queues=["scan"], limit=6)]
    assert started == ["a0", "b0", "a1", "b1", "a2", "b2"]
    # and into a queue that has a head: both keys rise to it
    await service.enqueue_many([spec("a", "a3")] + [spec("c", f"c{n}") for n in range(2)])
    await service.enqueue_many([spec("a", "a4"), spec("b", "b3"), spec("c", "c2")])
    assert await places(service, "a3", "c0", "c1", "a4", "b3", "c2") == [
        4.0, 4.0, 5.0, 5.0, 5.0, 6.0
    ]  # fmt: skip


async def test_weighted_strides_in_one_batch(backend: Backend) -> None:
    service = await fair_service(backend, "weighted")
    batch = [spec("big", f"g{n}") for n in range(3)] + [spec("small", f"s{n}") for n in range(2)]
    stored = await service.enqueue_many(batch)
    assert [t.place for t in stored] == [1.0, 2.0, 3.0, 3.0, 6.0]


@pytest.mark.parametrize("rule", ["reject", "existing", "update_payload"])
async def test_a_duplicate_of_a_unique_key_moves_no_pass(backend: Backend, rule: Rule) -> None:
    service = await fair_service(backend)
    keyed = spec("a", "first", unique=UniqueSpec("k", rule))
    first = await service.enqueue(keyed)
    assert first.place == 1.0
    for n in range(5):
        again = spec("a", f"again{n}", unique=UniqueSpec("k", rule))
        if rule == "reject":
            with pytest.raises(DuplicateKey):
                await service.enqueue_many([spec("a", f"with{n}"), again])  # all refused
        else:
            (answer,) = await service.insert_many([again])
            assert answer.existing and answer.task.id == "first"
    # a's pass moved once, for "first": its next task stands right behind it, level with
    # a newcomer's first
    nxt = await service.enqueue_many([spec("a", "next"), spec("b", "other")])
    assert [t.place for t in nxt] == [2.0, 2.0]
    # a task that replaces the holder goes in, and takes a place
    fresh = await service.enqueue(spec("a", "fresh", unique=UniqueSpec("k", "replace")))
    assert fresh.place == 3.0


@pytest.mark.parametrize("size", [1, 3, 60])  # one row, one statement, a bulk insert
async def test_a_batch_refused_for_a_taken_id_moves_no_pass(backend: Backend, size: int) -> None:
    service = await fair_service(backend)
    await service.enqueue(spec("a", "taken"))
    batch = [spec("a", f"new{n}") for n in range(size - 1)] + [spec("a", "taken")]
    with pytest.raises(DuplicateTask, match="taken"):
        await service.enqueue_many(batch)
    for _ in range(3):  # the store takes the next inserts on whatever connection it uses
        with pytest.raises(DuplicateTask):
            await service.enqueue_many(batch)
    later = await service.enqueue_many([spec("a", f"later{n}") for n in range(size)])
    assert [t.place for t in later] == [float(n) for n in range(2, size + 2)]
    assert await places(service, *(t.id for t in later)) == [t.place for t in later]


async def test_a_job_and_a_bulk_batch_are_placed_as_small_inserts_are(backend: Backend) -> None:
    service = await fair_service(backend)
    job, tasks = await service.submit_job("j", [spec("a"), spec("b"), spec("a")])
    assert [t.place for t in tasks] == [1.0, 1.0, 2.0]
    bulk = await service.enqueue_many([spec(k) for _ in range(40) for k in ("a", "b", "c")])
    assert [t.place for t in bulk[:6]] == [3.0, 2.0, 2.0, 4.0, 3.0, 3.0]
    assert [t.place for t in bulk[-3:]] == [42.0, 41.0, 41.0]
    stored = {t.id: t.place for t in await service.claim("w", queues=["scan"], limit=200)}
    assert [stored[t.id] for t in tasks + bulk] == [t.place for t in tasks + bulk]
    assert job.id == tasks[0].job_id


@pytest.mark.parametrize("pad", [0, 50])  # one statement, a bulk insert
async def test_a_batch_across_queues_is_placed_per_queue(backend: Backend, pad: int) -> None:
    """Two fair queues (one weighted) and a plain one in one insert: each fair queue's keys
    move from its own floor, and a plain queue's task takes its seq."""
    service = await fair_service(backend)
    await service.queues.update("wide", {"fairness": "weighted", "weights": {"big": 3}}, actor=OPS)

    def to(queue: str, tenant: str) -> TaskSpec:
        return TaskSpec("work", queue=queue, tenant=tenant)

    batch = [to("scan", "a"), to("wide", "big"), to("plain", "x"), to("scan", "b"),
             to("wide", "small"), to("scan", "a"), to("wide", "big"), to("plain", "y"),
             to("wide", "big")] + [to("plain", "z")] * pad  # fmt: skip
    stored = await service.enqueue_many(batch)
    fair = [t.place for t in stored if t.queue != "plain"]
    assert fair == [1.0, 1.0, 1.0, 3.0, 2.0, 2.0, 3.0]
    assert all(t.place == t.seq for t in stored if t.queue == "plain")
    assert stored == [await service.get(t.id) for t in stored]
    more = await service.enqueue_many([to("wide", "small"), to("scan", "b")])
    assert [t.place for t in more] == [6.0, 2.0]


@pytest.fixture
async def services(store: Store, backend: Backend) -> AsyncIterator[list[Service]]:
    """Three services on the store: each on its own backend (its own connections) where the
    store is shared between processes, else all on the one backend."""
    opened = [backend_from_url(store.url) for _ in range(2)] if store.kind.shared else []
    for other in opened:
        await other.open()
    try:
        made = [await fair_service(b) for b in [backend, *opened]]
        yield made
    finally:
        for other in opened:
            await other.close()


async def test_concurrent_enqueuers_never_share_a_place(services: list[Service]) -> None:
    per = 20

    async def enqueue(service: Service) -> list[Task]:
        out = []
        for i in range(per):
            out += await service.enqueue_many([spec("a" if i % 2 else "b")] * (1 + i % 3))
        return out

    done = await asyncio.gather(*(enqueue(s) for s in services * 2))
    stored = [await services[0].get(t.id) for batch in done for t in batch]
    assert [t.place for t in stored] == [t.place for batch in done for t in batch]
    for key in ("a", "b"):
        taken = sorted(t.place for t in stored if t.tenant == key)
        # every task of a key has its own place, each right behind the last (none is
        # claimed, so the head never stands past a key's pass)
        assert taken == [taken[0] + n for n in range(len(taken))]
        assert taken[0] in (1.0, 2.0)
