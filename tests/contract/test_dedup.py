"""Unique keys on every store, through the service: each conflict rule's outcome (the
update rules move a waiting holder in the claim order, up and down, and refuse a submit
that changes nothing), the key held while waiting (and, on request, while running, or for a
window), keys scoped by queue and tenant, content keys, a queue's default rule, a whole
batch refused by one rejected key, and sixteen concurrent submitters of one key leaving
exactly one waiting task."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from rota.backends import Backend
from rota.core.clock import ManualClock
from rota.core.dedup import DuplicateKey, Rule
from rota.core.errors import ValidationError
from rota.core.models import TaskFilter
from rota.core.states import TaskState as S
from rota.service import Service, TaskSpec
from rota.service.validation import UniqueSpec
from tests.api.conftest import make_settings
from tests.contract.helpers import T0


def service_at(backend: Backend) -> tuple[Service, ManualClock]:
    clock = ManualClock(T0)
    return Service(backend, make_settings(), clock=clock), clock


def keyed(key: str | None, rule: Rule | None = None, **fields: object) -> TaskSpec:
    unique = UniqueSpec(
        key,
        rule,
        for_seconds=fields.pop("unique_for", None),  # type: ignore[arg-type]
        while_running=bool(fields.pop("while_running", False)),
    )
    base: dict[str, object] = {"kind": "scan", "queue": "scans", "payload": {"host": "a"}}
    return TaskSpec(**(base | fields), unique=unique)  # type: ignore[arg-type]


async def waiting(service: Service) -> list[str]:
    found, _ = await service.list_tasks(TaskFilter(queue="scans"), limit=100)
    return sorted(t.id for t in found if t.state in (S.QUEUED, S.SCHEDULED))


async def test_reject_refuses_the_whole_batch(backend: Backend) -> None:
    service, _ = service_at(backend)
    first = await service.enqueue(keyed("k", "reject", id="first"))
    with pytest.raises(DuplicateKey, match=r"'k' .* held by task 'first'"):
        await service.enqueue_many([keyed("other", id="x"), keyed("k", "reject", id="y")])
    assert await waiting(service) == [first.id]  # "x" was not stored either


async def test_existing_answers_with_the_holder(backend: Backend) -> None:
    service, _ = service_at(backend)
    first = await service.enqueue(keyed("k", "existing", id="first"))
    (again,) = await service.insert_many([keyed("k", "existing", id="second")])
    assert again.existing and again.task.id == first.id
    assert await waiting(service) == ["first"]


async def test_replace_cancels_the_waiting_holder(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.enqueue(keyed("k", id="old"))
    (made,) = await service.insert_many([keyed("k", "replace", id="new")])
    assert not made.existing and made.task.id == "new"
    assert await waiting(service) == ["new"]
    old = await service.get("old")
    assert old.state == S.CANCELED
    assert (await service.events("old"))[-1].message == "replaced by new"


async def test_update_payload_and_raise_priority_change_the_holder(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.enqueue(keyed("k", id="held", priority=20))
    (updated,) = await service.insert_many(
        [keyed("k", "update_payload", id="u", payload={"host": "b"}, priority=90)]
    )
    assert updated.existing and updated.task.payload == {"host": "b"}
    assert updated.task.priority == 20  # the payload only
    (raised,) = await service.insert_many([keyed("k", "raise_priority", id="r", priority=70)])
    assert raised.existing and raised.task.priority == 70
    (kept,) = await service.insert_many([keyed("k", "raise_priority", id="l", priority=10)])
    assert kept.task.priority == 70  # never lowered
    stored = await service.get("held")
    assert (stored.payload, stored.priority) == ({"host": "b"}, 70)
    assert await waiting(service) == ["held"]
    assert [e.kind for e in await service.events("held")][-2:] == [
        "payload_updated", "priority_changed",
    ]  # fmt: skip


async def test_a_key_is_free_once_its_holder_starts_unless_held_while_running(
    backend: Backend,
) -> None:
    service, _ = service_at(backend)
    await service.enqueue(keyed("a", id="a1"))
    await service.enqueue(keyed("b", id="b1", while_running=True))
    await service.claim("w", queues=["scans"], limit=2)
    await service.enqueue(keyed("a", id="a2"))  # a1 runs: the key is free
    with pytest.raises(DuplicateKey):
        await service.enqueue(keyed("b", id="b2", while_running=True))
    (answered,) = await service.insert_many([keyed("b", "update_payload", id="b3")])
    assert answered.existing and answered.task.id == "b1"  # running: left as it is


async def test_a_window_holds_the_key_after_the_holder_ends(backend: Backend) -> None:
    service, clock = service_at(backend)
    await service.enqueue(keyed("k", id="w1", unique_for=60))
    (task,) = await service.claim("w", queues=["scans"])
    await service.complete(task.id, task.lease_token)
    clock.advance(30)
    with pytest.raises(DuplicateKey):
        await service.enqueue(keyed("k", id="w2"))
    clock.advance(31)
    await service.enqueue(keyed("k", id="w3"))  # the window is over


async def test_keys_are_scoped_by_queue_and_tenant(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.enqueue(keyed("k", id="t1", tenant="acme"))
    await service.enqueue(keyed("k", id="t2", tenant="beta"))
    await service.enqueue(keyed("k", id="t3", queue="other"))
    with pytest.raises(DuplicateKey):
        await service.enqueue(keyed("k", id="t4", tenant="acme"))


async def test_content_keys_and_a_queues_default_rule(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.queues.update("scans", {"on_conflict": "existing"}, actor="token:ops")
    first = await service.enqueue(keyed(None, payload={"host": "a", "port": 1}))
    (same,) = await service.insert_many([keyed(None, payload={"port": 1, "host": "a"})])
    assert same.existing and same.task.id == first.id  # key order does not matter
    (other,) = await service.insert_many([keyed(None, payload={"host": "b", "port": 1})])
    assert not other.existing


async def test_a_batch_may_name_a_key_once(backend: Backend) -> None:
    service, _ = service_at(backend)
    with pytest.raises(ValidationError, match="twice"):
        await service.enqueue_many([keyed("k"), keyed("k")])
    assert await waiting(service) == []


async def in_line(service: Service, task_id: str) -> int:
    place = await service.position(task_id)
    assert place is not None
    return place.in_queue


async def test_update_priority_moves_a_waiting_holder_up_and_down(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.enqueue(TaskSpec("scan", queue="scans", id="x1", priority=50))
    await service.enqueue(keyed("k", id="held", priority=50, rank=2**40, while_running=True))
    await service.enqueue(TaskSpec("scan", queue="scans", id="x2", priority=50))
    assert await in_line(service, "held") == 3  # rank 2^40: behind seqs
    (up,) = await service.insert_many([keyed("k", "update_priority", id="u1", priority=50,
                                             rank=0)])  # fmt: skip
    assert up.existing and up.task.id == "held" and up.task.place == 0.0
    assert await in_line(service, "held") == 1
    (down,) = await service.insert_many([keyed("k", "update_priority", id="u2", priority=20,
                                               rank=0)])  # fmt: skip
    assert (down.task.priority, down.task.place) == (20, 0.0)
    assert await in_line(service, "held") == 3
    for unchanged in (keyed("k", "update_priority", id="u3", priority=20, rank=0),
                      keyed("k", "update_priority", id="u4", priority=20)):  # fmt: skip
        with pytest.raises(DuplicateKey, match="held by task 'held', unchanged"):
            await service.enqueue(unchanged)
    (no_rank,) = await service.insert_many([keyed("k", "update_priority", id="u5", priority=80)])
    assert (no_rank.task.priority, no_rank.task.place) == (80, 0.0)  # its rank kept
    assert await waiting(service) == ["held", "x1", "x2"]
    changes = [(e.kind, e.message) for e in await service.events("held")][-3:]
    assert changes == [
        ("priority_changed", "priority 50, rank 0.0"),
        ("priority_changed", "priority 20"),
        ("priority_changed", "priority 80"),
    ]
    (running,) = await service.claim("w", queues=["scans"])
    assert running.id == "held"
    (left,) = await service.insert_many([keyed("k", "update_priority", id="u6", priority=10,
                                               rank=5)])  # fmt: skip
    assert left.existing and (left.task.priority, left.task.place) == (80, 0.0)
    assert left.task.state == S.RUNNING


async def test_update_changes_payload_priority_and_rank(backend: Backend) -> None:
    service, _ = service_at(backend)
    await service.enqueue(keyed("k", id="held", priority=20))
    (payload,) = await service.insert_many(
        [keyed("k", "update", id="a", payload={"host": "b", "port": 1}, priority=20)]
    )
    assert payload.existing and payload.task.payload == {"host": "b", "port": 1}
    with pytest.raises(DuplicateKey, match="unchanged: it has that payload, priority and rank"):
        # equal payloads in another key order are equal
        await service.enqueue(keyed("k", "update", payload={"port": 1, "host": "b"}, priority=20))
    (every,) = await service.insert_many([keyed("k", "update", id="b", priority=60, rank=3)])
    stored = await service.get("held")
    assert (stored.payload, stored.priority, stored.place) == ({"host": "a"}, 60, 3.0)
    assert every.task == stored
    with pytest.raises(DuplicateKey, match="unchanged"):
        await service.enqueue(keyed("k", "update", id="c", priority=60, rank=3))
    assert [(e.kind, e.message) for e in await service.events("held")][-3:] == [
        ("payload_updated", None), ("payload_updated", None),
        ("priority_changed", "priority 60, rank 3.0"),
    ]  # fmt: skip
    assert await waiting(service) == ["held"]


@pytest.mark.parametrize(
    "rule", ["reject", "existing", "replace", "raise_priority", "update_priority", "update"]
)
async def test_sixteen_concurrent_submitters_leave_one_waiting_task(
    backend: Backend, rule: Rule
) -> None:
    service, _ = service_at(backend)

    async def submit(n: int) -> str:
        try:
            (done,) = await service.insert_many([keyed("k", rule, id=f"s{n}", priority=n)])
        except DuplicateKey:
            return "rejected"
        return "existing" if done.existing else "made"

    outcomes = Counter(await asyncio.gather(*(submit(n) for n in range(16))))
    assert len(await waiting(service)) == 1
    expected = {
        "reject": {"made": 1, "rejected": 15},
        "existing": {"made": 1, "existing": 15},
        "replace": {"made": 16},
        "raise_priority": {"made": 1, "existing": 15},
        # each asks a priority the holder has not (only its own submit gave it its own)
        "update_priority": {"made": 1, "existing": 15},
        "update": {"made": 1, "existing": 15},
    }[rule]
    assert outcomes == expected
    if rule == "raise_priority":
        (left,) = await waiting(service)
        assert (await service.get(left)).priority == 15  # the highest asked for
    if rule == "replace":
        found, _ = await service.list_tasks(TaskFilter(queue="scans"), limit=100)
        assert Counter(t.state for t in found) == {S.QUEUED: 1, S.CANCELED: 15}
