"""Schedules on every store, with time moved by a manual clock: one task per occurrence
(however many evaluators, however often they look), the catch-up and overlap policies, the
deadline, and the definitions' life cycle (create, list, update, delete, a taken name)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rota.backends import Backend
from rota.core.clock import ManualClock
from rota.core.errors import Conflict, NotFound, ValidationError
from rota.core.models import Task, TaskFilter
from rota.core.states import TaskState as S
from rota.service import Service
from rota.service.schedules import occurrence_id, parse_occurrence_id
from tests.api.conftest import make_settings
from tests.contract.helpers import T0


def definition(**overrides: Any) -> dict[str, Any]:
    made: dict[str, Any] = {
        "rule": {"kind": "cron", "expr": "* * * * * *"},  # every second
        "timezone": "UTC",
        "task": {"kind": "tick", "queue": "ticks", "payload": {"n": 1}},
        "catch_up": "skip",
        "overlap": "allow",
        "deadline": None,
    }
    return made | overrides


def service_at(backend: Backend) -> tuple[Service, ManualClock]:
    clock = ManualClock(T0)
    return Service(backend, make_settings(), clock=clock), clock


async def made_tasks(service: Service) -> list[Task]:
    tasks, _ = await service.list_tasks(TaskFilter(queue="ticks"), limit=1000)
    return sorted(tasks, key=lambda t: t.id)


async def test_one_task_per_occurrence_whoever_evaluates(backend: Backend) -> None:
    service, clock = service_at(backend)
    other = Service(backend, make_settings(), clock=clock)  # a second replica, same store
    made = await service.schedules.create("tick", definition(), enabled=True)
    assert made.next_run_at == T0 + timedelta(seconds=1)
    for _ in range(3):
        clock.advance(1)
        await service.schedules.fire_due()
        await other.schedules.fire_due()
        await service.schedules.fire_due()
    tasks = await made_tasks(service)
    times = [T0 + timedelta(seconds=n) for n in (1, 2, 3)]
    assert [t.id for t in tasks] == [occurrence_id(made.id, at) for at in times]
    assert [parse_occurrence_id(t.id) for t in tasks] == [(made.id, at) for at in times]
    assert {(t.kind, t.state, str(t.payload)) for t in tasks} == {("tick", S.QUEUED, "{'n': 1}")}
    stored = await service.schedules.get(made.id)
    assert (stored.last_run_at, stored.next_run_at) == (times[-1], times[-1] + timedelta(seconds=1))
    assert stored.last_task_id == tasks[-1].id


@pytest.mark.parametrize(("policy", "catch_up"), [("skip", 0), ("once", 1), ("all", 10)])
async def test_catch_up_after_ten_missed_occurrences(
    backend: Backend, policy: str, catch_up: int
) -> None:
    service, clock = service_at(backend)
    made = await service.schedules.create("tick", definition(catch_up=policy), enabled=True)
    clock.advance(12.5)  # nothing evaluated through T0+1..T0+10; T0+11 and +12 are on time
    await service.schedules.fire_due()
    times = [parse_occurrence_id(t.id) for t in await made_tasks(service)]
    on_time = [(made.id, T0 + timedelta(seconds=n)) for n in (11, 12)]
    assert times[-2:] == on_time
    missed = [at for _, at in times[:-2]]
    assert len(missed) == catch_up
    assert missed == [T0 + timedelta(seconds=n) for n in range(11 - catch_up, 11)]


@pytest.mark.parametrize("overlap", ["allow", "skip", "replace"])
async def test_overlap_policies(backend: Backend, overlap: str) -> None:
    service, clock = service_at(backend)
    rule = {"kind": "interval", "expr": 10}
    await service.schedules.create("tick", definition(rule=rule, overlap=overlap), enabled=True)
    clock.advance(10)
    assert await service.schedules.fire_due() == 1
    clock.advance(10)  # the first occurrence's task is still queued
    await service.schedules.fire_due()
    states = [t.state for t in await made_tasks(service)]
    expected = {"allow": [S.QUEUED, S.QUEUED], "skip": [S.QUEUED],
                "replace": [S.CANCELED, S.QUEUED]}  # fmt: skip
    assert states == expected[overlap]
    (first, *_) = await made_tasks(service)
    await service.claim("w", queues=["ticks"])  # running counts as unfinished too
    clock.advance(10)
    await service.schedules.fire_due()
    after = await made_tasks(service)
    assert len(after) == {"allow": 3, "skip": 1, "replace": 3}[overlap]
    assert first.id == after[0].id


async def test_a_deadline_expires_an_occurrence_not_started_in_time(backend: Backend) -> None:
    service, clock = service_at(backend)
    await service.schedules.create("tick", definition(deadline=5), enabled=True)
    clock.advance(1)
    await service.schedules.fire_due()
    (task,) = await made_tasks(service)
    assert task.expires_at == T0 + timedelta(seconds=6)
    clock.advance(6)
    await service.sweep()  # the expiry service cancels it, with its reason
    expired = await service.get(task.id)
    assert expired.state == S.CANCELED and expired.error is not None
    assert "expired" in expired.error


async def test_definitions_life_cycle(backend: Backend) -> None:
    service, clock = service_at(backend)
    one = await service.schedules.create("nightly", definition(), enabled=False)
    with pytest.raises(Conflict):
        await service.schedules.create("nightly", definition(), enabled=True)
    two = await service.schedules.create("hourly", definition(), enabled=True)
    assert [s.name for s in await service.schedules.all()] == ["hourly", "nightly"]
    clock.advance(5)
    await service.schedules.fire_due()
    assert {parse_occurrence_id(t.id)[0] for t in await made_tasks(service)} == {two.id}  # type: ignore[index]

    enabled = await service.schedules.update(one.id, enabled=True)
    assert enabled.version == 2 and enabled.next_run_at == clock.now() + timedelta(seconds=1)
    renamed = await service.schedules.update(one.id, name="nightly-2")
    with pytest.raises(Conflict):
        await service.schedules.update(two.id, name="nightly-2")
    assert (await service.schedules.get(one.id)).name == renamed.name == "nightly-2"
    moved = await service.schedules.update(
        one.id, definition=definition(rule={"kind": "at", "expr": "2026-01-02T00:00:00+00:00"})
    )
    assert moved.next_run_at == T0 + timedelta(days=1)

    await service.schedules.delete(one.id)
    with pytest.raises(NotFound):
        await service.schedules.get(one.id)
    with pytest.raises(NotFound):
        await service.schedules.delete(one.id)
    assert [s.id for s in await service.schedules.all()] == [two.id]


@pytest.mark.parametrize(
    "bad",
    [
        {"rule": {"kind": "cron", "expr": "61 * * * *"}},
        {"rule": {"kind": "rrule", "expr": "FREQ=SOMETIMES"}},
        {"rule": {"kind": "interval", "expr": 0}},
        {"timezone": "Mars/Olympus"},
        {"catch_up": "never"},
        {"task": {"kind": "tick", "queue": "no spaces"}},
        {"task": {"kind": "tick", "id": "mine"}},
    ],
)
async def test_a_bad_definition_is_refused_and_stores_nothing(
    backend: Backend, bad: dict[str, Any]
) -> None:
    service, _ = service_at(backend)
    with pytest.raises(ValidationError):
        await service.schedules.create("bad", definition(**bad), enabled=True)
    assert await service.schedules.all() == []


async def test_a_decay_ranker_ranks_each_occurrence_from_the_schedules_history(
    backend: Backend,
) -> None:
    service, clock = service_at(backend)
    ranker = {"name": "decay", "never": 90, "grace": 5400, "window": 86_400}
    template = {"kind": "scan", "queue": "ticks", "ranker": ranker}
    made = await service.schedules.create(
        "scan", definition(rule={"kind": "interval", "expr": 3600}, task=template), enabled=True
    )
    for _ in range(3):
        clock.advance(3600)
        await service.schedules.fire_due()
    tasks = await made_tasks(service)
    # +1 h: never run, 90; +2 h: an hour since, inside the grace, not queued;
    # +3 h: two hours since the last run, 1 + 99 * 7200 / 86400 = 9
    assert [(parse_occurrence_id(t.id), t.priority) for t in tasks] == [
        ((made.id, T0 + timedelta(hours=1)), 90),
        ((made.id, T0 + timedelta(hours=3)), 9),
    ]
    with pytest.raises(ValidationError):
        bad = {**template, "ranker": {"name": "nope"}}
        await service.schedules.create("bad", definition(task=bad), enabled=True)


async def test_pause_catches_up_and_disable_does_not(backend: Backend) -> None:
    service, clock = service_at(backend)
    paused = await service.schedules.create("p", definition(catch_up="all"), enabled=True)
    disabled = await service.schedules.create("d", definition(catch_up="all"), enabled=True)
    await service.schedules.update(paused.id, paused=True)
    await service.schedules.update(disabled.id, enabled=False)
    clock.advance(10)
    assert await service.schedules.fire_due() == 0  # neither makes tasks meanwhile
    resumed = await service.schedules.update(paused.id, paused=False)
    assert resumed.next_run_at == T0 + timedelta(seconds=1)  # kept: its misses are due
    enabled = await service.schedules.update(disabled.id, enabled=True)
    assert enabled.next_run_at == T0 + timedelta(seconds=11)  # from now on
    clock.advance(0.5)
    assert await service.schedules.fire_due() == 10  # the paused one's ten, caught up
    made = {parse_occurrence_id(t.id)[0] for t in await made_tasks(service)}  # type: ignore[index]
    assert made == {paused.id}


async def test_a_paused_schedule_disabled_meanwhile_does_not_catch_up_its_disabled_time(
    backend: Backend,
) -> None:
    service, clock = service_at(backend)
    made = await service.schedules.create("p", definition(catch_up="all"), enabled=True)
    await service.schedules.update(made.id, paused=True)
    await service.schedules.update(made.id, enabled=False)
    clock.advance(10)
    enabled = await service.schedules.update(made.id, enabled=True)  # still paused
    assert enabled.next_run_at == T0 + timedelta(seconds=11)
    clock.advance(3)
    await service.schedules.update(made.id, paused=False)
    clock.advance(0.5)
    assert await service.schedules.fire_due() == 3  # the paused seconds 11-13, not 1-10


async def test_a_new_rule_starts_when_it_is_set(backend: Backend) -> None:
    service, clock = service_at(backend)
    hourly = {"kind": "rrule", "expr": "FREQ=HOURLY"}  # its minute and second: its start's
    made = await service.schedules.create("h", definition(rule=hourly), enabled=True)
    assert made.next_run_at == T0 + timedelta(hours=1)
    clock.advance(125)
    kept = await service.schedules.update(made.id, definition=definition(rule=hourly))
    assert kept.next_run_at == T0 + timedelta(hours=1)  # the same rule: unchanged
    daily = {"kind": "rrule", "expr": "FREQ=DAILY"}
    changed = await service.schedules.update(made.id, definition=definition(rule=daily))
    assert changed.next_run_at == T0 + timedelta(days=1, seconds=125)


async def test_identity_by_template_refuses_a_second_schedule_of_one_task(
    backend: Backend,
) -> None:
    service, _ = service_at(backend)
    first = await service.schedules.create("a", definition(), enabled=True, by_template=True)
    assert first.id.startswith("tpl-")
    with pytest.raises(Conflict, match="task template"):
        await service.schedules.create("b", definition(), enabled=True, by_template=True)
    other = definition(task={"kind": "tick", "queue": "ticks", "payload": {"n": 2}})
    second = await service.schedules.create("c", other, enabled=True, by_template=True)
    assert second.id != first.id


async def test_a_replica_without_the_schedules_ranker_skips_it_and_goes_on(
    backend: Backend,
) -> None:
    service, clock = service_at(backend)
    service.rankers.add("mine", lambda ctx: 70)
    template = {"kind": "tick", "queue": "ticks", "ranker": {"name": "mine"}}
    await service.schedules.create("ranked", definition(task=template), enabled=True)
    await service.schedules.create("plain", definition(), enabled=True)
    other = Service(backend, make_settings(), clock=clock)  # started without --app
    clock.advance(1)
    assert await other.schedules.fire_due() == 1  # the plain one's task; no error
    assert await service.schedules.fire_due() == 0  # the ranked one moved on meanwhile
